//! Request bodies of the chat commands, and their parsing into domain values.

use std::collections::BTreeSet;

use domain::chat::{
    ConversationError, ConversationId, ConversationTitle, MessageId, MessageText, MAX_PARTICIPANTS,
};
use domain::user::UserId;
use event_store::ExecuteError;
use serde::Deserialize;

use crate::error::CommandError;

/// `POST /v1/commands/start-direct-conversation`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartDirectBody {
    pub with: String,
}

impl StartDirectBody {
    /// The other user.
    pub fn parse(&self) -> Result<UserId, CommandError> {
        Ok(UserId::parse(&self.with)?)
    }
}

/// `POST /v1/commands/create-group-conversation`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroupBody {
    /// Chosen by a client that wants to retry safely; a new UUID when absent.
    #[serde(default)]
    pub conversation_id: Option<String>,
    pub title: String,
    pub participants: Vec<String>,
}

/// A group to create, validated.
#[derive(Debug)]
pub struct NewGroup {
    pub conversation_id: Option<ConversationId>,
    pub title: ConversationTitle,
    /// The distinct participants named (the creator may be among them).
    pub participants: BTreeSet<UserId>,
}

impl CreateGroupBody {
    /// The group, with at most [`MAX_PARTICIPANTS`] distinct participants: a longer list
    /// is refused here, before its ids are looked up or anything is sealed. (More than
    /// that many distinct ids name at least that many others besides the creator, which the
    /// domain refuses anyway.)
    pub fn parse(&self) -> Result<NewGroup, CommandError> {
        let conversation_id = self
            .conversation_id
            .as_deref()
            .map(ConversationId::parse_group)
            .transpose()?;
        let title = ConversationTitle::parse(&self.title)?;
        let participants = self
            .participants
            .iter()
            .map(|id| UserId::parse(id))
            .collect::<Result<BTreeSet<_>, _>>()?;
        if participants.len() > MAX_PARTICIPANTS {
            let refused = ExecuteError::Domain(ConversationError::TooManyParticipants);
            return Err(CommandError::Conversation(refused));
        }
        Ok(NewGroup {
            conversation_id,
            title,
            participants,
        })
    }
}

/// `POST /v1/commands/add-participant`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddParticipantBody {
    pub conversation_id: String,
    pub user_id: String,
}

impl AddParticipantBody {
    pub fn parse(&self) -> Result<(ConversationId, UserId), CommandError> {
        Ok((
            ConversationId::parse(&self.conversation_id)?,
            UserId::parse(&self.user_id)?,
        ))
    }
}

/// `POST /v1/commands/leave-conversation`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaveBody {
    pub conversation_id: String,
}

impl LeaveBody {
    pub fn parse(&self) -> Result<ConversationId, CommandError> {
        Ok(ConversationId::parse(&self.conversation_id)?)
    }
}

/// `POST /v1/commands/rename-conversation`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameBody {
    pub conversation_id: String,
    pub title: String,
}

impl RenameBody {
    pub fn parse(&self) -> Result<(ConversationId, ConversationTitle), CommandError> {
        Ok((
            ConversationId::parse(&self.conversation_id)?,
            ConversationTitle::parse(&self.title)?,
        ))
    }
}

/// `POST /v1/commands/send-message`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendBody {
    pub conversation_id: String,
    /// Chosen by the client so that a retried send is recognised; a new UUID when absent.
    #[serde(default)]
    pub message_id: Option<String>,
    pub text: String,
}

/// A message to send, validated.
#[derive(Debug)]
pub struct NewMessage {
    pub conversation_id: ConversationId,
    pub message_id: Option<MessageId>,
    pub text: MessageText,
}

impl SendBody {
    pub fn parse(&self) -> Result<NewMessage, CommandError> {
        Ok(NewMessage {
            conversation_id: ConversationId::parse(&self.conversation_id)?,
            message_id: self
                .message_id
                .as_deref()
                .map(MessageId::parse)
                .transpose()?,
            text: MessageText::parse(&self.text)?,
        })
    }
}

/// `POST /v1/commands/mark-conversation-read`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadBody {
    pub conversation_id: String,
    pub message_id: String,
}

impl ReadBody {
    pub fn parse(&self) -> Result<(ConversationId, MessageId), CommandError> {
        Ok((
            ConversationId::parse(&self.conversation_id)?,
            MessageId::parse(&self.message_id)?,
        ))
    }
}
