//! A projection rebuilt beside the live tables and switched in atomically: while events
//! keep committing and being applied, and queries keep reading, with nothing applied
//! twice or lost.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use audit::shadow::{self, Phase, Progress, ShadowError, ShadowOptions};
use audit::{verify, VerifyOptions};
use event_store::FeedReader;
use personal_data::Keys;
use sqlx::PgPool;
use support::{build_live_views, own_pool, register, request, set_school};

async fn ann_and_bob(pool: &PgPool) {
    register(pool, "ann", &request("ann", "r1")).await;
    register(pool, "bob", &request("bob", "r2")).await;
    set_school(pool, "bob", "MIT", true, &request("bob", "r3")).await;
    build_live_views(pool).await;
}

async fn rebuild_users(
    pool: &PgPool,
    options: &ShadowOptions,
) -> (Result<shadow::ShadowReport, ShadowError>, Vec<Progress>) {
    let projections = projector::all(Keys::new(pool.clone()));
    let mut seen = Vec::new();
    let mut record = |p: Progress| seen.push(p);
    let outcome = shadow::rebuild(pool, &projections, "users", options, &mut record).await;
    (outcome, seen)
}

async fn bobs_school(pool: &PgPool) -> Option<String> {
    sqlx::query_scalar("SELECT school FROM user_table WHERE user_id = 'bob'")
        .fetch_one(pool)
        .await
        .expect("bob's row")
}

async fn index_names(pool: &PgPool, schema: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes
          WHERE schemaname = $1 AND tablename = 'user_table' ORDER BY 1",
    )
    .bind(schema)
    .fetch_all(pool)
    .await
    .expect("indexes")
}

