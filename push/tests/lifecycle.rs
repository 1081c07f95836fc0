//! How sockets end: shutdown, oversized frames, a lost subscription, dead peers, and a
//! client's own Close.

#![allow(clippy::unwrap_used, reason = "a test may fail by panicking")]

mod common;

use sqlx::PgPool;

use std::time::Duration;

use common::{expect_close, next_json, next_message, notice, notice_frame, send_text, PATIENCE};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn on_shutdown_a_connected_client_receives_close_1001(pool: PgPool) {
    let mut service = common::start(&pool).await;
    let mut ws = service.connect("alice").await;

    let client = async {
        let close = expect_close(&mut ws).await;
        expect_end(&mut ws).await;
        close
    };
    let (stopped, close) = tokio::join!(service.shut_down(), client);

    assert_eq!(close.code, CloseCode::Away);
    stopped.unwrap();
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_message_within_the_limit_is_ignored_and_one_over_it_closes_with_1009(pool: PgPool) {
    let service = common::start_with(&pool, |config| push::Config {
        max_message_bytes: 1024,
        ..config
    })
    .await;
    let mut ws = service.connect("alice").await;

    send_text(&mut ws, "x".repeat(1024)).await;
    let sent = notice(1, "still.open");
    service.publish("alice", &sent).await;
    assert_eq!(next_json(&mut ws).await, notice_frame(&sent));

    send_text(&mut ws, "x".repeat(1025)).await;
    assert_eq!(expect_close(&mut ws).await.code, CloseCode::Size);
    expect_end(&mut ws).await;
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_default_limit_is_sixteen_kibibytes(pool: PgPool) {
    let service = common::start(&pool).await;
    let mut ws = service.connect("alice").await;

    send_text(&mut ws, "x".repeat(16 * 1024 + 1)).await;

    assert_eq!(expect_close(&mut ws).await.code, CloseCode::Size);
    expect_end(&mut ws).await;
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn when_the_notice_subscription_ends_the_socket_closes_with_1011_try_again(pool: PgPool) {
    let service = common::start(&pool).await;
    let mut ws = service.connect("alice").await;

    service.service_nats.drain().await.unwrap();

    let close = expect_close(&mut ws).await;
    assert_eq!(close.code, CloseCode::Error);
    assert_eq!(close.reason.as_str(), "try again");
    expect_end(&mut ws).await;
}

/// Core NATS keeps nothing for a subscriber that is away: after a break, the node closes
/// its sockets so that their clients recover what they missed from the history.
#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn when_nats_comes_back_after_a_break_sockets_close_and_recover_what_they_missed(
    pool: PgPool,
) {
    let mut service = common::start(&pool).await;
    let (since, tx) = common::insert_event(&pool).await;
    let mut ws = service.connect("alice").await;
    let nats = service.nats.as_mut().expect("the service's own NATS");

    nats.stop();
    let missed = common::notice_at(tx + 1, since + 1, "told.while.away");
    common::store_notice(&pool, "alice", &missed).await;
    nats.resume().expect("NATS starts again");

    let close = expect_close(&mut ws).await;
    assert_eq!(
        (close.code, close.reason.as_str()),
        (CloseCode::Error, "try again")
    );
    let mut ws = service.reconnect("alice", since).await;
    assert_eq!(
        common::frames_until_ready(&mut ws).await,
        [notice_frame(&missed), common::ready("alice")]
    );
}

/// A loss of the NATS connection is acted on as the client reports it, not at the next
/// look at its state: with the state looked at only once an hour, a socket open across
/// an outage shorter than any look is still closed, before a notice published once NATS
/// is back could reach it (its client would then reconnect past what was missed).
#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_socket_open_across_a_brief_nats_outage_closes_before_any_later_notice(pool: PgPool) {
    let mut service = common::start_with(&pool, |config| push::Config {
        broker_watch_interval: Duration::from_secs(3600),
        ..config
    })
    .await;
    let mut ws = service.connect("alice").await;
    let nats = service.nats.as_mut().expect("the service's own NATS");

    nats.stop();
    nats.resume().expect("NATS starts again");
    service
        .publish("alice", &notice(1, "after.the.outage"))
        .await;

    let close = expect_close(&mut ws).await;
    assert_eq!(
        (close.code, close.reason.as_str()),
        (CloseCode::Error, "try again")
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_client_that_answers_pings_stays_connected(pool: PgPool) {
    let service = common::start_with(&pool, |config| push::Config {
        ping_interval: Duration::from_millis(50),
        idle_timeout: Duration::from_millis(120),
        ..config
    })
    .await;
    let mut ws = service.connect("alice").await;

    // tungstenite answers each ping with a pong as it reads; five pings span more
    // than the idle timeout.
    for _ in 0..5 {
        assert!(matches!(next_message(&mut ws).await, Message::Ping(_)));
    }
    let sent = notice(1, "still.here");
    service.publish("alice", &sent).await;
    assert_eq!(next_json(&mut ws).await, notice_frame(&sent));
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_silent_client_is_dropped_after_the_idle_timeout(pool: PgPool) {
    let service = common::start_with(&pool, |config| push::Config {
        ping_interval: Duration::from_millis(50),
        idle_timeout: Duration::from_millis(150),
        ..config
    })
    .await;
    let mut tcp = TcpStream::connect(service.addr).await.unwrap();
    tcp.write_all(raw_upgrade(&service.addr, "alice").as_bytes())
        .await
        .unwrap();

    // Never answers anything: the server must end the connection by itself.
    let mut received = Vec::new();
    tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut received))
        .await
        .expect("the server drops the silent client")
        .unwrap();

    assert!(received.starts_with(b"HTTP/1.1 101"));
    let ping = [0x89, 0x00];
    assert!(received.windows(2).any(|w| w == ping), "pinged first");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_client_that_sends_its_own_pings_gets_pongs_and_stays_connected(pool: PgPool) {
    let service = common::start_with(&pool, |config| push::Config {
        ping_interval: Duration::from_secs(30),
        idle_timeout: Duration::from_millis(300),
        ..config
    })
    .await;
    let mut ws = service.connect("alice").await;

    // The server does not ping in this time: only the client's own pings, paced as a
    // client's heartbeat, keep it alive for more than three idle timeouts.
    let mut heartbeat = tokio::time::interval(Duration::from_millis(100));
    for _ in 0..10 {
        heartbeat.tick().await;
        send_text(&mut ws, r#"{"type":"ping"}"#.to_owned()).await;
        assert_eq!(
            next_json(&mut ws).await,
            serde_json::json!({"type": "pong"})
        );
    }
    let sent = notice(1, "still.here");
    service.publish("alice", &sent).await;
    assert_eq!(next_json(&mut ws).await, notice_frame(&sent));
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_close_from_the_client_is_answered_and_ends_the_session(pool: PgPool) {
    let service = common::start(&pool).await;
    let mut ws = service.connect("alice").await;

    let bye = CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    };
    ws.send(Message::Close(Some(bye))).await.unwrap();

    assert_eq!(expect_close(&mut ws).await.code, CloseCode::Normal);
    expect_end(&mut ws).await;
}

/// Reads on after the Close frame (which lets the client answer it) until the server
/// ends the connection.
async fn expect_end(ws: &mut common::Ws) {
    let end = tokio::time::timeout(PATIENCE, ws.next())
        .await
        .expect("the server ends the connection in time");
    assert!(end.is_none(), "nothing after the Close frame: {end:?}");
}

/// A WebSocket upgrade request for `user_id`, as raw HTTP.
fn raw_upgrade(addr: &std::net::SocketAddr, user_id: &str) -> String {
    format!(
        "GET /v1/ws?token={} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        common::token(user_id)
    )
}
