//! What each participant is told: the chat notices, with the data the docs list.

use super::*;

/// `user`'s stored chat notices in feed order, each as `(summary, data)`; D is the
/// direct conversation, G the group.
async fn chat_notices(pool: &PgPool, s: &Script, user: &str) -> Vec<(String, Value)> {
    let told: Vec<(String, Value)> = sqlx::query_as(
        "SELECT kind, data FROM user_notices
          WHERE user_id = $1 AND kind LIKE 'chat.%' ORDER BY tx_id, position",
    )
    .bind(user)
    .fetch_all(pool)
    .await
    .expect("notices");
    told.into_iter()
        .map(|(kind, data)| (summary(s, &kind, &data), data))
        .collect()
}

fn summary(s: &Script, kind: &str, d: &Value) -> String {
    let c = if d["conversation_id"] == json!(s.direct) {
        "D"
    } else {
        "G"
    };
    let text = |key: &str| d[key].as_str().unwrap_or("?").to_owned();
    match kind {
        "chat.conversation_started" => format!("{c} started by {}", text("by")),
        "chat.message" => format!("{c} {} from {}", d["seq"], d["sender"]["user_id"]),
        "chat.read" => format!("{c} {} read {}", text("user_id"), d["seq"]),
        "chat.participant_added" => format!("{c} {} added by {}", text("user_id"), text("by")),
        "chat.participant_left" => format!("{c} {} left", text("user_id")),
        "chat.renamed" => format!("{c} renamed {} by {}", text("title"), text("by")),
        other => format!("{c} {other}"),
    }
}

fn summaries(told: &[(String, Value)]) -> Vec<&str> {
    told.iter().map(|(summary, _)| summary.as_str()).collect()
}

/// The data of the first notice whose summary is `summary`.
fn data<'a>(told: &'a [(String, Value)], summary: &str) -> &'a Value {
    told.iter()
        .find(|(s, _)| s == summary)
        .map(|(_, data)| data)
        .unwrap_or_else(|| panic!("{summary} was told"))
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn every_current_participant_is_told_each_chat_change_with_the_documented_data(pool: PgPool) {
    let nats = TestNats::start().expect("nats");
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let _running = start_pipeline(&pool, &client, chat_and_notices(&pool));

    let s = script(&pool).await;
    caught_up(&pool, chat::NAME).await;
    caught_up(&pool, notices::NAME).await;

    let cy = chat_notices(&pool, &s, "cy").await;
    #[rustfmt::skip]
    assert_eq!(summaries(&cy), [
        "G started by ann", "G 1 from \"bob\"", "G 2 from \"cy\"", "G ann read 2",
        "G dee added by ann", "G 3 from \"ann\"", "G cy left",
        // Nothing of message 4, sent while she was away.
        "G cy added by ann", "G renamed Trip 2026 by dee", "G 5 from \"dee\"",
        // Her own mark of 3 did not move her position (4 since her return): not told.
        "G bob read 3",
    ]);
    let dee = chat_notices(&pool, &s, "dee").await;
    #[rustfmt::skip]
    assert_eq!(summaries(&dee), [
        "G dee added by ann", "G 3 from \"ann\"", "G cy left", "G 4 from \"bob\"",
        "G cy added by ann", "G renamed Trip 2026 by dee", "G 5 from \"dee\"",
        "G bob read 3",
    ]);
    let bob = chat_notices(&pool, &s, "bob").await;
    let direct: Vec<&str> = summaries(&bob)
        .into_iter()
        .filter(|s| s.starts_with('D'))
        .collect();
    #[rustfmt::skip]
    assert_eq!(direct, [
        "D started by ann", "D 1 from \"ann\"", "D 2 from \"bob\"", "D bob read 1",
        "D 3 from \"ann\"",
    ]);
    let g = json!(s.group);
    assert_eq!(
        data(&bob, "D started by ann"),
        &json!({"conversation_id": s.direct, "kind": "direct", "title": null,
                "participants": ["ann", "bob"], "by": "ann"})
    );
    assert_eq!(
        data(&cy, "G started by ann"),
        &json!({"conversation_id": g, "kind": "group", "title": "Trip",
                "participants": ["ann", "bob", "cy"], "by": "ann"})
    );
    assert_eq!(
        data(&dee, "G 5 from \"dee\""),
        &json!({"conversation_id": g, "message_id": s.last_group.id, "seq": 5,
                "sender": {"user_id": "dee", "first_name": "Dee", "last_name": "Fox"},
                "text": "Hello", "sent_at": at(13)})
    );
    assert_eq!(
        data(&dee, "G bob read 3"),
        &json!({"conversation_id": g, "user_id": "bob", "message_id": s.welcome.id,
                "seq": 3, "read_at": at(14)})
    );
    assert_eq!(
        data(&dee, "G dee added by ann"),
        &json!({"conversation_id": g, "user_id": "dee", "by": "ann"})
    );
    assert_eq!(
        data(&cy, "G cy left"),
        &json!({"conversation_id": g, "user_id": "cy"})
    );
    assert_eq!(
        data(&cy, "G renamed Trip 2026 by dee"),
        &json!({"conversation_id": g, "title": "Trip 2026", "by": "dee"})
    );
    assert_notices_seq_is_the_views(&pool).await;
}

/// Every `chat.message` notice's `seq` is the one the `chat` view gives its message.
async fn assert_notices_seq_is_the_views(pool: &PgPool) {
    let mismatched: Vec<(String, Value)> = sqlx::query_as(
        "SELECT n.user_id, n.data FROM user_notices n
           LEFT JOIN chat_messages m ON m.message_id = (n.data ->> 'message_id')::uuid
          WHERE n.kind = 'chat.message' AND m.seq IS DISTINCT FROM (n.data ->> 'seq')::bigint",
    )
    .fetch_all(pool)
    .await
    .expect("notices");
    assert_eq!(mismatched, []);
    let (told,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM user_notices WHERE kind = 'chat.message'")
            .fetch_one(pool)
            .await
            .expect("count");
    // 3 direct messages to 2, group messages to 3, 3, 4, 3 (cy away) and 4.
    assert_eq!(told, 3 * 2 + 3 + 3 + 4 + 3 + 4);
}
