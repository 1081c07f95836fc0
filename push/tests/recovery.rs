//! Recovery on reconnect: a socket that names the last position it saw receives what it
//! missed, in feed order, then `ready`, then live notices, with no gap and no duplicate
//! at the seam; or `resync` when that is not possible.

#![allow(clippy::unwrap_used, reason = "a test may fail by panicking")]

mod common;

use std::time::Duration;

use common::{
    frames_until_ready, insert_event, insert_event_recorded_ago, next_json, notice_at,
    notice_frame, ready, store_notice, upgrade_request, PATIENCE,
};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

fn resync(reason: &str) -> Value {
    json!({ "type": "resync", "reason": reason })
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_reconnecting_socket_receives_what_it_missed_in_feed_order_then_live(pool: PgPool) {
    let (since, tx) = insert_event(&pool).await;
    let seen_before = notice_at(tx - 1, since - 1, "seen.before");
    let at_since = notice_at(tx, since, "seen.last");
    // Positions are not feed-ordered across transactions: the first missed one has the
    // higher position.
    let first = notice_at(tx + 1, since + 90, "missed.first");
    let second = notice_at(tx + 2, since + 50, "missed.second");
    for notice in [&seen_before, &at_since, &second, &first] {
        store_notice(&pool, "alice", notice).await;
    }
    store_notice(&pool, "bob", &notice_at(tx + 1, since + 91, "for.bob")).await;
    let service = common::start(&pool).await;

    let mut ws = service.reconnect("alice", since).await;

    assert_eq!(
        frames_until_ready(&mut ws).await,
        vec![notice_frame(&first), notice_frame(&second), ready("alice")]
    );
    let live = notice_at(tx + 3, since + 1, "live");
    service.publish("alice", &live).await;
    assert_eq!(next_json(&mut ws).await, notice_frame(&live));
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_socket_that_missed_nothing_gets_ready_at_once(pool: PgPool) {
    let (since, tx) = insert_event(&pool).await;
    store_notice(&pool, "alice", &notice_at(tx, since, "seen.last")).await;
    let service = common::start(&pool).await;

    let mut ws = service.reconnect("alice", since).await;

    assert_eq!(frames_until_ready(&mut ws).await, vec![ready("alice")]);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_live_copy_of_a_recovered_notice_is_not_sent_again(pool: PgPool) {
    let (since, tx) = insert_event(&pool).await;
    let recovered = notice_at(tx + 1, since + 1, "stored.then.published");
    store_notice(&pool, "alice", &recovered).await;
    let service = common::start(&pool).await;
    let mut ws = service.reconnect("alice", since).await;
    let frames = frames_until_ready(&mut ws).await;
    assert_eq!(frames, vec![notice_frame(&recovered), ready("alice")]);

    // The projector publishes after its commit: the copy may come after the read.
    service.publish("alice", &recovered).await;
    let next = notice_at(tx + 2, since + 2, "live");
    service.publish("alice", &next).await;

    assert_eq!(next_json(&mut ws).await, notice_frame(&next));
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn notices_published_during_recovery_are_sent_after_it_once_each(pool: PgPool) {
    let (since, tx) = insert_event(&pool).await;
    let stored = notice_at(tx + 1, since + 1, "stored");
    store_notice(&pool, "alice", &stored).await;
    let service = common::start(&pool).await;
    // Hold the history read back: a projection commits `committing` meanwhile.
    let mut projection = pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE user_notices IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *projection)
        .await
        .unwrap();
    let committing = notice_at(tx + 2, since + 2, "committing");
    store_notice(&mut *projection, "alice", &committing).await;

    let mut ws = service.reconnect("alice", since).await;
    wait_for_a_blocked_read(&pool).await;
    // Both published while the read waits: one is in the history it will return, the
    // other (committed later) is not.
    service.publish("alice", &committing).await;
    let later = notice_at(tx + 3, since + 3, "later");
    service.publish("alice", &later).await;
    projection.commit().await.unwrap();

    let frames = frames_until_ready(&mut ws).await;
    assert_eq!(
        frames,
        vec![
            notice_frame(&stored),
            notice_frame(&committing),
            ready("alice")
        ]
    );
    assert_eq!(next_json(&mut ws).await, notice_frame(&later));
    let after = notice_at(tx + 4, since + 4, "after");
    service.publish("alice", &after).await;
    assert_eq!(
        next_json(&mut ws).await,
        notice_frame(&after),
        "nothing twice"
    );
}

/// The projector publishes again what a crash or an outage may have left unpublished
/// (`projector/src/notices/publication.rs`): a socket gets each notice once.
#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_notice_published_again_is_not_sent_twice(pool: PgPool) {
    let (since, tx) = insert_event(&pool).await;
    let recovered = notice_at(tx + 1, since + 1, "recovered");
    store_notice(&pool, "alice", &recovered).await;
    let service = common::start(&pool).await;
    let mut ws = service.reconnect("alice", since).await;
    frames_until_ready(&mut ws).await;
    let live = notice_at(tx + 2, since + 2, "live");
    service.publish("alice", &live).await;
    assert_eq!(next_json(&mut ws).await, notice_frame(&live));

    let next = notice_at(tx + 3, since + 3, "live");
    for notice in [&recovered, &live, &next] {
        service.publish("alice", notice).await;
    }

    assert_eq!(next_json(&mut ws).await, notice_frame(&next));
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn an_unknown_position_gets_resync_then_live_notices(pool: PgPool) {
    let service = common::start(&pool).await;

    let mut ws = service.reconnect("alice", 987_654_321).await;

    let frames = frames_until_ready(&mut ws).await;
    assert_eq!(frames, vec![resync("unknown_position"), ready("alice")]);
    let live = notice_at(1, 1, "live");
    service.publish("alice", &live).await;
    assert_eq!(next_json(&mut ws).await, notice_frame(&live));
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn more_missed_notices_than_one_recovery_sends_get_resync(pool: PgPool) {
    let (long_ago, _) = insert_event(&pool).await;
    let (recently, tx) = insert_event(&pool).await;
    let missed: Vec<_> = (0..4)
        .map(|n| notice_at(tx + n, recently + n as i64, "missed"))
        .collect();
    for notice in &missed {
        store_notice(&pool, "alice", notice).await;
    }
    let service = common::start_with(&pool, |config| push::Config {
        max_recovery: 3,
        ..config
    })
    .await;

    let mut too_far = service.reconnect("alice", long_ago).await;
    let mut within = service.reconnect("alice", recently).await;

    let frames = frames_until_ready(&mut too_far).await;
    assert_eq!(frames, vec![resync("too_many_missed"), ready("alice")]);
    let mut expected: Vec<_> = missed[1..].iter().map(notice_frame).collect();
    expected.push(ready("alice"));
    assert_eq!(frames_until_ready(&mut within).await, expected);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_position_older_than_the_retention_gets_resync(pool: PgPool) {
    let (since, tx) = insert_event_recorded_ago(&pool, Duration::from_secs(7_200)).await;
    store_notice(&pool, "alice", &notice_at(tx + 1, since + 1, "kept")).await;
    let service = common::start_with(&pool, |config| push::Config {
        retention: Duration::from_secs(3_600),
        ..config
    })
    .await;

    let mut ws = service.reconnect("alice", since).await;

    let frames = frames_until_ready(&mut ws).await;
    assert_eq!(frames, vec![resync("history_expired"), ready("alice")]);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_history_that_cannot_be_read_gets_resync_unavailable(pool: PgPool) {
    let (since, _) = insert_event(&pool).await;
    sqlx::query("ALTER TABLE user_notices RENAME TO user_notices_gone")
        .execute(&pool)
        .await
        .unwrap();
    let service = common::start(&pool).await;

    let mut ws = service.reconnect("alice", since).await;

    let frames = frames_until_ready(&mut ws).await;
    assert_eq!(frames, vec![resync("unavailable"), ready("alice")]);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_since_that_is_not_a_number_is_refused_before_the_upgrade(pool: PgPool) {
    let service = common::start(&pool).await;
    let url = format!(
        "{}?token={}&since=yesterday",
        service.ws_url(),
        common::token("alice")
    );

    let response = upgrade_request(&url).await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "request.invalid_query");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn notices_older_than_the_retention_are_deleted_and_newer_ones_kept(pool: PgPool) {
    let (position, tx) = insert_event(&pool).await;
    store_notice(&pool, "alice", &notice_at(tx, position, "old")).await;
    store_notice(&pool, "alice", &notice_at(tx + 1, position + 1, "new")).await;
    sqlx::query(
        "UPDATE user_notices SET created_at = now() - interval '2 hours' WHERE kind = 'old'",
    )
    .execute(&pool)
    .await
    .unwrap();

    let _service = common::start_with(&pool, |config| push::Config {
        retention: Duration::from_secs(3_600),
        cleanup_interval: Duration::from_millis(20),
        ..config
    })
    .await;

    let kinds = testkit::eventually(PATIENCE, "the old notice to be deleted", || async {
        let kinds: Vec<String> = sqlx::query_scalar("SELECT kind FROM user_notices")
            .fetch_all(&pool)
            .await
            .ok()?;
        (kinds.len() == 1).then_some(kinds)
    })
    .await;
    assert_eq!(kinds, vec!["new".to_owned()]);
}

/// Waits until a query of this test's database waits for a lock: the session's read of
/// the history.
async fn wait_for_a_blocked_read(pool: &PgPool) {
    testkit::eventually(
        PATIENCE,
        "the history read to wait for the lock",
        || async {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(pool)
            .await
            .ok()?;
            (waiting > 0).then_some(())
        },
    )
    .await;
}

/// A client may reconnect with a position the notices view has not reached yet: the
/// notices of that event and before, published late, are ones it had.
#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_live_notice_at_or_before_since_is_not_sent_again(pool: PgPool) {
    let (before, tx_before) = insert_event(&pool).await;
    let (since, tx) = insert_event(&pool).await;
    let service = common::start(&pool).await;
    let mut ws = service.reconnect("alice", since).await;
    assert_eq!(frames_until_ready(&mut ws).await, [ready("alice")]);

    service
        .publish("alice", &notice_at(tx_before, before, "had"))
        .await;
    service.publish("alice", &notice_at(tx, since, "had")).await;
    let after = notice_at(tx + 1, since + 1, "new");
    service.publish("alice", &after).await;

    assert_eq!(next_json(&mut ws).await, notice_frame(&after));
}
