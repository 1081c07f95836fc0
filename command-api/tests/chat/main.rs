//! Chat commands over HTTP, against a real Postgres: what each stores, retries and
//! requests crossing each other, who may do what, and bad input (each with its code, the
//! store unchanged).
//!
//! Friendships are made through the friendship commands; their view rows, and the rows
//! of the `chat` view a read mark looks up, are written as their projections would (no
//! projector runs here).

#[path = "../support/mod.rs"]
mod support;

mod access;
mod reads;

use personal_data::Keys;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use support::{befriend, code, event_count, Api};

const START: &str = "/v1/commands/start-direct-conversation";
const CREATE: &str = "/v1/commands/create-group-conversation";
const ADD: &str = "/v1/commands/add-participant";
const LEAVE: &str = "/v1/commands/leave-conversation";
const RENAME: &str = "/v1/commands/rename-conversation";
const SEND: &str = "/v1/commands/send-message";
const READ: &str = "/v1/commands/mark-conversation-read";

/// `a` asks `b` to be friends and `b` accepts; the `friendships` view then shows it.
async fn make_friends(api: &Api, pool: &PgPool, a: &str, b: &str) {
    let steps = [
        (a, "/v1/commands/send-friend-request", b),
        (b, "/v1/commands/accept-friend-request", a),
    ];
    for (caller, path, other) in steps {
        let (status, body) = api.act(Some(caller), path, other).await;
        assert_eq!(status, StatusCode::OK, "{caller} {path} {other}: {body}");
    }
    befriend(pool, a, b).await;
}

/// Ann, friends with bob, cy and dan; bob and dan are friends too; eve is registered
/// and nobody's friend.
async fn cast(pool: &PgPool) -> Api {
    let api = Api::with_users(pool, &["ann", "bob", "cy", "dan", "eve"]).await;
    for (a, b) in [
        ("ann", "bob"),
        ("ann", "cy"),
        ("ann", "dan"),
        ("bob", "dan"),
    ] {
        make_friends(&api, pool, a, b).await;
    }
    api
}

async fn post(api: &Api, caller: Option<&str>, path: &str, body: &Value) -> (StatusCode, Value) {
    api.post(caller, path, &body.to_string()).await
}

/// Asserts an answer carried out one new event, the latest, at the position answered.
async fn assert_one_event(pool: &PgPool, (status, body): &(StatusCode, Value), what: &str) {
    assert_eq!(
        (*status, body["events"].as_i64()),
        (StatusCode::OK, Some(1)),
        "{what}: {body}"
    );
    assert_eq!(body["position"], last_position(pool).await, "{what}");
}

/// `field` of a 200 answer.
fn answered(answer: &(StatusCode, Value), field: &str) -> String {
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.1);
    answer.1[field].as_str().expect(field).to_owned()
}

/// The direct conversation `a` starts with `b`.
async fn direct(api: &Api, a: &str, b: &str) -> String {
    let answer = post(api, Some(a), START, &json!({ "with": b })).await;
    answered(&answer, "conversation_id")
}

/// The group `by` creates with `participants`.
async fn group(api: &Api, by: &str, participants: &[&str]) -> String {
    let body = json!({ "title": "Trip", "participants": participants });
    answered(&post(api, Some(by), CREATE, &body).await, "conversation_id")
}

/// The id of the message `by` sends to `conversation`.
async fn sent(api: &Api, by: &str, conversation: &str, text: &str) -> String {
    let body = json!({ "conversation_id": conversation, "text": text });
    answered(&post(api, Some(by), SEND, &body).await, "message_id")
}

