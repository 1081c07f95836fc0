//! Hostile input against the real command API on a socket: the hostile-token suite,
//! oversized, deeply nested and invalid UTF-8 bodies, huge headers and query strings,
//! and a body sent a byte at a time. Each is refused with a 4xx (or cut off) and
//! appends nothing.
//!
//! The tests of this file serve with short HTTP timeouts ([`LIMITS`], installed as
//! `pagenow` installs the configured ones), so a slow client is cut off in seconds.

#[path = "../../auth/tests/hostile_suite/mod.rs"]
mod hostile_suite;
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use http_api::Limits;
use serde_json::json;
use sqlx::PgPool;
use support::{code, event_count, token, Api, REGISTER};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout, Instant};

const LIMITS: Limits = Limits {
    header_read_timeout: Duration::from_secs(2),
    body_read_timeout: Duration::from_secs(2),
    max_connections: 1_000,
};
/// Far longer than any limit here.
const DEADLINE: Duration = Duration::from_secs(20);

async fn start(pool: &PgPool) -> Api {
    LIMITS
        .install()
        .expect("every test here installs the same limits");
    Api::start(pool).await
}

fn addr(api: &Api) -> SocketAddr {
    api.base
        .trim_start_matches("http://")
        .parse()
        .expect("an address")
}

fn register_body(first_name: &str) -> String {
    json!({ "email": "alice@example.com", "first_name": first_name, "last_name": "Test" })
        .to_string()
}

/// Writes `request` while reading the answer, as a client that does not wait for the
/// server to read everything it sends. Returns the answer's status line and the rest.
async fn raw(addr: SocketAddr, request: Vec<u8>) -> String {
    let stream = TcpStream::connect(addr).await.expect("a connection");
    let (mut reader, mut writer) = stream.into_split();
    // The server may answer and close before it has read it all: write errors are fine.
    let writing = tokio::spawn(async move { writer.write_all(&request).await });
    let mut answer = Vec::new();
    let read = timeout(DEADLINE, reader.read_to_end(&mut answer)).await;
    writing.abort();
    let _ = read.expect("an answer in time");
    String::from_utf8_lossy(&answer).into_owned()
}

fn post(path: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\ncontent-type: application/json\r\nauthorization: Bearer {}\r\n{headers}content-length: {}\r\n\r\n",
        token("alice"),
        body.len()
    );
    [head.as_bytes(), body].concat()
}

