//! The friendship aggregate: one relationship per pair of users.
//!
//! One stream per pair (`friendship`/[`pair_id`]): none, a pending request (who asked
//! whom, and when), or friends (since when). Both users' commands go to the same stream,
//! so two requests sent at the same moment conflict in the store, and the one that comes
//! second is decided again on fresh state, where it accepts the first.
//!
//! Events carry both user ids and times only: no personal data, so nothing here needs
//! sealing and a projection needs nothing but the event.

mod events;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

pub use events::{
    FriendRemoved, FriendRequestAccepted, FriendRequestCancelled, FriendRequestDeclined,
    FriendRequested, FriendshipEvent,
};

use crate::user::UserId;
use crate::ErrorCode;

/// The aggregate type name in the event store.
pub const AGGREGATE_TYPE: &str = "friendship";

/// The aggregate id of the relationship between `a` and `b`: both ids, sorted, joined by
/// one space. User ids cannot contain whitespace, so the id names exactly one pair, the
/// same whoever asks.
pub fn pair_id(a: &UserId, b: &UserId) -> String {
    let (first, second) = if a.as_str() <= b.as_str() {
        (a, b)
    } else {
        (b, a)
    };
    format!("{first} {second}")
}

/// What one user can ask of their relationship with another.
#[derive(Debug, Clone, PartialEq)]
pub enum FriendshipCommand {
    SendFriendRequest(SendFriendRequest),
    AcceptFriendRequest(AcceptFriendRequest),
    DeclineFriendRequest(DeclineFriendRequest),
    CancelFriendRequest(CancelFriendRequest),
    RemoveFriend(RemoveFriend),
}

/// `from` asks `to` to be friends. `recipient_exists` is looked up by the handler.
#[derive(Debug, Clone, PartialEq)]
pub struct SendFriendRequest {
    pub from: UserId,
    pub to: UserId,
    pub recipient_exists: bool,
    pub at: DateTime<Utc>,
}

/// The recipient of the pending request accepts it.
#[derive(Debug, Clone, PartialEq)]
pub struct AcceptFriendRequest {
    pub by: UserId,
    pub at: DateTime<Utc>,
}

/// The recipient of the pending request declines it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeclineFriendRequest {
    pub by: UserId,
    pub at: DateTime<Utc>,
}

/// The sender of the pending request takes it back.
#[derive(Debug, Clone, PartialEq)]
pub struct CancelFriendRequest {
    pub by: UserId,
    pub at: DateTime<Utc>,
}

/// Either friend ends the friendship.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoveFriend {
    pub by: UserId,
    pub at: DateTime<Utc>,
}

/// Why a friendship command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FriendshipError {
    #[error("you cannot send a friend request to yourself")]
    SelfRequest,
    #[error("no such user")]
    UnknownUser,
    #[error("you are already friends")]
    AlreadyFriends,
    #[error("your friend request is already pending")]
    AlreadyPending,
    #[error("there is no pending friend request between you")]
    NoPendingRequest,
    #[error("only the recipient of a friend request can answer it")]
    NotRecipient,
    #[error("only the sender of a friend request can cancel it")]
    NotRequester,
    #[error("you are not friends")]
    NotFriends,
}

impl ErrorCode for FriendshipError {
    fn code(&self) -> &'static str {
        match self {
            Self::SelfRequest => "friendship.self_request",
            Self::UnknownUser => "friendship.unknown_user",
            Self::AlreadyFriends => "friendship.already_friends",
            Self::AlreadyPending => "friendship.already_pending",
            Self::NoPendingRequest => "friendship.no_pending_request",
            Self::NotRecipient => "friendship.not_recipient",
            Self::NotRequester => "friendship.not_requester",
            Self::NotFriends => "friendship.not_friends",
        }
    }
}

/// The relationship of one pair, as far as decisions need it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Friendship {
    /// Never related, or the request was declined or cancelled, or the friendship removed.
    #[default]
    None,
    /// `requester` asked `recipient`, who has not answered.
    Pending {
        requester: UserId,
        recipient: UserId,
        requested_at: DateTime<Utc>,
    },
    /// Friends since `since`. Who asked whom is kept: `friendship.removed` names the
    /// other friend, and [`RemoveFriend`] names only the one who acts.
    Friends {
        requester: UserId,
        recipient: UserId,
        since: DateTime<Utc>,
    },
}

impl Friendship {
    /// The events `command` leads to, or why it is refused.
    pub fn decide(
        &self,
        command: FriendshipCommand,
    ) -> Result<Vec<FriendshipEvent>, FriendshipError> {
        let event = match command {
            FriendshipCommand::SendFriendRequest(cmd) => self.send(cmd)?,
            FriendshipCommand::AcceptFriendRequest(cmd) => self.accept(cmd)?,
            FriendshipCommand::DeclineFriendRequest(cmd) => self.decline(cmd)?,
            FriendshipCommand::CancelFriendRequest(cmd) => self.cancel(cmd)?,
            FriendshipCommand::RemoveFriend(cmd) => self.remove(cmd)?,
        };
        Ok(vec![event])
    }

