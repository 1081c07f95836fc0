//! Sharing commands over HTTP, against a real Postgres: what each stores, bad input
//! (each with its code, the store unchanged), and who may do what.
//!
//! Friendships and notifications are written straight into the views the commands
//! consult, as their projections would.

mod support;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use support::*;

/// Ann, with friends bob and cy; dan is registered and nobody's friend.
async fn ann_and_friends(pool: &PgPool) -> Api {
    let api = Api::start(pool).await;
    api.register(&["ann", "bob", "cy", "dan"]).await;
    befriend(pool, "ann", "bob").await;
    befriend(pool, "ann", "cy").await;
    api
}

async fn share_events(pool: &PgPool) -> Vec<(String, Value)> {
    sqlx::query_as(
        "SELECT aggregate_id, payload::jsonb FROM events WHERE event_type = 'share.created' ORDER BY position",
    )
    .fetch_all(pool)
    .await
    .expect("share events")
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn sharing_without_a_list_stores_one_event_for_every_current_friend(pool: PgPool) {
    let api = ann_and_friends(&pool).await;
    request_friendship(&pool, "ann", "eve").await;

    let (status, body) = api
        .share("ann", "https://www.rust-lang.org/learn", None)
        .await;

    assert_eq!(status, StatusCode::OK, "{body}");
    let events = share_events(&pool).await;
    let [(aggregate_id, payload)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(body["share_id"].as_str(), Some(aggregate_id.as_str()));
    assert_eq!(body["events"], 1);
    let (position,): (i64,) = sqlx::query_as("SELECT max(position) FROM events")
        .fetch_one(&pool)
        .await
        .expect("position");
    assert_eq!(body["position"], position);
    assert_eq!(payload["recipients"], json!(["bob", "cy"]));
    assert_eq!(payload["sharer"], "ann");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn sharing_with_chosen_friends_sends_to_them_only(pool: PgPool) {
    let api = ann_and_friends(&pool).await;

    let (status, body) = api
        .share("ann", "https://example.com/", Some(&["cy", "cy"]))
        .await;

    assert_eq!(status, StatusCode::OK, "{body}");
    let events = share_events(&pool).await;
    assert_eq!(events[0].1["recipients"], json!(["cy"]));
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_shared_url_title_and_domain_are_not_stored_in_clear(pool: PgPool) {
    let api = ann_and_friends(&pool).await;
    let body =
        json!({ "url": "https://secret-clinic.example/appointments", "title": "My appointments" });

    let (status, _) = api.post(Some("ann"), SHARE, &body.to_string()).await;

    assert_eq!(status, StatusCode::OK);
    let (payload,): (String,) =
        sqlx::query_as("SELECT payload::text FROM events WHERE event_type = 'share.created'")
            .fetch_one(&pool)
            .await
            .expect("payload");
    for secret in ["secret-clinic", "appointments", "My appointments"] {
        assert!(!payload.contains(secret), "{secret} in clear: {payload}");
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn bad_share_input_gets_a_stable_code_and_stores_nothing(pool: PgPool) {
    let api = ann_and_friends(&pool).await;
    let before = event_count(&pool).await;
    let long_url = format!("https://example.com/{}", "a".repeat(2049 - 20));
    let strangers: Vec<String> = (0..501).map(|n| format!("u{n}")).collect();
    let share = |url: &str, title: &str, to: Value| json!({ "url": url, "title": title, "to": to });
    let cases: Vec<(Option<&str>, String, StatusCode, &str)> = vec![
        (
            None,
            share("https://example.com/", "t", Value::Null).to_string(),
            StatusCode::UNAUTHORIZED,
            "auth.missing_token",
        ),
        (
            Some("ann"),
            "{not json".into(),
            StatusCode::BAD_REQUEST,
            "request.malformed_json",
        ),
        (
            Some("ann"),
            json!({ "title": "t" }).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "request.invalid_body",
        ),
        (
            Some("ann"),
            json!({ "url": "https://example.com/" }).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "request.invalid_body",
        ),
        (
            Some("ann"),
            json!({ "url": 5, "title": "t" }).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "request.invalid_body",
        ),
        (
            Some("ann"),
            share("https://example.com/", "t", json!("bob")).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "request.invalid_body",
        ),
        (
            Some("ann"),
            json!({ "url": "https://example.com/", "title": "t", "admin": true }).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "request.invalid_body",
        ),
        (
            Some("ann"),
            share("javascript:alert(1)", "t", Value::Null).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "share.invalid_url",
        ),
        (
            Some("ann"),
            share("ftp://x", "t", Value::Null).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "share.invalid_url",
        ),
        (
            Some("ann"),
            share("not a url", "t", Value::Null).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "share.invalid_url",
        ),
        (
            Some("ann"),
            share(&long_url, "t", Value::Null).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "share.invalid_url",
        ),
        (
            Some("ann"),
            share("https://example.com/", &"t".repeat(301), Value::Null).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "share.invalid_title",
        ),
        (
            Some("ann"),
            share("https://example.com/", "t", json!([])).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "share.no_recipients",
        ),
        (
            Some("ann"),
            share("https://example.com/", "t", json!(["a b"])).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "user.invalid_id",
        ),
        (
            Some("ann"),
            share("https://example.com/", "t", json!(["nobody"])).to_string(),
            StatusCode::FORBIDDEN,
            "share.not_friends",
        ),
        (
            Some("ann"),
            share("https://example.com/", "t", json!(["bob", "dan"])).to_string(),
            StatusCode::FORBIDDEN,
            "share.not_friends",
        ),
        (
            Some("ann"),
            share("https://example.com/", "t", json!(strangers)).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "share.too_many_recipients",
        ),
        (
            Some("dan"),
            share("https://example.com/", "t", Value::Null).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "share.no_recipients",
        ),
        (
            Some("zoe"),
            share("https://example.com/", "t", Value::Null).to_string(),
            StatusCode::CONFLICT,
            "user.not_registered",
        ),
    ];
    for (user, body, status, expected) in cases {
        let (got, answer) = api.post(user, SHARE, &body).await;
        assert_eq!(
            (got, code(&answer)),
            (status, expected),
            "{user:?} {body:.200}"
        );
    }
    assert_eq!(event_count(&pool).await, before);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_title_of_300_characters_and_a_url_of_2048_are_accepted(pool: PgPool) {
    let api = ann_and_friends(&pool).await;
    let url = format!("https://example.com/{}", "a".repeat(2048 - 20));
    let body = json!({ "url": url, "title": "é".repeat(300) });

    let (status, answer) = api.post(Some("ann"), SHARE, &body.to_string()).await;

    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// Ann shares a page with bob; the `shares` view shows it to him. Returns the share id.
async fn a_share_for_bob(api: &Api, pool: &PgPool) -> String {
    let (status, body) = api
        .share("ann", "https://example.com/", Some(&["bob"]))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let share_id = body["share_id"].as_str().expect("share id").to_owned();
    deliver(pool, &share_id, "ann", "bob").await;
    share_id
}

fn seen_body(share_id: &str) -> String {
    json!({ "share_id": share_id }).to_string()
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn marking_a_share_seen_stores_one_event_and_marking_it_again_changes_nothing(pool: PgPool) {
    let api = ann_and_friends(&pool).await;
    let share_id = a_share_for_bob(&api, &pool).await;

    let (status, first) = api.post(Some("bob"), SEEN, &seen_body(&share_id)).await;
    assert_eq!(
        (status, first["events"].as_i64()),
        (StatusCode::OK, Some(1)),
        "{first}"
    );
    let (event_type, payload) = last_event(&pool).await;
    assert_eq!(
        (event_type.as_str(), payload["share_id"].as_str()),
        ("inbox.share_seen", Some(share_id.as_str()))
    );
    // Before the view shows it seen, the inbox remembers; after, the view says so.
    let (_, again) = api.post(Some("bob"), SEEN, &seen_body(&share_id)).await;
    assert_eq!(again, json!({ "position": first["position"], "events": 0 }));
    sqlx::query("UPDATE share_notifications SET seen_at = now()")
        .execute(&pool)
        .await
        .expect("seen in the view");
    let (_, later) = api.post(Some("bob"), SEEN, &seen_body(&share_id)).await;
    assert_eq!(later["events"], 0);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn marking_a_share_not_sent_to_you_is_not_found_and_stores_nothing(pool: PgPool) {
    let api = ann_and_friends(&pool).await;
    let share_id = a_share_for_bob(&api, &pool).await;
    let before = event_count(&pool).await;
    let cases = [
        (
            Some("cy"),
            seen_body(&share_id),
            StatusCode::NOT_FOUND,
            "share.not_found",
        ),
        (
            Some("ann"),
            seen_body(&share_id),
            StatusCode::NOT_FOUND,
            "share.not_found",
        ),
        (
            Some("bob"),
            seen_body("00000000-0000-4000-8000-000000000000"),
            StatusCode::NOT_FOUND,
            "share.not_found",
        ),
        (
            Some("bob"),
            seen_body("not-a-uuid"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "share.invalid_id",
        ),
        (
            Some("bob"),
            "{}".into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "request.invalid_body",
        ),
        (
            Some("bob"),
            json!({ "share_id": 7 }).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "request.invalid_body",
        ),
        (
            None,
            seen_body(&share_id),
            StatusCode::UNAUTHORIZED,
            "auth.missing_token",
        ),
    ];
    for (user, body, status, expected) in cases {
        let (got, answer) = api.post(user, SEEN, &body).await;
        assert_eq!((got, code(&answer)), (status, expected), "{user:?} {body}");
    }
    assert_eq!(event_count(&pool).await, before);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn marking_all_seen_stores_an_event_only_when_something_is_unread(pool: PgPool) {
    let api = ann_and_friends(&pool).await;
    let (status, nothing) = api.post(Some("bob"), ALL_SEEN, "{}").await;
    assert_eq!(
        (status, nothing["events"].as_i64()),
        (StatusCode::OK, Some(0))
    );
    a_share_for_bob(&api, &pool).await;

    let (status, marked) = api.post(Some("bob"), ALL_SEEN, "{}").await;

    assert_eq!(
        (status, marked["events"].as_i64()),
        (StatusCode::OK, Some(1)),
        "{marked}"
    );
    let (event_type, payload) = last_event(&pool).await;
    assert_eq!(event_type, "inbox.all_shares_seen");
    assert!(payload["seen_at"].is_string(), "{payload}");
    let (_, extra) = api.post(Some("bob"), ALL_SEEN, r#"{"all": true}"#).await;
    assert_eq!(code(&extra), "request.invalid_body");
}

/// Who may run each sharing command: the sharer (ann), a recipient friend (bob), a
/// stranger (dan) and nobody (no token).
#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn each_sharing_command_answers_each_caller_as_expected(pool: PgPool) {
    let api = ann_and_friends(&pool).await;
    let share_id = a_share_for_bob(&api, &pool).await;
    let to_bob = json!({ "url": "https://example.com/", "title": "t", "to": ["bob"] }).to_string();
    let to_all = json!({ "url": "https://example.com/", "title": "t" }).to_string();
    let seen = seen_body(&share_id);
    use StatusCode as S;
    let matrix: [(&str, &str, [StatusCode; 4]); 4] = [
        (
            SHARE,
            &to_bob,
            [S::OK, S::FORBIDDEN, S::FORBIDDEN, S::UNAUTHORIZED],
        ),
        (
            SHARE,
            &to_all,
            [S::OK, S::OK, S::UNPROCESSABLE_ENTITY, S::UNAUTHORIZED],
        ),
        (
            SEEN,
            &seen,
            [S::NOT_FOUND, S::OK, S::NOT_FOUND, S::UNAUTHORIZED],
        ),
        (ALL_SEEN, "{}", [S::OK, S::OK, S::OK, S::UNAUTHORIZED]),
    ];
    for (path, body, expected) in matrix {
        for (caller, status) in [Some("ann"), Some("bob"), Some("dan"), None]
            .into_iter()
            .zip(expected)
        {
            let (got, answer) = api.post(caller, path, body).await;
            assert_eq!(got, status, "{caller:?} {path} {body}: {answer}");
        }
    }
}
