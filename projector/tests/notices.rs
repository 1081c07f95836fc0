//! The `notices` projection: every notice of a user, whatever view its event changes,
//! stored and published in feed order; replay equals live; names as of each event.

mod sharing;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use domain::friendship::{
    pair_id, AcceptFriendRequest, CancelFriendRequest, Friendship, FriendshipCommand,
    FriendshipEvent, SendFriendRequest,
};
use domain::user::{SharingPolicy, UpdateProfile, UserCommand};
use event_store::codec::Upcasters;
use event_store::{AggregateRepository, Cursor, FeedReader, Metadata};
use futures::StreamExt;
use personal_data::Keys;
use projector::friendships::Friendships;
use projector::notices::Notices;
use projector::shares::Shares;
use projector::users::Users;
use projector::{replay, Projection};
use serde_json::{json, Value};
use sqlx::PgPool;
use testkit::TestNats;

use sharing::*;

async fn on_friendship(pool: &PgPool, a: &str, b: &str, command: FriendshipCommand) {
    AggregateRepository::<Friendship>::new(
        pool.clone(),
        Upcasters::default(),
        FriendshipEvent::current_version,
    )
    .execute(&pair_id(&id(a), &id(b)), command, &(), &Metadata::default())
    .await
    .expect("the friendship command is carried out");
}

async fn send_request(pool: &PgPool, from: &str, to: &str) {
    let command = FriendshipCommand::SendFriendRequest(SendFriendRequest {
        from: id(from),
        to: id(to),
        recipient_exists: true,
        at: Utc::now(),
    });
    on_friendship(pool, from, to, command).await;
}

async fn accept(pool: &PgPool, by: &str, other: &str) {
    let command = FriendshipCommand::AcceptFriendRequest(AcceptFriendRequest {
        by: id(by),
        at: Utc::now(),
    });
    on_friendship(pool, by, other, command).await;
}

async fn cancel(pool: &PgPool, by: &str, other: &str) {
    let command = FriendshipCommand::CancelFriendRequest(CancelFriendRequest {
        by: id(by),
        at: Utc::now(),
    });
    on_friendship(pool, by, other, command).await;
}

/// `user` changes their first name to `first`.
async fn rename(pool: &PgPool, user: &str, first: &str) {
    let keys = Keys::new(pool.clone());
    let update = UpdateProfile {
        first_name: Some(keys.seal(user, first).await.expect("seal")),
        at: Utc::now(),
        ..Default::default()
    };
    on_user(pool, user, UserCommand::UpdateProfile(Box::new(update))).await;
}

/// Every projection that follows these events, as `pagenow projector` runs them.
fn every_projection(pool: &PgPool) -> Vec<Arc<dyn Projection>> {
    let keys = Keys::new(pool.clone());
    vec![
        Arc::new(Users::new(keys.clone())),
        Arc::new(Friendships::new()),
        Arc::new(Shares::new(keys.clone())),
        Arc::new(Notices::new(keys)),
    ]
}

/// `(kind, tx_id, position)` of `user`'s stored notices, in feed order.
async fn stored(pool: &PgPool, user: &str) -> Vec<(String, i64, i64)> {
    sqlx::query_as(
        "SELECT kind, tx_id::text::bigint, position FROM user_notices
          WHERE user_id = $1 ORDER BY tx_id, position, kind",
    )
    .bind(user)
    .fetch_all(pool)
    .await
    .expect("notices")
}

