//! Projection status: each reader's checkpoint and its lag in events and seconds, and a
//! feed held back by an open transaction.

mod support;

use std::time::Duration;

use audit::status::{ReaderKind, ReaderStatus};
use audit::{status, Status};
use event_store::{Cursor, FeedReader};
use sqlx::PgPool;
use support::{register, request, set_checkpoint, set_school};
use testkit::eventually;

fn reader<'a>(status: &'a Status, name: &str) -> &'a ReaderStatus {
    status
        .readers
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no reader {name}"))
}

async fn cursor_of(pool: &PgPool, position: i64) -> Cursor {
    FeedReader::new(pool.clone())
        .cursor_of(position)
        .await
        .expect("read")
        .expect("the event")
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn lag_counts_the_events_after_each_checkpoint_and_ages_the_oldest(pool: PgPool) {
    let registered = register(&pool, "ann", &request("ann", "r1")).await;
    let updated = set_school(&pool, "ann", "MIT", true, &request("ann", "r2")).await;
    // The policy event (ann's second) was recorded 90 seconds ago, the update now.
    sqlx::query(
        "UPDATE events SET recorded_at = now() - interval '90 seconds' WHERE position = $1",
    )
    .bind(registered[1])
    .execute(&pool)
    .await
    .expect("age");
    set_checkpoint(&pool, "users", cursor_of(&pool, registered[0]).await).await;
    set_checkpoint(&pool, "policies", cursor_of(&pool, updated).await).await;

    let status = status(&pool).await.expect("status");
    assert_eq!(status.store.last_committed, cursor_of(&pool, updated).await);
    let users = reader(&status, "users");
    assert_eq!(
        (users.kind, users.checkpoint.position, users.lag_events),
        (ReaderKind::Projection, registered[0], 2)
    );
    assert!((90.0..120.0).contains(&users.lag_seconds), "{users:?}");
    let policies = reader(&status, "policies");
    assert_eq!((policies.lag_events, policies.lag_seconds), (0, 0.0));
    let relay = reader(&status, "relay");
    assert_eq!(
        (relay.kind, relay.checkpoint, relay.lag_events),
        (ReaderKind::Relay, Cursor::START, 3)
    );
    assert_eq!(status.readers[0].name, "relay");
    assert_eq!(status.max_lag_events(), 3);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn an_open_transaction_shows_as_a_held_back_feed(pool: PgPool) {
    register(&pool, "ann", &request("ann", "r1")).await;
    let mut open = pool.begin().await.expect("begin");
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('note', 'n1', 1, 'note.written', '1', '{}', '{}')",
    )
    .execute(&mut *open)
    .await
    .expect("insert");
    let behind = set_school(&pool, "ann", "MIT", true, &request("ann", "r2")).await;

    let held = status(&pool).await.expect("status");
    assert_eq!(held.store.last_committed.position, behind);
    assert!(
        held.store.head < held.store.last_committed,
        "{:?}",
        held.store
    );
    assert!(held.store.held_back_events >= 1, "{:?}", held.store);

    open.commit().await.expect("commit");
    // xmin is server-wide: other databases' transactions may hold the head a moment longer.
    eventually(
        Duration::from_secs(30),
        "the feed to be readable to the end",
        || async {
            let now = status(&pool).await.ok()?;
            (now.store.head == now.store.last_committed && now.store.held_back_events == 0)
                .then_some(())
        },
    )
    .await;
}
