//! Limits on sockets, per user and per node: above them the upgrade is refused with
//! `429` and a code, before any socket exists.

#![allow(clippy::unwrap_used, reason = "a test may fail by panicking")]

mod common;

use common::{upgrade_request, PATIENCE};
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_user_over_the_limit_is_refused_with_429_until_one_of_its_sockets_closes(pool: PgPool) {
    let service = common::start_with(&pool, |config| push::Config {
        max_sockets_per_user: 2,
        ..config
    })
    .await;
    let mut first = service.connect("alice").await;
    let _second = service.connect("alice").await;

    let refused = upgrade_request(&socket_url(&service, "alice")).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().get("upgrade").is_none());
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "push.too_many_sockets_for_user");
    let _bob = service.connect("bob").await;

    first.close(None).await.unwrap();
    let url = socket_url(&service, "alice");
    let mut again = testkit::eventually(PATIENCE, "a seat for alice again", || async {
        tokio_tungstenite::connect_async(&url).await.ok()
    })
    .await
    .0;
    common::expect_ready(&mut again, "alice").await;
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_full_node_refuses_anyone_with_429_node_full(pool: PgPool) {
    let service = common::start_with(&pool, |config| push::Config {
        max_sockets: 2,
        ..config
    })
    .await;
    let _alice = service.connect("alice").await;
    let _bob = service.connect("bob").await;

    let refused = upgrade_request(&socket_url(&service, "carol")).await;

    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "push.node_full");
}

fn socket_url(service: &common::Service, user_id: &str) -> String {
    format!("{}?token={}", service.ws_url(), common::token(user_id))
}