/// Ann and Bob befriend, rename and share, their events of three views interleaved.
async fn interleaved_story(pool: &PgPool) {
    register(pool, "ann", "Ann", "Lee", SharingPolicy::default()).await;
    register(pool, "bob", "Bob", "Ray", SharingPolicy::default()).await;
    send_request(pool, "bob", "ann").await;
    rename(pool, "ann", "Annie").await;
    share(pool, "bob", &["ann"], "https://one.example/", "One", 1).await;
    accept(pool, "ann", "bob").await;
    rename(pool, "ann", "Anne").await;
    share(pool, "bob", &["ann"], "https://two.example/", "Two", 2).await;
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn notices_of_every_view_reach_the_user_in_feed_order(pool: PgPool) {
    let nats = TestNats::start().expect("nats");
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let mut ann_live = client
        .subscribe(event_bus::notice_subject("ann"))
        .await
        .expect("subscribe");
    interleaved_story(&pool).await;
    let _running = start_pipeline(&pool, &client, every_projection(&pool));
    caught_up(&pool, "notices").await;

    let stored = stored(&pool, "ann").await;
    let kinds: Vec<&str> = stored.iter().map(|(kind, _, _)| kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "user.registered",
            "friendship.request_received",
            "user.profile_updated",
            "share.received",
            "user.profile_updated",
            "share.received",
        ]
    );
    let mut live = Vec::new();
    while live.len() < stored.len() {
        let message = tokio::time::timeout(Duration::from_secs(10), ann_live.next())
            .await
            .expect("ann's next notice arrives live")
            .expect("the subscription is open");
        let notice: event_bus::Notice = serde_json::from_slice(&message.payload).expect("json");
        live.push((notice.kind, notice.tx_id as i64, notice.position));
    }
    assert_eq!(live, stored, "published in the order of the feed");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_replay_of_the_store_equals_the_live_names(pool: PgPool) {
    let nats = TestNats::start().expect("nats");
    let client = async_nats::connect(nats.url()).await.expect("connect");
    interleaved_story(&pool).await;
    let _running = start_pipeline(&pool, &client, every_projection(&pool));
    caught_up(&pool, "notices").await;

    // A rebuild's names are written once per window: of every change, and of all.
    let to = FeedReader::new(pool.clone())
        .last_committed()
        .await
        .expect("head");
    for (table, rows) in [("notice_names_window", 1), ("notice_names_replay", 50_000)] {
        scratch_copy(&pool, "notice_names", table).await;
        let replayed = Notices::into_table(Keys::new(pool.clone()), table);
        let options = replay::RebuildOptions {
            rows,
            ..replay::RebuildOptions::live(3)
        };
        replay::rebuild_range(&pool, &replayed, Cursor::START, to, &options)
            .await
            .expect("rebuild");
        let differences = replay::differences(&pool, "notice_names", table);
        assert_eq!(
            differences.await.expect("compare"),
            Vec::<Value>::new(),
            "{table}"
        );
    }
    let names: Vec<(String, String, String)> =
        sqlx::query_as("SELECT * FROM notice_names ORDER BY user_id")
            .fetch_all(&pool)
            .await
            .expect("names");
    let expected = [("ann", "Anne", "Lee"), ("bob", "Bob", "Ray")]
        .map(|(u, f, l)| (u.to_owned(), f.to_owned(), l.to_owned()));
    assert_eq!(names, expected);

    sqlx::query("UPDATE notice_names SET first_name = 'Rob' WHERE user_id = 'bob'")
        .execute(&pool)
        .await
        .expect("tamper");
    let differences = replay::differences(&pool, "notice_names", "notice_names_replay");
    assert_eq!(differences.await.expect("compare").len(), 2);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_notice_carries_the_names_as_of_its_event(pool: PgPool) {
    let nats = TestNats::start().expect("nats");
    let client = async_nats::connect(nats.url()).await.expect("connect");
    register(&pool, "ann", "Ann", "Lee", SharingPolicy::default()).await;
    register(&pool, "bob", "Bob", "Ray", SharingPolicy::default()).await;
    send_request(&pool, "bob", "ann").await;
    rename(&pool, "bob", "Robert").await;
    cancel(&pool, "bob", "ann").await;
    // Every event is committed before any projection starts: the users view has Bob's
    // new name before the notices of his older events are told.
    let _running = start_pipeline(&pool, &client, every_projection(&pool));
    caught_up(&pool, "users").await;
    caught_up(&pool, "notices").await;

    let told: Vec<(String, Value)> = sqlx::query_as(
        "SELECT kind, data FROM user_notices
          WHERE user_id = 'ann' AND kind LIKE 'friendship.%' ORDER BY tx_id, position",
    )
    .fetch_all(&pool)
    .await
    .expect("notices");
    let from = |kind: &str, first: &str| {
        let data = json!({ "user_id": "bob", "first_name": first, "last_name": "Ray" });
        (kind.to_owned(), data)
    };
    assert_eq!(
        told,
        [
            from("friendship.request_received", "Bob"),
            from("friendship.request_cancelled", "Robert"),
        ]
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn after_the_sharer_is_erased_a_replay_tells_the_share_without_its_page(pool: PgPool) {
    register(&pool, "ann", "Ann", "Lee", SharingPolicy::default()).await;
    register(&pool, "bob", "Bob", "Ray", SharingPolicy::default()).await;
    let share_id = share(&pool, "ann", &["bob"], "https://private.example/", "P", 1).await;
    Keys::new(pool.clone()).shred("ann").await.expect("shred");

    let notices = apply_each(&pool, &Notices::new(Keys::new(pool.clone())), 1).await;

    let received: Vec<(&str, &Value)> = notices
        .iter()
        .filter(|n| n.notice.kind == "share.received")
        .map(|n| (n.user_id.as_str(), &n.notice.data))
        .collect();
    let data = json!({
        "share_id": share_id,
        "sharer": { "user_id": "ann", "first_name": null, "last_name": null },
        "url": null,
        "title": null,
        "shared_at": at(1),
    });
    assert_eq!(received, [("bob", &data)]);
}
