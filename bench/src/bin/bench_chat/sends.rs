//! `send-message` into a conversation of `--messages` messages, next to a new one.

use bench::services::{Apis, Caller};
use bench::Latencies;
use projector::friendships::Friendships;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::{header, row, seed, Config};

/// Sends before timing starts, into each conversation (connections, caches, plans).
const WARM_UP: usize = 50;

pub async fn run(pool: &PgPool, apis: &Apis, config: &Config) -> anyhow::Result<()> {
    let (ann, bob) = (apis.as_user("ann")?, apis.as_user("bob")?);
    befriend(pool, &ann, &bob).await?;
    let new = group(&ann, "new").await?;
    let long = group(&ann, "long").await?;

    // The long conversation: one message sent through the API, then copies of its event
    // (each with its own message id and stream) up to `--messages`.
    let first = send(&ann, &long, "the first of many").await?;
    seed::copy_message_event(pool, &first, config.messages - 1).await?;
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events
          WHERE aggregate_type = 'message' AND payload->>'conversation_id' = $1",
    )
    .bind(&long)
    .fetch_one(pool)
    .await?;
    bench::write(&format!(
        "\nsend-message: the long conversation holds {stored} messages; the new one none\n"
    ))?;

    for _ in 0..WARM_UP {
        send(&ann, &new, "warming up").await?;
        send(&ann, &long, "warming up").await?;
    }
    let (mut into_new, mut into_long) = (Vec::new(), Vec::new());
    for i in 0..config.samples {
        // Alternate which goes first, so neither always follows the other.
        let order = if i % 2 == 0 {
            [(&new, true), (&long, false)]
        } else {
            [(&long, false), (&new, true)]
        };
        for (conversation, is_new) in order {
            let body = message(conversation, "How about lunch at noon?");
            let took = ann.timed_command("send-message", &body).await?;
            if is_new {
                into_new.push(took);
            } else {
                into_long.push(took);
            }
        }
    }
    let bare = seed::bare_appends(pool, &first, config.samples).await?;
    let (into_new, into_long, bare) = (
        Latencies::new(into_new),
        Latencies::new(into_long),
        Latencies::new(bare),
    );
    let mut text = header("send-message latency (one client; ratio to the new conversation)");
    text.push_str(&row(
        "send-message, new conversation (baseline)",
        &into_new,
        &into_new,
    ));
    text.push_str(&row(
        &format!("send-message, conversation of {} messages", config.messages),
        &into_long,
        &into_new,
    ));
    text.push_str(&row(
        "bare INSERT of the same event row (sqlx, no HTTP)",
        &bare,
        &into_new,
    ));
    let ratio = into_long.median().as_secs_f64() / into_new.median().as_secs_f64();
    text.push_str(&format!(
        "target: long / new median <= 1.20: {ratio:.2} ({})\n",
        if ratio <= 1.2 { "met" } else { "NOT met" }
    ));
    bench::write(&text)
}

/// Registers both and makes them friends, then builds the friendships view the chat
/// commands consult (no projector runs in this benchmark).
async fn befriend(pool: &PgPool, ann: &Caller<'_>, bob: &Caller<'_>) -> anyhow::Result<()> {
    for (caller, first, last) in [(ann, "Ann", "Lee"), (bob, "Bob", "Ray")] {
        let email = format!("{}@example.com", first.to_lowercase());
        let body = json!({"email": email, "first_name": first, "last_name": last});
        caller.command("register-user", &body).await?;
    }
    ann.command("send-friend-request", &json!({"user_id": "bob"}))
        .await?;
    bob.command("accept-friend-request", &json!({"user_id": "ann"}))
        .await?;
    projector::replay::rebuild(pool, &Friendships::new(), 1000).await?;
    Ok(())
}

/// A new group of ann and bob; its id.
async fn group(ann: &Caller<'_>, title: &str) -> anyhow::Result<String> {
    let body = json!({"title": title, "participants": ["bob"]});
    let answer = ann.command("create-group-conversation", &body).await?;
    id_of(&answer, "conversation_id")
}

async fn send(caller: &Caller<'_>, conversation: &str, text: &str) -> anyhow::Result<String> {
    let answer = caller
        .command("send-message", &message(conversation, text))
        .await?;
    id_of(&answer, "message_id")
}

fn message(conversation: &str, text: &str) -> Value {
    json!({
        "conversation_id": conversation,
        "message_id": uuid::Uuid::new_v4().to_string(),
        "text": text,
    })
}

fn id_of(answer: &Value, field: &str) -> anyhow::Result<String> {
    answer[field]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no {field} in {answer}"))
}
