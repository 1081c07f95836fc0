//! What the chat commands look up before deciding: a message's place in its
//! conversation, from the `chat` view, and whether it was sent at all, from the event
//! store. (The caller's friends come from [`crate::shares::store::friends_of`].)

use std::time::Duration;

use domain::chat::{ConversationId, MessageId};
use domain::user::UserId;
use sqlx::PgPool;
use tokio::time::Instant;

/// The longest a lookup waits for the `chat` view to show a message that was sent.
pub const VIEW_WAIT: Duration = Duration::from_secs(3);
/// How often the view is read again while waiting.
const VIEW_POLL: Duration = Duration::from_millis(25);

/// Where a message stands for a read mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// In the `chat` view, at this `seq`.
    Found(u64),
    /// Not a message of that conversation.
    NotSent,
    /// Sent there, but the view did not show it within [`VIEW_WAIT`]: the projection is
    /// stopped or far behind.
    ViewBehind,
}

/// Where `message` stands in `conversation`.
///
/// The view lags behind the event store: a client that marks read a message it has just
/// sent, or one it got from another service, may ask before the chat projection has
/// numbered it. So when the view does not show the message but the event store holds it,
/// sent to `conversation`, this polls the view until it does, for at most [`VIEW_WAIT`].
/// A message the event store does not hold either is answered at once.
pub async fn seq_waiting_for_view(
    pool: &PgPool,
    conversation: &ConversationId,
    message: &MessageId,
) -> Result<Lookup, sqlx::Error> {
    if let Some(seq) = seq_in_view(pool, conversation, message).await? {
        return Ok(Lookup::Found(seq));
    }
    if !was_sent(pool, conversation, message).await? {
        return Ok(Lookup::NotSent);
    }
    let deadline = Instant::now() + VIEW_WAIT;
    while Instant::now() < deadline {
        tokio::time::sleep(VIEW_POLL).await;
        if let Some(seq) = seq_in_view(pool, conversation, message).await? {
            return Ok(Lookup::Found(seq));
        }
    }
    Ok(Lookup::ViewBehind)
}

/// `reader`'s read position in `conversation` as the `chat` view has it (0: none).
pub async fn read_in_view(
    pool: &PgPool,
    conversation: &ConversationId,
    reader: &UserId,
) -> Result<u64, sqlx::Error> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT read_seq FROM chat_participants WHERE conversation_id = $1::uuid AND user_id = $2",
    )
    .bind(conversation.as_str())
    .bind(reader.as_str())
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|(seq,)| u64::try_from(seq).ok()).unwrap_or(0))
}

/// The `seq` of `message` in `conversation` in the `chat` view, if it is there.
async fn seq_in_view(
    pool: &PgPool,
    conversation: &ConversationId,
    message: &MessageId,
) -> Result<Option<u64>, sqlx::Error> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT seq FROM chat_messages WHERE message_id = $1::uuid AND conversation_id = $2::uuid",
    )
    .bind(message.as_str())
    .bind(conversation.as_str())
    .fetch_optional(pool)
    .await?;
    // The projection numbers messages from 1.
    Ok(row.and_then(|(seq,)| u64::try_from(seq).ok()))
}

/// Whether the event store holds `message`, sent to `conversation` (its stream's one
/// `message.sent` event says where it went).
async fn was_sent(
    pool: &PgPool,
    conversation: &ConversationId,
    message: &MessageId,
) -> Result<bool, sqlx::Error> {
    let (sent,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM events
                         WHERE aggregate_type = $1 AND aggregate_id = $2
                           AND payload->>'conversation_id' = $3)",
    )
    .bind(domain::chat::message::AGGREGATE_TYPE)
    .bind(message.as_str())
    .bind(conversation.as_str())
    .fetch_one(pool)
    .await?;
    Ok(sent)
}
