//! Who may open a socket, and how the upgrade answers; the health endpoints.

#![allow(clippy::unwrap_used, reason = "a test may fail by panicking")]

mod common;

use sqlx::PgPool;

use common::{expect_ready, next_json, notice, notice_frame, request_with, token, upgrade_request};
use reqwest::StatusCode;
use serde_json::Value;

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_token_in_the_subprotocol_header_is_accepted_and_pagenow_selected(pool: PgPool) {
    let service = common::start(&pool).await;
    let protocols = format!("pagenow, {}", token("alice"));
    let request = request_with(&service.ws_url(), &[("sec-websocket-protocol", protocols)]);

    let (mut ws, response) = tokio_tungstenite::connect_async(request).await.unwrap();

    let selected = response.headers().get("sec-websocket-protocol").unwrap();
    assert_eq!(selected, auth::WS_PROTOCOL);
    expect_ready(&mut ws, "alice").await;
    let sent = notice(9, "page.shared");
    service.publish("alice", &sent).await;
    assert_eq!(next_json(&mut ws).await, notice_frame(&sent));
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_token_in_the_authorization_header_is_accepted(pool: PgPool) {
    let service = common::start(&pool).await;
    let bearer = format!("Bearer {}", token("alice"));
    let request = request_with(&service.ws_url(), &[("authorization", bearer)]);

    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();

    expect_ready(&mut ws, "alice").await;
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn an_upgrade_without_a_token_is_refused_with_401_and_not_upgraded(pool: PgPool) {
    let service = common::start(&pool).await;

    let response = upgrade_request(&service.ws_url()).await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get("upgrade").is_none());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "auth.missing_token");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn an_upgrade_with_a_forged_token_is_refused_with_401(pool: PgPool) {
    let service = common::start(&pool).await;
    let forged = auth::mint_dev_token(
        "another-secret-of-at-least-thirty-two-bytes",
        "alice",
        std::time::Duration::from_secs(60),
        false,
    )
    .unwrap();

    let url = format!("{}?token={forged}", service.ws_url());
    let response = upgrade_request(&url).await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "auth.invalid_signature");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_plain_get_on_the_socket_route_gets_the_error_envelope(pool: PgPool) {
    let service = common::start(&pool).await;
    let url = format!("{}?token={}", service.http_url("/v1/ws"), token("alice"));

    let response = reqwest::get(url).await.unwrap();

    assert!(response.status().is_client_error());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "request.not_a_websocket");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn readyz_follows_the_nats_connection(pool: PgPool) {
    let mut service = common::start(&pool).await;
    let healthz = reqwest::get(service.http_url("/healthz")).await.unwrap();
    assert_eq!(healthz.text().await.unwrap(), "ok");
    let ready = reqwest::get(service.http_url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);

    service.nats.as_mut().unwrap().stop();

    let url = service.http_url("/readyz");
    let body = testkit::eventually(common::PATIENCE, "readyz to fail", || async {
        let response = reqwest::get(&url).await.ok()?;
        if response.status() != StatusCode::SERVICE_UNAVAILABLE {
            return None;
        }
        response.json::<Value>().await.ok()
    })
    .await;
    assert_eq!(
        body,
        serde_json::json!({"ready": false, "checks": [
            {"name": "nats", "ok": false},
            {"name": "postgres", "ok": true},
        ]})
    );
}
