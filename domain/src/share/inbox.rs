//! A recipient's inbox of shares: which notifications they have seen.
//!
//! One stream per recipient (`inbox`/<user id>). Marking one share seen records the
//! share and the time; marking all records only the time: the views mark every
//! notification they hold for that recipient at that point of the feed, so a replay marks
//! exactly what the live view marked.
//!
//! Whether the share reached this recipient, whether their view already shows it seen,
//! and how many they have not seen are looked up by the handler in the recipient's view.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use super::ShareId;
use crate::ErrorCode;

/// The aggregate type name in the event store.
pub const AGGREGATE_TYPE: &str = "inbox";

/// What a recipient can do with their notifications.
#[derive(Debug, Clone, PartialEq)]
pub enum InboxCommand {
    MarkShareSeen(MarkShareSeen),
    MarkAllSharesSeen(MarkAllSharesSeen),
}

/// Marks one share's notification seen.
#[derive(Debug, Clone, PartialEq)]
pub struct MarkShareSeen {
    pub share_id: ShareId,
    /// The notification as the recipient's view holds it.
    pub notification: Notification,
    pub at: DateTime<Utc>,
}

/// Marks every notification seen; `unread` is how many the recipient's view shows unseen.
#[derive(Debug, Clone, PartialEq)]
pub struct MarkAllSharesSeen {
    pub unread: u64,
    pub at: DateTime<Utc>,
}

/// One share's notification, for its supposed recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notification {
    /// The share was not sent to this user (or does not exist).
    NotReceived,
    Unseen,
    Seen,
}

/// What happened in an inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum InboxEvent {
    #[serde(rename = "inbox.share_seen")]
    ShareSeen(ShareSeen),
    #[serde(rename = "inbox.all_shares_seen")]
    AllSharesSeen(AllSharesSeen),
}

/// `inbox.share_seen` v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShareSeen {
    pub share_id: ShareId,
    pub seen_at: DateTime<Utc>,
}

/// `inbox.all_shares_seen` v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllSharesSeen {
    pub seen_at: DateTime<Utc>,
}

impl DomainEvent for InboxEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ShareSeen(_) => "inbox.share_seen",
            Self::AllSharesSeen(_) => "inbox.all_shares_seen",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl InboxEvent {
    /// The version each event type is read at (older versions are upcast to it).
    pub fn current_version(event_type: &str) -> Option<String> {
        matches!(event_type, "inbox.share_seen" | "inbox.all_shares_seen").then(|| "1".to_owned())
    }
}

/// Why a seen mark was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboxError {
    #[error("no such share was sent to you")]
    ShareNotFound,
}

impl ErrorCode for InboxError {
    fn code(&self) -> &'static str {
        match self {
            Self::ShareNotFound => "share.not_found",
        }
    }
}

/// An inbox as far as decisions need it: the shares marked seen one by one since the
/// last "mark all" (after which the views hold every earlier one as seen).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Inbox {
    seen: BTreeSet<ShareId>,
}

impl Inbox {
    /// The events `command` leads to, or why it is refused.
    pub fn decide(&self, command: InboxCommand) -> Result<Vec<InboxEvent>, InboxError> {
        match command {
            InboxCommand::MarkShareSeen(cmd) => self.mark_seen(cmd),
            InboxCommand::MarkAllSharesSeen(cmd) => Ok(mark_all(cmd)),
        }
    }

    fn mark_seen(&self, cmd: MarkShareSeen) -> Result<Vec<InboxEvent>, InboxError> {
        match cmd.notification {
            Notification::NotReceived => Err(InboxError::ShareNotFound),
            Notification::Seen => Ok(vec![]),
            Notification::Unseen if self.seen.contains(&cmd.share_id) => Ok(vec![]),
            Notification::Unseen => Ok(vec![InboxEvent::ShareSeen(ShareSeen {
                share_id: cmd.share_id,
                seen_at: cmd.at,
            })]),
        }
    }

    /// Folds one event into the state.
    pub fn evolve(&mut self, event: &InboxEvent) {
        match event {
            InboxEvent::ShareSeen(e) => {
                self.seen.insert(e.share_id.clone());
            }
            InboxEvent::AllSharesSeen(_) => self.seen.clear(),
        }
    }
}

fn mark_all(cmd: MarkAllSharesSeen) -> Vec<InboxEvent> {
    if cmd.unread == 0 {
        return vec![];
    }
    vec![InboxEvent::AllSharesSeen(AllSharesSeen { seen_at: cmd.at })]
}

impl Aggregate for Inbox {
    const TYPE: &'static str = AGGREGATE_TYPE;
    type Command = InboxCommand;
    type Event = InboxEvent;
    type Error = InboxError;
    type Services = ();

    async fn handle(
        &mut self,
        command: InboxCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), InboxError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: InboxEvent) {
        self.evolve(&event);
    }
}