async fn schemas_left(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace
          WHERE nspname LIKE 'shadow\\_%' OR nspname LIKE 'retired\\_%' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .expect("schemas")
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_rebuild_replaces_the_live_tables_while_traffic_and_queries_go_on(pool: PgPool) {
    ann_and_bob(&pool).await;
    // A view gone wrong: the rebuild is what puts it right.
    sqlx::query("UPDATE user_table SET school = 'Yale' WHERE user_id = 'bob'")
        .execute(&pool)
        .await
        .expect("tamper");
    let indexes_before = index_names(&pool, "public").await;
    let (stop_traffic, stop_projector) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let projector = tokio::spawn(support::keep_views_current(
        own_pool(&pool),
        stop_projector.clone(),
    ));
    let writer = tokio::spawn(support::keep_writing(own_pool(&pool), stop_traffic.clone()));
    let reader = tokio::spawn(support::keep_reading(own_pool(&pool), stop_traffic.clone()));
    let started = FeedReader::new(pool.clone())
        .last_committed()
        .await
        .expect("last");
    support::wait_for_checkpoint_past(&pool, "users", started).await;

    let (outcome, seen) = rebuild_users(&pool, &ShadowOptions::default()).await;
    let report = outcome.expect("rebuild");
    // Traffic goes on after the switch, into the new tables.
    support::wait_for_checkpoint_past(&pool, "users", report.switched_at).await;
    stop_traffic.store(true, Ordering::Relaxed);
    let written = writer.await.expect("writer");
    let (answered, failed) = reader.await.expect("reader");
    let verified = verify(
        &pool,
        Keys::new(pool.clone()),
        &VerifyOptions::new(Duration::from_secs(30)),
    )
    .await;
    stop_projector.store(true, Ordering::Relaxed);
    projector.await.expect("projector");

    assert!(
        failed.is_empty(),
        "queries failed during the rebuild: {failed:?}"
    );
    assert!(
        answered > 0 && written > 5,
        "{answered} queries, {written} writes"
    );
    assert!(
        report.switched_at > started,
        "the switch happened before the traffic began"
    );
    assert_eq!(bobs_school(&pool).await.as_deref(), Some("MIT"));
    assert_eq!(seen.last().map(|p| p.phase), Some(Phase::Switching));
    assert_eq!(index_names(&pool, "public").await, indexes_before);
    assert_eq!(schemas_left(&pool).await, Vec::<String>::new());
    let verified = verified.expect("verify");
    assert!(verified.is_consistent(), "{verified:#?}");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_rebuild_stops_at_the_checkpoint_of_a_stopped_projector(pool: PgPool) {
    ann_and_bob(&pool).await;
    // Committed while no projector runs: the live checkpoint stays behind them.
    set_school(&pool, "ann", "Yale", true, &request("ann", "r4")).await;
    set_school(&pool, "bob", "Oxford", false, &request("bob", "r5")).await;

    let (outcome, _) = rebuild_users(&pool, &ShadowOptions::default()).await;
    let report = outcome.expect("rebuild");
    assert_eq!(
        report.events_replayed, 5,
        "it went past the live checkpoint"
    );
    assert_eq!(bobs_school(&pool).await.as_deref(), Some("MIT"));

    // The projector comes back and applies the rest, once each.
    let stop = Arc::new(AtomicBool::new(false));
    let projector = tokio::spawn(support::keep_views_current(own_pool(&pool), stop.clone()));
    let verified = verify(
        &pool,
        Keys::new(pool.clone()),
        &VerifyOptions::new(Duration::from_secs(30)),
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    projector.await.expect("projector");
    let verified = verified.expect("verify");
    assert!(verified.is_consistent(), "{verified:#?}");
    assert_eq!(bobs_school(&pool).await.as_deref(), Some("Oxford"));
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_old_tables_can_be_kept_for_a_look(pool: PgPool) {
    ann_and_bob(&pool).await;
    sqlx::query("UPDATE user_table SET school = 'Yale' WHERE user_id = 'bob'")
        .execute(&pool)
        .await
        .expect("tamper");
    let options = ShadowOptions {
        keep_old: true,
        ..Default::default()
    };
    let (outcome, _) = rebuild_users(&pool, &options).await;
    let report = outcome.expect("rebuild");
    assert_eq!(
        report.retired_schema.as_deref(),
        Some(options.retired.as_str())
    );
    let old: Option<String> = sqlx::query_scalar(&format!(
        "SELECT school FROM {}.user_table WHERE user_id = 'bob'",
        options.retired
    ))
    .fetch_one(&pool)
    .await
    .expect("the retired table");
    assert_eq!(old.as_deref(), Some("Yale"));
    assert_eq!(bobs_school(&pool).await.as_deref(), Some("MIT"));
    assert_eq!(schemas_left(&pool).await, vec![options.retired.clone()]);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn an_unknown_projection_changes_nothing(pool: PgPool) {
    ann_and_bob(&pool).await;
    let projections = projector::all(Keys::new(pool.clone()));
    let outcome = shadow::rebuild(
        &pool,
        &projections,
        "nope",
        &ShadowOptions::default(),
        &mut |_| {},
    )
    .await;
    assert!(matches!(outcome, Err(ShadowError::UnknownProjection(name)) if name == "nope"));
    assert_eq!(schemas_left(&pool).await, Vec::<String>::new());
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_batch_in_flight_at_the_switch_lands_in_the_new_tables_once(pool: PgPool) {
    ann_and_bob(&pool).await;
    set_school(&pool, "bob", "Oxford", false, &request("bob", "r4")).await;
    support::wait_until_readable(&pool).await;
    // The projector's batch for that event: applied, checkpoint saved, not yet committed.
    let mut batch = pool.begin().await.expect("begin");
    let mut at = event_store::checkpoint::lock(&mut batch, "users")
        .await
        .expect("lock");
    let users = projector::users::Users::new(Keys::new(pool.clone()));
    for event in FeedReader::new(pool.clone())
        .read_after(at.cursor, 10)
        .await
        .expect("read")
    {
        projector::Projection::apply(&users, &mut batch, &event)
            .await
            .expect("apply");
        at.cursor = event.cursor();
    }
    event_store::checkpoint::save(&mut batch, "users", at)
        .await
        .expect("save");
    assert_eq!(at.cursor.position, 6, "the batch holds bob's new school");

    let rebuilding = {
        let pool = pool.clone();
        tokio::spawn(async move { rebuild_users(&pool, &ShadowOptions::default()).await.0 })
    };
    testkit::eventually(
        Duration::from_secs(10),
        "the switch to wait for the batch",
        || async {
            let (waiting,): (i64,) = sqlx::query_as(
                "SELECT count(*) FROM pg_stat_activity
                  WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(&pool)
            .await
            .ok()?;
            (waiting > 0).then_some(())
        },
    )
    .await;
    batch.commit().await.expect("the batch commits");

    let report = rebuilding.await.expect("task").expect("rebuild");
    assert_eq!(report.switched_at, at.cursor);
    assert_eq!(bobs_school(&pool).await.as_deref(), Some("Oxford"));
    // The other projections catch up too, so that every view can be verified.
    let stop = Arc::new(AtomicBool::new(false));
    let projector = tokio::spawn(support::keep_views_current(own_pool(&pool), stop.clone()));
    let verified = verify(
        &pool,
        Keys::new(pool.clone()),
        &VerifyOptions::new(Duration::from_secs(30)),
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    projector.await.expect("projector");
    let verified = verified.expect("verify");
    assert!(verified.is_consistent(), "{verified:#?}");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_switch_that_cannot_get_its_locks_lets_go_and_tries_again(pool: PgPool) {
    ann_and_bob(&pool).await;
    // A long query holds the live table.
    let mut query = pool.begin().await.expect("begin");
    sqlx::query("SELECT count(*) FROM user_table")
        .execute(&mut *query)
        .await
        .expect("read");
    let options = ShadowOptions {
        lock_timeout: Duration::from_millis(100),
        attempts: 100,
        ..Default::default()
    };
    let (tell, mut switches) = tokio::sync::mpsc::unbounded_channel();
    let rebuilding = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let projections = projector::all(Keys::new(pool.clone()));
            let mut report = |p: Progress| {
                if p.phase == Phase::Switching {
                    let _ = tell.send(());
                }
            };
            shadow::rebuild(&pool, &projections, "users", &options, &mut report).await
        })
    };
    for _ in 0..2 {
        switches.recv().await.expect("a switch attempt");
    }
    query.commit().await.expect("the query ends");

    let report = rebuilding.await.expect("task").expect("rebuild");
    assert_eq!(report.events_replayed, 5);
    assert_eq!(bobs_school(&pool).await.as_deref(), Some("MIT"));
    let verified = verify(
        &pool,
        Keys::new(pool.clone()),
        &VerifyOptions::new(Duration::from_secs(5)),
    )
    .await
    .expect("verify");
    assert!(verified.is_consistent(), "{verified:#?}");
}
