//! Where `WsAuthUser` finds the token of a WebSocket upgrade, and that it is checked
//! before the upgrade.

mod common;

use auth::{mint_dev_token, WsAuthUser, WS_PROTOCOL};
use axum::body::Body;
use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::http::{Request, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use common::*;
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn token(sub: &str) -> String {
    mint_dev_token(SECRET, sub, Duration::from_secs(60), false).expect("a dev token")
}

async fn get_ws(request: axum::http::request::Builder) -> (StatusCode, Value) {
    let router = router(verifier(&secret_config()).await);
    call(router, request.body(Body::empty()).expect("a request")).await
}

#[tokio::test]
async fn takes_the_token_from_the_authorization_header() {
    let request = Request::get("/ws").header("authorization", format!("Bearer {}", token("h")));
    let (status, body) = get_ws(request).await;
    assert_eq!(
        (status, &body["user_id"]),
        (StatusCode::OK, &"h".into()),
        "{body}"
    );
}

#[tokio::test]
async fn takes_the_token_from_the_query_string() {
    let request = Request::get(format!("/ws?room=1&token={}", token("q")));
    let (status, body) = get_ws(request).await;
    assert_eq!(
        (status, &body["user_id"]),
        (StatusCode::OK, &"q".into()),
        "{body}"
    );
}

#[tokio::test]
async fn takes_the_token_following_the_pagenow_subprotocol() {
    let offered = format!("pagenow, {}", token("p"));
    let request = Request::get("/ws").header("sec-websocket-protocol", offered);
    let (status, body) = get_ws(request).await;
    assert_eq!(
        (status, &body["user_id"]),
        (StatusCode::OK, &"p".into()),
        "{body}"
    );
}

#[tokio::test]
async fn takes_the_token_from_a_bearer_dot_subprotocol() {
    let offered = format!("pagenow, bearer.{}", token("b"));
    let request = Request::get("/ws").header("sec-websocket-protocol", offered);
    let (status, body) = get_ws(request).await;
    assert_eq!(
        (status, &body["user_id"]),
        (StatusCode::OK, &"b".into()),
        "{body}"
    );
}

#[tokio::test]
async fn refuses_an_upgrade_without_any_token() {
    let request = Request::get("/ws?room=1").header("sec-websocket-protocol", "pagenow");
    assert_refused(&get_ws(request).await, "auth.missing_token", "");
}

#[tokio::test]
async fn refuses_an_upgrade_whose_query_token_is_forged() {
    let forged = mint_dev_token(
        "a-different-secret-of-32-bytes-or-more",
        "x",
        Duration::from_secs(60),
        false,
    )
    .expect("a dev token");
    let request = Request::get(format!("/ws?token={forged}"));
    assert_refused(&get_ws(request).await, "auth.invalid_signature", &forged);
}

#[tokio::test]
async fn uses_the_authorization_header_first_without_falling_back_to_the_query() {
    let request = Request::get(format!("/ws?token={}", token("q")))
        .header("authorization", "Bearer not-a-jwt");
    assert_refused(&get_ws(request).await, "auth.malformed_token", "not-a-jwt");
}

#[tokio::test]
async fn auth_user_ignores_query_and_subprotocol_tokens() {
    let request = Request::get(format!("/me?token={}", token("q")))
        .header("sec-websocket-protocol", format!("pagenow, {}", token("p")));
    let router = router(verifier(&secret_config()).await);
    let answer = call(router, request.body(Body::empty()).expect("a request")).await;
    assert_refused(&answer, "auth.missing_token", "");
}

async fn upgrade(_user: WsAuthUser, ws: WebSocketUpgrade) -> Response {
    ws.protocols([WS_PROTOCOL])
        .on_upgrade(|_socket: WebSocket| async {})
}

/// Starts a real server whose `/socket` upgrades after `WsAuthUser`, sends a browser-like
/// handshake offering `protocols`, and returns the answer read until `until` appears.
async fn handshake(protocols: &str, until: &str) -> String {
    let app = Router::new()
        .route("/socket", get(upgrade))
        .with_state(verifier(&secret_config()).await);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let addr = listener.local_addr().expect("a local address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("a connection");
    let request = format!(
        "GET /socket HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Protocol: {protocols}\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("sending the handshake");
    let answer = read_until(&mut stream, until);
    tokio::time::timeout(Duration::from_secs(5), answer)
        .await
        .expect("an answer in time")
}

async fn read_until(stream: &mut tokio::net::TcpStream, until: &str) -> String {
    let mut answer = String::new();
    let mut chunk = [0; 1024];
    while !answer.contains(until) {
        let read = stream.read(&mut chunk).await.expect("reading the answer");
        if read == 0 {
            break;
        }
        answer.push_str(&String::from_utf8_lossy(&chunk[..read]).to_lowercase());
    }
    answer
}

#[tokio::test]
async fn upgrades_a_browser_handshake_carrying_its_token_as_a_subprotocol() {
    let head = handshake(&format!("pagenow, bearer.{}", token("browser")), "\r\n\r\n").await;
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(
        head.contains("sec-websocket-protocol: pagenow\r\n"),
        "{head}"
    );
}

#[tokio::test]
async fn refuses_the_handshake_before_upgrading_when_the_token_is_missing() {
    let head = handshake("pagenow", "}}").await;
    assert!(head.starts_with("http/1.1 401"), "{head}");
    assert!(head.contains("auth.missing_token"), "{head}");
}
