//! Chat: conversations, their messages, and each participant's read position.
//!
//! - The conversation aggregate (`conversation`/<conversation id>): its kind, title,
//!   participants (current and former) and read positions. It never holds messages, so
//!   its stream grows with membership changes and read marks, not with the messages.
//! - [`message`]: one stream per message (`message`/<message id>), holding its one
//!   `message.sent` event. Sending appends to a stream of its own, so senders never
//!   conflict with each other and a send costs the same in a new conversation and in one
//!   with 100,000 messages; a retried send with the same client-chosen id finds its
//!   stream taken and changes nothing.
//! - [`values`]: ids, message text and titles, validated at the edge.
//!
//! A message's place in its conversation (its `seq`: 1, 2, 3, ...) is the order of the
//! `message.sent` events in the feed, numbered by the chat projection: the same live
//! and in every replay. A read position is such a number, looked up by the handler.
//!
//! Message texts and group titles are personal data of their author: they arrive
//! [`Sealed`]. Who the caller's friends are is looked up by the handler.

pub mod message;
mod values;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

pub use values::{
    ChatValueError, ConversationId, ConversationTitle, MessageId, MessageText, MAX_MESSAGE_CHARS,
    MAX_TITLE_CHARS,
};

use crate::user::UserId;
use crate::{ErrorCode, Sealed};

/// The aggregate type name in the event store.
pub const AGGREGATE_TYPE: &str = "conversation";

/// The most participants a group may have, its creator included.
pub const MAX_PARTICIPANTS: usize = 100;

/// What a user can do with a conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum ConversationCommand {
    StartDirect(StartDirectConversation),
    CreateGroup(Box<CreateGroupConversation>),
    AddParticipant(AddParticipant),
    Leave(LeaveConversation),
    Rename(RenameConversation),
    MarkRead(MarkConversationRead),
}

/// `by` starts (or finds) the direct conversation with `with`, whose id is
/// [`ConversationId::direct`] of the two. `friends`: whether they are friends now.
#[derive(Debug, Clone, PartialEq)]
pub struct StartDirectConversation {
    pub conversation_id: ConversationId,
    pub by: UserId,
    pub with: UserId,
    pub friends: bool,
    pub at: DateTime<Utc>,
}

/// `by` creates a group with `participants` (besides themselves), each of whom must be
/// in `friends` (the creator's friends now).
#[derive(Debug, Clone, PartialEq)]
pub struct CreateGroupConversation {
    pub conversation_id: ConversationId,
    pub by: UserId,
    pub title: Sealed,
    pub participants: Vec<UserId>,
    pub friends: BTreeSet<UserId>,
    pub at: DateTime<Utc>,
}

/// A participant adds `user`; `friends`: whether `user` is their friend now.
#[derive(Debug, Clone, PartialEq)]
pub struct AddParticipant {
    pub by: UserId,
    pub user: UserId,
    pub friends: bool,
    pub at: DateTime<Utc>,
}

/// A participant leaves a group.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaveConversation {
    pub by: UserId,
    pub at: DateTime<Utc>,
}

/// A participant gives a group a new title.
#[derive(Debug, Clone, PartialEq)]
pub struct RenameConversation {
    pub by: UserId,
    pub title: Sealed,
    pub at: DateTime<Utc>,
}

/// A participant has read up to a message: `message` is that message as the handler
/// found it in this conversation, or `None` when it is not one of its messages.
/// `read_in_view` is the reader's read position as the chat view has it: a participant
/// added again starts at the conversation's latest message there, which this aggregate,
/// knowing no message numbers, cannot tell.
#[derive(Debug, Clone, PartialEq)]
pub struct MarkConversationRead {
    pub by: UserId,
    pub message: Option<ReadUpTo>,
    pub read_in_view: u64,
    pub at: DateTime<Utc>,
}

/// A message and its place in its conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadUpTo {
    pub message_id: MessageId,
    pub seq: u64,
}

/// What happened to a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum ConversationEvent {
    #[serde(rename = "conversation.direct_started")]
    DirectStarted(DirectStarted),
    #[serde(rename = "conversation.group_created")]
    GroupCreated(GroupCreated),
    #[serde(rename = "conversation.participant_added")]
    ParticipantAdded(ParticipantAdded),
    #[serde(rename = "conversation.participant_left")]
    ParticipantLeft(ParticipantLeft),
    #[serde(rename = "conversation.renamed")]
    Renamed(Renamed),
    #[serde(rename = "conversation.read")]
    Read(Read),
}

