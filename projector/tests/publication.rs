//! Publishing stored notices: what a dead leader or a NATS outage left unpublished is
//! published later, in feed order, and nothing stored is skipped.

use std::time::Duration;

use event_store::Cursor;
use futures::StreamExt;
use projector::notices::{self, Publication};
use serde_json::{json, Value};
use sqlx::PgPool;
use testkit::TestNats;

fn at(position: i64) -> Cursor {
    Cursor {
        tx_id: 1000 + position as u64,
        position,
    }
}

/// Stores a notice for `user` at `position`, as a committed batch would.
async fn stored(pool: &PgPool, user: &str, position: i64) {
    sqlx::query(
        "INSERT INTO user_notices (user_id, tx_id, position, kind, data)
         VALUES ($1, $2::bigint::text::xid8, $3, 'test.notice', '{}')",
    )
    .bind(user)
    .bind(at(position).tx_id as i64)
    .bind(position)
    .execute(pool)
    .await
    .expect("notice stored");
}

async fn set_mark(pool: &PgPool, cursor: Cursor) {
    sqlx::query(
        "INSERT INTO notice_publication (projection, tx_id, position)
         VALUES ($1, $2::bigint::text::xid8, $3)",
    )
    .bind(notices::NAME)
    .bind(cursor.tx_id as i64)
    .bind(cursor.position)
    .execute(pool)
    .await
    .expect("mark set");
}

async fn mark(pool: &PgPool) -> Option<i64> {
    sqlx::query_scalar("SELECT position FROM notice_publication WHERE projection = $1")
        .bind(notices::NAME)
        .fetch_optional(pool)
        .await
        .expect("mark read")
}

/// The positions of the next `n` notices `subscriber` receives (bounded wait).
async fn positions(subscriber: &mut async_nats::Subscriber, n: usize) -> Vec<i64> {
    let mut seen = Vec::new();
    while seen.len() < n {
        let message = tokio::time::timeout(Duration::from_secs(10), subscriber.next())
            .await
            .expect("a notice within 10 s")
            .expect("the subscription stays open");
        let notice: Value = serde_json::from_slice(&message.payload).expect("a JSON notice");
        seen.push(notice["position"].as_i64().expect("a position"));
    }
    seen
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_new_leader_publishes_what_the_dead_one_stored_but_never_published(pool: PgPool) {
    let nats_server = TestNats::start().expect("nats");
    let nats = async_nats::connect(nats_server.url())
        .await
        .expect("connect");
    let mut ann = nats.subscribe("notices.ann").await.expect("subscribe");
    let mut bob = nats.subscribe("notices.bob").await.expect("subscribe");
    nats.flush().await.expect("flush");
    // Published up to 2; the batches up to 5 committed, then their leader died.
    set_mark(&pool, at(2)).await;
    for (user, position) in [("ann", 1), ("ann", 3), ("bob", 4), ("ann", 5)] {
        stored(&pool, user, position).await;
    }

    Publication::resume(&pool, &nats, notices::NAME, at(5)).await;

    assert_eq!(positions(&mut ann, 2).await, [3, 5]);
    assert_eq!(positions(&mut bob, 1).await, [4]);
    assert_eq!(mark(&pool).await, Some(5));
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn notices_not_published_during_an_outage_go_out_with_the_next_batch(pool: PgPool) {
    let mut nats_server = TestNats::start().expect("nats");
    let publisher = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(nats_server.url())
        .await
        .expect("connect");
    let mut publication = Publication::resume(&pool, &publisher, notices::NAME, at(0)).await;
    assert_eq!(mark(&pool).await, None, "nothing published yet");

    nats_server.stop();
    stored(&pool, "ann", 1).await;
    publication
        .committed(&pool, &publisher, vec![addressed("ann", 1)], at(1))
        .await;
    assert_eq!(mark(&pool).await, None, "the mark stays before what failed");

    nats_server.resume().expect("nats again");
    let listener = async_nats::connect(nats_server.url())
        .await
        .expect("connect");
    let mut ann = listener.subscribe("notices.ann").await.expect("subscribe");
    listener.flush().await.expect("flush");
    stored(&pool, "ann", 2).await;
    // The publisher reconnects by itself; until it has, this batch fails too.
    for _ in 0..50 {
        publication
            .committed(&pool, &publisher, vec![addressed("ann", 2)], at(2))
            .await;
        if mark(&pool).await == Some(2) {
            break;
        }
    }
    assert_eq!(mark(&pool).await, Some(2), "published once NATS is back");
    // Both notices, in feed order. The client may also deliver its buffered copy of the
    // first once it reconnects: a copy, which the push service drops.
    let mut received = Vec::new();
    while received.last() != Some(&2) {
        received.extend(positions(&mut ann, 1).await);
    }
    assert!(received.is_sorted(), "out of feed order: {received:?}");
    received.dedup();
    assert_eq!(received, [1, 2]);
}

fn addressed(user: &str, position: i64) -> event_bus::Addressed {
    event_bus::Addressed {
        user_id: user.to_owned(),
        notice: event_bus::Notice {
            position,
            tx_id: at(position).tx_id,
            kind: "test.notice".to_owned(),
            data: json!({}),
        },
    }
}
