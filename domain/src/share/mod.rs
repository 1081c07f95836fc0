//! Pages shared with friends, and the recipients' notifications.
//!
//! - The share aggregate (`share`/<share id>): one stream per shared page, holding one
//!   `share.created` event. Its URL, title and domain are personal data of the sharer:
//!   they arrive [`Sealed`] with the sharer's key. Recipients and times stay in clear (the
//!   history's shape).
//! - [`inbox`]: one stream per recipient (`inbox`/<user id>) with their seen marks.
//! - [`values`]: [`SharedUrl`], [`ShareTitle`] and [`ShareId`], validated at the edge.
//!
//! Who the sharer's friends are, and whether the sharer has registered, come from
//! outside (the command handler looks them up); the rules about them are decided here.

pub mod inbox;
mod values;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

pub use values::{ShareId, ShareTitle, ShareValueError, SharedUrl, MAX_TITLE_CHARS, MAX_URL_CHARS};

use crate::user::UserId;
use crate::{ErrorCode, Sealed};

/// The aggregate type name in the event store.
pub const AGGREGATE_TYPE: &str = "share";

/// The most recipients a sharer may name in one share.
pub const MAX_CHOSEN_RECIPIENTS: usize = 500;

/// What a sharer can do with a share.
#[derive(Debug, Clone, PartialEq)]
pub enum ShareCommand {
    ShareUrl(Box<ShareUrl>),
}

/// Shares a page with friends. `sharer_registered` and `friends` (the sharer's friends
/// at this moment) are looked up by the handler.
#[derive(Debug, Clone, PartialEq)]
pub struct ShareUrl {
    pub share_id: ShareId,
    pub sharer: UserId,
    pub sharer_registered: bool,
    pub url: Sealed,
    pub title: Sealed,
    pub domain: Sealed,
    pub audience: Audience,
    pub friends: BTreeSet<UserId>,
    pub at: DateTime<Utc>,
}

/// Who a share goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Everyone who is the sharer's friend at this moment.
    AllFriends,
    /// These users, each of whom must be a friend; at most [`MAX_CHOSEN_RECIPIENTS`].
    Chosen(Vec<UserId>),
}

/// What happened to a share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum ShareEvent {
    #[serde(rename = "share.created")]
    Created(ShareCreated),
}

/// `share.created` v1: a page went to its recipients (sorted, each once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShareCreated {
    pub share_id: ShareId,
    pub sharer: UserId,
    pub url: Sealed,
    pub title: Sealed,
    pub domain: Sealed,
    pub recipients: Vec<UserId>,
    pub shared_at: DateTime<Utc>,
}

impl DomainEvent for ShareEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Created(_) => "share.created",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl ShareEvent {
    /// The version each event type is read at (older versions are upcast to it).
    pub fn current_version(event_type: &str) -> Option<String> {
        (event_type == "share.created").then(|| "1".to_owned())
    }
}

/// Why a share was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    #[error("this user has not signed in yet")]
    SharerNotRegistered,
    #[error("a share with this id exists already")]
    AlreadyShared,
    #[error("nobody to share with: no friends, or an empty list")]
    NoRecipients,
    #[error("a share names at most 500 recipients")]
    TooManyRecipients,
    #[error("a page can only be shared with friends")]
    NotFriends,
}

impl ErrorCode for ShareError {
    fn code(&self) -> &'static str {
        match self {
            Self::SharerNotRegistered => "user.not_registered",
            Self::AlreadyShared => "share.already_exists",
            Self::NoRecipients => "share.no_recipients",
            Self::TooManyRecipients => "share.too_many_recipients",
            Self::NotFriends => "share.not_friends",
        }
    }
}

/// A share as far as decisions need it: whether it exists.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Share {
    created: bool,
}

impl Share {
    /// The events `command` leads to, or why it is refused.
    pub fn decide(&self, command: ShareCommand) -> Result<Vec<ShareEvent>, ShareError> {
        let ShareCommand::ShareUrl(cmd) = command;
        if !cmd.sharer_registered {
            return Err(ShareError::SharerNotRegistered);
        }
        if self.created {
            return Err(ShareError::AlreadyShared);
        }
        let recipients = recipients(&cmd.audience, &cmd.friends)?;
        let cmd = *cmd;
        Ok(vec![ShareEvent::Created(ShareCreated {
            share_id: cmd.share_id,
            sharer: cmd.sharer,
            url: cmd.url,
            title: cmd.title,
            domain: cmd.domain,
            recipients,
            shared_at: cmd.at,
        })])
    }

    /// Folds one event into the state.
    pub fn evolve(&mut self, event: &ShareEvent) {
        match event {
            ShareEvent::Created(_) => self.created = true,
        }
    }
}

/// The recipients `audience` names, sorted and each once, or why they cannot be.
fn recipients(audience: &Audience, friends: &BTreeSet<UserId>) -> Result<Vec<UserId>, ShareError> {
    let chosen: BTreeSet<UserId> = match audience {
        Audience::AllFriends => friends.clone(),
        Audience::Chosen(list) => list.iter().cloned().collect(),
    };
    if chosen.is_empty() {
        return Err(ShareError::NoRecipients);
    }
    if matches!(audience, Audience::Chosen(_)) && chosen.len() > MAX_CHOSEN_RECIPIENTS {
        return Err(ShareError::TooManyRecipients);
    }
    if !chosen.is_subset(friends) {
        return Err(ShareError::NotFriends);
    }
    Ok(chosen.into_iter().collect())
}

impl Aggregate for Share {
    const TYPE: &'static str = AGGREGATE_TYPE;
    type Command = ShareCommand;
    type Event = ShareEvent;
    type Error = ShareError;
    type Services = ();

    async fn handle(
        &mut self,
        command: ShareCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), ShareError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: ShareEvent) {
        self.evolve(&event);
    }
}

#[cfg(test)]
mod tests;