/// `conversation.direct_started` v1: the two participants, sorted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DirectStarted {
    pub conversation_id: ConversationId,
    pub participants: Vec<UserId>,
    pub started_by: UserId,
    pub started_at: DateTime<Utc>,
}

/// `conversation.group_created` v1: every participant (the creator included), sorted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupCreated {
    pub conversation_id: ConversationId,
    pub created_by: UserId,
    pub title: Sealed,
    pub participants: Vec<UserId>,
    pub created_at: DateTime<Utc>,
}

/// `conversation.participant_added` v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParticipantAdded {
    pub conversation_id: ConversationId,
    pub user: UserId,
    pub added_by: UserId,
    pub added_at: DateTime<Utc>,
}

/// `conversation.participant_left` v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParticipantLeft {
    pub conversation_id: ConversationId,
    pub user: UserId,
    pub left_at: DateTime<Utc>,
}

/// `conversation.renamed` v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Renamed {
    pub conversation_id: ConversationId,
    pub title: Sealed,
    pub renamed_by: UserId,
    pub renamed_at: DateTime<Utc>,
}

/// `conversation.read` v1: `user` has read up to the message `seq` (and every earlier one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Read {
    pub conversation_id: ConversationId,
    pub user: UserId,
    pub message_id: MessageId,
    pub seq: u64,
    pub read_at: DateTime<Utc>,
}

const EVENT_TYPES: [&str; 6] = [
    "conversation.direct_started",
    "conversation.group_created",
    "conversation.participant_added",
    "conversation.participant_left",
    "conversation.renamed",
    "conversation.read",
];

impl DomainEvent for ConversationEvent {
    fn event_type(&self) -> String {
        let index = match self {
            Self::DirectStarted(_) => 0,
            Self::GroupCreated(_) => 1,
            Self::ParticipantAdded(_) => 2,
            Self::ParticipantLeft(_) => 3,
            Self::Renamed(_) => 4,
            Self::Read(_) => 5,
        };
        EVENT_TYPES[index].to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl ConversationEvent {
    /// The version each event type is read at (older versions are upcast to it).
    pub fn current_version(event_type: &str) -> Option<String> {
        EVENT_TYPES.contains(&event_type).then(|| "1".to_owned())
    }

    /// The conversation the event belongs to.
    pub fn conversation_id(&self) -> &ConversationId {
        match self {
            Self::DirectStarted(e) => &e.conversation_id,
            Self::GroupCreated(e) => &e.conversation_id,
            Self::ParticipantAdded(e) => &e.conversation_id,
            Self::ParticipantLeft(e) => &e.conversation_id,
            Self::Renamed(e) => &e.conversation_id,
            Self::Read(e) => &e.conversation_id,
        }
    }
}

/// Why a conversation command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversationError {
    #[error("no such conversation")]
    NotFound,
    #[error("you are no longer a participant of this conversation")]
    NotParticipant,
    #[error("conversations are only with friends")]
    NotFriends,
    #[error("you cannot start a conversation with yourself")]
    WithSelf,
    #[error("a conversation with this id exists already")]
    AlreadyExists,
    #[error("a direct conversation has exactly its two participants and no title")]
    IsDirect,
    #[error("a group has at most 100 participants")]
    TooManyParticipants,
    #[error("a group needs at least one participant besides its creator")]
    NoParticipants,
    #[error("no such message in this conversation")]
    MessageNotFound,
}

impl ErrorCode for ConversationError {
    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "conversation.not_found",
            Self::NotParticipant => "conversation.not_participant",
            Self::NotFriends => "conversation.not_friends",
            Self::WithSelf => "conversation.with_self",
            Self::AlreadyExists => "conversation.already_exists",
            Self::IsDirect => "conversation.is_direct",
            Self::TooManyParticipants => "conversation.too_many_participants",
            Self::NoParticipants => "conversation.no_participants",
            Self::MessageNotFound => "message.not_found",
        }
    }
}

/// Direct (two users, no title) or group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    Direct,
    Group,
}

