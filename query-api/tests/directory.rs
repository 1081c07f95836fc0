//! `GET /v1/users`: the users directory, newest first, capped.

mod graph;
mod support;

use graph::{ids, keys, person_registered_at};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use support::{error_code, insert_user, start, TestApp};

async fn directory(app: &TestApp, path: &str) -> Value {
    let response = app.get(path, Some("me")).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.expect("a JSON answer")
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_directory_lists_the_newest_users_first_then_by_id(pool: PgPool) {
    person_registered_at(&pool, "old", "Olga", "Old", "2023-01-01T00:00:00Z").await;
    person_registered_at(&pool, "new-b", "Ben", "New", "2024-03-01T00:00:00Z").await;
    person_registered_at(&pool, "new-a", "Ann", "New", "2024-03-01T00:00:00Z").await;
    person_registered_at(&pool, "mid", "Max", "Mid", "2023-06-01T12:30:00Z").await;
    let app = start(pool).await;

    let answer = directory(&app, "/v1/users").await;

    assert_eq!(
        answer,
        json!({
            "items": [
                {"user_id": "new-a", "first_name": "Ann", "last_name": "New",
                 "registered_at": "2024-03-01T00:00:00Z"},
                {"user_id": "new-b", "first_name": "Ben", "last_name": "New",
                 "registered_at": "2024-03-01T00:00:00Z"},
                {"user_id": "mid", "first_name": "Max", "last_name": "Mid",
                 "registered_at": "2023-06-01T12:30:00Z"},
                {"user_id": "old", "first_name": "Olga", "last_name": "Old",
                 "registered_at": "2023-01-01T00:00:00Z"}
            ]
        })
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_directory_shows_no_optional_field(pool: PgPool) {
    insert_user(&pool, "ada").await;
    sqlx::query("UPDATE user_table SET email_public = true, work_public = true")
        .execute(&pool)
        .await
        .expect("the flags are set");
    let app = start(pool).await;

    let answer = directory(&app, "/v1/users").await;

    assert_eq!(
        keys(&answer["items"][0]),
        ["first_name", "last_name", "registered_at", "user_id"]
    );
}

/// 1,005 users, `u0000` registered first and `u1004` last.
async fn more_users_than_the_cap(pool: &PgPool) {
    sqlx::query(
        "INSERT INTO user_table (user_id, first_name, last_name, registered_at, updated_at,
                                 last_position, version)
         SELECT 'u' || lpad(n::text, 4, '0'), 'User', n::text,
                '2024-01-01T00:00:00Z'::timestamptz + n * interval '1 minute',
                '2024-01-01T00:00:00Z', 0, 1
           FROM generate_series(0, 1004) AS n",
    )
    .execute(pool)
    .await
    .expect("the users are inserted");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_directory_answers_at_most_a_thousand_users(pool: PgPool) {
    more_users_than_the_cap(&pool).await;
    let app = start(pool).await;

    let everyone = directory(&app, "/v1/users").await;
    let three = directory(&app, "/v1/users?limit=3").await;
    let over_the_cap = app.get("/v1/users?limit=1001", Some("me")).await;

    let listed = ids(&everyone);
    assert_eq!(listed.len(), 1000);
    assert_eq!(listed.first().map(String::as_str), Some("u1004"));
    assert_eq!(listed.last().map(String::as_str), Some("u0005"));
    assert_eq!(ids(&three), ["u1004", "u1003", "u1002"]);
    assert_eq!(over_the_cap.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(over_the_cap).await, "query.invalid_limit");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn an_offset_continues_the_directory_where_a_page_ended(pool: PgPool) {
    more_users_than_the_cap(&pool).await;
    let app = start(pool).await;

    let rest = directory(&app, "/v1/users?offset=1000").await;
    let past_the_end = directory(&app, "/v1/users?offset=2000").await;

    assert_eq!(ids(&rest), ["u0004", "u0003", "u0002", "u0001", "u0000"]);
    assert_eq!(past_the_end, json!({"items": []}));
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn bad_directory_parameters_are_bad_requests_with_their_codes(pool: PgPool) {
    let app = start(pool).await;
    let cases = [
        ("/v1/users?limit=0", "query.invalid_limit"),
        ("/v1/users?offset=-5", "query.invalid_offset"),
        ("/v1/users?limit=ten", "request.invalid_query"),
    ];

    for (path, code) in cases {
        let response = app.get(path, Some("me")).await;

        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(error_code(response).await, code, "{path}");
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_directory_without_a_token_is_unauthorized(pool: PgPool) {
    let app = start(pool).await;

    let response = app.get("/v1/users", None).await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(response).await, "auth.missing_token");
}
