//! What happened to a relationship. Type names and versions are released: never change
//! them; a changed payload gets a new version and an upcaster.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::user::UserId;

/// Every friendship event. Each names both users, so a projection needs nothing else.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum FriendshipEvent {
    #[serde(rename = "friendship.requested")]
    Requested(FriendRequested),
    #[serde(rename = "friendship.accepted")]
    Accepted(FriendRequestAccepted),
    #[serde(rename = "friendship.declined")]
    Declined(FriendRequestDeclined),
    #[serde(rename = "friendship.cancelled")]
    Cancelled(FriendRequestCancelled),
    #[serde(rename = "friendship.removed")]
    Removed(FriendRemoved),
}

/// `friendship.requested` v1: `requester` asked `recipient`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FriendRequested {
    pub requester: UserId,
    pub recipient: UserId,
    pub requested_at: DateTime<Utc>,
}

/// `friendship.accepted` v1: `recipient` said yes (or asked `requester` back).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FriendRequestAccepted {
    pub requester: UserId,
    pub recipient: UserId,
    pub accepted_at: DateTime<Utc>,
}

/// `friendship.declined` v1: `recipient` said no.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FriendRequestDeclined {
    pub requester: UserId,
    pub recipient: UserId,
    pub at: DateTime<Utc>,
}

/// `friendship.cancelled` v1: `requester` took the request back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FriendRequestCancelled {
    pub requester: UserId,
    pub recipient: UserId,
    pub at: DateTime<Utc>,
}

/// `friendship.removed` v1: `by` ended the friendship with `other`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FriendRemoved {
    pub by: UserId,
    pub other: UserId,
    pub at: DateTime<Utc>,
}

/// Every released type name, each at version 1 (a test checks it against the serde tags).
const TYPES: [&str; 5] = [
    "friendship.requested",
    "friendship.accepted",
    "friendship.declined",
    "friendship.cancelled",
    "friendship.removed",
];

impl DomainEvent for FriendshipEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Requested(_) => "friendship.requested",
            Self::Accepted(_) => "friendship.accepted",
            Self::Declined(_) => "friendship.declined",
            Self::Cancelled(_) => "friendship.cancelled",
            Self::Removed(_) => "friendship.removed",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl FriendshipEvent {
    /// The version each event type is read at (older versions are upcast to it).
    pub fn current_version(event_type: &str) -> Option<String> {
        TYPES.contains(&event_type).then(|| "1".to_owned())
    }
}
