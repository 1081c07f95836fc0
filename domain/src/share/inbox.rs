//! A recipient's inbox of shares: which notifications they have seen.
//!
//! One stream per recipient (`inbox`/<user id>). Marking one share seen records the
//! share, the time and where (the list of notifications, or the shared page); marking
//! all records only the time: the views mark every notification they hold for that
//! recipient at that point of the feed, so a replay marks exactly what the live view
//! marked.
//!
//! Whether the share reached this recipient, whether their view already shows it seen,
//! and how many they have not seen are looked up by the handler in the recipient's view.
//!
//! `inbox.share_seen` is at version 2 (it says where the share was seen); version 1
//! events stay in the store as written and are read through [`InboxEvent::UPCASTS`].

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ShareId;
use crate::ErrorCode;

/// The aggregate type name in the event store.
pub const AGGREGATE_TYPE: &str = "inbox";

/// What a recipient can do with their notifications.
#[derive(Debug, Clone, PartialEq)]
pub enum InboxCommand {
    /// Seen in the list of notifications.
    MarkShareSeen(MarkShareSeen),
    /// Seen on the shared page itself: the recipient opened it.
    MarkShareSeenOnPage(MarkShareSeen),
    MarkAllSharesSeen(MarkAllSharesSeen),
}

/// Marks one share's notification seen (where, the command's variant says).
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

/// `inbox.share_seen` v2: the recipient saw the share, and where.
///
/// Version 1 was `{share_id, seen_at}`: a share could only be marked seen in the
/// extension's list of notifications. Since version 2 the extension also marks a share
/// seen when its recipient opens the shared page, and the event keeps which of the two
/// happened (`via`), so that a view can count the pages recipients actually opened over
/// the whole history. A version 1 event is read as `via: "notification"`
/// ([`upcast_share_seen_v1`]), which is what it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShareSeen {
    pub share_id: ShareId,
    pub seen_at: DateTime<Utc>,
    pub via: SeenVia,
}

/// Where a recipient saw a share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeenVia {
    /// In their list of notifications.
    Notification,
    /// On the shared page, which they opened.
    Page,
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
        match self {
            Self::ShareSeen(_) => "2",
            Self::AllSharesSeen(_) => "1",
        }
        .to_owned()
    }
}

/// `(event type, from version, to version, upcast)`: one step of [`InboxEvent::UPCASTS`],
/// in the shape `event_store::codec::Upcasters::of` takes.
pub type Upcast = (&'static str, &'static str, &'static str, fn(Value) -> Value);

impl InboxEvent {
    /// How each released older version of an inbox event becomes the next. The one
    /// registration every reader of inbox streams uses, paired with
    /// [`InboxEvent::current_version`]: the command side's repository, the projections,
    /// the audit tools and so every replay.
    pub const UPCASTS: &'static [Upcast] = &[("inbox.share_seen", "1", "2", upcast_share_seen_v1)];

    /// The version each event type is read at (older versions are upcast to it).
    pub fn current_version(event_type: &str) -> Option<String> {
        match event_type {
            "inbox.share_seen" => Some("2".to_owned()),
            "inbox.all_shares_seen" => Some("1".to_owned()),
            _ => None,
        }
    }
}

/// `inbox.share_seen` v1 → v2: a version 1 mark was made in the list of notifications,
/// the only place there was; the rest of the payload is unchanged.
pub fn upcast_share_seen_v1(mut payload: Value) -> Value {
    if let Value::Object(fields) = &mut payload {
        fields
            .entry("via")
            .or_insert_with(|| Value::from("notification"));
    }
    payload
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
            InboxCommand::MarkShareSeen(cmd) => self.mark_seen(cmd, SeenVia::Notification),
            InboxCommand::MarkShareSeenOnPage(cmd) => self.mark_seen(cmd, SeenVia::Page),
            InboxCommand::MarkAllSharesSeen(cmd) => Ok(mark_all(cmd)),
        }
    }

    /// A share is seen once, wherever it is seen first.
    fn mark_seen(&self, cmd: MarkShareSeen, via: SeenVia) -> Result<Vec<InboxEvent>, InboxError> {
        match cmd.notification {
            Notification::NotReceived => Err(InboxError::ShareNotFound),
            Notification::Seen => Ok(vec![]),
            Notification::Unseen if self.seen.contains(&cmd.share_id) => Ok(vec![]),
            Notification::Unseen => Ok(vec![InboxEvent::ShareSeen(ShareSeen {
                share_id: cmd.share_id,
                seen_at: cmd.at,
                via,
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
