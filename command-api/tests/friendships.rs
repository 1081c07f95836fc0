//! Friendship commands over HTTP, against a real Postgres: every rule's status and code,
//! bad input, who may do what, and requests crossing each other.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

mod support;
use support::{code, event_count, Api};

const SEND: &str = "/v1/commands/send-friend-request";
const ACCEPT: &str = "/v1/commands/accept-friend-request";
const DECLINE: &str = "/v1/commands/decline-friend-request";
const CANCEL: &str = "/v1/commands/cancel-friend-request";
const REMOVE: &str = "/v1/commands/remove-friend";

/// The types of the events of the relationship `pair`, in order.
async fn pair_events(pool: &PgPool, pair: &str) -> Vec<String> {
    sqlx::query_as::<_, (String,)>(
        "SELECT event_type FROM events
          WHERE aggregate_type = 'friendship' AND aggregate_id = $1 ORDER BY sequence",
    )
    .bind(pair)
    .fetch_all(pool)
    .await
    .expect("events")
    .into_iter()
    .map(|(t,)| t)
    .collect()
}

/// Runs `steps` in order. A step reads `<caller> <command> <other user> => <outcome>`:
/// the caller (`-` for no token) posts `/v1/commands/<command>` with `{"user_id": <other
/// user>}`; the outcome is `<status> <code>` (a refusal, which stores nothing) or an event
/// type (exactly one event of that type is stored, at the position answered).
async fn run(api: &Api, pool: &PgPool, steps: &[&str]) {
    for step in steps {
        let words: Vec<&str> = step.split_whitespace().collect();
        let [caller, command, other, "=>", outcome @ ..] = words.as_slice() else {
            panic!("not a step: {step}");
        };
        let caller = (*caller != "-").then_some(*caller);
        let before = event_count(pool).await;
        let path = format!("/v1/commands/{command}");
        let (status, body) = api.act(caller, &path, other).await;
        let seen = format!("{step}: got {status} {body}");
        match outcome {
            [expected_status, expected_code] => {
                assert_eq!(status.as_str(), *expected_status, "{seen}");
                assert_eq!(code(&body), *expected_code, "{seen}");
                assert_eq!(event_count(pool).await, before, "{seen}: stored an event");
            }
            [event_type] => {
                assert_eq!(
                    (status, body["events"].as_i64()),
                    (StatusCode::OK, Some(1)),
                    "{seen}"
                );
                let (position, stored): (i64, String) = sqlx::query_as(
                    "SELECT position, event_type FROM events ORDER BY position DESC LIMIT 1",
                )
                .fetch_one(pool)
                .await
                .expect("last event");
                assert_eq!(body["position"].as_i64(), Some(position), "{seen}");
                assert_eq!(stored, *event_type, "{seen}");
            }
            _ => panic!("not an outcome: {step}"),
        }
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_request_stores_one_event_for_the_pair_and_answers_its_position(pool: PgPool) {
    let api = Api::with_users(&pool, &["bob", "ann"]).await;
    let (status, body) = api.act(Some("bob"), SEND, "ann").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (position, payload): (i64, Value) = sqlx::query_as(
        "SELECT position, payload::jsonb FROM events
          WHERE aggregate_type = 'friendship' AND aggregate_id = 'ann bob'",
    )
    .fetch_one(&pool)
    .await
    .expect("the pair's event");
    assert_eq!(body, json!({ "position": position, "events": 1 }));
    let requested = json!({ "requester": "bob", "recipient": "ann" });
    assert_eq!(payload["requester"], requested["requester"]);
    assert_eq!(payload["recipient"], requested["recipient"]);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn without_a_pending_request_nothing_can_be_answered_or_removed(pool: PgPool) {
    let api = Api::with_users(&pool, &["ann", "bob"]).await;
    #[rustfmt::skip]
    let steps = [
        "ann send-friend-request ann => 422 friendship.self_request",
        "ann send-friend-request ghost => 404 friendship.unknown_user",
        "ghost send-friend-request ann => 409 user.not_registered",
        "ghost accept-friend-request ann => 409 user.not_registered",
        "bob accept-friend-request ann => 409 friendship.no_pending_request",
        "bob decline-friend-request ann => 409 friendship.no_pending_request",
        "ann cancel-friend-request bob => 409 friendship.no_pending_request",
        "ann remove-friend bob => 409 friendship.not_friends",
    ];
    run(&api, &pool, &steps).await;
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_pending_request_is_answered_by_its_recipient_only(pool: PgPool) {
    let api = Api::with_users(&pool, &["ann", "bob"]).await;
    #[rustfmt::skip]
    let steps = [
        "ann send-friend-request bob => friendship.requested",
        "ann send-friend-request bob => 409 friendship.already_pending",
        "ann accept-friend-request bob => 403 friendship.not_recipient",
        "ann decline-friend-request bob => 403 friendship.not_recipient",
        "bob cancel-friend-request ann => 403 friendship.not_requester",
        "bob remove-friend ann => 409 friendship.not_friends",
        "bob accept-friend-request ann => friendship.accepted",
    ];
    run(&api, &pool, &steps).await;
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn friends_cannot_ask_again_and_either_one_can_remove_the_other(pool: PgPool) {
    let api = Api::with_users(&pool, &["ann", "bob"]).await;
    #[rustfmt::skip]
    let steps = [
        "ann send-friend-request bob => friendship.requested",
        "bob accept-friend-request ann => friendship.accepted",
        "ann send-friend-request bob => 409 friendship.already_friends",
        "bob send-friend-request ann => 409 friendship.already_friends",
        "bob accept-friend-request ann => 409 friendship.no_pending_request",
        "bob remove-friend ann => friendship.removed",
        "ann remove-friend bob => 409 friendship.not_friends",
    ];
    run(&api, &pool, &steps).await;
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_declined_or_cancelled_request_can_be_sent_again(pool: PgPool) {
    let api = Api::with_users(&pool, &["ann", "cy"]).await;
    #[rustfmt::skip]
    let steps = [
        "cy send-friend-request ann => friendship.requested",
        "ann decline-friend-request cy => friendship.declined",
        "cy send-friend-request ann => friendship.requested",
        "cy cancel-friend-request ann => friendship.cancelled",
        "cy send-friend-request ann => friendship.requested",
    ];
    run(&api, &pool, &steps).await;
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn asking_someone_who_already_asked_you_accepts_their_request(pool: PgPool) {
    let api = Api::with_users(&pool, &["ann", "cy"]).await;
    #[rustfmt::skip]
    let steps = [
        "cy send-friend-request ann => friendship.requested",
        "ann send-friend-request cy => friendship.accepted",
    ];
    run(&api, &pool, &steps).await;
    let (payload,): (Value,) = sqlx::query_as(
        "SELECT payload::jsonb FROM events WHERE event_type = 'friendship.accepted'",
    )
    .fetch_one(&pool)
    .await
    .expect("accepted");
    assert_eq!(
        (&payload["requester"], &payload["recipient"]),
        (&json!("cy"), &json!("ann"))
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn bad_input_gets_a_stable_code_and_stores_nothing(pool: PgPool) {
    let api = Api::with_users(&pool, &["ann", "bob"]).await;
    let before = event_count(&pool).await;
    let too_long = json!({ "user_id": "u".repeat(129) }).to_string();
    #[rustfmt::skip]
    let bodies: [(&str, u16, &str); 7] = [
        ("{}", 422, "request.invalid_body"),
        (r#"{"user_id": 5}"#, 422, "request.invalid_body"),
        (r#"{"user_id": "bob", "admin": true}"#, 422, "request.invalid_body"),
        ("[]", 422, "request.invalid_body"),
        (r#"{"user_id": "b ob"}"#, 422, "user.invalid_id"),
        (&too_long, 422, "user.invalid_id"),
        (r#"{"user_id": "bob""#, 400, "request.malformed_json"),
    ];
    for path in [SEND, ACCEPT, DECLINE, CANCEL, REMOVE] {
        for (body, status, expected) in &bodies {
            let (got, answer) = api.post(Some("ann"), path, body).await;
            assert_eq!(
                (got.as_u16(), code(&answer)),
                (*status, *expected),
                "{path} {body}"
            );
        }
        let (got, answer) = api.act(None, path, "bob").await;
        assert_eq!(
            (got.as_u16(), code(&answer)),
            (401, "auth.missing_token"),
            "{path}"
        );
    }
    let (got, answer) = api.act(Some("ann"), SEND, "nobody").await;
    assert_eq!(
        (got.as_u16(), code(&answer)),
        (404, "friendship.unknown_user")
    );
    assert_eq!(event_count(&pool).await, before);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn requests_sent_by_both_users_at_the_same_moment_make_them_friends(pool: PgPool) {
    let pairs: Vec<(String, String)> = (0..12)
        .map(|n| (format!("a{n}"), format!("b{n}")))
        .collect();
    let names: Vec<&str> = pairs
        .iter()
        .flat_map(|(a, b)| [a.as_str(), b.as_str()])
        .collect();
    let api = Arc::new(Api::with_users(&pool, &names).await);
    let crossing: Vec<_> = pairs
        .iter()
        .map(|(a, b)| {
            let (api, a, b) = (api.clone(), a.clone(), b.clone());
            tokio::spawn(async move {
                tokio::join!(api.act(Some(&a), SEND, &b), api.act(Some(&b), SEND, &a))
            })
        })
        .collect();
    for ((a, b), task) in pairs.iter().zip(crossing) {
        let (first, second) = task.await.expect("both requests answer");
        for (status, body) in [first, second] {
            assert_eq!(status, StatusCode::OK, "{a} and {b}: {body}");
        }
        let events = pair_events(&pool, &format!("{a} {b}")).await;
        assert_eq!(
            events,
            ["friendship.requested", "friendship.accepted"],
            "{a} and {b}"
        );
    }
}

/// Ann asked Bob (pending); Dan and Bob are friends; Cy knows nobody.
async fn the_cast(pool: &PgPool) -> Api {
    let api = Api::with_users(pool, &["ann", "bob", "cy", "dan"]).await;
    #[rustfmt::skip]
    let steps = [
        "ann send-friend-request bob => friendship.requested",
        "dan send-friend-request bob => friendship.requested",
        "bob accept-friend-request dan => friendship.accepted",
    ];
    run(&api, pool, &steps).await;
    api
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn who_may_send_a_request(pool: PgPool) {
    let api = the_cast(&pool).await;
    #[rustfmt::skip]
    let steps = [
        "- send-friend-request bob => 401 auth.missing_token",
        "dan send-friend-request bob => 409 friendship.already_friends",
        "ann send-friend-request bob => 409 friendship.already_pending",
        "cy send-friend-request bob => friendship.requested",
        "bob send-friend-request ann => friendship.accepted",
    ];
    run(&api, &pool, &steps).await;
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn only_the_recipient_may_accept_a_request(pool: PgPool) {
    let api = the_cast(&pool).await;
    #[rustfmt::skip]
    let steps = [
        "- accept-friend-request ann => 401 auth.missing_token",
        "cy accept-friend-request ann => 409 friendship.no_pending_request",
        "dan accept-friend-request ann => 409 friendship.no_pending_request",
        "ann accept-friend-request bob => 403 friendship.not_recipient",
        "bob accept-friend-request ann => friendship.accepted",
    ];
    run(&api, &pool, &steps).await;
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn only_the_recipient_may_decline_a_request(pool: PgPool) {
    let api = the_cast(&pool).await;
    #[rustfmt::skip]
    let steps = [
        "- decline-friend-request ann => 401 auth.missing_token",
        "cy decline-friend-request ann => 409 friendship.no_pending_request",
        "dan decline-friend-request ann => 409 friendship.no_pending_request",
        "ann decline-friend-request bob => 403 friendship.not_recipient",
        "bob decline-friend-request ann => friendship.declined",
    ];
    run(&api, &pool, &steps).await;
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn only_the_requester_may_cancel_a_request(pool: PgPool) {
    let api = the_cast(&pool).await;
    #[rustfmt::skip]
    let steps = [
        "- cancel-friend-request bob => 401 auth.missing_token",
        "cy cancel-friend-request bob => 409 friendship.no_pending_request",
        "dan cancel-friend-request bob => 409 friendship.no_pending_request",
        "bob cancel-friend-request ann => 403 friendship.not_requester",
        "ann cancel-friend-request bob => friendship.cancelled",
    ];
    run(&api, &pool, &steps).await;
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn only_a_friend_may_remove_a_friend(pool: PgPool) {
    let api = the_cast(&pool).await;
    #[rustfmt::skip]
    let steps = [
        "- remove-friend bob => 401 auth.missing_token",
        "cy remove-friend bob => 409 friendship.not_friends",
        "ann remove-friend bob => 409 friendship.not_friends",
        "cy remove-friend dan => 409 friendship.not_friends",
        "dan remove-friend bob => friendship.removed",
    ];
    run(&api, &pool, &steps).await;
}
