//! The `chat` projection: conversations (`chat_conversations`), their participants with
//! read positions and unread counts (`chat_participants`) and their messages
//! (`chat_messages`), from the conversation events and `message.sent`.
//!
//! A message's `seq` is the number of `message.sent` events of its conversation in the
//! feed up to and including it: the projection numbers them as it applies them, so the
//! numbering is the same live and in every replay. Texts and titles are opened with their
//! author's key; once the author is erased they are NULL.
//!
//! Each conversation event is one statement (CTEs where it changes several tables), and
//! so is each run of messages between two of them; applying an event a second time
//! changes nothing: a message is guarded by its id, membership
//! changes by the participant's current state, read marks by `read_seq`.

use std::collections::HashSet;

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

    /// Numbers the messages of a run (no conversation event among them), stores them, and
    /// moves each conversation's latest message and activity and its participants' unread
    /// counts: one statement, however many messages, with what one statement per message
    /// in feed order would give. A message already stored is skipped, so applying a run a
    /// second time changes nothing; a conversation the view does not have gets none.
    async fn sent(
        &self,
        tx: &mut PgConnection,
        run: &[(MessageSent, i64)],
    ) -> Result<(), ProjectionError> {
        let mut seen = HashSet::new();
        let mut columns = Messages::default();
        for (e, position) in run {
            if !seen.insert(e.message_id.as_str()) {
                continue;
            }
            columns.conversation_id.push(e.conversation_id.as_str());
            columns.message_id.push(e.message_id.as_str());
            columns.sender_id.push(e.sender.as_str());
            columns
                .text
                .push(self.keys.open(&e.text).await?.into_text());
            columns.sent_at.push(e.sent_at);
            columns.position.push(*position);
        }
        if columns.message_id.is_empty() {
            return Ok(());
        }
        // One snapshot for the whole statement: the guard sees the messages as they were
        // before it. Within a conversation the messages are numbered in the run's order
        // after its `last_seq`; the participants are those of before the run, as no
        // membership changes within it.
        sqlx::query(
            "WITH m AS (
                SELECT m.*
                  FROM UNNEST($1::text[]::uuid[], $2::text[]::uuid[], $3::text[], $4::text[],
                              $5::timestamptz[], $6::bigint[])
                       WITH ORDINALITY AS m(conversation_id, message_id, sender_id, text,
                                            sent_at, position, n)
                 WHERE NOT EXISTS (SELECT 1 FROM chat_messages x WHERE x.message_id = m.message_id)
             ), numbered AS (
                SELECT m.*,
                       row_number() OVER (PARTITION BY m.conversation_id ORDER BY m.n) AS k,
                       count(*) OVER (PARTITION BY m.conversation_id) AS total,
                       max(m.position) OVER (PARTITION BY m.conversation_id) AS top
                  FROM m
             ), conversation AS (
                UPDATE chat_conversations AS c
                   SET last_seq = c.last_seq + l.total, last_message_id = l.message_id,
                       last_sender_id = l.sender_id, last_text = l.text,
                       last_sent_at = l.sent_at,
                       activity_position = GREATEST(c.activity_position, l.top)
                  FROM numbered AS l
                 WHERE l.k = l.total AND c.conversation_id = l.conversation_id
                RETURNING c.conversation_id, c.last_seq, c.activity_position, l.total
             ), message AS (
                INSERT INTO chat_messages
                       (conversation_id, seq, message_id, sender_id, text, sent_at, position)
                SELECT n.conversation_id, c.last_seq - c.total + n.k, n.message_id,
                       n.sender_id, n.text, n.sent_at, n.position
                  FROM numbered AS n JOIN conversation AS c USING (conversation_id)
             )
             UPDATE chat_participants AS p
                SET activity_position = c.activity_position,
                    unread = p.unread + c.total
                           - (SELECT count(*) FROM numbered AS n
                               WHERE n.conversation_id = p.conversation_id
                                 AND n.sender_id = p.user_id)
               FROM conversation AS c
              WHERE p.conversation_id = c.conversation_id AND p.left_at IS NULL",
        )
        .bind(&columns.conversation_id)
        .bind(&columns.message_id)
        .bind(&columns.sender_id)
        .bind(&columns.text)
        .bind(&columns.sent_at)
        .bind(&columns.position)
        .execute(tx)
        .await?;
        Ok(())
    }
}

/// A chat event: what the chat view and the chat notices follow.
pub(crate) enum ChatEvent {
    Conversation(ConversationEvent),
    Message(MessageSent),
}

impl ChatEvent {
    /// `event` decoded, if it is a conversation event or a sent message.
    pub(crate) fn decode(
        event: &StoredEvent,
        upcasters: &Upcasters,
    ) -> Result<Option<Self>, codec::CodecError> {
        if let Some(decoded) = codec::decode_stored(
            event,
            chat::AGGREGATE_TYPE,
            upcasters,
            ConversationEvent::current_version,
        )? {
            return Ok(Some(Self::Conversation(decoded)));
        }
        let sent = codec::decode_stored(
            event,
            message::AGGREGATE_TYPE,
            upcasters,
            MessageEvent::current_version,
        )?;
        Ok(sent.map(|MessageEvent::Sent(e)| Self::Message(e)))
    }
}

/// The columns of a run of messages, for `UNNEST`.
#[derive(Default)]
struct Messages<'a> {
    conversation_id: Vec<&'a str>,
    message_id: Vec<&'a str>,
    sender_id: Vec<&'a str>,
    text: Vec<Option<String>>,
    sent_at: Vec<DateTime<Utc>>,
    position: Vec<i64>,
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
        self.apply_batch(tx, std::slice::from_ref(event)).await
    }

    /// Each conversation event alone; each run of messages between them in one statement
    /// ([`Chat::sent`]).
    async fn apply_batch(
        &self,
        tx: &mut PgConnection,
        events: &[StoredEvent],
    ) -> Result<Vec<Addressed>, ProjectionError> {
        let mut run = Vec::new();
        for event in events {
            match ChatEvent::decode(event, &self.upcasters)? {
                Some(ChatEvent::Message(e)) => run.push((e, event.position)),
                Some(ChatEvent::Conversation(e)) => {
                    self.sent(tx, &run).await?;
                    run.clear();
                    self.conversation(tx, &e, event.position).await?;
                }
                None => {}
            }
        }
        self.sent(tx, &run).await?;
        Ok(vec![])
    }
}
