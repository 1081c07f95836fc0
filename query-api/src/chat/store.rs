//! The SQL of the chat views: `chat_conversations`, `chat_participants` and
//! `chat_messages`, with names from `user_table` (NULL when that view has no row, or the
//! person was erased).
//!
//! Each answer is one statement, the caller's access included: a query about one
//! conversation starts from the caller's own `chat_participants` row, so that no row
//! means a stranger, a row with `left_at` a former participant, and the rest is joined
//! to it only while the caller takes part. Cursors are compared with `<` and no
//! `IS NULL OR` escape (an absent cursor is bound as `i64::MAX`), so that even a generic
//! plan starts its index scan at the cursor.

use chrono::{DateTime, Utc};
use domain::chat::ConversationId;
use sqlx::{FromRow, PgPool};

use super::Cursor;
use crate::database::DatabaseError;
use crate::rows;

/// What a caller may see of one conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access<T> {
    /// The caller takes part: what they asked for.
    Participant(T),
    /// The caller took part, and left.
    Former,
    /// The caller never took part, or there is no such conversation.
    Stranger,
}

rows::positional_row! {
    /// One conversation as one of its participants sees it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ConversationRow {
        pub conversation_id: String,
        pub kind: String,
        pub title: Option<String>,
        pub participant_count: i32,
        /// The other participant of a direct conversation; NULL for a group.
        pub other_id: Option<String>,
        pub other_first_name: Option<String>,
        pub other_last_name: Option<String>,
        /// The seq of the latest message; 0 when there is none, and the `last_*` are NULL.
        pub last_seq: i64,
        pub last_message_id: Option<String>,
        pub last_sender_id: Option<String>,
        pub sender_first_name: Option<String>,
        pub sender_last_name: Option<String>,
        pub last_text: Option<String>,
        pub last_sent_at: Option<DateTime<Utc>>,
        /// Others' messages after the participant's read position.
        pub unread: i64,
        /// Whether the participant still takes part.
        pub current: bool,
        /// The list's order and cursor.
        pub activity_position: i64,
    }
}

/// One message, with its sender's names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    pub message_id: String,
    pub seq: i64,
    pub sender_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub text: Option<String>,
    pub sent_at: DateTime<Utc>,
}

/// One current participant, with their names and read position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantRow {
    pub user_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub joined_at: DateTime<Utc>,
    pub read_seq: i64,
    pub read_at: Option<DateTime<Utc>>,
}

/// A user's unread messages over their conversations, and in how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromRow)]
pub struct UnreadRow {
    pub unread_count: i64,
    pub conversations: i64,
}

/// The columns of [`ConversationRow`], from the participant's row `p`: its conversation
/// `c`, the other participant `o` of a direct conversation (looked for in groups never),
/// and the names of `o` and of the latest message's sender.
macro_rules! conversation_select {
    () => {
        "SELECT c.conversation_id::text AS conversation_id, c.kind, c.title,
                c.participant_count,
                o.user_id AS other_id, ou.first_name AS other_first_name,
                ou.last_name AS other_last_name,
                c.last_seq, c.last_message_id::text AS last_message_id, c.last_sender_id,
                su.first_name AS sender_first_name, su.last_name AS sender_last_name,
                c.last_text, c.last_sent_at,
                p.unread, p.left_at IS NULL AS current, p.activity_position
           FROM chat_participants p
           JOIN chat_conversations c ON c.conversation_id = p.conversation_id
           LEFT JOIN LATERAL (
                 SELECT o.user_id
                   FROM chat_participants o
                  WHERE c.kind = 'direct'
                    AND o.conversation_id = p.conversation_id
                    AND o.user_id <> p.user_id
                  LIMIT 1) o ON true
           LEFT JOIN user_table ou ON ou.user_id = o.user_id
           LEFT JOIN user_table su ON su.user_id = c.last_sender_id
        "
    };
}

/// A page of a user's current conversations, newest activity first: the SQL behind
/// `GET /v1/conversations`, rows as [`ConversationRow`].
///
/// `$1` the user id (text), `$2` the previous page's last `activity_position`
/// (`i64::MAX` for the first page), `$3` the limit. It walks `chat_participants_list`
/// from the cursor and stops after `$3` rows, joining each by primary key.
pub const CONVERSATIONS: &str = concat!(
    conversation_select!(),
    "WHERE p.user_id = $1 AND p.left_at IS NULL AND p.activity_position < $2
     ORDER BY p.activity_position DESC
     LIMIT $3"
);

/// One conversation as one user sees it, whether they still take part or not.
/// `$1` the conversation id (text), `$2` the user id.
const CONVERSATION: &str = concat!(
    conversation_select!(),
    "WHERE p.conversation_id = $1::uuid AND p.user_id = $2"
);

/// A page of a conversation's messages, newest first, as one user may see them: the SQL
/// behind `GET /v1/conversations/{id}/messages`.
///
/// `$1` the conversation id (text), `$2` the user id, `$3` the previous page's last `seq`
/// (`i64::MAX` for the first page), `$4` the limit. Each row has `current`, whether
/// the user takes part, and one message; the message columns are NULL on the one row
/// answered when there is no message to show (none in the page, or the user left). No
/// row: the user never took part. The messages are read backwards from the cursor on
/// `chat_messages`' primary key.
pub const MESSAGES: &str = "
    SELECT p.left_at IS NULL AS current,
           m.message_id::text AS message_id, m.seq, m.sender_id,
           u.first_name, u.last_name, m.text, m.sent_at
      FROM chat_participants p
      LEFT JOIN LATERAL (
            SELECT m.message_id, m.seq, m.sender_id, m.text, m.sent_at
              FROM chat_messages m
             WHERE p.left_at IS NULL
               AND m.conversation_id = p.conversation_id
               AND m.seq < $3
             ORDER BY m.seq DESC
             LIMIT $4) m ON true
      LEFT JOIN user_table u ON u.user_id = m.sender_id
     WHERE p.conversation_id = $1::uuid AND p.user_id = $2
     ORDER BY m.seq DESC";

