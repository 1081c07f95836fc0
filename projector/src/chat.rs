//! The `chat` projection: conversations (`chat_conversations`), their participants with
//! read positions and unread counts (`chat_participants`) and their messages
//! (`chat_messages`), from the conversation events and `message.sent`.
//!
//! A message's `seq` is the number of `message.sent` events of its conversation in the
//! feed up to and including it: the projection numbers them as it applies them, so the
//! numbering is the same live and in every replay. Texts and titles are opened with their
//! author's key; once the author is erased they are NULL.
//!
//! Each event is one statement (CTEs where it changes several tables), and applying an
//! event a second time changes nothing: a message is guarded by its id, membership
//! changes by the participant's current state, read marks by `read_seq`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::chat::message::{self, MessageEvent, MessageSent};
use domain::chat::{
    self as chat, ConversationEvent, ConversationId, ParticipantAdded, ParticipantLeft, Read,
    Renamed,
};
use domain::user::UserId;
use event_bus::Addressed;
use event_store::codec::{self, Upcasters};
use event_store::StoredEvent;
use personal_data::Keys;
use sqlx::PgConnection;

use crate::{Projection, ProjectionError};

/// The projection's name (its checkpoint row, and the view `?min_position=` waits for).
pub const NAME: &str = "chat";

/// One row per conversation.
pub const CONVERSATIONS: &str = "chat_conversations";
/// One row per conversation and user who ever took part.
pub const PARTICIPANTS: &str = "chat_participants";
/// One row per message.
pub const MESSAGES: &str = "chat_messages";

/// Keeps the chat tables. A rebuild into other tables goes through
/// [`crate::replay::RebuildOptions::schema`].
pub struct Chat {
    keys: Keys,
    upcasters: Upcasters,
}

/// A conversation as it begins, direct or group.
struct Started<'a> {
    conversation_id: &'a ConversationId,
    kind: &'static str,
    title: Option<String>,
    created_by: &'a UserId,
    participants: &'a [UserId],
    at: DateTime<Utc>,
}

impl Chat {
    pub fn new(keys: Keys) -> Self {
        Self {
            keys,
            upcasters: Upcasters::default(),
        }
    }

    async fn conversation(
        &self,
        tx: &mut PgConnection,
        event: &ConversationEvent,
        position: i64,
    ) -> Result<(), ProjectionError> {
        match event {
            ConversationEvent::DirectStarted(e) => {
                let started = Started {
                    conversation_id: &e.conversation_id,
                    kind: "direct",
                    title: None,
                    created_by: &e.started_by,
                    participants: &e.participants,
                    at: e.started_at,
                };
                start(tx, &started, position).await?;
            }
            ConversationEvent::GroupCreated(e) => {
                let started = Started {
                    conversation_id: &e.conversation_id,
                    kind: "group",
                    title: self.keys.open(&e.title).await?.into_text(),
                    created_by: &e.created_by,
                    participants: &e.participants,
                    at: e.created_at,
                };
                start(tx, &started, position).await?;
            }
            ConversationEvent::ParticipantAdded(e) => added(tx, e).await?,
            ConversationEvent::ParticipantLeft(e) => left(tx, e).await?,
            ConversationEvent::Renamed(e) => self.renamed(tx, e).await?,
            ConversationEvent::Read(e) => read(tx, e).await?,
        }
        Ok(())
    }

    async fn renamed(&self, tx: &mut PgConnection, e: &Renamed) -> Result<(), ProjectionError> {
        let title = self.keys.open(&e.title).await?.into_text();
        sqlx::query("UPDATE chat_conversations SET title = $2 WHERE conversation_id = $1::uuid")
            .bind(e.conversation_id.as_str())
            .bind(title)
            .execute(tx)
            .await?;
        Ok(())
    }

    /// Numbers the message, stores it, and moves its conversation's latest message and
    /// activity and its participants' unread counts; all of it only the first time.
    async fn sent(
        &self,
        tx: &mut PgConnection,
        e: &MessageSent,
        position: i64,
    ) -> Result<(), ProjectionError> {
        let text = self.keys.open(&e.text).await?.into_text();
        // One snapshot for the whole statement: the guard sees the messages as they were
        // before it, and the message and participants change only when the conversation
        // row did (a conversation the view does not have gets no message).
        sqlx::query(
            "WITH conversation AS (
                UPDATE chat_conversations
                   SET last_seq = last_seq + 1, last_message_id = $2::uuid,
                       last_sender_id = $3, last_text = $4, last_sent_at = $5,
                       activity_position = GREATEST(activity_position, $6)
                 WHERE conversation_id = $1::uuid
                   AND NOT EXISTS (SELECT 1 FROM chat_messages WHERE message_id = $2::uuid)
                RETURNING last_seq, activity_position
             ), message AS (
                INSERT INTO chat_messages
                       (conversation_id, seq, message_id, sender_id, text, sent_at, position)
                SELECT $1::uuid, last_seq, $2::uuid, $3, $4, $5, $6 FROM conversation
             )
             UPDATE chat_participants AS p
                SET activity_position = c.activity_position,
                    unread = p.unread + CASE WHEN p.user_id = $3 THEN 0 ELSE 1 END
               FROM conversation AS c
              WHERE p.conversation_id = $1::uuid AND p.left_at IS NULL",
        )
        .bind(e.conversation_id.as_str())
        .bind(e.message_id.as_str())
        .bind(e.sender.as_str())
        .bind(text)
        .bind(e.sent_at)
        .bind(position)
        .execute(tx)
        .await?;
        Ok(())
    }
}