/// Where a user stands in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    Participant,
    /// Was a participant and left.
    Former,
    /// Never a participant, or the conversation does not exist.
    Stranger,
}

impl Membership {
    /// Ok for a participant, else the error that tells the user where they stand (a
    /// stranger is not told that the conversation exists).
    pub fn require_participant(self) -> Result<(), ConversationError> {
        match self {
            Self::Participant => Ok(()),
            Self::Former => Err(ConversationError::NotParticipant),
            Self::Stranger => Err(ConversationError::NotFound),
        }
    }
}

/// A conversation as far as decisions need it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Conversation {
    id: Option<ConversationId>,
    kind: Option<Kind>,
    created_by: Option<UserId>,
    participants: BTreeSet<UserId>,
    former: BTreeSet<UserId>,
    read: BTreeMap<UserId, u64>,
}

impl Conversation {
    /// Its kind, or `None` before it was started.
    pub fn kind(&self) -> Option<Kind> {
        self.kind
    }

    pub fn membership(&self, user: &UserId) -> Membership {
        if self.participants.contains(user) {
            Membership::Participant
        } else if self.former.contains(user) {
            Membership::Former
        } else {
            Membership::Stranger
        }
    }

    /// The current participants.
    pub fn participants(&self) -> &BTreeSet<UserId> {
        &self.participants
    }

    /// The last message `user` has read (0: none).
    pub fn read_position(&self, user: &UserId) -> u64 {
        self.read.get(user).copied().unwrap_or(0)
    }

    /// The events `command` leads to, or why it is refused.
    pub fn decide(
        &self,
        command: ConversationCommand,
    ) -> Result<Vec<ConversationEvent>, ConversationError> {
        match command {
            ConversationCommand::StartDirect(cmd) => self.start_direct(cmd),
            ConversationCommand::CreateGroup(cmd) => self.create_group(*cmd),
            ConversationCommand::AddParticipant(cmd) => self.add(cmd),
            ConversationCommand::Leave(cmd) => self.leave(cmd),
            ConversationCommand::Rename(cmd) => self.rename(cmd),
            ConversationCommand::MarkRead(cmd) => self.mark_read(cmd),
        }
    }

    fn start_direct(
        &self,
        cmd: StartDirectConversation,
    ) -> Result<Vec<ConversationEvent>, ConversationError> {
        if cmd.by == cmd.with {
            return Err(ConversationError::WithSelf);
        }
        match self.kind {
            // Asked again (or by both at once): the conversation they have.
            Some(Kind::Direct) => return Ok(vec![]),
            Some(Kind::Group) => return Err(ConversationError::AlreadyExists),
            None => {}
        }
        if !cmd.friends {
            return Err(ConversationError::NotFriends);
        }
        let mut participants = vec![cmd.by.clone(), cmd.with];
        participants.sort();
        Ok(vec![ConversationEvent::DirectStarted(DirectStarted {
            conversation_id: cmd.conversation_id,
            participants,
            started_by: cmd.by,
            started_at: cmd.at,
        })])
    }

    fn create_group(
        &self,
        cmd: CreateGroupConversation,
    ) -> Result<Vec<ConversationEvent>, ConversationError> {
        if self.kind.is_some() {
            // A retried creation (same creator, same id) finds its group and changes nothing.
            let retried =
                self.kind == Some(Kind::Group) && self.created_by.as_ref() == Some(&cmd.by);
            return if retried {
                Ok(vec![])
            } else {
                Err(ConversationError::AlreadyExists)
            };
        }
        let others: BTreeSet<UserId> = cmd
            .participants
            .into_iter()
            .filter(|user| *user != cmd.by)
            .collect();
        if others.is_empty() {
            return Err(ConversationError::NoParticipants);
        }
        if others.len() + 1 > MAX_PARTICIPANTS {
            return Err(ConversationError::TooManyParticipants);
        }
        if !others.is_subset(&cmd.friends) {
            return Err(ConversationError::NotFriends);
        }
        let mut participants: BTreeSet<UserId> = others;
        participants.insert(cmd.by.clone());
        Ok(vec![ConversationEvent::GroupCreated(GroupCreated {
            conversation_id: cmd.conversation_id,
            created_by: cmd.by,
            title: cmd.title,
            participants: participants.into_iter().collect(),
            created_at: cmd.at,
        })])
    }