    fn send(&self, cmd: SendFriendRequest) -> Result<FriendshipEvent, FriendshipError> {
        if cmd.from == cmd.to {
            return Err(FriendshipError::SelfRequest);
        }
        if !cmd.recipient_exists {
            return Err(FriendshipError::UnknownUser);
        }
        match self {
            Self::Friends { .. } => Err(FriendshipError::AlreadyFriends),
            Self::Pending { requester, .. } if *requester == cmd.from => {
                Err(FriendshipError::AlreadyPending)
            }
            // The other one asked first: asking back is saying yes.
            Self::Pending { requester, .. } => Ok(accepted(requester, &cmd.from, cmd.at)),
            Self::None => Ok(FriendshipEvent::Requested(FriendRequested {
                requester: cmd.from,
                recipient: cmd.to,
                requested_at: cmd.at,
            })),
        }
    }

    fn accept(&self, cmd: AcceptFriendRequest) -> Result<FriendshipEvent, FriendshipError> {
        let (requester, recipient) = self.pending_to(&cmd.by)?;
        Ok(accepted(requester, recipient, cmd.at))
    }

    fn decline(&self, cmd: DeclineFriendRequest) -> Result<FriendshipEvent, FriendshipError> {
        let (requester, recipient) = self.pending_to(&cmd.by)?;
        Ok(FriendshipEvent::Declined(FriendRequestDeclined {
            requester: requester.clone(),
            recipient: recipient.clone(),
            at: cmd.at,
        }))
    }

    fn cancel(&self, cmd: CancelFriendRequest) -> Result<FriendshipEvent, FriendshipError> {
        let Self::Pending {
            requester,
            recipient,
            ..
        } = self
        else {
            return Err(FriendshipError::NoPendingRequest);
        };
        if *requester != cmd.by {
            return Err(FriendshipError::NotRequester);
        }
        Ok(FriendshipEvent::Cancelled(FriendRequestCancelled {
            requester: requester.clone(),
            recipient: recipient.clone(),
            at: cmd.at,
        }))
    }

    fn remove(&self, cmd: RemoveFriend) -> Result<FriendshipEvent, FriendshipError> {
        let Self::Friends {
            requester,
            recipient,
            ..
        } = self
        else {
            return Err(FriendshipError::NotFriends);
        };
        let other = if cmd.by == *requester {
            recipient
        } else if cmd.by == *recipient {
            requester
        } else {
            return Err(FriendshipError::NotFriends);
        };
        Ok(FriendshipEvent::Removed(FriendRemoved {
            other: other.clone(),
            by: cmd.by,
            at: cmd.at,
        }))
    }

    /// The pending request's `(requester, recipient)`, when `by` is its recipient.
    fn pending_to(&self, by: &UserId) -> Result<(&UserId, &UserId), FriendshipError> {
        match self {
            Self::Pending {
                requester,
                recipient,
                ..
            } if recipient == by => Ok((requester, recipient)),
            Self::Pending { .. } => Err(FriendshipError::NotRecipient),
            _ => Err(FriendshipError::NoPendingRequest),
        }
    }

    /// Folds one event into the state. Never fails: events are facts.
    pub fn evolve(&mut self, event: &FriendshipEvent) {
        *self = match event {
            FriendshipEvent::Requested(e) => Self::Pending {
                requester: e.requester.clone(),
                recipient: e.recipient.clone(),
                requested_at: e.requested_at,
            },
            FriendshipEvent::Accepted(e) => Self::Friends {
                requester: e.requester.clone(),
                recipient: e.recipient.clone(),
                since: e.accepted_at,
            },
            FriendshipEvent::Declined(_)
            | FriendshipEvent::Cancelled(_)
            | FriendshipEvent::Removed(_) => Self::None,
        };
    }
}

fn accepted(requester: &UserId, recipient: &UserId, at: DateTime<Utc>) -> FriendshipEvent {
    FriendshipEvent::Accepted(FriendRequestAccepted {
        requester: requester.clone(),
        recipient: recipient.clone(),
        accepted_at: at,
    })
}

impl Aggregate for Friendship {
    const TYPE: &'static str = AGGREGATE_TYPE;
    type Command = FriendshipCommand;
    type Event = FriendshipEvent;
    type Error = FriendshipError;
    type Services = ();

    async fn handle(
        &mut self,
        command: FriendshipCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), FriendshipError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: FriendshipEvent) {
        self.evolve(&event);
    }
}

#[cfg(test)]
mod tests;
