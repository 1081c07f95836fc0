//! "Replay equals live": the verifier finds nothing on a consistent view, names the exact
//! rows of a tampered one, refuses a view that is behind, and leaves no scratch schema.

mod support;

use std::time::Duration;

use audit::compare::ColumnDifference;
use audit::{verify, Difference, Report, VerifyError, VerifyOptions};
use personal_data::Keys;
use serde_json::{json, Map, Value};
use sqlx::PgPool;
use support::{build_live_views, register, request, scratch_schemas, set_school};

async fn ann_and_bob(pool: &PgPool) {
    register(pool, "ann", &request("ann", "r1")).await;
    register(pool, "bob", &request("bob", "r2")).await;
    set_school(pool, "bob", "MIT", true, &request("bob", "r3")).await;
    build_live_views(pool).await;
}

async fn run(pool: &PgPool, wait: Duration) -> Result<Report, VerifyError> {
    verify(pool, Keys::new(pool.clone()), &VerifyOptions::new(wait)).await
}

/// The differences found in `user_table`.
fn user_table_differences(report: &Report) -> Vec<Difference> {
    let users = report
        .projections
        .iter()
        .find(|p| p.projection == "users")
        .expect("the users projection was verified");
    users.tables[0].differences.clone()
}

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("an object")
}

async fn execute(pool: &PgPool, sql: &str) {
    sqlx::query(sql).execute(pool).await.expect(sql);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_consistent_view_shows_no_difference(pool: PgPool) {
    ann_and_bob(&pool).await;
    let report = run(&pool, Duration::from_secs(5)).await.expect("verify");
    assert!(report.is_consistent(), "{report:#?}");
    let users = &report.projections[0];
    assert_eq!(
        (users.projection.as_str(), users.events_replayed),
        ("users", 5)
    );
    assert_eq!(users.checkpoint, report.target);
    let table = &users.tables[0];
    assert_eq!(
        (table.table.as_str(), table.live_rows, table.replayed_rows),
        ("user_table", 2, 2)
    );
    assert_eq!(scratch_schemas(&pool).await, Vec::<String>::new());
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_tampered_row_is_reported_with_the_column_that_differs(pool: PgPool) {
    ann_and_bob(&pool).await;
    execute(
        &pool,
        "UPDATE user_table SET school = 'Yale' WHERE user_id = 'bob'",
    )
    .await;
    let report = run(&pool, Duration::from_secs(5)).await.expect("verify");
    let expected = Difference::Changed {
        key: object(json!({ "user_id": "bob" })),
        columns: vec![ColumnDifference {
            column: "school".into(),
            live: json!("Yale"),
            replayed: json!("MIT"),
        }],
    };
    assert_eq!(user_table_differences(&report), vec![expected]);
    assert_eq!(report.difference_count(), 1);
    assert!(!report.is_consistent());
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_missing_and_an_extra_row_are_each_reported_on_their_side(pool: PgPool) {
    ann_and_bob(&pool).await;
    execute(&pool, "DELETE FROM user_table WHERE user_id = 'ann'").await;
    execute(
        &pool,
        "INSERT INTO user_table (user_id, registered_at, updated_at, last_position, version)
         VALUES ('ghost', now(), now(), 1, 1)",
    )
    .await;
    let report = run(&pool, Duration::from_secs(5)).await.expect("verify");
    let sides: Vec<(String, Value)> = user_table_differences(&report)
        .into_iter()
        .map(|d| match d {
            Difference::OnlyLive { row } => ("live".into(), row["user_id"].clone()),
            Difference::OnlyReplayed { row } => ("replayed".into(), row["user_id"].clone()),
            Difference::Changed { key, .. } => ("changed".into(), Value::Object(key)),
        })
        .collect();
    assert_eq!(
        sides,
        [
            ("replayed".to_owned(), json!("ann")),
            ("live".to_owned(), json!("ghost"))
        ]
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_view_behind_the_store_is_refused_not_compared(pool: PgPool) {
    ann_and_bob(&pool).await;
    // Committed after the views were built: no projector applies it.
    set_school(&pool, "ann", "Yale", true, &request("ann", "r4")).await;
    let started = std::time::Instant::now();
    let refused = run(&pool, Duration::from_millis(500)).await;
    let Err(error @ VerifyError::NotCaughtUp { .. }) = refused else {
        panic!("expected not caught up, got {refused:?}");
    };
    assert!(error.is_not_caught_up());
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "it did not wait"
    );
    assert_eq!(scratch_schemas(&pool).await, Vec::<String>::new());
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_failed_rebuild_still_drops_the_scratch_schema(pool: PgPool) {
    ann_and_bob(&pool).await;
    // An event no projection can read, which the live checkpoints have passed.
    execute(
        &pool,
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('user', 'ann', 3, 'user.profile_updated', '1', '{\"first_name\": 42}', '{}')",
    )
    .await;
    build_live_views_checkpoints_only(&pool).await;
    let failed = run(&pool, Duration::from_secs(5)).await;
    assert!(
        matches!(failed, Err(VerifyError::Projection(_))),
        "{failed:?}"
    );
    assert_eq!(scratch_schemas(&pool).await, Vec::<String>::new());
}

/// Moves every checkpoint to the last committed event without applying anything.
async fn build_live_views_checkpoints_only(pool: &PgPool) {
    let target = event_store::FeedReader::new(pool.clone())
        .last_committed()
        .await
        .expect("last committed");
    for projection in projector::all(Keys::new(pool.clone())) {
        support::set_checkpoint(pool, projection.name(), target).await;
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_view_that_moves_during_verification_is_compared_at_one_point(pool: PgPool) {
    use std::sync::atomic::{AtomicBool, Ordering};
    ann_and_bob(&pool).await;
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let projector = tokio::spawn(support::keep_views_current(
        support::own_pool(&pool),
        stop.clone(),
    ));
    let writer = tokio::spawn(support::keep_writing(
        support::own_pool(&pool),
        stop.clone(),
    ));
    let before = event_store::FeedReader::new(pool.clone())
        .last_committed()
        .await
        .expect("last");
    support::wait_for_checkpoint_past(&pool, "users", before).await;

    let report = run(&pool, Duration::from_secs(10)).await;
    stop.store(true, Ordering::Relaxed);
    let written = writer.await.expect("writer");
    projector.await.expect("projector");
    let report = report.expect("verify");
    assert!(report.is_consistent(), "{report:#?}");
    let users = &report.projections[0];
    assert!(
        users.checkpoint > report.target,
        "the view did not move during verification"
    );
    assert!(written > 10, "only {written} writes");
}
