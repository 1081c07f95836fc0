//! The popular projection: shares counted per domain, page and sharer through the real
//! runner, replay into a scratch schema equals live, a share applied twice counted once,
//! and an erased sharer's pages counted nowhere.

mod sharing;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::user::SharingPolicy;
use event_store::{Cursor, FeedReader};
use personal_data::Keys;
use projector::popular::{self, Popular};
use projector::replay::{self, RebuildOptions};
use projector::Projection;
use serde_json::Value;
use sqlx::PgPool;
use testkit::TestNats;

use sharing::*;

async fn domains(pool: &PgPool) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT domain, share_count FROM popular_domains ORDER BY domain")
        .fetch_all(pool)
        .await
        .expect("domains")
}

/// `(domain, url, title, share_count, last_shared_at)`, by domain and URL.
type PageRow = (String, String, Option<String>, i64, DateTime<Utc>);

async fn pages(pool: &PgPool) -> Vec<PageRow> {
    sqlx::query_as(
        "SELECT domain, url, title, share_count, last_shared_at FROM popular_pages ORDER BY domain, url",
    )
    .fetch_all(pool)
    .await
    .expect("pages")
}

async fn sharers(pool: &PgPool) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT user_id, share_count FROM sharer_stats ORDER BY user_id")
        .fetch_all(pool)
        .await
        .expect("sharers")
}

/// Ann, bob and cy; ann shares example.com/a twice (retitled) and example.com/b, bob
/// shares example.com/a, cy shares other.org/x.
async fn scene(pool: &PgPool) {
    for (user, first, last) in [
        ("ann", "Ann", "Lee"),
        ("bob", "Bob", "Ray"),
        ("cy", "Cy", "Ng"),
    ] {
        register(pool, user, first, last, SharingPolicy::default()).await;
    }
    share(pool, "ann", &["bob"], "https://example.com/a", "A", 1).await;
    share(pool, "ann", &["cy"], "https://example.com/b", "B", 2).await;
    share(pool, "bob", &["ann"], "https://example.com/a", "A again", 3).await;
    share(pool, "cy", &["ann"], "https://other.org/x", "X", 4).await;
    share(pool, "ann", &["cy"], "https://example.com/a", "A, last", 5).await;
}

async fn assert_scene_counted(pool: &PgPool) {
    assert_eq!(
        domains(pool).await,
        vec![("example.com".into(), 4), ("other.org".into(), 1)]
    );
    assert_eq!(
        pages(pool).await,
        vec![
            (
                "example.com".into(),
                "https://example.com/a".into(),
                Some("A, last".into()),
                3,
                at(5)
            ),
            (
                "example.com".into(),
                "https://example.com/b".into(),
                Some("B".into()),
                1,
                at(2)
            ),
            (
                "other.org".into(),
                "https://other.org/x".into(),
                Some("X".into()),
                1,
                at(4)
            ),
        ]
    );
    assert_eq!(
        sharers(pool).await,
        vec![("ann".into(), 3), ("bob".into(), 1), ("cy".into(), 1)]
    );
}

/// Copies the projection's tables, empty, into a new schema `schema`.
async fn scratch_schema(pool: &PgPool, schema: &str) {
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(pool)
        .await
        .expect("schema");
    for table in Popular::new(Keys::new(pool.clone())).tables() {
        scratch_copy(pool, table, &format!("{schema}.{table}")).await;
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_runner_counts_shares_per_domain_page_and_sharer_and_a_replay_equals_it(pool: PgPool) {
    let nats = TestNats::start().expect("nats");
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let keys = Keys::new(pool.clone());
    let projections: Vec<Arc<dyn Projection>> = vec![Arc::new(Popular::new(keys.clone()))];
    let _running = start_pipeline(&pool, &client, projections);

    scene(&pool).await;
    caught_up(&pool, popular::NAME).await;

    assert_scene_counted(&pool).await;

    scratch_schema(&pool, "popular_replay").await;
    let to = FeedReader::new(pool.clone())
        .last_committed()
        .await
        .expect("last committed");
    let options = RebuildOptions::into_schema("popular_replay", 2);
    let replayed = Popular::new(keys);
    replay::rebuild_range(&pool, &replayed, Cursor::START, to, &options)
        .await
        .expect("rebuild");
    for table in replayed.tables() {
        let scratch = format!("popular_replay.{table}");
        let differences = replay::differences(&pool, table, &scratch)
            .await
            .expect("compare");
        assert_eq!(differences, Vec::<Value>::new(), "{table}");
    }
    // A difference would show.
    sqlx::query("UPDATE sharer_stats SET share_count = share_count + 1 WHERE user_id = 'cy'")
        .execute(&pool)
        .await
        .expect("tamper");
    let differences = replay::differences(&pool, "sharer_stats", "popular_replay.sharer_stats")
        .await
        .expect("compare");
    assert_eq!(differences.len(), 2);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_share_applied_twice_is_counted_once(pool: PgPool) {
    scene(&pool).await;

    let notices = apply_each(&pool, &Popular::new(Keys::new(pool.clone())), 2).await;

    assert!(notices.is_empty(), "{notices:?}");
    assert_scene_counted(&pool).await;
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn an_erased_sharers_shares_count_for_them_but_for_no_domain_or_page(pool: PgPool) {
    for (user, first, last) in [("ann", "Ann", "Lee"), ("bob", "Bob", "Ray")] {
        register(&pool, user, first, last, SharingPolicy::default()).await;
    }
    share(&pool, "ann", &["bob"], "https://private.example/x", "P", 1).await;
    share(&pool, "ann", &["bob"], "https://example.com/a", "A", 2).await;
    share(&pool, "bob", &["ann"], "https://example.com/a", "A", 3).await;
    Keys::new(pool.clone()).shred("ann").await.expect("shred");

    replay::rebuild(&pool, &Popular::new(Keys::new(pool.clone())), 100)
        .await
        .expect("rebuild");

    assert_eq!(domains(&pool).await, vec![("example.com".into(), 1)]);
    let pages = pages(&pool).await;
    let urls: Vec<(&str, i64)> = pages.iter().map(|p| (p.1.as_str(), p.3)).collect();
    assert_eq!(urls, [("https://example.com/a", 1)]);
    assert_eq!(
        sharers(&pool).await,
        vec![("ann".into(), 2), ("bob".into(), 1)]
    );
}
