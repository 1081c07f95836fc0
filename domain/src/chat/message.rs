//! The message aggregate: one stream per message (`message`/<message id>), holding its
//! one `message.sent` event.
//!
//! The id is chosen by the sending client, so a send that is retried (the answer was
//! lost, the client sends again) reaches the same stream, finds it taken by the same
//! sender in the same conversation, and changes nothing. Whether the sender may send
//! (their [`Membership`] in the conversation) is looked up by the handler.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use super::{ConversationError, ConversationId, Membership, MessageId};
use crate::user::UserId;
use crate::{ErrorCode, Sealed};

/// The aggregate type name in the event store.
pub const AGGREGATE_TYPE: &str = "message";

/// What a sender can do with a message.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageCommand {
    Send(SendMessage),
}

/// `sender` sends `text` to a conversation where their standing is `membership`.
#[derive(Debug, Clone, PartialEq)]
pub struct SendMessage {
    pub message_id: MessageId,
    pub conversation_id: ConversationId,
    pub sender: UserId,
    pub membership: Membership,
    pub text: Sealed,
    pub at: DateTime<Utc>,
}

/// What happened to a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum MessageEvent {
    #[serde(rename = "message.sent")]
    Sent(MessageSent),
}

/// `message.sent` v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageSent {
    pub message_id: MessageId,
    pub conversation_id: ConversationId,
    pub sender: UserId,
    pub text: Sealed,
    pub sent_at: DateTime<Utc>,
}

impl DomainEvent for MessageEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Sent(_) => "message.sent",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl MessageEvent {
    /// The version each event type is read at (older versions are upcast to it).
    pub fn current_version(event_type: &str) -> Option<String> {
        (event_type == "message.sent").then(|| "1".to_owned())
    }
}

/// Why a message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error(transparent)]
    Conversation(#[from] ConversationError),
    #[error("this message id was used for another message")]
    IdTaken,
}

impl ErrorCode for MessageError {
    fn code(&self) -> &'static str {
        match self {
            Self::Conversation(e) => e.code(),
            Self::IdTaken => "message.id_taken",
        }
    }
}

/// A message as far as decisions need it: where and by whom it was sent, once it was.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Message {
    sent: Option<(ConversationId, UserId)>,
}

impl Message {
    /// The events `command` leads to, or why it is refused.
    pub fn decide(&self, command: MessageCommand) -> Result<Vec<MessageEvent>, MessageError> {
        let MessageCommand::Send(cmd) = command;
        if let Some((conversation, sender)) = &self.sent {
            // The same send again: it happened already.
            return if *conversation == cmd.conversation_id && *sender == cmd.sender {
                Ok(vec![])
            } else {
                Err(MessageError::IdTaken)
            };
        }
        cmd.membership.require_participant()?;
        Ok(vec![MessageEvent::Sent(MessageSent {
            message_id: cmd.message_id,
            conversation_id: cmd.conversation_id,
            sender: cmd.sender,
            text: cmd.text,
            sent_at: cmd.at,
        })])
    }

    /// Folds one event into the state.
    pub fn evolve(&mut self, event: &MessageEvent) {
        let MessageEvent::Sent(e) = event;
        self.sent = Some((e.conversation_id.clone(), e.sender.clone()));
    }
}

impl Aggregate for Message {
    const TYPE: &'static str = AGGREGATE_TYPE;
    type Command = MessageCommand;
    type Event = MessageEvent;
    type Error = MessageError;
    type Services = ();

    async fn handle(
        &mut self,
        command: MessageCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), MessageError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: MessageEvent) {
        self.evolve(&event);
    }
}
