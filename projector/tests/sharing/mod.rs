//! Support for the sharing projections' tests: commands run straight on the aggregates,
//! the real relay and runners, and the feed read back.

#![allow(dead_code)] // each test file uses its own part

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use domain::share::inbox::{
    Inbox, InboxCommand, InboxEvent, MarkAllSharesSeen, MarkShareSeen, Notification,
};
use domain::share::{Audience, Share, ShareCommand, ShareEvent, ShareId, ShareUrl};
use domain::user::{SharingPolicy, User, UserCommand, UserEvent, UserId};
use event_store::codec::Upcasters;
use event_store::{AggregateRepository, Cursor, FeedReader, Metadata, StoredEvent};
use personal_data::Keys;
use projector::{Config, Projection, Runner};
use sqlx::PgPool;
use testkit::eventually;
use tokio::sync::oneshot;

pub fn id(user: &str) -> UserId {
    UserId::parse(user).expect("id")
}

/// Minute `minute` of a fixed hour: times the tests can compare.
pub fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, minute, 0)
        .single()
        .expect("a time")
}

/// Runs `command` on the user aggregate `user`.
pub async fn on_user(pool: &PgPool, user: &str, command: UserCommand) {
    AggregateRepository::<User>::new(
        pool.clone(),
        Upcasters::default(),
        UserEvent::current_version,
    )
    .execute(user, command, &(), &Metadata::default())
    .await
    .expect("the user command is carried out");
}

/// Registers `user` named `first` `last`, with `policy`.
pub async fn register(pool: &PgPool, user: &str, first: &str, last: &str, policy: SharingPolicy) {
    let keys = Keys::new(pool.clone());
    let command = UserCommand::Register(domain::user::RegisterUser {
        user_id: id(user),
        email: keys.seal(user, "x@example.com").await.expect("seal"),
        first_name: keys.seal(user, first).await.expect("seal"),
        last_name: keys.seal(user, last).await.expect("seal"),
        policy,
        at: at(0),
    });
    on_user(pool, user, command).await;
}

/// `sharer` shares `url` (titled `title`) with `recipients`, at minute `minute`.
pub async fn share(
    pool: &PgPool,
    sharer: &str,
    recipients: &[&str],
    url: &str,
    title: &str,
    minute: u32,
) -> ShareId {
    let keys = Keys::new(pool.clone());
    let share_id = ShareId::parse(&uuid::Uuid::new_v4().to_string()).expect("uuid");
    let recipients: Vec<UserId> = recipients.iter().map(|r| id(r)).collect();
    let domain = url.split('/').nth(2).expect("a host");
    let command = ShareCommand::ShareUrl(Box::new(ShareUrl {
        share_id: share_id.clone(),
        sharer: id(sharer),
        sharer_registered: true,
        url: keys.seal(sharer, url).await.expect("seal"),
        title: keys.seal(sharer, title).await.expect("seal"),
        domain: keys.seal(sharer, domain).await.expect("seal"),
        friends: recipients.iter().cloned().collect::<BTreeSet<_>>(),
        audience: Audience::Chosen(recipients),
        at: at(minute),
    }));
    AggregateRepository::<Share>::new(
        pool.clone(),
        Upcasters::default(),
        ShareEvent::current_version,
    )
    .execute(share_id.as_str(), command, &(), &Metadata::default())
    .await
    .expect("the share is made");
    share_id
}

async fn on_inbox(pool: &PgPool, recipient: &str, command: InboxCommand) {
    AggregateRepository::<Inbox>::new(
        pool.clone(),
        Upcasters::default(),
        InboxEvent::current_version,
    )
    .execute(recipient, command, &(), &Metadata::default())
    .await
    .expect("the inbox command is carried out");
}

/// `recipient` marks `share_id` seen at minute `minute`.
pub async fn mark_seen(pool: &PgPool, recipient: &str, share_id: &ShareId, minute: u32) {
    let command = InboxCommand::MarkShareSeen(MarkShareSeen {
        share_id: share_id.clone(),
        notification: Notification::Unseen,
        at: at(minute),
    });
    on_inbox(pool, recipient, command).await;
}

/// `recipient` marks everything seen at minute `minute`.
pub async fn mark_all_seen(pool: &PgPool, recipient: &str, minute: u32) {
    let command = InboxCommand::MarkAllSharesSeen(MarkAllSharesSeen {
        unread: 1,
        at: at(minute),
    });
    on_inbox(pool, recipient, command).await;
}

/// The relay and a runner for each of `projections`, stopped when the returned senders
/// drop. They get a pool of their own, as in a real process.
pub fn start_pipeline(
    test_pool: &PgPool,
    nats: &async_nats::Client,
    projections: Vec<Arc<dyn Projection>>,
) -> Vec<oneshot::Sender<()>> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(10)
        .connect_lazy(&testkit::database_url(test_pool))
        .expect("pipeline pool");
    let (stop_relay, relay_stopped) = oneshot::channel::<()>();
    let relay = relay::Relay::new(pool.clone(), nats.clone(), relay::Config::default());
    tokio::spawn(relay.run(async move { drop(relay_stopped.await) }));
    let mut stops = vec![stop_relay];
    for projection in projections {
        let (stop, stopped) = oneshot::channel::<()>();
        let runner = Runner::new(pool.clone(), nats.clone(), projection, Config::default());
        tokio::spawn(runner.run(async move { drop(stopped.await) }));
        stops.push(stop);
    }
    stops
}

/// Waits until the projection `name` has applied every committed event.
pub async fn caught_up(pool: &PgPool, name: &str) {
    let target = FeedReader::new(pool.clone())
        .last_committed()
        .await
        .expect("last committed");
    eventually(
        Duration::from_secs(20),
        "the projection to catch up",
        || async {
            let mut conn = pool.acquire().await.ok()?;
            let checkpoint = event_store::checkpoint::load(&mut conn, name).await.ok()?;
            (checkpoint.cursor >= target).then_some(())
        },
    )
    .await;
}

/// Every committed event, in feed order.
pub async fn every_event(pool: &PgPool) -> Vec<StoredEvent> {
    let reader = FeedReader::new(pool.clone());
    let target = reader.last_committed().await.expect("last committed");
    eventually(
        Duration::from_secs(20),
        "the feed to reach the last event",
        || async {
            let events = reader.read_after(Cursor::START, 1000).await.ok()?;
            let last = events.last().map_or(Cursor::START, StoredEvent::cursor);
            (last >= target).then_some(events)
        },
    )
    .await
}

/// Applies every committed event to `projection`, each `times` times in a row, in one
/// transaction; returns the notices of each application.
pub async fn apply_each(
    pool: &PgPool,
    projection: &dyn Projection,
    times: usize,
) -> Vec<event_bus::Addressed> {
    let mut tx = pool.begin().await.expect("begin");
    let mut notices = Vec::new();
    for event in every_event(pool).await {
        for _ in 0..times {
            notices.extend(projection.apply(&mut tx, &event).await.expect("apply"));
        }
    }
    tx.commit().await.expect("commit");
    notices
}

/// Creates `scratch` with the columns of `table`.
pub async fn scratch_copy(pool: &PgPool, table: &str, scratch: &str) {
    sqlx::query(&format!(
        "CREATE TABLE {scratch} (LIKE {table} INCLUDING ALL)"
    ))
    .execute(pool)
    .await
    .expect("scratch table");
}
