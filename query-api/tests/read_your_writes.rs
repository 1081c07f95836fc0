//! `?min_position=`: a query waits, bounded, for the view to reach the caller's write.

mod support;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;
use support::{
    append_event, error_code, header, insert_user, set_users_checkpoint, start, start_with_timeout,
    Cursor,
};

const STALE: &str = "x-pagenow-stale";
const VIEW_POSITION: &str = "x-pagenow-view-position";

/// Ada registered (event one, projected); then she edited her name (event two), which
/// the `users` view has not applied yet. Returns the cursors of both events.
async fn an_edit_not_yet_projected(pool: &PgPool) -> (Cursor, Cursor) {
    insert_user(pool, "ada").await;
    let registered = append_event(pool, "ada").await;
    let mut conn = pool.acquire().await.expect("a connection");
    set_users_checkpoint(&mut conn, registered).await;
    let edited = append_event(pool, "ada").await;
    (registered, edited)
}

/// The projector applies the edit, with its checkpoint, in one transaction.
async fn project_the_edit(pool: &PgPool, edited: Cursor) {
    let mut tx = pool.begin().await.expect("a transaction");
    sqlx::query("UPDATE user_table SET first_name = 'Augusta' WHERE user_id = 'ada'")
        .execute(&mut *tx)
        .await
        .expect("the view row is updated");
    set_users_checkpoint(&mut tx, edited).await;
    tx.commit().await.expect("the projection commits");
}

async fn first_name(response: reqwest::Response) -> String {
    let profile: Value = response.json().await.expect("a JSON profile");
    profile["first_name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_query_waits_for_the_view_and_returns_the_fresh_profile(pool: PgPool) {
    let (_, edited) = an_edit_not_yet_projected(&pool).await;
    let projector = pool.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        project_the_edit(&projector, edited).await;
    });
    let app = start(pool).await;

    let path = format!("/v1/me?min_position={}", edited.position);
    let response = app.get(&path, Some("ada")).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, STALE), None);
    let expected_position = edited.position.to_string();
    assert_eq!(
        header(&response, VIEW_POSITION),
        Some(expected_position.as_str())
    );
    assert_eq!(first_name(response).await, "Augusta");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_view_that_never_catches_up_answers_stale_after_the_timeout(pool: PgPool) {
    let (registered, edited) = an_edit_not_yet_projected(&pool).await;
    let app = start_with_timeout(pool, Duration::from_millis(200)).await;

    let started = Instant::now();
    let path = format!("/v1/users/ada?min_position={}", edited.position);
    let response = app.get(&path, Some("bob")).await;

    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, STALE), Some("true"));
    let view_position = registered.position.to_string();
    assert_eq!(
        header(&response, VIEW_POSITION),
        Some(view_position.as_str())
    );
    assert_eq!(first_name(response).await, "Ada");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn wait_ms_shortens_the_wait(pool: PgPool) {
    let (_, edited) = an_edit_not_yet_projected(&pool).await;
    let app = start_with_timeout(pool, Duration::from_secs(10)).await;

    let started = Instant::now();
    let path = format!("/v1/me?min_position={}&wait_ms=50", edited.position);
    let response = app.get(&path, Some("ada")).await;

    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(header(&response, STALE), Some("true"));
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_wait_over_ten_seconds_is_a_bad_request(pool: PgPool) {
    let (_, edited) = an_edit_not_yet_projected(&pool).await;
    let app = start(pool).await;

    let path = format!("/v1/me?min_position={}&wait_ms=10001", edited.position);
    let response = app.get(&path, Some("ada")).await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "query.invalid_wait_ms");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn an_unknown_position_is_a_bad_request(pool: PgPool) {
    let (_, edited) = an_edit_not_yet_projected(&pool).await;
    let app = start(pool).await;

    let path = format!("/v1/me?min_position={}", edited.position + 1000);
    let response = app.get(&path, Some("ada")).await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "query.unknown_position");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_position_the_view_has_passed_is_answered_at_once_with_its_position(pool: PgPool) {
    let (registered, edited) = an_edit_not_yet_projected(&pool).await;
    project_the_edit(&pool, edited).await;
    let app = start(pool).await;

    let path = format!("/v1/me?min_position={}", registered.position);
    let response = app.get(&path, Some("ada")).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, STALE), None);
    let view_position = edited.position.to_string();
    assert_eq!(
        header(&response, VIEW_POSITION),
        Some(view_position.as_str())
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_query_without_min_position_carries_no_view_headers(pool: PgPool) {
    an_edit_not_yet_projected(&pool).await;
    let app = start(pool).await;

    let response = app.get("/v1/me", Some("ada")).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, STALE), None);
    assert_eq!(header(&response, VIEW_POSITION), None);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_registration_not_yet_projected_is_a_stale_not_found(pool: PgPool) {
    let registered = append_event(&pool, "grace").await;
    let app = start_with_timeout(pool, Duration::from_millis(100)).await;

    let path = format!("/v1/me?min_position={}", registered.position);
    let response = app.get(&path, Some("grace")).await;

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(header(&response, STALE), Some("true"));
    assert_eq!(header(&response, VIEW_POSITION), Some("0"));
    assert_eq!(error_code(response).await, "user.not_found");
}
