//! Read marks and the chat view: a mark waits (bounded) for a message the view does not
//! show yet.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use super::*;

/// How many lock requests on `chat_messages` in the test's database wait.
async fn waiting_for_the_view(pool: &PgPool) -> i64 {
    sqlx::query_as::<_, (i64,)>(
        "SELECT count(*) FROM pg_locks
          WHERE relation = 'chat_messages'::regclass AND NOT granted
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_one(pool)
    .await
    .expect("locks")
    .0
}

async fn until_waiting(pool: &PgPool, count: i64) {
    testkit::eventually(Duration::from_secs(10), "lock waiters", || async {
        (waiting_for_the_view(pool).await >= count).then_some(())
    })
    .await;
}

/// The view gets the message only after the command's first look: the test holds the
/// table until the command waits on it, queues its own insert behind the command, and
/// lets both through. Only a command that looks again finds it.
#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_read_mark_waits_for_a_sent_message_the_view_does_not_show_yet(pool: PgPool) {
    let api = cast(&pool).await;
    let conversation = direct(&api, "ann", "bob").await;
    let message = sent(&api, "ann", &conversation, "Lunch?").await;
    let mut holder = pool.begin().await.expect("begin");
    sqlx::query("LOCK TABLE chat_messages IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *holder)
        .await
        .expect("lock");
    let body = json!({ "conversation_id": conversation, "message_id": message });
    let marking = tokio::spawn(async move { post(&api, Some("bob"), READ, &body).await });
    until_waiting(&pool, 1).await;
    let projection = tokio::spawn({
        let (pool, conversation, message) = (pool.clone(), conversation.clone(), message.clone());
        async move {
            let mut tx = pool.begin().await.expect("begin");
            sqlx::query("LOCK TABLE chat_messages IN ACCESS EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await
                .expect("lock");
            tx.commit().await.expect("commit");
            in_view(&pool, &conversation, &message, 1, "ann").await;
        }
    });
    until_waiting(&pool, 2).await;
    holder.commit().await.expect("release");

    projection.await.expect("view row");
    let (status, answer) = marking.await.expect("answer");

    assert_eq!(
        (status, answer["events"].as_i64()),
        (StatusCode::OK, Some(1)),
        "{answer}"
    );
    let (event_type, payload) = conversation_events(&pool, &conversation).await.remove(1);
    assert_eq!(
        (event_type.as_str(), &payload["seq"]),
        ("conversation.read", &json!(1))
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_read_mark_of_a_message_the_view_never_shows_asks_to_retry_after_a_while(pool: PgPool) {
    let api = cast(&pool).await;
    let conversation = direct(&api, "ann", "bob").await;
    let message = sent(&api, "ann", &conversation, "Lunch?").await;
    let before = event_count(&pool).await;
    let body = json!({ "conversation_id": conversation, "message_id": message });

    let answer = tokio::time::timeout(
        Duration::from_secs(15),
        post(&api, Some("bob"), READ, &body),
    )
    .await
    .expect("answers within the bound");

    assert_eq!(
        (answer.0, code(&answer.1)),
        (StatusCode::SERVICE_UNAVAILABLE, "chat.view_behind")
    );
    assert_eq!(event_count(&pool).await, before);
}
