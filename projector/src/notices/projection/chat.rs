//! Chat notices: each conversation event and each message, told to every current
//! participant (the actor included, so their other windows stay in step; someone added
//! or leaving is told too).
//!
//! Who takes part is this projection's own `notice_conversation_members`, and the `seq`
//! of a `chat.message` its own count in `notice_conversations`, both kept from the same
//! events in the same feed order as the `chat` view: never read from that view, which may
//! be ahead or behind. A notice is therefore the same live and in every replay, and its
//! `seq` is the one the `chat` view gives the message. Each member's read position is
//! kept by the view's rules too, so `chat.read` is told only when it moved.

use domain::chat::message::MessageSent;
use domain::chat::{ConversationEvent, DirectStarted, GroupCreated, Read};
use domain::user::UserId;
use event_bus::Addressed;
use event_store::StoredEvent;
use serde_json::{json, Value};
use sqlx::PgConnection;

use super::{notice, Notices};
use crate::ProjectionError;

/// The current participants of each conversation.
pub(super) const MEMBERS: &str = "notice_conversation_members";
/// The messages counted per conversation.
pub(super) const CONVERSATIONS: &str = "notice_conversations";

impl Notices {
    /// The notice of a conversation event, to its participants.
    pub(super) async fn conversation(
        &self,
        tx: &mut PgConnection,
        event: &StoredEvent,
        decoded: &ConversationEvent,
    ) -> Result<Vec<Addressed>, ProjectionError> {
        let id = decoded.conversation_id().as_str();
        let (kind, recipients, data) = match decoded {
            ConversationEvent::DirectStarted(e) => {
                started(tx, id, &e.participants).await?;
                let data = direct_started(e);
                ("chat.conversation_started", ids(&e.participants), data)
            }
            ConversationEvent::GroupCreated(e) => {
                started(tx, id, &e.participants).await?;
                let data = self.group_created(e).await?;
                ("chat.conversation_started", ids(&e.participants), data)
            }
            ConversationEvent::ParticipantAdded(e) => {
                joined(tx, id, e.user.as_str()).await?;
                let data = json!({ "conversation_id": id, "user_id": e.user, "by": e.added_by });
                ("chat.participant_added", members(tx, id).await?, data)
            }
            ConversationEvent::ParticipantLeft(e) => {
                // Told before they are gone: the leaver hears of it too.
                let recipients = members(tx, id).await?;
                gone(tx, id, e.user.as_str()).await?;
                let data = json!({ "conversation_id": id, "user_id": e.user });
                ("chat.participant_left", recipients, data)
            }
            ConversationEvent::Renamed(e) => {
                let title = self.keys.open(&e.title).await?.into_text();
                let data = json!({ "conversation_id": id, "title": title, "by": e.renamed_by });
                ("chat.renamed", members(tx, id).await?, data)
            }
            ConversationEvent::Read(e) => ("chat.read", read_moved(tx, e).await?, read(e)),
        };
        Ok(tell(event, &recipients, kind, &data))
    }

    /// A `chat.message` notice to every current participant, the sender included, with
    /// the message's `seq`; none for a conversation this projection does not know.
    pub(super) async fn message(
        &self,
        tx: &mut PgConnection,
        event: &StoredEvent,
        e: &MessageSent,
    ) -> Result<Vec<Addressed>, ProjectionError> {
        let Some(counted) = self.count(tx, e).await? else {
            return Ok(vec![]);
        };
        let data = json!({
            "conversation_id": e.conversation_id,
            "message_id": e.message_id,
            "seq": counted.seq,
            "sender": {
                "user_id": e.sender,
                "first_name": counted.first_name,
                "last_name": counted.last_name,
            },
            "text": self.keys.open(&e.text).await?.into_text(),
            "sent_at": e.sent_at,
        });
        Ok(tell(event, &counted.members, "chat.message", &data))
    }

    /// Counts the message in its conversation (once, when applied again right after) and
    /// reads, in the same statement, its participants and the sender's names.
    async fn count(
        &self,
        tx: &mut PgConnection,
        e: &MessageSent,
    ) -> Result<Option<Counted>, sqlx::Error> {
        let sql = format!(
            "WITH counted AS (
                UPDATE notice_conversations
                   SET last_seq = CASE WHEN last_message_id = $2::uuid
                                       THEN last_seq ELSE last_seq + 1 END,
                       last_message_id = $2::uuid
                 WHERE conversation_id = $1::uuid
                RETURNING last_seq
             )
             SELECT counted.last_seq AS seq,
                    ARRAY(SELECT user_id FROM notice_conversation_members
                           WHERE conversation_id = $1::uuid ORDER BY user_id) AS members,
                    names.first_name, names.last_name
               FROM counted LEFT JOIN {} AS names ON names.user_id = $3",
            self.names
        );
        sqlx::query_as(&sql)
            .bind(e.conversation_id.as_str())
            .bind(e.message_id.as_str())
            .bind(e.sender.as_str())
            .fetch_optional(tx)
            .await
    }

    async fn group_created(&self, e: &GroupCreated) -> Result<Value, ProjectionError> {
        let title = self.keys.open(&e.title).await?.into_text();
        Ok(json!({
            "conversation_id": e.conversation_id,
            "kind": "group",
            "title": title,
            "participants": e.participants,
            "by": e.created_by,
        }))
    }
}

