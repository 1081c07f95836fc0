//! Who may run each chat command, and bad input: each refusal with its status and code,
//! and nothing stored.

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use super::*;

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
