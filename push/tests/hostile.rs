//! Hostile input against the real push service: every token of the hostile suite is
//! refused before the WebSocket upgrade, and the HTTP timeouts that cut off slow clients
//! never close a socket once it is upgraded.

#![allow(clippy::unwrap_used, reason = "a test may fail by panicking")]

mod common;
#[path = "../../auth/tests/hostile_suite/mod.rs"]
mod hostile_suite;

use std::time::Duration;

use common::{next_json, notice, notice_frame, upgrade_request, PATIENCE};
use http_api::Limits;
use sqlx::PgPool;
use testkit::TestNats;

/// Short HTTP timeouts, installed as `pagenow` installs the configured ones.
const LIMITS: Limits = Limits {
    header_read_timeout: Duration::from_secs(1),
    body_read_timeout: Duration::from_secs(1),
    max_connections: 1_000,
};

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn every_hostile_token_is_refused_before_the_upgrade(pool: PgPool) {
    LIMITS
        .install()
        .expect("every test here installs the same limits");
    let nats = TestNats::start().unwrap();
    let (client, losses) = event_bus::Losses::connect(&nats.url(), Default::default())
        .await
        .unwrap();
    let config = push::Config::new("127.0.0.1:0".parse().unwrap());
    let app = push::build(
        config,
        pool,
        client,
        losses,
        hostile_suite::verifier().await,
    )
    .await
    .unwrap();
    let url = format!("ws://{}/v1/ws", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(app.run(async move {
        let _ = stopped.await;
    }));

    for case in hostile_suite::refused() {
        let in_query = upgrade_request(&format!("{url}?token={}", case.token)).await;
        assert!(in_query.headers().get("upgrade").is_none(), "{}", case.name);
        hostile_suite::assert_refused(in_query, &case).await;
        let in_header = reqwest::Client::new()
            .get(url.replacen("ws://", "http://", 1))
            .bearer_auth(&case.token)
            .header("connection", "Upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .send()
            .await
            .unwrap();
        hostile_suite::assert_refused(in_header, &case).await;
    }
    for case in hostile_suite::valid() {
        let upgraded =
            tokio_tungstenite::connect_async(format!("{url}?token={}", case.token)).await;
        let (mut ws, _) = upgraded.unwrap_or_else(|e| panic!("{}: {e}", case.name));
        ws.close(None).await.unwrap();
    }
    let _ = stop.send(());
    tokio::time::timeout(PATIENCE, served)
        .await
        .expect("the service stops")
        .unwrap()
        .unwrap();
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn an_idle_socket_outlives_the_http_timeouts_and_still_receives(pool: PgPool) {
    LIMITS
        .install()
        .expect("every test here installs the same limits");
    let service = common::start(&pool).await;
    let mut ws = service.connect("alice").await;
    // Idle for three times the header and body timeouts: a whole-request timeout, or a
    // read timeout applied after the upgrade, would have closed it by now.
    tokio::time::sleep(LIMITS.header_read_timeout * 3).await;
    let sent = notice(1, "after.idling");
    service.publish("alice", &sent).await;
    assert_eq!(next_json(&mut ws).await, notice_frame(&sent));
}