/// A message as counted: its `seq`, whom to tell, and the sender's names.
#[derive(sqlx::FromRow)]
struct Counted {
    seq: i64,
    members: Vec<String>,
    first_name: Option<String>,
    last_name: Option<String>,
}

fn direct_started(e: &DirectStarted) -> Value {
    json!({
        "conversation_id": e.conversation_id,
        "kind": "direct",
        "title": null,
        "participants": e.participants,
        "by": e.started_by,
    })
}

fn read(e: &Read) -> Value {
    json!({
        "conversation_id": e.conversation_id,
        "user_id": e.user,
        "message_id": e.message_id,
        "seq": e.seq,
        "read_at": e.read_at,
    })
}

fn ids(users: &[UserId]) -> Vec<String> {
    users.iter().map(|user| user.as_str().to_owned()).collect()
}

fn tell(event: &StoredEvent, recipients: &[String], kind: &str, data: &Value) -> Vec<Addressed> {
    recipients
        .iter()
        .map(|user| notice(event, user, kind, data.clone()))
        .collect()
}

/// Records a new conversation's participants and starts its message count.
async fn started(
    tx: &mut PgConnection,
    conversation_id: &str,
    participants: &[UserId],
) -> Result<(), sqlx::Error> {
    let participants: Vec<&str> = participants.iter().map(UserId::as_str).collect();
    sqlx::query(
        "WITH conversation AS (
            INSERT INTO notice_conversations (conversation_id) VALUES ($1::uuid)
            ON CONFLICT (conversation_id) DO NOTHING
         )
         INSERT INTO notice_conversation_members (conversation_id, user_id)
         SELECT $1::uuid, participant FROM unnest($2::text[]) AS participant
         ON CONFLICT (conversation_id, user_id) DO NOTHING",
    )
    .bind(conversation_id)
    .bind(participants)
    .execute(tx)
    .await?;
    Ok(())
}

/// Records a participant added (again): what was sent before is read, as in the `chat`
/// view.
async fn joined(
    tx: &mut PgConnection,
    conversation_id: &str,
    user: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO notice_conversation_members (conversation_id, user_id, read_seq)
         SELECT conversation_id, $2, last_seq FROM notice_conversations
          WHERE conversation_id = $1::uuid
         ON CONFLICT (conversation_id, user_id) DO NOTHING",
    )
    .bind(conversation_id)
    .bind(user)
    .execute(tx)
    .await?;
    Ok(())
}

async fn gone(tx: &mut PgConnection, conversation_id: &str, user: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM notice_conversation_members WHERE conversation_id = $1::uuid AND user_id = $2",
    )
    .bind(conversation_id)
    .bind(user)
    .execute(tx)
    .await?;
    Ok(())
}

/// Moves the reader's position forward and returns the current participants to tell;
/// none when it did not move (a participant added again is past what they mark).
async fn read_moved(tx: &mut PgConnection, e: &Read) -> Result<Vec<String>, sqlx::Error> {
    // One snapshot: the SELECT sees the members as they were, and tells only if the
    // UPDATE moved the position.
    sqlx::query_scalar(
        "WITH moved AS (
            UPDATE notice_conversation_members SET read_seq = $3
             WHERE conversation_id = $1::uuid AND user_id = $2 AND read_seq < $3
            RETURNING 1
         )
         SELECT user_id FROM notice_conversation_members
          WHERE conversation_id = $1::uuid AND EXISTS (SELECT 1 FROM moved)
          ORDER BY user_id",
    )
    .bind(e.conversation_id.as_str())
    .bind(e.user.as_str())
    .bind(i64::try_from(e.seq).unwrap_or(i64::MAX))
    .fetch_all(tx)
    .await
}

/// The current participants, by id.
async fn members(tx: &mut PgConnection, conversation_id: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT user_id FROM notice_conversation_members WHERE conversation_id = $1::uuid
          ORDER BY user_id",
    )
    .bind(conversation_id)
    .fetch_all(tx)
    .await
}
