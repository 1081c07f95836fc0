//! The shares projection: notification and sent rows, and the `share.received` notices
//! the `notices` projection tells of them, through the real runners; seen marks, events
//! applied twice, replay equals live, erasure.

mod sharing;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::user::SharingPolicy;
use futures::StreamExt;
use personal_data::Keys;
use projector::notices::Notices;
use projector::shares::Shares;
use projector::users::Users;
use projector::{replay, Projection};
use serde_json::{json, Value};
use sqlx::PgPool;
use testkit::TestNats;

use sharing::*;

/// `(share_id, recipient, sharer, url, title, domain, shared_at, seen_at)`, ordered.
type Notification = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

async fn notifications(pool: &PgPool, table: &str) -> Vec<Notification> {
    let sql = format!(
        "SELECT share_id::text, recipient_id, sharer_id, url, title, domain, shared_at, seen_at
           FROM {table} ORDER BY position, recipient_id"
    );
    sqlx::query_as(&sql).fetch_all(pool).await.expect("rows")
}

/// `(share_id, sharer, url, title, domain, recipient_count)`, ordered.
type Sent = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    i32,
);

async fn sent(pool: &PgPool, table: &str) -> Vec<Sent> {
    let sql = format!(
        "SELECT share_id::text, sharer_id, url, title, domain, recipient_count FROM {table} ORDER BY position"
    );
    sqlx::query_as(&sql).fetch_all(pool).await.expect("rows")
}