/// Inserts the conversation and its participants, unless it is there already.
async fn start(tx: &mut PgConnection, s: &Started<'_>, position: i64) -> Result<(), sqlx::Error> {
    let participants: Vec<&str> = s.participants.iter().map(UserId::as_str).collect();
    sqlx::query(
        "WITH conversation AS (
            INSERT INTO chat_conversations
                   (conversation_id, kind, title, created_by, created_at, participant_count,
                    activity_position)
            VALUES ($1::uuid, $2, $3, $4, $5, cardinality($6::text[]), $7)
            ON CONFLICT (conversation_id) DO NOTHING
            RETURNING conversation_id
         )
         INSERT INTO chat_participants (conversation_id, user_id, joined_at, activity_position)
         SELECT conversation_id, participant, $5, $7
           FROM conversation, unnest($6::text[]) AS participant
         ON CONFLICT (conversation_id, user_id) DO NOTHING",
    )
    .bind(s.conversation_id.as_str())
    .bind(s.kind)
    .bind(&s.title)
    .bind(s.created_by.as_str())
    .bind(s.at)
    .bind(participants)
    .bind(position)
    .execute(tx)
    .await?;
    Ok(())
}

/// Makes the user a current participant (a new row, or a former participant's again) and
/// counts them; nothing when they are one already. What was sent before is not unread.
async fn added(tx: &mut PgConnection, e: &ParticipantAdded) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH joined AS (
            INSERT INTO chat_participants
                   (conversation_id, user_id, joined_at, read_seq, activity_position)
            SELECT conversation_id, $2, $3, last_seq, activity_position
              FROM chat_conversations WHERE conversation_id = $1::uuid
            ON CONFLICT (conversation_id, user_id) DO UPDATE
               SET left_at = NULL, joined_at = EXCLUDED.joined_at,
                   read_seq = GREATEST(chat_participants.read_seq, EXCLUDED.read_seq),
                   unread = 0, activity_position = EXCLUDED.activity_position
             WHERE chat_participants.left_at IS NOT NULL
            RETURNING 1
         )
         UPDATE chat_conversations SET participant_count = participant_count + 1
          WHERE conversation_id = $1::uuid AND EXISTS (SELECT 1 FROM joined)",
    )
    .bind(e.conversation_id.as_str())
    .bind(e.user.as_str())
    .bind(e.added_at)
    .execute(tx)
    .await?;
    Ok(())
}

/// Marks the participant as gone and no longer counts them; nothing when they had left.
async fn left(tx: &mut PgConnection, e: &ParticipantLeft) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH gone AS (
            UPDATE chat_participants SET left_at = $3
             WHERE conversation_id = $1::uuid AND user_id = $2 AND left_at IS NULL
            RETURNING 1
         )
         UPDATE chat_conversations SET participant_count = participant_count - 1
          WHERE conversation_id = $1::uuid AND EXISTS (SELECT 1 FROM gone)",
    )
    .bind(e.conversation_id.as_str())
    .bind(e.user.as_str())
    .bind(e.left_at)
    .execute(tx)
    .await?;
    Ok(())
}

/// Moves the read position forward (never back) and counts what is still unread: the
/// others' messages after it.
async fn read(tx: &mut PgConnection, e: &Read) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE chat_participants
            SET read_seq = $3, read_at = $4,
                unread = (SELECT count(*) FROM chat_messages
                           WHERE conversation_id = $1::uuid AND seq > $3 AND sender_id <> $2)
          WHERE conversation_id = $1::uuid AND user_id = $2 AND read_seq < $3",
    )
    .bind(e.conversation_id.as_str())
    .bind(e.user.as_str())
    .bind(i64::try_from(e.seq).unwrap_or(i64::MAX))
    .bind(e.read_at)
    .execute(tx)
    .await?;
    Ok(())
}

#[async_trait]
impl Projection for Chat {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self) -> &'static [&'static str] {
        &[CONVERSATIONS, PARTICIPANTS, MESSAGES]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<Vec<Addressed>, ProjectionError> {
        let up = &self.upcasters;
        if let Some(decoded) = codec::decode_stored(
            event,
            chat::AGGREGATE_TYPE,
            up,
            ConversationEvent::current_version,
        )? {
            self.conversation(tx, &decoded, event.position).await?;
        } else if let Some(MessageEvent::Sent(e)) = codec::decode_stored(
            event,
            message::AGGREGATE_TYPE,
            up,
            MessageEvent::current_version,
        )? {
            self.sent(tx, &e, event.position).await?;
        }
        Ok(vec![])
    }
}
