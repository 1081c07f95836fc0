//! Notices reach the sockets of their user, and only theirs.

#![allow(clippy::unwrap_used, reason = "a test may fail by panicking")]

mod common;

use sqlx::PgPool;

use common::{next_json, notice, notice_frame};

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_socket_receives_ready_then_a_notice_of_its_user_intact(pool: PgPool) {
    let service = common::start(&pool).await;
    let mut ws = service.connect("alice").await;

    let sent = notice(42, "friend_request.received");
    service.publish("alice", &sent).await;

    assert_eq!(next_json(&mut ws).await, notice_frame(&sent));
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_socket_never_receives_the_notices_of_another_user(pool: PgPool) {
    let service = common::start(&pool).await;
    let mut alice = service.connect("alice").await;

    service.publish("bob", &notice(1, "for.bob")).await;
    let for_alice = notice(2, "for.alice");
    service.publish("alice", &for_alice).await;

    // Published in this order on one connection: Bob's would have come first.
    assert_eq!(next_json(&mut alice).await, notice_frame(&for_alice));
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn every_socket_of_a_user_receives_the_notice(pool: PgPool) {
    let service = common::start(&pool).await;
    let mut first = service.connect("alice").await;
    let mut second = service.connect("alice").await;

    let sent = notice(5, "message.received");
    service.publish("alice", &sent).await;

    assert_eq!(next_json(&mut first).await, notice_frame(&sent));
    assert_eq!(next_json(&mut second).await, notice_frame(&sent));
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_malformed_notice_is_skipped_and_the_next_one_delivered(pool: PgPool) {
    let service = common::start(&pool).await;
    let mut ws = service.connect("alice").await;

    service.publish_raw("alice", b"{not json".to_vec()).await;
    service
        .publish_raw("alice", br#"{"position":"one"}"#.to_vec())
        .await;
    let valid = notice(3, "user.registered");
    service.publish("alice", &valid).await;

    assert_eq!(next_json(&mut ws).await, notice_frame(&valid));
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_user_id_that_looks_like_a_wildcard_receives_only_its_own_notices(pool: PgPool) {
    let service = common::start(&pool).await;
    let mut ws = service.connect(">").await;

    service.publish("bob", &notice(1, "for.bob")).await;
    let sent = notice(2, "for.wildcard");
    service.publish(">", &sent).await;

    assert_eq!(next_json(&mut ws).await, notice_frame(&sent));
}
