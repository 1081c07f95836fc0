//! The command API over HTTP, against a real Postgres.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

mod support;
use support::{code, event_count, token, Api};

const REGISTER: &str = "/v1/commands/register-user";
const UPDATE: &str = "/v1/commands/update-profile";

fn ann() -> String {
    json!({ "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee" }).to_string()
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn registering_answers_the_position_of_the_new_events(pool: PgPool) {
    let api = Api::start(&pool).await;
    let (status, body) = api.post(Some("ann"), REGISTER, &ann()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stored: Vec<(i64, String)> =
        sqlx::query_as("SELECT position, event_type FROM events ORDER BY sequence")
            .fetch_all(&pool)
            .await
            .expect("events");
    let types: Vec<&str> = stored.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(types, ["user.registered", "user.sharing_policy_set"]);
    assert_eq!(body, json!({ "position": stored[1].0, "events": 2 }));
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn registering_again_changes_nothing_and_answers_the_same_position(pool: PgPool) {
    let api = Api::start(&pool).await;
    let (_, first) = api.post(Some("ann"), REGISTER, &ann()).await;
    let (status, again) = api.post(Some("ann"), REGISTER, &ann()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, json!({ "position": first["position"], "events": 0 }));
    assert_eq!(event_count(&pool).await, 2);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_email_is_not_stored_in_clear_in_the_event(pool: PgPool) {
    let api = Api::start(&pool).await;
    api.post(Some("ann"), REGISTER, &ann()).await;
    let (payload,): (String,) = sqlx::query_as("SELECT payload::text FROM events")
        .fetch_one(&pool)
        .await
        .expect("payload");
    assert!(
        !payload.contains("ann@example.com") && !payload.contains("Lee"),
        "{payload}"
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn updating_a_profile_before_registering_is_a_409(pool: PgPool) {
    let api = Api::start(&pool).await;
    let (status, body) = api
        .post(Some("ann"), UPDATE, r#"{"school": {"value": "MIT"}}"#)
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "user.not_registered")
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn an_update_appends_one_event_and_an_empty_one_is_refused(pool: PgPool) {
    let api = Api::start(&pool).await;
    api.post(Some("ann"), REGISTER, &ann()).await;
    let (status, body) = api
        .post(
            Some("ann"),
            UPDATE,
            r#"{"school": {"value": "MIT", "public": true}, "description": null}"#,
        )
        .await;
    assert_eq!(
        (status, body["events"].as_i64()),
        (StatusCode::OK, Some(1)),
        "{body}"
    );
    let (status, body) = api.post(Some("ann"), UPDATE, "{}").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "user.empty_update")
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn bad_input_gets_a_stable_code_and_stores_nothing(pool: PgPool) {
    let api = Api::start(&pool).await;
    let long = "x".repeat(101);
    let cases: [(Option<&str>, &str, String, StatusCode, &str); 11] = [
        (
            None,
            REGISTER,
            ann(),
            StatusCode::UNAUTHORIZED,
            "auth.missing_token",
        ),
        (
            Some("ann"),
            REGISTER,
            "{not json".into(),
            StatusCode::BAD_REQUEST,
            "request.malformed_json",
        ),
        (
            Some("ann"),
            REGISTER,
            r#"{"email": "ann@example.com"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "request.invalid_body",
        ),
        (
            Some("ann"),
            REGISTER,
            r#"{"email": 5, "first_name": "A", "last_name": "L"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "request.invalid_body",
        ),
        (
            Some("ann"),
            REGISTER,
            json!({"email": "nope", "first_name": "A", "last_name": "L"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "user.invalid_email",
        ),
        (
            Some("ann"),
            REGISTER,
            json!({"email": "a@b.co", "first_name": long, "last_name": "L"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "user.invalid_name",
        ),
        (
            Some("ann"),
            REGISTER,
            json!({"email": "a@b.co", "first_name": "A", "last_name": "L", "admin": true})
                .to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "request.invalid_body",
        ),
        (
            Some("ann"),
            UPDATE,
            r#"{"birth_date": {"value": "3000-01-01"}}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "user.invalid_birth_date",
        ),
        // Serde would read an array as a struct's fields in order; no client means that.
        (
            Some("ann"),
            REGISTER,
            r#"["ann@example.com", "Ann", "Lee"]"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "request.invalid_body",
        ),
        (
            Some("ann"),
            UPDATE,
            r#"{"work": [null, null]}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "request.invalid_body",
        ),
        (
            Some("ann"),
            "/v1/commands/no-such-thing",
            "{}".into(),
            StatusCode::NOT_FOUND,
            "route.not_found",
        ),
    ];
    for (user, path, body, status, expected) in cases {
        let (got, answer) = api.post(user, path, &body).await;
        assert_eq!((got, code(&answer)), (status, expected), "{path} {body}");
    }
    assert_eq!(event_count(&pool).await, 0);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_body_without_json_content_type_is_a_415(pool: PgPool) {
    let api = Api::start(&pool).await;
    let request = api
        .http
        .post(format!("{}{REGISTER}", api.base))
        .bearer_auth(token("ann"))
        .body(ann());
    let response = request.send().await.expect("send");
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn concurrent_updates_of_one_profile_all_land(pool: PgPool) {
    let api = Api::start(&pool).await;
    api.post(Some("ann"), REGISTER, &ann()).await;
    let api = std::sync::Arc::new(api);
    let updates = (0..16).map(|n| {
        let api = api.clone();
        tokio::spawn(async move {
            api.post(
                Some("ann"),
                UPDATE,
                &json!({ "work": { "value": format!("job {n}") } }).to_string(),
            )
            .await
        })
    });
    for update in updates {
        let (status, body) = update.await.expect("task");
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(event_count(&pool).await, 18);
}

#[tokio::test]
async fn a_database_that_cannot_be_reached_is_a_503_with_a_clear_code() {
    let nowhere = format!(
        "postgres://postgres@127.0.0.1:{}/nowhere",
        testkit::free_port()
    );
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(300))
        .connect_lazy(&nowhere)
        .expect("lazy pool");
    let api = Api::start(&pool).await;
    let (status, body) = api.post(Some("ann"), REGISTER, &ann()).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::SERVICE_UNAVAILABLE, "service.unavailable")
    );
    assert!(
        !body.to_string().contains("nowhere"),
        "internal details leaked: {body}"
    );
}
