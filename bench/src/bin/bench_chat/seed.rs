//! Filling the store and the views in bulk: what would take hours of commands takes
//! seconds of `INSERT … SELECT`, with rows shaped exactly as the commands and the chat
//! projection write them.

use std::time::{Duration, Instant};

use sqlx::PgPool;

/// Copies the event of message `template` `count` times, each copy in a stream of its
/// own with a new message id: the store then holds what `count` more sends into the same
/// conversation would have appended.
pub async fn copy_message_event(pool: &PgPool, template: &str, count: i64) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         SELECT 'message', copy.id::text, 1, e.event_type, e.event_version,
                jsonb_set(e.payload::jsonb, '{message_id}', to_jsonb(copy.id::text))::json,
                e.metadata
           FROM events e,
                (SELECT gen_random_uuid() AS id FROM generate_series(1, $2)) AS copy
          WHERE e.aggregate_type = 'message' AND e.aggregate_id = $1",
    )
    .bind(template)
    .bind(count)
    .execute(pool)
    .await?;
    sqlx::query("ANALYZE events").execute(pool).await?;
    Ok(())
}

/// `count` bare appends of message `template`'s event row (each in a new stream), one
/// statement each, timed: the floor under any command that appends one event.
pub async fn bare_appends(
    pool: &PgPool,
    template: &str,
    count: usize,
) -> anyhow::Result<Vec<Duration>> {
    let (event_type, payload, metadata): (String, String, String) = sqlx::query_as(
        "SELECT event_type, payload::text, metadata::text FROM events
          WHERE aggregate_type = 'message' AND aggregate_id = $1",
    )
    .bind(template)
    .fetch_one(pool)
    .await?;
    let mut took = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
             VALUES ('message', $1, 1, $2, '1', $3::json, $4::json) RETURNING position",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(&event_type)
        .bind(&payload)
        .bind(&metadata)
        .fetch_one(pool)
        .await?;
        took.push(started.elapsed());
    }
    Ok(took)
}

/// Puts `conversations` direct conversations of `user` (each with a peer of its own,
/// named in the profiles view) and `messages` messages, spread evenly, into the chat
/// views. Returns the id of a conversation in the middle of the list.
pub async fn chat_views(
    pool: &PgPool,
    user: &str,
    conversations: i64,
    messages: i64,
) -> anyhow::Result<String> {
    let per_conversation = messages / conversations;
    let mut tx = pool.begin().await?;
    sqlx::query(
        "CREATE TEMPORARY TABLE seeded ON COMMIT DROP AS
         SELECT n, gen_random_uuid() AS conversation_id, format('peer-%s', n) AS peer
           FROM generate_series(1, $1) AS n",
    )
    .bind(conversations)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO user_table (user_id, first_name, last_name, registered_at, updated_at, last_position, version)
         SELECT peer, 'Peer', format('Number %s', n), now(), now(), 0, 1 FROM seeded",
    )
    .execute(&mut *tx)
    .await?;
    // Message k of conversation n: seq k, sent alternately by the user and the peer, at
    // a position that grows with n and k (the latest conversations come last).
    sqlx::query(
        "INSERT INTO chat_messages (conversation_id, seq, message_id, sender_id, text, sent_at, position)
         SELECT s.conversation_id, k, gen_random_uuid(),
                CASE WHEN k % 2 = 0 THEN $1 ELSE s.peer END,
                format('message %s of conversation %s: shall we meet at noon?', k, s.n),
                now() - make_interval(secs => ($2 - k) + ($3 - s.n) * $2),
                s.n * $2 + k
           FROM seeded s, generate_series(1, $2) AS k",
    )
    .bind(user)
    .bind(per_conversation)
    .bind(conversations)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO chat_conversations (conversation_id, kind, title, created_by, created_at, participant_count,
                                         last_seq, last_message_id, last_sender_id, last_text, last_sent_at,
                                         activity_position)
         SELECT s.conversation_id, 'direct', NULL, $1, now() - interval '30 days', 2,
                m.seq, m.message_id, m.sender_id, m.text, m.sent_at, m.position
           FROM seeded s
           JOIN chat_messages m ON m.conversation_id = s.conversation_id AND m.seq = $2",
    )
    .bind(user)
    .bind(per_conversation)
    .execute(&mut *tx)
    .await?;
    // The user has read up to the middle of every conversation; the peers all of it.
    sqlx::query(
        "INSERT INTO chat_participants (conversation_id, user_id, joined_at, read_seq, unread, activity_position)
         SELECT c.conversation_id, p.user_id, c.created_at,
                CASE WHEN p.user_id = $1 THEN c.last_seq / 2 ELSE c.last_seq END,
                CASE WHEN p.user_id = $1 THEN (c.last_seq - c.last_seq / 2) / 2 ELSE 0 END,
                c.activity_position
           FROM chat_conversations c
           JOIN seeded s ON s.conversation_id = c.conversation_id
           CROSS JOIN LATERAL (VALUES ($1), (s.peer)) AS p(user_id)",
    )
    .bind(user)
    .execute(&mut *tx)
    .await?;
    let middle: (String,) =
        sqlx::query_as("SELECT conversation_id::text FROM seeded WHERE n = greatest($1 / 2, 1)")
            .bind(conversations)
            .fetch_one(&mut *tx)
            .await?;
    tx.commit().await?;
    for table in [
        "chat_messages",
        "chat_conversations",
        "chat_participants",
        "user_table",
    ] {
        // One statement each: VACUUM cannot run inside a transaction block.
        sqlx::raw_sql(&format!("VACUUM ANALYZE {table}"))
            .execute(pool)
            .await?;
    }
    Ok(middle.0)
}
