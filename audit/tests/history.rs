//! The history: each filter selects exactly its events, in feed order; one request's
//! events by correlation id; a follower sees each new event once, never past a late commit.

mod support;

use std::time::Duration;

use audit::{list_events, EventFilter, Follower};
use chrono::{DateTime, Utc};
use event_store::{FeedReader, StoredEvent};
use sqlx::PgPool;
use support::{register, request, set_school};
use testkit::eventually;

/// Each event as `aggregate_type/aggregate_id#sequence`.
fn names(events: &[StoredEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| format!("{}/{}#{}", e.aggregate_type, e.aggregate_id, e.sequence))
        .collect()
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("RFC 3339")
}

/// A friendship event as another tool might have written it, caused by `user`.
async fn friendship_event(pool: &PgPool, user: &str, correlation: &str) {
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('friendship', 'ann:bob', 1, 'friendship.requested', '1', '{}', $1::json)",
    )
    .bind(format!(r#"{{"user_id": "{user}", "correlation_id": "{correlation}"}}"#))
    .execute(pool)
    .await
    .expect("insert");
}

/// ann registers (req-1), bob registers (req-2), ann asks bob to be friends (req-3), ann
/// sets her school (req-4); each request a day after the one before, from 1 March 2024.
async fn history(pool: &PgPool) {
    register(pool, "ann", &request("ann", "req-1")).await;
    register(pool, "bob", &request("bob", "req-2")).await;
    friendship_event(pool, "ann", "req-3").await;
    set_school(pool, "ann", "MIT", true, &request("ann", "req-4")).await;
    sqlx::query(
        "UPDATE events SET recorded_at = timestamptz '2024-03-01T00:00:00Z'
                + (substr(metadata->>'correlation_id', 5)::int - 1) * interval '1 day'",
    )
    .execute(pool)
    .await
    .expect("dates");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn each_filter_selects_exactly_the_events_it_names(pool: PgPool) {
    history(&pool).await;
    let all = list_events(&pool, &EventFilter::default(), 100)
        .await
        .expect("all");
    let position =
        |name: &str| all[names(&all).iter().position(|n| n == name).expect(name)].position;
    let cases = [
        (
            EventFilter {
                aggregate_type: Some("friendship".into()),
                ..Default::default()
            },
            vec!["friendship/ann:bob#1"],
        ),
        (
            EventFilter {
                aggregate_type: Some("user".into()),
                aggregate_id: Some("ann".into()),
                ..Default::default()
            },
            vec!["user/ann#1", "user/ann#2", "user/ann#3"],
        ),
        (
            EventFilter {
                user_id: Some("ann".into()),
                ..Default::default()
            },
            vec![
                "user/ann#1",
                "user/ann#2",
                "friendship/ann:bob#1",
                "user/ann#3",
            ],
        ),
        (
            EventFilter {
                event_type: Some("user.registered".into()),
                ..Default::default()
            },
            vec!["user/ann#1", "user/bob#1"],
        ),
        (
            EventFilter {
                since: Some(at("2024-03-02T00:00:00Z")),
                until: Some(at("2024-03-04T00:00:00Z")),
                ..Default::default()
            },
            vec!["user/bob#1", "user/bob#2", "friendship/ann:bob#1"],
        ),
        (
            EventFilter {
                from_position: Some(position("user/ann#2")),
                to_position: Some(position("user/bob#2")),
                ..Default::default()
            },
            vec!["user/ann#2", "user/bob#1", "user/bob#2"],
        ),
        (
            EventFilter {
                user_id: Some("ann".into()),
                event_type: Some("user.profile_updated".into()),
                ..Default::default()
            },
            vec!["user/ann#3"],
        ),
    ];
    for (filter, expected) in cases {
        let events = list_events(&pool, &filter, 100).await.expect("list");
        assert_eq!(names(&events), expected, "{filter:?}");
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_correlation_id_finds_everything_one_request_did(pool: PgPool) {
    history(&pool).await;
    let filter = EventFilter {
        correlation_id: Some("req-2".into()),
        ..Default::default()
    };
    let events = list_events(&pool, &filter, 100).await.expect("list");
    assert_eq!(names(&events), ["user/bob#1", "user/bob#2"]);
    assert_eq!(
        (events[0].event_type.as_str(), events[1].event_type.as_str()),
        ("user.registered", "user.sharing_policy_set")
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_limit_keeps_the_first_events_in_feed_order(pool: PgPool) {
    history(&pool).await;
    let events = list_events(&pool, &EventFilter::default(), 3)
        .await
        .expect("list");
    assert_eq!(names(&events), ["user/ann#1", "user/ann#2", "user/bob#1"]);
    assert!(events.windows(2).all(|w| w[0].cursor() < w[1].cursor()));
}

async fn next_within(follower: &mut Follower, limit: Duration) -> Option<Vec<StoredEvent>> {
    tokio::time::timeout(limit, follower.next())
        .await
        .ok()
        .map(|events| events.expect("follow"))
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_follower_sees_new_events_once_and_never_passes_a_late_commit(pool: PgPool) {
    register(&pool, "ann", &request("ann", "before")).await;
    // The follower starts at the readable head; xmin is server-wide, so another test's
    // open transaction may keep ann's registration unreadable for a moment.
    let reader = FeedReader::new(pool.clone());
    let registered = reader.last_committed().await.expect("last committed");
    eventually(
        Duration::from_secs(30),
        "ann's registration to be readable",
        || async { (reader.head().await.ok()? >= registered).then_some(()) },
    )
    .await;
    let only_ann = EventFilter {
        user_id: Some("ann".into()),
        ..Default::default()
    };
    let mut follower = Follower::start(&pool, only_ann).await.expect("follow");

    // An older transaction still open: what commits after it must wait for it.
    let mut late = pool.begin().await.expect("begin");
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('note', 'n1', 1, 'note.written', '1', '{}', '{\"user_id\": \"ann\"}')",
    )
    .execute(&mut *late)
    .await
    .expect("insert");
    register(&pool, "bob", &request("bob", "other user")).await;
    set_school(&pool, "ann", "MIT", true, &request("ann", "after")).await;
    assert_eq!(
        next_within(&mut follower, Duration::from_millis(500)).await,
        None,
        "the follower went past a transaction still open"
    );

    late.commit().await.expect("commit");
    let events = next_within(&mut follower, Duration::from_secs(30))
        .await
        .expect("events after the commit");
    assert_eq!(names(&events), ["note/n1#1", "user/ann#3"]);
    assert_eq!(
        next_within(&mut follower, Duration::from_millis(300)).await,
        None
    );
}