fn status_line_code(answer: &str) -> u16 {
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"))
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn every_hostile_token_gets_401_and_appends_nothing(pool: PgPool) {
    LIMITS
        .install()
        .expect("every test here installs the same limits");
    let config = command_api::Config {
        addr: "127.0.0.1:0".parse().expect("an address"),
    };
    let app = command_api::build(config, pool.clone(), hostile_suite::verifier().await)
        .await
        .expect("the command API binds");
    let url = format!("http://{}{REGISTER}", app.local_addr());
    tokio::spawn(app.run(std::future::pending()));
    let http = reqwest::Client::new();
    let send = |token: &str| {
        http.post(&url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(register_body("Mallory"))
            .send()
    };
    for case in hostile_suite::refused() {
        hostile_suite::assert_refused(send(&case.token).await.expect("an answer"), &case).await;
    }
    assert_eq!(
        event_count(&pool).await,
        0,
        "a refused token appended events"
    );
    for case in hostile_suite::valid() {
        let answer = send(&case.token).await.expect("an answer");
        assert_eq!(answer.status(), 200, "{}", case.name);
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_one_mebibyte_body_gets_413_and_appends_nothing(pool: PgPool) {
    let api = start(&pool).await;
    let body = register_body(&"a".repeat(1024 * 1024));
    let answer = raw(addr(&api), post(REGISTER, "", body.as_bytes())).await;
    assert_eq!(status_line_code(&answer), 413, "{answer}");
    assert!(
        answer.contains(r#""code":"request.body_too_large""#),
        "{answer}"
    );
    assert_eq!(event_count(&pool).await, 0);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn deeply_nested_json_gets_a_4xx_with_a_stable_code_quickly_and_appends_nothing(
    pool: PgPool,
) {
    let api = start(&pool).await;
    // Just under the body limit: the parser's depth limit answers, not the size limit.
    let nested = "[".repeat(60_000);
    let started = Instant::now();
    let (status, answer) = api.post(Some("alice"), REGISTER, &nested).await;
    assert_eq!(
        (status.as_u16(), code(&answer)),
        (400, "request.malformed_json"),
        "{answer}"
    );
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("recursion limit")),
        "{answer}"
    );
    // Over the limit (100,000 brackets): refused before parsing.
    let (status, answer) = api
        .post(Some("alice"), REGISTER, &"[".repeat(100_000))
        .await;
    assert_eq!(
        (status.as_u16(), code(&answer)),
        (413, "request.body_too_large")
    );
    assert!(started.elapsed() < DEADLINE, "{:?}", started.elapsed());
    assert_eq!(event_count(&pool).await, 0);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn invalid_utf8_in_a_json_string_gets_400_and_appends_nothing(pool: PgPool) {
    let api = start(&pool).await;
    let mut body = br#"{"email": "alice@example.com", "first_name": "Al"#.to_vec();
    body.extend([0xff, 0xfe]);
    body.extend(br#"ce", "last_name": "Test"}"#);
    let answer = raw(addr(&api), post(REGISTER, "", &body)).await;
    assert_eq!(status_line_code(&answer), 400, "{answer}");
    assert!(
        answer.contains(r#""code":"request.malformed_json""#),
        "{answer}"
    );
    assert_eq!(event_count(&pool).await, 0);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn huge_headers_and_query_strings_get_a_4xx_not_a_5xx(pool: PgPool) {
    let api = start(&pool).await;
    let body = register_body("Alice");
    let huge_header = format!("x-padding: {}\r\n", "a".repeat(1024 * 1024));
    let many_headers: String = (0..200).map(|i| format!("x-h{i}: {i}\r\n")).collect();
    let huge_query = format!("{REGISTER}?q={}", "a".repeat(1024 * 1024));
    let long_query = format!("{REGISTER}?q={}", "a".repeat(60 * 1024));
    // hyper refuses a head over its buffer (about 400 KB) or with over 100 headers
    // before the service sees it; a long query string under that reaches the handler,
    // which answers as it would without it (here: the body `[` is not JSON).
    let requests = [
        (
            "a 1 MiB header",
            431,
            post(REGISTER, &huge_header, body.as_bytes()),
        ),
        (
            "200 headers",
            431,
            post(REGISTER, &many_headers, body.as_bytes()),
        ),
        (
            "a 1 MiB query string",
            431,
            post(&huge_query, "", body.as_bytes()),
        ),
        ("a 60 KiB query string", 400, post(&long_query, "", b"[")),
    ];
    for (what, expected, request) in requests {
        let answer = raw(addr(&api), request).await;
        assert_eq!(status_line_code(&answer), expected, "{what}: {answer}");
    }
    assert_eq!(event_count(&pool).await, 0);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_command_sent_a_byte_a_second_gets_408_while_others_are_served(pool: PgPool) {
    let api = start(&pool).await;
    let request = post(REGISTER, "", register_body("Slow").as_bytes());
    let (head, body) = request.split_at(request.len() - register_body("Slow").len());
    let stream = TcpStream::connect(addr(&api)).await.expect("a connection");
    let (mut reader, mut writer) = stream.into_split();
    writer.write_all(head).await.expect("the head sent");
    let body = body.to_vec();
    let dribbling = tokio::spawn(async move {
        for byte in body {
            sleep(Duration::from_millis(250)).await;
            if writer.write_all(&[byte]).await.is_err() {
                return;
            }
        }
    });

    let (status, answer) = api.post(Some("bob"), REGISTER, &register_body("Bob")).await;
    assert_eq!(status, 200, "{answer}");
    let after_bob = event_count(&pool).await;

    let mut answer = Vec::new();
    let read = timeout(DEADLINE, reader.read_to_end(&mut answer)).await;
    dribbling.abort();
    assert!(read.is_ok(), "the slow client was not cut off");
    let answer = String::from_utf8_lossy(&answer);
    assert_eq!(status_line_code(&answer), 408, "{answer}");
    assert!(answer.contains(r#""code":"request.timeout""#), "{answer}");
    assert_eq!(
        event_count(&pool).await,
        after_bob,
        "the cut-off command appended"
    );
}
