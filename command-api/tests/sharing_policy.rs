//! Sharing-policy commands over HTTP, against a real Postgres: the policy a registration
//! records, each one-step change, bad input (each with its code, the store unchanged).

mod support;

use command_api::users::defaults;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use support::*;

async fn policy_events(pool: &PgPool, user: &str) -> Vec<(String, Value)> {
    sqlx::query_as(
        "SELECT event_type, payload::jsonb FROM events
          WHERE aggregate_type = 'user' AND aggregate_id = $1 AND event_type <> 'user.registered'
          ORDER BY sequence",
    )
    .bind(user)
    .fetch_all(pool)
    .await
    .expect("events")
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn registration_records_the_configured_default_policy_in_clear(pool: PgPool) {
    let configured = defaults::parse("github.com, https://www.Wikipedia.org/", "paypal.com")
        .expect("valid lists");
    let api = Api::start_with(&pool, configured).await;

    api.register(&["ann"]).await;

    let events = policy_events(&pool, "ann").await;
    let [(event_type, payload)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(event_type, "user.sharing_policy_set");
    assert_eq!(payload["mode"], "default_none");
    assert_eq!(payload["allow"], json!(["github.com", "wikipedia.org"]));
    assert_eq!(payload["deny"], json!(["paypal.com"]));
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_built_in_defaults_apply_when_nothing_is_configured(pool: PgPool) {
    let api = Api::start(&pool).await;
    api.register(&["ann"]).await;
    let events = policy_events(&pool, "ann").await;
    let deny = &events[0].1["deny"];
    assert!(
        deny.as_array()
            .is_some_and(|d| d.contains(&json!("mail.google.com"))),
        "{deny}"
    );
}

/// Posts `body` to `path` as ann, expecting 200; returns how many events it stored.
async fn accepted(api: &Api, path: &str, body: Value) -> i64 {
    let (status, answer) = api.post(Some("ann"), path, &body.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{path} {body}: {answer}");
    answer["events"].as_i64().expect("events")
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn each_change_stores_one_event_and_repeating_it_stores_none(pool: PgPool) {
    let api = Api::start(&pool).await;
    api.register(&["ann"]).await;
    let steps = [
        (
            SET_MODE,
            json!({ "mode": "default_all" }),
            "user.share_mode_set",
            json!({ "mode": "default_all" }),
        ),
        (
            SHARE_DOMAIN,
            json!({ "domain": "https://www.Example.com/a?b" }),
            "user.domain_shared",
            json!({ "domain": "example.com" }),
        ),
        (
            STOP_SHARING,
            json!({ "domain": "example.com" }),
            "user.domain_unshared",
            json!({ "domain": "example.com" }),
        ),
        (
            SHARE_DOMAIN,
            json!({ "domain": "mail.google.com" }),
            "user.domain_shared",
            json!({ "domain": "mail.google.com" }),
        ),
    ];
    for (path, body, event_type, data) in steps {
        assert_eq!(accepted(&api, path, body.clone()).await, 1, "{path} {body}");
        let (stored_type, payload) = last_event(&pool).await;
        assert_eq!(stored_type, event_type);
        for (key, value) in data.as_object().expect("object") {
            assert_eq!(&payload[key], value, "{event_type}");
        }
        assert!(payload["changed_at"].is_string(), "{payload}");
        assert_eq!(
            accepted(&api, path, body.clone()).await,
            0,
            "again: {path} {body}"
        );
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn bad_policy_input_gets_a_stable_code_and_stores_nothing(pool: PgPool) {
    let api = Api::start(&pool).await;
    api.register(&["ann"]).await;
    let before = event_count(&pool).await;
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let cases: Vec<(Option<&str>, &str, String, StatusCode, &str)> = vec![
        (
            None,
            SET_MODE,
            json!({ "mode": "default_all" }).to_string(),
            StatusCode::UNAUTHORIZED,
            "auth.missing_token",
        ),
        (
            None,
            SHARE_DOMAIN,
            json!({ "domain": "example.com" }).to_string(),
            StatusCode::UNAUTHORIZED,
            "auth.missing_token",
        ),
        (
            None,
            STOP_SHARING,
            json!({ "domain": "example.com" }).to_string(),
            StatusCode::UNAUTHORIZED,
            "auth.missing_token",
        ),
        (
            Some("ann"),
            SET_MODE,
            json!({ "mode": "everyone" }).to_string(),
            unprocessable,
            "policy.invalid_mode",
        ),
        (
            Some("ann"),
            SET_MODE,
            json!({ "mode": true }).to_string(),
            unprocessable,
            "request.invalid_body",
        ),
        (
            Some("ann"),
            SET_MODE,
            "{}".into(),
            unprocessable,
            "request.invalid_body",
        ),
        (
            Some("ann"),
            SHARE_DOMAIN,
            json!({ "domain": "localhost" }).to_string(),
            unprocessable,
            "policy.invalid_domain",
        ),
        (
            Some("ann"),
            SHARE_DOMAIN,
            json!({ "domain": "not a domain" }).to_string(),
            unprocessable,
            "policy.invalid_domain",
        ),
        (
            Some("ann"),
            SHARE_DOMAIN,
            json!({ "domain": format!("{}.com", "a".repeat(64)) }).to_string(),
            unprocessable,
            "policy.invalid_domain",
        ),
        (
            Some("ann"),
            STOP_SHARING,
            json!({ "domain": "javascript:alert(1)" }).to_string(),
            unprocessable,
            "policy.invalid_domain",
        ),
        (
            Some("ann"),
            STOP_SHARING,
            json!({ "domain": ["a.com"] }).to_string(),
            unprocessable,
            "request.invalid_body",
        ),
        (
            Some("ann"),
            STOP_SHARING,
            json!({ "domain": "a.com", "list": "deny" }).to_string(),
            unprocessable,
            "request.invalid_body",
        ),
        (
            Some("ann"),
            SHARE_DOMAIN,
            "{not json".into(),
            StatusCode::BAD_REQUEST,
            "request.malformed_json",
        ),
        (
            Some("zoe"),
            SET_MODE,
            json!({ "mode": "default_all" }).to_string(),
            StatusCode::CONFLICT,
            "user.not_registered",
        ),
        (
            Some("zoe"),
            SHARE_DOMAIN,
            json!({ "domain": "example.com" }).to_string(),
            StatusCode::CONFLICT,
            "user.not_registered",
        ),
        (
            Some("zoe"),
            STOP_SHARING,
            json!({ "domain": "example.com" }).to_string(),
            StatusCode::CONFLICT,
            "user.not_registered",
        ),
    ];
    for (user, path, body, status, expected) in cases {
        let (got, answer) = api.post(user, path, &body).await;
        assert_eq!(
            (got, code(&answer)),
            (status, expected),
            "{user:?} {path} {body}"
        );
    }
    assert_eq!(event_count(&pool).await, before);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_list_holds_at_most_500_domains(pool: PgPool) {
    let full: Vec<String> = (0..500).map(|n| format!("site{n}.example")).collect();
    let defaults = defaults::parse(&full.join(","), "").expect("500 domains");
    let api = Api::start_with(&pool, defaults).await;
    api.register(&["ann"]).await;
    let before = event_count(&pool).await;

    let (status, answer) = api
        .post(
            Some("ann"),
            SHARE_DOMAIN,
            &json!({ "domain": "one-more.example" }).to_string(),
        )
        .await;

    assert_eq!(
        (status, code(&answer)),
        (StatusCode::UNPROCESSABLE_ENTITY, "policy.too_many_domains")
    );
    assert_eq!(event_count(&pool).await, before);
    assert_eq!(
        accepted(&api, STOP_SHARING, json!({ "domain": "site0.example" })).await,
        1
    );
}
