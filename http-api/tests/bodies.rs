//! Bodies built to hurt a parser, against a route that takes any JSON object (`Json<Value>`):
//! deep nesting meets serde_json's depth limit (no stack overflow), invalid UTF-8 and
//! bodies over the limit are refused, each with the envelope and a stable code.

use axum::routing::post;
use axum::Router;
use http_api::{Json, Limits};
use serde_json::Value;

async fn start() -> String {
    let routes = Router::new().route("/echo", post(|Json(v): Json<Value>| async move { Json(v) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    let served = http_api::serve(listener, http_api::layers::standard(routes))
        .limits(Limits::default())
        .with_graceful_shutdown(std::future::pending());
    tokio::spawn(served);
    base
}

async fn post_json(base: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let answer = reqwest::Client::new()
        .post(format!("{base}/echo"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("an answer");
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

fn code(answer: &Value) -> &str {
    answer["error"]["code"].as_str().unwrap_or("<no code>")
}

#[tokio::test]
async fn json_nested_sixty_thousand_deep_gets_400_without_overflowing_the_stack() {
    let base = start().await;
    // 60,000 bytes of openings, under the body limit: the parser stops at its depth
    // limit (128) long before the end.
    for open in ["[", r#"{"a":"#] {
        let body = open.repeat(60_000 / open.len());
        let (status, answer) = post_json(&base, body).await;
        assert_eq!(
            (status, code(&answer)),
            (400, "request.malformed_json"),
            "{answer}"
        );
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("recursion limit"), "{message}");
    }
    // Nesting the parser accepts still works: the limit is depth, not the route.
    let nested = format!("{}1{}", r#"{"a":"#.repeat(100), "}".repeat(100));
    let (status, _) = post_json(&base, nested).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn json_nested_a_hundred_thousand_deep_is_over_the_size_limit() {
    let base = start().await;
    let (status, answer) = post_json(&base, "[".repeat(100_000)).await;
    assert_eq!((status, code(&answer)), (413, "request.body_too_large"));
}

#[tokio::test]
async fn invalid_utf8_in_a_json_string_gets_400() {
    let base = start().await;
    let mut body = br#"{"name": "Al"#.to_vec();
    body.extend([0xff, 0xfe]);
    body.extend(br#"ce"}"#);
    let (status, answer) = post_json(&base, body).await;
    assert_eq!(
        (status, code(&answer)),
        (400, "request.malformed_json"),
        "{answer}"
    );
}