/// A conversation's current participants, in the order they joined, as one user may see
/// them; rows built the way [`MESSAGES`]' are. `$1` the conversation id, `$2` the user id.
const PARTICIPANTS: &str = "
    SELECT me.left_at IS NULL AS current,
           p.user_id, u.first_name, u.last_name, p.joined_at, p.read_seq, p.read_at
      FROM chat_participants me
      LEFT JOIN chat_participants p
             ON me.left_at IS NULL
            AND p.conversation_id = me.conversation_id
            AND p.left_at IS NULL
      LEFT JOIN user_table u ON u.user_id = p.user_id
     WHERE me.conversation_id = $1::uuid AND me.user_id = $2
     ORDER BY p.joined_at, p.user_id";

/// A page of `user`'s current conversations, newest activity first.
pub async fn conversations(
    pool: &PgPool,
    user: &str,
    page: Cursor,
) -> Result<Vec<ConversationRow>, DatabaseError> {
    let query = sqlx::query(CONVERSATIONS)
        .bind(user)
        .bind(page.before.unwrap_or(i64::MAX))
        .bind(page.limit);
    Ok(rows::fetch_all(query, pool).await?)
}

/// Conversation `id` as `user` sees it.
pub async fn conversation(
    pool: &PgPool,
    id: &ConversationId,
    user: &str,
) -> Result<Access<ConversationRow>, DatabaseError> {
    let query = sqlx::query(CONVERSATION).bind(id.as_str()).bind(user);
    let row = rows::fetch_all::<ConversationRow>(query, pool)
        .await?
        .into_iter()
        .next();
    Ok(match row {
        None => Access::Stranger,
        Some(row) if !row.current => Access::Former,
        Some(row) => Access::Participant(row),
    })
}

/// A page of conversation `id`'s messages, newest first, if `user` takes part.
pub async fn messages(
    pool: &PgPool,
    id: &ConversationId,
    user: &str,
    page: Cursor,
) -> Result<Access<Vec<MessageRow>>, DatabaseError> {
    let query = sqlx::query(MESSAGES)
        .bind(id.as_str())
        .bind(user)
        .bind(page.before.unwrap_or(i64::MAX))
        .bind(page.limit);
    let lines: Vec<MessageLine> = rows::fetch_all(query, pool).await?;
    Ok(access(lines))
}

/// Conversation `id`'s current participants, if `user` is one of them.
pub async fn participants(
    pool: &PgPool,
    id: &ConversationId,
    user: &str,
) -> Result<Access<Vec<ParticipantRow>>, DatabaseError> {
    let query = sqlx::query(PARTICIPANTS).bind(id.as_str()).bind(user);
    let lines: Vec<ParticipantLine> = rows::fetch_all(query, pool).await?;
    Ok(access(lines))
}

/// `user`'s unread messages over their current conversations.
pub async fn unread(pool: &PgPool, user: &str) -> Result<UnreadRow, DatabaseError> {
    let row = sqlx::query_as(
        "SELECT coalesce(sum(unread), 0)::bigint AS unread_count, count(*) AS conversations
           FROM chat_participants
          WHERE user_id = $1 AND left_at IS NULL AND unread > 0",
    )
    .bind(user)
    .fetch_one(pool)
    .await?;
    Ok(row)
}

/// A row of a statement that answers the caller's access on every row, and an item or,
/// on a lone row, none.
trait Line {
    type Item;
    fn current(&self) -> bool;
    fn item(self) -> Option<Self::Item>;
}

/// The items of `lines`, if their caller takes part.
fn access<L: Line>(lines: Vec<L>) -> Access<Vec<L::Item>> {
    match lines.first() {
        None => Access::Stranger,
        Some(line) if !line.current() => Access::Former,
        Some(_) => Access::Participant(lines.into_iter().filter_map(L::item).collect()),
    }
}

rows::positional_row! {
    struct MessageLine {
        current: bool,
        message_id: Option<String>,
        seq: Option<i64>,
        sender_id: Option<String>,
        first_name: Option<String>,
        last_name: Option<String>,
        text: Option<String>,
        sent_at: Option<DateTime<Utc>>,
    }
}

impl Line for MessageLine {
    type Item = MessageRow;

    fn current(&self) -> bool {
        self.current
    }

    fn item(self) -> Option<MessageRow> {
        Some(MessageRow {
            message_id: self.message_id?,
            seq: self.seq?,
            sender_id: self.sender_id?,
            first_name: self.first_name,
            last_name: self.last_name,
            text: self.text,
            sent_at: self.sent_at?,
        })
    }
}

rows::positional_row! {
    struct ParticipantLine {
        current: bool,
        user_id: Option<String>,
        first_name: Option<String>,
        last_name: Option<String>,
        joined_at: Option<DateTime<Utc>>,
        read_seq: Option<i64>,
        read_at: Option<DateTime<Utc>>,
    }
}

impl Line for ParticipantLine {
    type Item = ParticipantRow;

    fn current(&self) -> bool {
        self.current
    }

    fn item(self) -> Option<ParticipantRow> {
        Some(ParticipantRow {
            user_id: self.user_id?,
            first_name: self.first_name,
            last_name: self.last_name,
            joined_at: self.joined_at?,
            read_seq: self.read_seq?,
            read_at: self.read_at,
        })
    }
}
