//! Chat values, validated at the edge: an invalid one cannot be built.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::user::UserId;

/// The longest message, in characters, after trimming.
pub const MAX_MESSAGE_CHARS: usize = 1000;
/// The longest group title, in characters, after trimming.
pub const MAX_TITLE_CHARS: usize = 100;

/// Why a chat value was refused, with a stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatValueError {
    #[error("a conversation id is a UUID")]
    InvalidConversationId,
    #[error("a group's id is a random (version 4) UUID")]
    InvalidGroupId,
    #[error("a message id is a UUID")]
    InvalidMessageId,
    #[error("a message is 1 to 1000 characters after trimming, without control characters other than line breaks and tabs")]
    InvalidText,
    #[error("a title is 1 to 100 characters after trimming, without control characters")]
    InvalidTitle,
}

impl crate::ErrorCode for ChatValueError {
    fn code(&self) -> &'static str {
        match self {
            Self::InvalidConversationId | Self::InvalidGroupId => "conversation.invalid_id",
            Self::InvalidMessageId => "message.invalid_id",
            Self::InvalidText => "message.invalid_text",
            Self::InvalidTitle => "conversation.invalid_title",
        }
    }
}

/// A UUID in its lower-case hyphenated form, from any form `uuid` reads.
fn canonical_uuid(raw: &str) -> Option<String> {
    uuid::Uuid::try_parse(raw.trim())
        .ok()
        .map(|id| id.hyphenated().to_string())
}

/// A conversation's id: a UUID. A group's is chosen by its creator (or the handler); a
/// direct conversation's is derived from its pair ([`ConversationId::direct`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConversationId(String);

/// The namespace of direct conversations' name-based (v5) UUIDs. Never changes: the id of
/// every direct conversation ever started depends on it.
const DIRECT_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x5c1d_7a0e_4e0b_4b7e_9d55_2f0c_8a1e_6b31);

impl ConversationId {
    pub fn parse(raw: &str) -> Result<Self, ChatValueError> {
        canonical_uuid(raw)
            .map(Self)
            .ok_or(ChatValueError::InvalidConversationId)
    }

    /// A group's id as its creator chose it: a random (version 4) UUID. Direct
    /// conversations' ids are version 5, so no group can take the id of a pair's direct
    /// conversation and keep the two from ever starting it.
    pub fn parse_group(raw: &str) -> Result<Self, ChatValueError> {
        let id = uuid::Uuid::try_parse(raw.trim()).map_err(|_| ChatValueError::InvalidGroupId)?;
        if id.get_version_num() != 4 {
            return Err(ChatValueError::InvalidGroupId);
        }
        Ok(Self(id.hyphenated().to_string()))
    }

    /// The one direct conversation of `a` and `b`, the same whoever asks: both asking at
    /// once reach one stream, where the second finds the first's conversation.
    pub fn direct(a: &UserId, b: &UserId) -> Self {
        let (first, second) = if a.as_str() <= b.as_str() {
            (a, b)
        } else {
            (b, a)
        };
        // User ids hold no whitespace, so the name stands for exactly one pair.
        let name = format!("direct {first} {second}");
        Self(
            uuid::Uuid::new_v5(&DIRECT_NAMESPACE, name.as_bytes())
                .hyphenated()
                .to_string(),
        )
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A message's id: a UUID chosen by the sending client, so that a retried send is
/// recognised (or made by the handler when the client gives none).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageId(String);

impl MessageId {
    pub fn parse(raw: &str) -> Result<Self, ChatValueError> {
        canonical_uuid(raw)
            .map(Self)
            .ok_or(ChatValueError::InvalidMessageId)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A message's text: trimmed, 1 to [`MAX_MESSAGE_CHARS`] characters; line breaks and
/// tabs allowed, other control characters not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(raw: &str) -> Result<Self, ChatValueError> {
        let text = raw.trim();
        let ok = (1..=MAX_MESSAGE_CHARS).contains(&text.chars().count())
            && !text
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'));
        ok.then(|| Self(text.to_owned()))
            .ok_or(ChatValueError::InvalidText)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A group's title: trimmed, 1 to [`MAX_TITLE_CHARS`] characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationTitle(String);

impl ConversationTitle {
    pub fn parse(raw: &str) -> Result<Self, ChatValueError> {
        let title = raw.trim();
        let ok = (1..=MAX_TITLE_CHARS).contains(&title.chars().count())
            && !title.chars().any(char::is_control);
        ok.then(|| Self(title.to_owned()))
            .ok_or(ChatValueError::InvalidTitle)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
