//! A slow client never slows the others: its own queue overflows and it is closed with
//! `4008`, having received a gapless prefix of its notices.

#![allow(clippy::unwrap_used, reason = "a test may fail by panicking")]

mod common;

use std::time::{Duration, Instant};

use common::{expect_ready, next_json, next_message, notice, notice_frame, Service, Ws, PATIENCE};
use event_bus::Notice;
use sqlx::PgPool;
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::MaybeTlsStream;

/// Notices for the slow client: together far more than socket buffers and its queue hold.
const BURST: i64 = 200;

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_client_that_stops_reading_is_closed_with_4008_while_others_receive_promptly(
    pool: PgPool,
) {
    let service = common::start_with(&pool, |config| push::Config {
        queue_frames: 16,
        ..config
    })
    .await;
    let mut slow = connect_with_a_small_window(&service, "alice").await;
    let mut prompt = service.connect("bob").await;

    let mut slowest = Duration::ZERO;
    for n in 0..BURST {
        service.publish("alice", &big_notice(n)).await;
        if n % 10 == 0 {
            let sent = notice(n, "for.bob");
            let started = Instant::now();
            service.publish("bob", &sent).await;
            assert_eq!(next_json(&mut prompt).await, notice_frame(&sent));
            slowest = slowest.max(started.elapsed());
        }
    }
    assert!(slowest < Duration::from_secs(1), "bob waited {slowest:?}");

    // Alice reads at last: a prefix of her notices, in order, then the Close frame.
    let (positions, close) = read_until_close(&mut slow).await;
    assert_eq!(u16::from(close.code), push::frame::TOO_SLOW);
    assert_eq!(close.reason.as_str(), "too slow: reconnect with since");
    assert!(positions.len() < BURST as usize, "alice was never too slow");
    let gapless: Vec<i64> = (0..positions.len() as i64).collect();
    assert_eq!(positions, gapless);
}

/// A socket whose receive window is small, so that the server's writes block soon once
/// the client stops reading; it has read `ready`.
async fn connect_with_a_small_window(service: &Service, user_id: &str) -> Ws {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(service.addr).await.unwrap();
    let url = format!("{}?token={}", service.ws_url(), common::token(user_id));
    let (mut ws, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(tcp))
        .await
        .unwrap();
    expect_ready(&mut ws, user_id).await;
    ws
}

fn big_notice(position: i64) -> Notice {
    Notice {
        data: serde_json::json!({ "filler": "x".repeat(64 * 1024) }),
        ..notice(position, "big")
    }
}

/// The positions of the notices received before the Close frame, and the Close frame.
async fn read_until_close(
    ws: &mut Ws,
) -> (
    Vec<i64>,
    tokio_tungstenite::tungstenite::protocol::CloseFrame,
) {
    let deadline = Instant::now() + PATIENCE * 4;
    let mut positions = Vec::new();
    while Instant::now() < deadline {
        match next_message(ws).await {
            Message::Text(text) => {
                let frame: serde_json::Value = serde_json::from_str(&text).unwrap();
                positions.push(frame["position"].as_i64().unwrap());
            }
            Message::Close(Some(close)) => return (positions, close),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
    panic!("no Close frame after {} notices", positions.len());
}

#[test]
fn the_close_code_is_4008() {
    assert_eq!(
        CloseCode::from(push::frame::TOO_SLOW),
        CloseCode::Library(4008)
    );
}
