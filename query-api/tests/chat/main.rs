//! Chat over HTTP: the caller's conversations, a conversation's messages and
//! participants, the direct conversation with a user, unread totals, who may see what,
//! bad input, and read-your-writes on the `chat` view.
//!
//! Rows are written straight into the views, as the `chat` projection would write them.

#[path = "../support/mod.rs"]
mod support;

mod access;
mod lists;

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use domain::chat::ConversationId;
use domain::user::UserId;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use support::{append_event, error_code, header, start, start_with_timeout, TestApp};

/// The group of the scene.
const TRIP: &str = "00000000-0000-4000-8000-000000000002";

/// When the event at `position` happened: a minute per position.
fn at(position: i64) -> DateTime<Utc> {
    let noon = DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z").expect("a timestamp");
    noon.to_utc() + TimeDelta::minutes(position)
}

/// The id of the direct conversation of `a` and `b`.
fn direct(a: &str, b: &str) -> String {
    let user = |id: &str| UserId::parse(id).expect("a user id");
    ConversationId::direct(&user(a), &user(b)).to_string()
}

/// Group number `n`'s id.
fn group(n: i64) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

async fn person(pool: &PgPool, user_id: &str, first: &str, last: &str) {
    sqlx::query(
        "INSERT INTO user_table (user_id, first_name, last_name, registered_at, updated_at,
                                 last_position, version)
         VALUES ($1, $2, $3, now(), now(), 0, 1)",
    )
    .bind(user_id)
    .bind(first)
    .bind(last)
    .execute(pool)
    .await
    .expect("the user row is inserted");
}

/// Starts conversation `id` at `position` with `members`: a group titled `title`, or a
/// direct conversation without one.
async fn start_conversation(
    pool: &PgPool,
    id: &str,
    title: Option<&str>,
    members: &[&str],
    position: i64,
) {
    sqlx::query(
        "WITH c AS (
           INSERT INTO chat_conversations (conversation_id, kind, title, created_by, created_at,
                                           participant_count, activity_position)
           VALUES ($1::uuid, CASE WHEN $2::text IS NULL THEN 'direct' ELSE 'group' END, $2,
                   $3[1], $4, cardinality($3), $5))
         INSERT INTO chat_participants (conversation_id, user_id, joined_at, activity_position)
         SELECT $1::uuid, member, $4, $5 FROM unnest($3::text[]) AS member",
    )
    .bind(id)
    .bind(title)
    .bind(members)
    .bind(at(position))
    .bind(position)
    .execute(pool)
    .await
    .expect("the conversation is inserted");
}

/// The message of `sender` at `position`, next in conversation `id`; each other current
/// participant has one more unread. Its id ends in its position.
async fn send(pool: &PgPool, id: &str, sender: &str, text: Option<&str>, position: i64) {
    sqlx::query(
        "WITH c AS (
           UPDATE chat_conversations
              SET last_seq = last_seq + 1, last_message_id = $5::uuid, last_sender_id = $2,
                  last_text = $3, last_sent_at = $4, activity_position = $6
            WHERE conversation_id = $1::uuid
           RETURNING last_seq),
         p AS (
           UPDATE chat_participants
              SET activity_position = $6,
                  unread = unread + CASE WHEN user_id <> $2 AND left_at IS NULL THEN 1 ELSE 0 END
            WHERE conversation_id = $1::uuid)
         INSERT INTO chat_messages (conversation_id, seq, message_id, sender_id, text, sent_at, position)
         SELECT $1::uuid, last_seq, $5::uuid, $2, $3, $4, $6 FROM c",
    )
    .bind(id)
    .bind(sender)
    .bind(text)
    .bind(at(position))
    .bind(format!("10000000-0000-4000-8000-{position:012}"))
    .bind(position)
    .execute(pool)
    .await
    .expect("the message is inserted");
}

