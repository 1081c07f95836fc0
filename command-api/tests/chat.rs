//! Chat commands over HTTP, against a real Postgres: what each stores, retries and
//! requests crossing each other, who may do what, and bad input (each with its code, the
//! store unchanged).
//!
//! Friendships are made through the friendship commands; their view rows, and the rows
//! of the `chat` view a read mark looks up, are written as their projections would (no
//! projector runs here).

mod support;

use std::time::Duration;

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

/// Every chat command as a participant (bob), a former participant (cy), a stranger
/// (eve) and without a token, on ann's group. `200` stores exactly one event; a refusal
/// stores nothing.
#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn each_chat_command_answers_each_caller_as_expected(pool: PgPool) {
    let api = cast(&pool).await;
    let g = group(&api, "ann", &["bob", "cy"]).await;
    let leave = json!({ "conversation_id": g });
    assert_eq!(
        post(&api, Some("cy"), LEAVE, &leave).await.0,
        StatusCode::OK
    );
    let m = sent(&api, "ann", &g, "Hello").await;
    in_view(&pool, &g, &m, 1, "ann").await;
    let (ok, token) = ("200", "401 auth.missing_token");
    let (former, stranger) = (
        "403 conversation.not_participant",
        "404 conversation.not_found",
    );
    let on_group = [ok, former, stranger, token];
    let taken = "409 conversation.already_exists";
    #[rustfmt::skip]
    let rows: [(&str, Value, [&str; 4]); 8] = [
        (START, json!({ "with": "ann" }), [ok, ok, "403 conversation.not_friends", token]),
        (CREATE, json!({ "title": "Mine", "participants": ["ann"] }), [ok, ok, "403 conversation.not_friends", token]),
        (CREATE, json!({ "conversation_id": g, "title": "Mine", "participants": ["ann"] }), [taken, taken, taken, token]),
        (ADD, json!({ "conversation_id": g, "user_id": "dan" }), on_group),
        (RENAME, json!({ "conversation_id": g, "title": "New" }), on_group),
        (SEND, json!({ "conversation_id": g, "text": "Hi" }), on_group),
        (READ, json!({ "conversation_id": g, "message_id": m }), on_group),
        (LEAVE, leave.clone(), on_group),
    ];
    for (path, body, expected) in rows {
        for (caller, outcome) in [Some("bob"), Some("cy"), Some("eve"), None]
            .into_iter()
            .zip(expected)
        {
            let before = event_count(&pool).await;
            let answer = post(&api, caller, path, &body).await;
            let seen = format!("{caller:?} {path} {body}: {} {}", answer.0, answer.1);
            if outcome == ok {
                assert_one_event(&pool, &answer, &seen).await;
            } else {
                assert_eq!(
                    format!("{} {}", answer.0.as_u16(), code(&answer.1)),
                    outcome,
                    "{seen}"
                );
                assert_eq!(event_count(&pool).await, before, "{seen}: stored an event");
            }
        }
    }
}

/// One bad request: the command, the body, and the status and code it gets.
type Case = (&'static str, String, (u16, &'static str));

