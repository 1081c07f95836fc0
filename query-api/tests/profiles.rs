//! `GET /v1/me` and `GET /v1/users/{id}`: who sees which profile fields.

mod support;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use support::{error_code, insert_user, start};

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_registered_user_reads_their_whole_profile(pool: PgPool) {
    insert_user(&pool, "ada").await;
    let app = start(pool).await;

    let response = app.get("/v1/me", Some("ada")).await;

    assert_eq!(response.status(), StatusCode::OK);
    let profile: Value = response.json().await.expect("a JSON profile");
    assert_eq!(
        profile,
        json!({
            "user_id": "ada",
            "email": "ada@example.com",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "birth_date": "1815-12-10",
            "gender": "female",
            "school": "Home schooled",
            "work": "Analyst",
            "location": "London",
            "description": "Poetical science",
            "registered_at": "2024-01-02T03:04:05Z",
            "updated_at": "2024-02-03T04:05:06Z",
            "visibility": {
                "email": false, "birth_date": false, "gender": false,
                "school": false, "work": false, "location": false
            }
        })
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_user_who_has_not_registered_gets_not_found_from_me(pool: PgPool) {
    let app = start(pool).await;

    let response = app.get("/v1/me", Some("newcomer")).await;

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(response).await, "user.not_found");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_stranger_sees_only_the_public_fields(pool: PgPool) {
    insert_user(&pool, "ada").await;
    sqlx::query(
        "UPDATE user_table SET school_public = true, location_public = true,
                location = NULL WHERE user_id = 'ada'",
    )
    .execute(&pool)
    .await
    .expect("the flags are set");
    let app = start(pool).await;

    let response = app.get("/v1/users/ada", Some("bob")).await;

    assert_eq!(response.status(), StatusCode::OK);
    let profile: Value = response.json().await.expect("a JSON profile");
    assert_eq!(
        profile,
        json!({
            "user_id": "ada",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "school": "Home schooled",
            "location": null,
            "description": "Poetical science",
            "registered_at": "2024-01-02T03:04:05Z",
            "relationship": "none",
            "friend_count": 0,
            "mutual_friend_count": 0
        })
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_owner_sees_every_field_of_their_profile_by_id(pool: PgPool) {
    insert_user(&pool, "ada").await;
    sqlx::query("UPDATE user_table SET email_public = true WHERE user_id = 'ada'")
        .execute(&pool)
        .await
        .expect("the flag is set");
    let app = start(pool).await;

    let response = app.get("/v1/users/ada", Some("ada")).await;

    assert_eq!(response.status(), StatusCode::OK);
    let profile: Value = response.json().await.expect("a JSON profile");
    assert_eq!(profile["work"], "Analyst");
    assert_eq!(profile["birth_date"], "1815-12-10");
    assert_eq!(profile["updated_at"], "2024-02-03T04:05:06Z");
    assert_eq!(profile["visibility"]["email"], true);
    assert_eq!(profile["visibility"]["work"], false);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn an_unknown_user_is_not_found(pool: PgPool) {
    let app = start(pool).await;

    let response = app.get("/v1/users/nobody", Some("bob")).await;

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(response).await, "user.not_found");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_request_without_a_token_is_unauthorized(pool: PgPool) {
    insert_user(&pool, "ada").await;
    let app = start(pool).await;

    for path in ["/v1/me", "/v1/users/ada"] {
        let response = app.get(path, None).await;

        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(error_code(response).await, "auth.missing_token", "{path}");
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn an_id_longer_than_128_characters_is_a_bad_request(pool: PgPool) {
    let app = start(pool).await;
    let id = "u".repeat(129);

    let response = app.get(&format!("/v1/users/{id}"), Some("bob")).await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "user.invalid_id");
}
