//! Slow and silent clients against `http_api::serve` with the standard layers: they are
//! cut off within the configured timeouts, and while they dribble, other requests,
//! long handlers and WebSockets are served.
//!
//! The limits here are a second or a few; clients sleep between the bytes they dribble
//! (that is what a slow client is). Everything else waits with a bound.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::routing::{get, post};
use axum::Router;
use futures::{SinkExt, StreamExt};
use http_api::{Json, Limits};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Far longer than any limit here: a test that has not seen what it expects by then fails.
const DEADLINE: Duration = Duration::from_secs(20);
/// The gap between two bytes of a slow client.
const GAP: Duration = Duration::from_millis(250);

fn limits(timeout: Duration, max_connections: usize) -> Limits {
    Limits {
        header_read_timeout: timeout,
        body_read_timeout: timeout,
        max_connections,
    }
}

fn router(handler_wait: Duration) -> Router {
    let routes = Router::new()
        .route("/ping", get(|| async { "pong" }))
        .route("/echo", post(|Json(v): Json<Value>| async move { Json(v) }))
        .route(
            "/wait",
            get(move || async move {
                sleep(handler_wait).await;
                "waited"
            }),
        )
        .route(
            "/ws",
            get(|ws: WebSocketUpgrade| async { ws.on_upgrade(echo) }),
        );
    http_api::layers::standard(routes)
}

async fn echo(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        if socket.send(message).await.is_err() {
            return;
        }
    }
}

struct Server {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

async fn start(limits: Limits) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let addr = listener.local_addr().expect("an address");
    let (stop, stopped) = oneshot::channel::<()>();
    let served = http_api::serve(listener, router(limits.body_read_timeout * 3))
        .limits(limits)
        .with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
    Server {
        addr,
        stop,
        task: tokio::spawn(served),
    }
}

/// How the server ended a connection.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    /// It answered (the status line and the rest).
    Answered(String),
    /// It closed the connection without answering.
    Closed,
}

impl Ending {
    fn status(&self) -> Option<&str> {
        match self {
            Ending::Answered(text) => text.split(' ').nth(1),
            Ending::Closed => None,
        }
    }
}

/// Sends `first` at once, then `rest` a byte every [`GAP`], while reading; returns how
/// the server ended the exchange. `connected` is counted once the connection is open.
async fn dribble(addr: SocketAddr, first: &[u8], rest: &[u8], connected: &AtomicUsize) -> Ending {
    let stream = TcpStream::connect(addr).await.expect("a connection");
    connected.fetch_add(1, Ordering::SeqCst);
    let (mut reader, mut writer) = stream.into_split();
    let (first, rest) = (first.to_vec(), rest.to_vec());
    let writing = tokio::spawn(async move {
        writer.write_all(&first).await?;
        for byte in rest {
            sleep(GAP).await;
            writer.write_all(&[byte]).await?;
        }
        // Keep the write side open: closing it would end the request early.
        std::future::pending::<()>().await;
        Ok::<_, std::io::Error>(writer)
    });
    let ending = read_ending(&mut reader).await;
    writing.abort();
    ending
}

async fn read_ending(reader: &mut (impl AsyncReadExt + Unpin)) -> Ending {
    let mut answer = Vec::new();
    let read = timeout(DEADLINE, reader.read_to_end(&mut answer)).await;
    assert!(
        read.is_ok(),
        "the server neither answered nor closed within {DEADLINE:?}"
    );
    match answer.is_empty() {
        true => Ending::Closed,
        false => Ending::Answered(String::from_utf8_lossy(&answer).into_owned()),
    }
}

/// A request line and headers that take a slow client many seconds to send.
fn slow_head() -> Vec<u8> {
    format!(
        "GET /ping HTTP/1.1\r\nhost: test\r\nx-padding: {}\r\n\r\n",
        "a".repeat(60)
    )
    .into_bytes()
}