/// A valid body for each command, and the fields it cannot do without.
#[rustfmt::skip]
fn valid_bodies(group: &str, message: &str) -> Vec<(&'static str, Value, &'static [&'static str])> {
    let new_id = || uuid::Uuid::new_v4().to_string();
    vec![
        (START, json!({ "with": "bob" }), &["with"]),
        (CREATE, json!({ "conversation_id": new_id(), "title": "T", "participants": ["bob"] }), &["title", "participants"]),
        (ADD, json!({ "conversation_id": group, "user_id": "dan" }), &["conversation_id", "user_id"]),
        (LEAVE, json!({ "conversation_id": group }), &["conversation_id"]),
        (RENAME, json!({ "conversation_id": group, "title": "T" }), &["conversation_id", "title"]),
        (SEND, json!({ "conversation_id": group, "message_id": new_id(), "text": "Hi" }), &["conversation_id", "text"]),
        (READ, json!({ "conversation_id": group, "message_id": message }), &["conversation_id", "message_id"]),
    ]
}

/// For each command: not JSON, not an object, an unknown field, each field of the wrong
/// type, each required field missing, and ids that are not UUIDs.
fn malformed(group: &str, message: &str) -> Vec<Case> {
    let invalid_body = (422, "request.invalid_body");
    let mut cases: Vec<Case> = vec![];
    for (path, valid, required) in valid_bodies(group, message) {
        let with = |field: &str, value: Value| {
            let mut body = valid.clone();
            body[field] = value;
            body.to_string()
        };
        cases.push((path, "{not json".into(), (400, "request.malformed_json")));
        cases.push((path, "[]".into(), invalid_body));
        cases.push((path, with("admin", json!(true)), invalid_body));
        let fields = valid.as_object().expect("an object").keys();
        cases.extend(fields.map(|field| (path, with(field, json!(5)), invalid_body)));
        for field in required {
            let mut missing = valid.clone();
            missing.as_object_mut().expect("an object").remove(*field);
            cases.push((path, missing.to_string(), invalid_body));
        }
        if valid.get("conversation_id").is_some() {
            for bad in ["", "nope", "1234", "0d7f3a4e-2b8c-4e6f-9a1d-3c5b7e9f1a2"] {
                let body = with("conversation_id", json!(bad));
                cases.push((path, body, (422, "conversation.invalid_id")));
            }
        }
        if valid.get("message_id").is_some() {
            let body = with("message_id", json!("not-a-uuid"));
            cases.push((path, body, (422, "message.invalid_id")));
        }
    }
    cases
}

/// Well-formed bodies whose values the rules refuse, as ann in `group`.
fn refused_values(group: &str) -> Vec<Case> {
    let strangers = |n: usize| (0..n).map(|i| format!("u{i}")).collect::<Vec<_>>();
    let start = |with: &str| json!({ "with": with }).to_string();
    let add = |user: &str| json!({ "conversation_id": group, "user_id": user }).to_string();
    let members = |ids: Value| json!({ "title": "T", "participants": ids }).to_string();
    let title = |title: &str| json!({ "title": title, "participants": ["bob"] }).to_string();
    let rename = |title: &str| json!({ "conversation_id": group, "title": title }).to_string();
    let text = |text: &str| json!({ "conversation_id": group, "text": text }).to_string();
    let elsewhere = json!({ "conversation_id": uuid::Uuid::new_v4().to_string(), "text": "Hi" });
    let invalid_id = (422, "user.invalid_id");
    let invalid_title = (422, "conversation.invalid_title");
    let invalid_text = (422, "message.invalid_text");
    let too_many = (422, "conversation.too_many_participants");
    #[rustfmt::skip]
    let cases = vec![
        (START, start("b ob"), invalid_id),
        (START, start(""), invalid_id),
        (START, start(&"u".repeat(129)), invalid_id),
        (START, start("ann"), (422, "conversation.with_self")),
        (ADD, add("d an"), invalid_id),
        (CREATE, members(json!(["bob", "c y"])), invalid_id),
        (CREATE, members(json!([])), (422, "conversation.no_participants")),
        (CREATE, members(json!(["ann", "ann"])), (422, "conversation.no_participants")),
        (CREATE, members(json!(strangers(101))), too_many),
        (CREATE, members(json!(strangers(100))), too_many),
        (CREATE, members(json!(strangers(99))), (403, "conversation.not_friends")),
        (CREATE, title(""), invalid_title),
        (CREATE, title("   "), invalid_title),
        (CREATE, title(&"t".repeat(101)), invalid_title),
        (CREATE, title("a\u{7}b"), invalid_title),
        (RENAME, rename(" \t "), invalid_title),
        (RENAME, rename(&"é".repeat(101)), invalid_title),
        (RENAME, rename("a\nb"), invalid_title),
        (SEND, text(""), invalid_text),
        (SEND, text("   "), invalid_text),
        (SEND, text(&"x".repeat(1001)), invalid_text),
        (SEND, text("a\u{0}b"), invalid_text),
        (SEND, text(&"x".repeat(70_000)), (413, "request.body_too_large")),
        (SEND, elsewhere.to_string(), (404, "conversation.not_found")),
    ];
    cases
}

/// Runs each case as ann, then checks that none stored anything.
async fn refuse_all(api: &Api, pool: &PgPool, cases: Vec<Case>) {
    let before = event_count(pool).await;
    for (path, body, (status, expected)) in cases {
        let (got, answer) = api.post(Some("ann"), path, &body).await;
        let got = (got.as_u16(), code(&answer));
        assert_eq!(got, (status, expected), "{path} {body:.200}");
    }
    assert_eq!(event_count(pool).await, before);
}

/// Ann's group with bob, and a message of bob's in it (in the view too).
async fn a_group_with_a_message(api: &Api, pool: &PgPool) -> (String, String) {
    let group = group(api, "ann", &["bob"]).await;
    let message = sent(api, "bob", &group, "Hello").await;
    in_view(pool, &group, &message, 1, "bob").await;
    (group, message)
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn malformed_chat_bodies_get_a_stable_code_and_store_nothing(pool: PgPool) {
    let api = cast(&pool).await;
    let (group, message) = a_group_with_a_message(&api, &pool).await;

    refuse_all(&api, &pool, malformed(&group, &message)).await;
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn chat_values_the_rules_refuse_get_their_code_and_store_nothing(pool: PgPool) {
    let api = cast(&pool).await;
    let (group, _) = a_group_with_a_message(&api, &pool).await;

    refuse_all(&api, &pool, refused_values(&group)).await;

    let longest = json!({ "conversation_id": group, "title": format!(" {} ", "é".repeat(100)) });
    let (status, answer) = post(&api, Some("ann"), RENAME, &longest).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a title of 100 characters: {answer}"
    );
}

/// A group cannot take the id of two other users' direct conversation (and so keep them
/// from ever starting it): group ids are random UUIDs, direct ones name-based.
#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_group_cannot_take_the_id_of_a_direct_conversation(pool: PgPool) {
    let api = cast(&pool).await;
    let ids = |id: &str| domain::user::UserId::parse(id).expect("user id");
    let theirs = domain::chat::ConversationId::direct(&ids("bob"), &ids("cy"));
    let before = event_count(&pool).await;
    let body =
        json!({ "conversation_id": theirs.as_str(), "title": "Mine", "participants": ["bob"] });

    let (status, answer) = post(&api, Some("ann"), CREATE, &body).await;

    assert_eq!(
        (status, code(&answer)),
        (StatusCode::UNPROCESSABLE_ENTITY, "conversation.invalid_id")
    );
    assert_eq!(event_count(&pool).await, before);
}