    /// Ok when `user` may change this group: a participant, and the conversation a group.
    fn require_group_participant(&self, user: &UserId) -> Result<(), ConversationError> {
        self.membership(user).require_participant()?;
        match self.kind {
            Some(Kind::Group) => Ok(()),
            _ => Err(ConversationError::IsDirect),
        }
    }

    fn add(&self, cmd: AddParticipant) -> Result<Vec<ConversationEvent>, ConversationError> {
        self.require_group_participant(&cmd.by)?;
        if self.participants.contains(&cmd.user) {
            return Ok(vec![]);
        }
        if !cmd.friends {
            return Err(ConversationError::NotFriends);
        }
        if self.participants.len() >= MAX_PARTICIPANTS {
            return Err(ConversationError::TooManyParticipants);
        }
        Ok(vec![ConversationEvent::ParticipantAdded(
            ParticipantAdded {
                conversation_id: self.id_for_events()?,
                user: cmd.user,
                added_by: cmd.by,
                added_at: cmd.at,
            },
        )])
    }

    fn leave(&self, cmd: LeaveConversation) -> Result<Vec<ConversationEvent>, ConversationError> {
        self.require_group_participant(&cmd.by)?;
        Ok(vec![ConversationEvent::ParticipantLeft(ParticipantLeft {
            conversation_id: self.id_for_events()?,
            user: cmd.by,
            left_at: cmd.at,
        })])
    }

    fn rename(&self, cmd: RenameConversation) -> Result<Vec<ConversationEvent>, ConversationError> {
        self.require_group_participant(&cmd.by)?;
        Ok(vec![ConversationEvent::Renamed(Renamed {
            conversation_id: self.id_for_events()?,
            title: cmd.title,
            renamed_by: cmd.by,
            renamed_at: cmd.at,
        })])
    }

    fn mark_read(
        &self,
        cmd: MarkConversationRead,
    ) -> Result<Vec<ConversationEvent>, ConversationError> {
        self.membership(&cmd.by).require_participant()?;
        let message = cmd.message.ok_or(ConversationError::MessageNotFound)?;
        // Never back: reading an older message again leaves the position where it is.
        if message.seq <= self.read_position(&cmd.by).max(cmd.read_in_view) {
            return Ok(vec![]);
        }
        Ok(vec![ConversationEvent::Read(Read {
            conversation_id: self.id_for_events()?,
            user: cmd.by,
            message_id: message.message_id,
            seq: message.seq,
            read_at: cmd.at,
        })])
    }

    /// The conversation's id, for the events of a started conversation.
    fn id_for_events(&self) -> Result<ConversationId, ConversationError> {
        self.id.clone().ok_or(ConversationError::NotFound)
    }

    /// Folds one event into the state.
    pub fn evolve(&mut self, event: &ConversationEvent) {
        self.id = Some(event.conversation_id().clone());
        match event {
            ConversationEvent::DirectStarted(e) => {
                self.kind = Some(Kind::Direct);
                self.created_by = Some(e.started_by.clone());
                self.participants = e.participants.iter().cloned().collect();
            }
            ConversationEvent::GroupCreated(e) => {
                self.kind = Some(Kind::Group);
                self.created_by = Some(e.created_by.clone());
                self.participants = e.participants.iter().cloned().collect();
            }
            ConversationEvent::ParticipantAdded(e) => {
                self.former.remove(&e.user);
                self.participants.insert(e.user.clone());
            }
            ConversationEvent::ParticipantLeft(e) => {
                self.participants.remove(&e.user);
                self.former.insert(e.user.clone());
            }
            ConversationEvent::Renamed(_) => {}
            ConversationEvent::Read(e) => {
                let position = self.read.entry(e.user.clone()).or_default();
                *position = (*position).max(e.seq);
            }
        }
    }
}

impl Aggregate for Conversation {
    const TYPE: &'static str = AGGREGATE_TYPE;
    type Command = ConversationCommand;
    type Event = ConversationEvent;
    type Error = ConversationError;
    type Services = ();

    async fn handle(
        &mut self,
        command: ConversationCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), ConversationError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: ConversationEvent) {
        self.evolve(&event);
    }
}

#[cfg(test)]
mod tests;