/// A head sent at once, announcing a body a slow client takes many seconds to send.
fn head_of_a_slow_body() -> (Vec<u8>, Vec<u8>) {
    let body = format!("{{\"padding\": \"{}\"}}", "a".repeat(60)).into_bytes();
    let head = format!(
        "POST /echo HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    (head.into_bytes(), body)
}

#[tokio::test]
async fn a_client_that_sends_its_headers_a_byte_at_a_time_is_disconnected_at_the_header_timeout() {
    let server = start(limits(Duration::from_secs(1), 100)).await;
    let started = Instant::now();
    let ending = dribble(server.addr, b"", &slow_head(), &AtomicUsize::new(0)).await;
    assert!(
        ending == Ending::Closed || ending.status() == Some("408"),
        "{ending:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(slow_head().len() as u64) / 4,
        "cut off only after {:?}, when the head was nearly sent",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_at_the_header_timeout() {
    let server = start(limits(Duration::from_secs(1), 100)).await;
    let ending = dribble(server.addr, b"", b"", &AtomicUsize::new(0)).await;
    assert_eq!(ending, Ending::Closed);
}

#[tokio::test]
async fn a_client_that_sends_its_body_a_byte_at_a_time_gets_408_at_the_body_timeout() {
    let server = start(limits(Duration::from_secs(1), 100)).await;
    let (head, body) = head_of_a_slow_body();
    let ending = dribble(server.addr, &head, &body, &AtomicUsize::new(0)).await;
    assert_eq!(ending.status(), Some("408"), "{ending:?}");
    let Ending::Answered(text) = ending else {
        unreachable!()
    };
    assert!(text.contains(r#""code":"request.timeout""#), "{text}");
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_refused_before_it_is_sent() {
    let server = start(limits(Duration::from_secs(5), 100)).await;
    let head = "POST /echo HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: 1048576\r\n\r\n";
    let ending = dribble(server.addr, head.as_bytes(), b"", &AtomicUsize::new(0)).await;
    assert_eq!(ending.status(), Some("413"), "{ending:?}");
    let Ending::Answered(text) = ending else {
        unreachable!()
    };
    assert!(
        text.contains(r#""code":"request.body_too_large""#),
        "{text}"
    );
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_refused_with_413() {
    let server = start(limits(Duration::from_secs(5), 100)).await;
    let chunk = "a".repeat(70 * 1024);
    let request = format!(
        "POST /echo HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n",
        chunk.len()
    );
    let ending = dribble(server.addr, request.as_bytes(), b"", &AtomicUsize::new(0)).await;
    assert_eq!(ending.status(), Some("413"), "{ending:?}");
}

#[tokio::test]
async fn two_hundred_slow_clients_do_not_hold_up_other_requests_and_are_all_cut_off() {
    let limit = Duration::from_secs(3);
    let server = start(limits(limit, 1_000)).await;
    let connected = Arc::new(AtomicUsize::new(0));
    let still_dribbling = Arc::new(AtomicUsize::new(200));
    let mut slow = Vec::new();
    for i in 0..200 {
        let (addr, connected) = (server.addr, Arc::clone(&connected));
        let still_dribbling = Arc::clone(&still_dribbling);
        slow.push(tokio::spawn(async move {
            let ending = match i % 2 {
                0 => dribble(addr, b"", &slow_head(), &connected).await,
                _ => {
                    let (head, body) = head_of_a_slow_body();
                    dribble(addr, &head, &body, &connected).await
                }
            };
            still_dribbling.fetch_sub(1, Ordering::SeqCst);
            ending
        }));
    }
    let all_connected = timeout(DEADLINE, async {
        while connected.load(Ordering::SeqCst) < 200 {
            sleep(Duration::from_millis(10)).await;
        }
    });
    assert!(
        all_connected.await.is_ok(),
        "the slow clients could not connect"
    );

    let client = reqwest::Client::builder()
        .timeout(DEADLINE)
        .build()
        .expect("a client");
    let base = format!("http://{}", server.addr);
    let pong = client.get(format!("{base}/ping")).send().await;
    let echoed = client
        .post(format!("{base}/echo"))
        .json(&serde_json::json!({ "hello": "world" }))
        .send()
        .await;
    let dribbling = still_dribbling.load(Ordering::SeqCst);
    assert_eq!(pong.expect("an answer to /ping").status(), 200);
    assert_eq!(echoed.expect("an answer to /echo").status(), 200);
    assert!(
        dribbling > 0,
        "every slow client was already cut off: the check proves nothing"
    );

    for (i, handle) in slow.into_iter().enumerate() {
        let ending = handle.await.expect("a slow client");
        let cut_off = match i % 2 {
            0 => ending == Ending::Closed || ending.status() == Some("408"),
            _ => ending.status() == Some("408"),
        };
        assert!(cut_off, "slow client {i}: {ending:?}");
    }
}

#[tokio::test]
async fn past_the_connection_cap_a_request_waits_for_a_slot_instead_of_failing() {
    let server = start(limits(Duration::from_secs(1), 10)).await;
    let connected = Arc::new(AtomicUsize::new(0));
    let silent: Vec<_> = (0..10)
        .map(|_| {
            let (addr, connected) = (server.addr, Arc::clone(&connected));
            tokio::spawn(async move {
                dribble(addr, b"", b"", &connected).await;
                Instant::now()
            })
        })
        .collect();
    let all_connected = timeout(DEADLINE, async {
        while connected.load(Ordering::SeqCst) < 10 {
            sleep(Duration::from_millis(10)).await;
        }
    });
    assert!(
        all_connected.await.is_ok(),
        "the silent clients could not connect"
    );

    let answer = reqwest::Client::builder()
        .timeout(DEADLINE)
        .build()
        .expect("a client")
        .get(format!("http://{}/ping", server.addr))
        .send()
        .await
        .expect("an answer once a slot is free");
    let answered = Instant::now();
    assert_eq!(answer.status(), 200);
    let mut first_freed = None::<Instant>;
    for handle in silent {
        let closed = handle.await.expect("a silent client");
        first_freed = Some(first_freed.map_or(closed, |f| f.min(closed)));
    }
    let first_freed = first_freed.expect("ten silent clients");
    assert!(
        first_freed <= answered,
        "the request was served while every slot was taken"
    );
}

#[tokio::test]
async fn a_websocket_stays_open_longer_than_the_timeouts() {
    let limit = Duration::from_secs(1);
    let server = start(limits(limit, 100)).await;
    let url = format!("ws://{}/ws", server.addr);
    let (mut socket, _) = timeout(DEADLINE, tokio_tungstenite::connect_async(url))
        .await
        .expect("an upgrade in time")
        .expect("an upgrade");
    for text in ["before", "after"] {
        socket
            .send(Message::text(text))
            .await
            .expect("a message sent");
        let echoed = timeout(DEADLINE, socket.next())
            .await
            .expect("an echo in time");
        let echoed = echoed.expect("an open socket").expect("a frame");
        assert_eq!(echoed, Message::text(text));
        // An idle socket, for three times the header and body timeouts.
        sleep(limit * 3).await;
    }
}

#[tokio::test]
async fn a_handler_may_take_longer_than_the_timeouts() {
    let server = start(limits(Duration::from_secs(1), 100)).await;
    let answer = reqwest::Client::builder()
        .timeout(DEADLINE)
        .build()
        .expect("a client")
        .get(format!("http://{}/wait", server.addr))
        .send()
        .await
        .expect("an answer");
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.expect("a body"), "waited");
}

#[tokio::test]
async fn a_graceful_shutdown_does_not_wait_for_a_slow_client() {
    let server = start(limits(Duration::from_secs(1), 100)).await;
    let connected = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connected);
    let addr = server.addr;
    let slow = tokio::spawn(async move { dribble(addr, b"", &slow_head(), &counted).await });
    let opened = timeout(DEADLINE, async {
        while connected.load(Ordering::SeqCst) < 1 {
            sleep(Duration::from_millis(10)).await;
        }
    });
    assert!(opened.await.is_ok(), "the slow client could not connect");
    let _ = server.stop.send(());
    let stopped = timeout(DEADLINE, server.task).await;
    let served = stopped.expect("the server stopped in time");
    assert!(served.expect("the server task").is_ok());
    slow.abort();
}