async fn three_users(pool: &PgPool) {
    for (user, first, last) in [
        ("ann", "Ann", "Lee"),
        ("bob", "Bob", "Ray"),
        ("cy", "Cy", "Ng"),
    ] {
        register(pool, user, first, last, SharingPolicy::default()).await;
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_share_reaches_both_views_and_each_recipients_socket(pool: PgPool) {
    let nats = TestNats::start().expect("nats");
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let mut bob_live = client
        .subscribe(event_bus::notice_subject("bob"))
        .await
        .expect("subscribe");
    three_users(&pool).await;
    let keys = Keys::new(pool.clone());
    let projections: Vec<Arc<dyn Projection>> = vec![
        Arc::new(Users::new(keys.clone())),
        Arc::new(Shares::new(keys.clone())),
        Arc::new(Notices::new(keys.clone())),
    ];
    let _running = start_pipeline(&pool, &client, projections);
    caught_up(&pool, "users").await;

    let share_id = share(
        &pool,
        "ann",
        &["bob", "cy"],
        "https://example.com/a",
        "A",
        5,
    )
    .await;
    caught_up(&pool, "shares").await;
    caught_up(&pool, "notices").await;

    let id = share_id.to_string();
    let row = |to: &str| {
        let page = (
            Some("https://example.com/a".into()),
            Some("A".into()),
            Some("example.com".into()),
        );
        (
            id.clone(),
            to.to_owned(),
            "ann".to_owned(),
            page.0,
            page.1,
            page.2,
            at(5),
            None,
        )
    };
    assert_eq!(
        notifications(&pool, "share_notifications").await,
        vec![row("bob"), row("cy")]
    );
    let page = (
        Some("https://example.com/a".into()),
        Some("A".into()),
        Some("example.com".into()),
    );
    assert_eq!(
        sent(&pool, "shares_sent").await,
        vec![(id.clone(), "ann".into(), page.0, page.1, page.2, 2)]
    );
    let expected = json!({
        "share_id": id,
        "sharer": { "user_id": "ann", "first_name": "Ann", "last_name": "Lee" },
        "url": "https://example.com/a",
        "title": "A",
        "shared_at": at(5),
    });
    let message = loop {
        let next = tokio::time::timeout(Duration::from_secs(10), bob_live.next())
            .await
            .expect("a notice for bob")
            .expect("subscription open");
        let notice: event_bus::Notice = serde_json::from_slice(&next.payload).expect("json");
        if notice.kind == "share.received" {
            break notice;
        }
    };
    assert_eq!(message.data, expected);
    let stored: Vec<(String, Value)> = sqlx::query_as(
        "SELECT user_id, data FROM user_notices WHERE kind = 'share.received' ORDER BY user_id",
    )
    .fetch_all(&pool)
    .await
    .expect("notices");
    assert_eq!(
        stored,
        vec![("bob".into(), expected.clone()), ("cy".into(), expected)]
    );

    // Replay equals live, for both tables; and a difference would show.
    scratch_copy(&pool, "share_notifications", "notifications_replay").await;
    scratch_copy(&pool, "shares_sent", "sent_replay").await;
    let replayed = Shares::into_tables(keys, "notifications_replay", "sent_replay");
    replay::rebuild(&pool, &replayed, 2).await.expect("rebuild");
    for (live, scratch) in [
        ("share_notifications", "notifications_replay"),
        ("shares_sent", "sent_replay"),
    ] {
        let differences = replay::differences(&pool, live, scratch)
            .await
            .expect("compare");
        assert_eq!(differences, Vec::<Value>::new(), "{live}");
    }
    sqlx::query("UPDATE share_notifications SET seen_at = now() WHERE recipient_id = 'cy'")
        .execute(&pool)
        .await
        .expect("tamper");
    let differences = replay::differences(&pool, "share_notifications", "notifications_replay")
        .await
        .expect("compare");
    assert_eq!(differences.len(), 2);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn seen_marks_keep_the_first_time_and_mark_all_marks_only_what_had_arrived(pool: PgPool) {
    three_users(&pool).await;
    let first = share(&pool, "ann", &["bob"], "https://one.example/", "One", 1).await;
    let second = share(
        &pool,
        "ann",
        &["bob", "cy"],
        "https://two.example/",
        "Two",
        2,
    )
    .await;
    mark_seen(&pool, "bob", &first, 3).await;
    mark_all_seen(&pool, "bob", 4).await;
    let third = share(&pool, "ann", &["bob"], "https://three.example/", "Three", 5).await;

    apply_each(&pool, &Shares::new(Keys::new(pool.clone())), 1).await;
    let notices = apply_each(&pool, &Notices::new(Keys::new(pool.clone())), 1).await;

    let seen: Vec<(String, String, Option<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT share_id::text, recipient_id, seen_at FROM share_notifications ORDER BY position, recipient_id",
    )
    .fetch_all(&pool)
    .await
    .expect("rows");
    assert_eq!(
        seen,
        vec![
            (first.to_string(), "bob".into(), Some(at(3))),
            (second.to_string(), "bob".into(), Some(at(4))),
            (second.to_string(), "cy".into(), None),
            (third.to_string(), "bob".into(), None),
        ]
    );
    let told: Vec<&str> = notices
        .iter()
        .filter(|n| n.notice.kind == "share.received")
        .map(|n| n.user_id.as_str())
        .collect();
    assert_eq!(told, ["bob", "bob", "cy", "bob"]);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn events_applied_twice_change_nothing(pool: PgPool) {
    three_users(&pool).await;
    let first = share(
        &pool,
        "ann",
        &["bob", "cy"],
        "https://one.example/",
        "One",
        1,
    )
    .await;
    mark_seen(&pool, "bob", &first, 2).await;
    mark_all_seen(&pool, "cy", 3).await;
    share(&pool, "bob", &["ann"], "https://two.example/", "Two", 4).await;
    let keys = Keys::new(pool.clone());

    apply_each(&pool, &Shares::new(keys.clone()), 2).await;
    scratch_copy(&pool, "share_notifications", "notifications_once").await;
    scratch_copy(&pool, "shares_sent", "sent_once").await;
    apply_each(
        &pool,
        &Shares::into_tables(keys, "notifications_once", "sent_once"),
        1,
    )
    .await;

    assert_eq!(
        notifications(&pool, "share_notifications").await,
        notifications(&pool, "notifications_once").await
    );
    assert_eq!(
        sent(&pool, "shares_sent").await,
        sent(&pool, "sent_once").await
    );
    assert_eq!(sent(&pool, "sent_once").await.len(), 2);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn after_the_sharer_is_erased_a_replay_shows_the_share_without_its_page(pool: PgPool) {
    three_users(&pool).await;
    share(
        &pool,
        "ann",
        &["bob"],
        "https://private.example/x",
        "Private",
        1,
    )
    .await;
    Keys::new(pool.clone()).shred("ann").await.expect("shred");

    replay::rebuild(&pool, &Shares::new(Keys::new(pool.clone())), 100)
        .await
        .expect("rebuild");

    let rows = notifications(&pool, "share_notifications").await;
    let [(_, recipient, sharer, url, title, domain, shared_at, _)] = rows.as_slice() else {
        panic!("{rows:?}")
    };
    assert_eq!(
        (recipient.as_str(), sharer.as_str(), *shared_at),
        ("bob", "ann", at(1))
    );
    assert_eq!((url, title, domain), (&None, &None, &None));
    let sent = sent(&pool, "shares_sent").await;
    assert_eq!((sent[0].2.as_ref(), sent[0].5), (None, 1));
}