/// The type and payload of each event of conversation `id`, in order.
async fn conversation_events(pool: &PgPool, id: &str) -> Vec<(String, Value)> {
    sqlx::query_as(
        "SELECT event_type, payload::jsonb FROM events
          WHERE aggregate_type = 'conversation' AND aggregate_id = $1 ORDER BY sequence",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .expect("conversation events")
}

/// The type and payload of each event of message `id`.
async fn message_events(pool: &PgPool, id: &str) -> Vec<(String, Value)> {
    sqlx::query_as(
        "SELECT event_type, payload::jsonb FROM events
          WHERE aggregate_type = 'message' AND aggregate_id = $1 ORDER BY sequence",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .expect("message events")
}

async fn last_position(pool: &PgPool) -> i64 {
    sqlx::query_as::<_, (i64,)>("SELECT max(position) FROM events")
        .fetch_one(pool)
        .await
        .expect("a position")
        .0
}

/// Puts `message` in the `chat` view at `seq` of `conversation`, as the projection would.
async fn in_view(pool: &PgPool, conversation: &str, message: &str, seq: i64, sender: &str) {
    sqlx::query(
        "INSERT INTO chat_messages (conversation_id, seq, message_id, sender_id, text, sent_at, position)
         VALUES ($1::uuid, $2, $3::uuid, $4, 'a text', now(), 1)",
    )
    .bind(conversation)
    .bind(seq)
    .bind(message)
    .bind(sender)
    .execute(pool)
    .await
    .expect("message row");
}

async fn opened(pool: &PgPool, sealed: &Value) -> (String, String) {
    let sealed: domain::Sealed = serde_json::from_value(sealed.clone()).expect("sealed");
    let text = Keys::new(pool.clone()).open(&sealed).await.expect("opens");
    (sealed.owner, text.into_text().expect("not erased"))
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn friends_start_one_direct_conversation_and_asking_again_changes_nothing(pool: PgPool) {
    let api = cast(&pool).await;

    let first = post(&api, Some("ann"), START, &json!({ "with": "bob" })).await;

    assert_one_event(&pool, &first, "started").await;
    let id = answered(&first, "conversation_id");
    let events = conversation_events(&pool, &id).await;
    let [(event_type, payload)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(event_type, "conversation.direct_started");
    assert_eq!(payload["participants"], json!(["ann", "bob"]));
    assert_eq!(payload["started_by"], "ann");
    for (caller, other) in [("ann", "bob"), ("bob", "ann")] {
        let (_, again) = post(&api, Some(caller), START, &json!({ "with": other })).await;
        let same = json!({ "conversation_id": id, "position": first.1["position"], "events": 0 });
        assert_eq!(again, same, "{caller} again");
    }
    assert_eq!(conversation_events(&pool, &id).await.len(), 1);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn both_friends_starting_their_conversation_at_once_get_the_same_one(pool: PgPool) {
    let pairs: Vec<(String, String)> = (0..8).map(|n| (format!("a{n}"), format!("b{n}"))).collect();
    let names: Vec<&str> = pairs
        .iter()
        .flat_map(|(a, b)| [a.as_str(), b.as_str()])
        .collect();
    let api = Api::with_users(&pool, &names).await;
    for (a, b) in &pairs {
        make_friends(&api, &pool, a, b).await;
    }
    for (a, b) in &pairs {
        let (to_b, to_a) = (json!({ "with": b }), json!({ "with": a }));
        let (one, two) = tokio::join!(
            post(&api, Some(a), START, &to_b),
            post(&api, Some(b), START, &to_a),
        );

        let id = answered(&one, "conversation_id");
        assert_eq!(answered(&two, "conversation_id"), id, "{a} and {b}");
        let events = conversation_events(&pool, &id).await;
        assert_eq!(events.len(), 1, "{a} and {b}: {events:?}");
        let appended = one.1["events"].as_i64().zip(two.1["events"].as_i64());
        assert!(matches!(appended, Some((1, 0) | (0, 1))), "{one:?} {two:?}");
        assert_eq!(one.1["position"], two.1["position"], "{a} and {b}");
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn someone_who_is_not_a_friend_cannot_be_talked_to_or_put_in_a_group(pool: PgPool) {
    let api = cast(&pool).await;
    let (status, _) = api
        .act(Some("eve"), "/v1/commands/send-friend-request", "ann")
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a pending request is not a friendship"
    );
    let trip = group(&api, "ann", &["bob"]).await;
    let before = event_count(&pool).await;
    #[rustfmt::skip]
    let cases = [
        ("ann", START, json!({ "with": "eve" })),
        ("eve", START, json!({ "with": "ann" })),
        ("ann", START, json!({ "with": "nobody" })),
        ("ann", CREATE, json!({ "title": "T", "participants": ["eve"] })),
        ("ann", CREATE, json!({ "title": "T", "participants": ["bob", "eve"] })),
        ("bob", CREATE, json!({ "title": "T", "participants": ["cy"] })),
        ("ann", ADD, json!({ "conversation_id": trip, "user_id": "eve" })),
        ("bob", ADD, json!({ "conversation_id": trip, "user_id": "cy" })),
    ];
    for (caller, path, body) in cases {
        let (status, answer) = post(&api, Some(caller), path, &body).await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::FORBIDDEN, "conversation.not_friends"),
            "{caller} {path} {body}"
        );
    }
    assert_eq!(event_count(&pool).await, before);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_group_is_created_once_and_then_joined_renamed_and_left(pool: PgPool) {
    let api = cast(&pool).await;
    let id = uuid::Uuid::new_v4().to_string();
    let create = json!({ "conversation_id": id, "title": " Trip ", "participants": ["bob", "cy", "cy", "ann"] });

    let created = post(&api, Some("ann"), CREATE, &create).await;

    assert_one_event(&pool, &created, "created").await;
    assert_eq!(answered(&created, "conversation_id"), id);
    let (event_type, payload) = conversation_events(&pool, &id).await.remove(0);
    assert_eq!(event_type, "conversation.group_created");
    assert_eq!(payload["participants"], json!(["ann", "bob", "cy"]));
    assert_eq!(
        opened(&pool, &payload["title"]).await,
        ("ann".into(), "Trip".into())
    );
    let (_, retried) = post(&api, Some("ann"), CREATE, &create).await;
    let unchanged =
        json!({ "conversation_id": id, "position": created.1["position"], "events": 0 });
    assert_eq!(retried, unchanged);
    let (status, taken) = post(&api, Some("bob"), CREATE, &create).await;
    assert_eq!(
        (status, code(&taken)),
        (StatusCode::CONFLICT, "conversation.already_exists")
    );

    let add_dan = json!({ "conversation_id": id, "user_id": "dan" });
    assert_one_event(&pool, &post(&api, Some("bob"), ADD, &add_dan).await, "add").await;
    let (_, again) = post(&api, Some("ann"), ADD, &add_dan).await;
    assert_eq!(again["events"], 0, "{again}");
    let rename = json!({ "conversation_id": id, "title": "Holiday" });
    assert_one_event(
        &pool,
        &post(&api, Some("dan"), RENAME, &rename).await,
        "rename",
    )
    .await;
    let leave = json!({ "conversation_id": id });
    assert_one_event(&pool, &post(&api, Some("cy"), LEAVE, &leave).await, "leave").await;
    let add_cy = json!({ "conversation_id": id, "user_id": "cy" });
    assert_one_event(&pool, &post(&api, Some("ann"), ADD, &add_cy).await, "back").await;

    let events = conversation_events(&pool, &id).await;
    let types: Vec<&str> = events.iter().map(|(t, _)| t.as_str()).collect();
    #[rustfmt::skip]
    assert_eq!(types, [
        "conversation.group_created", "conversation.participant_added", "conversation.renamed",
        "conversation.participant_left", "conversation.participant_added",
    ]);
    assert_eq!(
        opened(&pool, &events[2].1["title"]).await,
        ("dan".into(), "Holiday".into())
    );
    let without_id = json!({ "title": "Other", "participants": ["bob"] });
    let other = answered(
        &post(&api, Some("ann"), CREATE, &without_id).await,
        "conversation_id",
    );
    assert_ne!(other, id);
    assert_eq!(conversation_events(&pool, &other).await.len(), 1);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_direct_conversation_cannot_be_changed_like_a_group_or_reused_as_one(pool: PgPool) {
    let api = cast(&pool).await;
    let id = direct(&api, "ann", "bob").await;
    let before = event_count(&pool).await;
    let is_direct = "conversation.is_direct";
    #[rustfmt::skip]
    let cases = [
        (ADD, json!({ "conversation_id": id, "user_id": "cy" }), is_direct),
        (LEAVE, json!({ "conversation_id": id }), is_direct),
        (RENAME, json!({ "conversation_id": id, "title": "T" }), is_direct),
    ];
    for (path, body, expected) in cases {
        let (status, answer) = post(&api, Some("ann"), path, &body).await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::CONFLICT, expected),
            "{path}"
        );
    }
    assert_eq!(event_count(&pool).await, before);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_message_is_stored_sealed_once_even_when_sent_again(pool: PgPool) {
    let api = cast(&pool).await;
    let conversation = direct(&api, "ann", "bob").await;
    let message_id = uuid::Uuid::new_v4().to_string();
    let body = json!({ "conversation_id": conversation, "message_id": message_id, "text": "  Lunch at the clinic?\n " });

    let first = post(&api, Some("ann"), SEND, &body).await;

    assert_one_event(&pool, &first, "sent").await;
    assert_eq!(answered(&first, "message_id"), message_id);
    let events = message_events(&pool, &message_id).await;
    let [(event_type, payload)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(event_type, "message.sent");
    assert_eq!(
        (&payload["conversation_id"], &payload["sender"]),
        (&json!(conversation), &json!("ann"))
    );
    assert!(
        !payload.to_string().contains("clinic"),
        "in clear: {payload}"
    );
    assert_eq!(
        opened(&pool, &payload["text"]).await,
        ("ann".into(), "Lunch at the clinic?".into())
    );
    let (_, again) = post(&api, Some("ann"), SEND, &body).await;
    let unchanged =
        json!({ "message_id": message_id, "position": first.1["position"], "events": 0 });
    assert_eq!(again, unchanged);
    assert_eq!(message_events(&pool, &message_id).await.len(), 1);
    let (status, taken) = post(&api, Some("bob"), SEND, &body).await;
    assert_eq!(
        (status, code(&taken)),
        (StatusCode::CONFLICT, "message.id_taken")
    );
    let longest = format!(" {} ", "é".repeat(1000));
    let other = sent(&api, "bob", &conversation, &longest).await;
    assert_ne!(other, message_id);
    assert_eq!(message_events(&pool, &other).await.len(), 1);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_read_mark_moves_forward_only_and_needs_a_message_of_the_conversation(pool: PgPool) {
    let api = cast(&pool).await;
    let conversation = direct(&api, "ann", "bob").await;
    let (older, newer) = (
        sent(&api, "ann", &conversation, "one").await,
        sent(&api, "ann", &conversation, "two").await,
    );
    in_view(&pool, &conversation, &older, 4, "ann").await;
    in_view(&pool, &conversation, &newer, 7, "ann").await;
    let elsewhere = direct(&api, "ann", "cy").await;
    let foreign = sent(&api, "ann", &elsewhere, "three").await;
    in_view(&pool, &elsewhere, &foreign, 1, "ann").await;
    let read = |message: &str| json!({ "conversation_id": conversation, "message_id": message });

    let marked = post(&api, Some("bob"), READ, &read(&newer)).await;

    assert_one_event(&pool, &marked, "read").await;
    let (event_type, payload) = conversation_events(&pool, &conversation).await.remove(1);
    assert_eq!(event_type, "conversation.read");
    let stored = (&payload["user"], &payload["message_id"], &payload["seq"]);
    assert_eq!(stored, (&json!("bob"), &json!(newer), &json!(7)));
    for message in [&older, &newer] {
        let (_, again) = post(&api, Some("bob"), READ, &read(message)).await;
        let unchanged = json!({ "conversation_id": conversation, "position": marked.1["position"], "events": 0 });
        assert_eq!(again, unchanged);
    }
    let before = event_count(&pool).await;
    for message in [uuid::Uuid::new_v4().to_string(), foreign] {
        let (status, answer) = post(&api, Some("bob"), READ, &read(&message)).await;
        assert_eq!(
            (status, code(&answer)),
            (StatusCode::NOT_FOUND, "message.not_found")
        );
    }
    assert_eq!(event_count(&pool).await, before);
}