/// `user` read conversation `id` up to `seq`, at `position`.
async fn read(pool: &PgPool, id: &str, user: &str, seq: i64, position: i64) {
    sqlx::query(
        "UPDATE chat_participants p
            SET read_seq = $3, read_at = $4,
                unread = (SELECT count(*) FROM chat_messages m
                           WHERE m.conversation_id = p.conversation_id
                             AND m.seq > $3 AND m.sender_id <> p.user_id)
          WHERE conversation_id = $1::uuid AND user_id = $2",
    )
    .bind(id)
    .bind(user)
    .bind(seq)
    .bind(at(position))
    .execute(pool)
    .await
    .expect("the read position is stored");
}

/// `user` left conversation `id` at `position`.
async fn leave(pool: &PgPool, id: &str, user: &str, position: i64) {
    sqlx::query(
        "WITH p AS (
           UPDATE chat_participants SET left_at = $3
            WHERE conversation_id = $1::uuid AND user_id = $2)
         UPDATE chat_conversations SET participant_count = participant_count - 1
          WHERE conversation_id = $1::uuid",
    )
    .bind(id)
    .bind(user)
    .bind(at(position))
    .execute(pool)
    .await
    .expect("the participant left");
}

/// Ann, Bob and Cy; Dan, a stranger to every conversation; Eve, who left the group.
/// 1: ann and bob start their direct conversation; 2: ann creates the group "Trip" with
/// bob, cy and eve; 3: bob asks ann "Lunch?"; 4: ann writes to the group; 5: eve leaves
/// it; 6: cy reads ann's message.
async fn scene(pool: &PgPool) {
    for (id, first, last) in [
        ("ann", "Ann", "Lee"),
        ("bob", "Bob", "Ray"),
        ("cy", "Cy", "Ng"),
        ("dan", "Dan", "Oz"),
        ("eve", "Eve", "Fox"),
    ] {
        person(pool, id, first, last).await;
    }
    let ann_bob = direct("ann", "bob");
    start_conversation(pool, &ann_bob, None, &["ann", "bob"], 1).await;
    start_conversation(pool, TRIP, Some("Trip"), &["ann", "bob", "cy", "eve"], 2).await;
    send(pool, &ann_bob, "bob", Some("Lunch?"), 3).await;
    send(pool, TRIP, "ann", Some("Tickets booked"), 4).await;
    leave(pool, TRIP, "eve", 5).await;
    read(pool, TRIP, "cy", 1, 6).await;
}

fn someone(user_id: &str, first: &str, last: &str) -> Value {
    json!({"user_id": user_id, "first_name": first, "last_name": last})
}

/// The message of the scene's helpers sent at `position`.
fn message(position: i64, seq: i64, sender: Value, text: Option<&str>) -> Value {
    json!({
        "message_id": format!("10000000-0000-4000-8000-{position:012}"),
        "seq": seq, "sender": sender, "text": text, "sent_at": at(position)
    })
}

async fn get_json(app: &TestApp, path: &str, user: Option<&str>) -> (StatusCode, Value) {
    let response = app.get(path, user).await;
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The values of `field` over a list answer's items.
fn column(answer: &Value, field: &str) -> Vec<Value> {
    let items = answer["items"].as_array().cloned().unwrap_or_default();
    items.iter().map(|item| item[field].clone()).collect()
}

/// Follows `next_before` from `first` to the last page: each page's `field` values.
async fn pages(app: &TestApp, first: &str, user: &str, field: &str) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut path = first.to_owned();
    loop {
        let (status, page) = get_json(app, &path, Some(user)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        pages.push(column(&page, field));
        let Some(before) = page["next_before"].as_i64() else {
            return pages;
        };
        path = format!("{first}&before={before}");
    }
}

/// Asks `path` as `user` and expects an error with `status` and `code`.
async fn assert_refused(app: &TestApp, path: &str, user: Option<&str>, status: u16, code: &str) {
    let response = app.get(path, user).await;
    assert_eq!(response.status().as_u16(), status, "{user:?} {path}");
    assert_eq!(error_code(response).await, code, "{user:?} {path}");
}
