//! The users projection, run by the real runner from a real JetStream stream, with the
//! `notices` projection that tells users about their events.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use domain::user::{
    FieldPatch, Patch, RegisterUser, SharingPolicy, UpdateProfile, User, UserCommand, UserEvent,
    UserId,
};
use event_store::codec::Upcasters;
use event_store::{AggregateRepository, FeedReader, Metadata};
use futures::StreamExt;
use personal_data::Keys;
use projector::notices::Notices;
use projector::users::Users;
use projector::{replay, Config, Projection, Runner};
use sqlx::PgPool;
use testkit::{eventually, TestNats};
use tokio::sync::oneshot;

async fn register(pool: &PgPool, keys: &Keys, id: &str, email: &str) {
    let users = AggregateRepository::<User>::new(
        pool.clone(),
        Upcasters::default(),
        UserEvent::current_version,
    );
    let command = UserCommand::Register(RegisterUser {
        user_id: UserId::parse(id).expect("id"),
        email: keys.seal(id, email).await.expect("seal"),
        first_name: keys.seal(id, "Ann").await.expect("seal"),
        last_name: keys.seal(id, "Lee").await.expect("seal"),
        policy: SharingPolicy::default(),
        at: Utc::now(),
    });
    users
        .execute(id, command, &(), &Metadata::default())
        .await
        .expect("register");
    let school = FieldPatch {
        value: Patch::Set(keys.seal(id, "MIT").await.expect("seal")),
        public: Some(true),
    };
    let update = UserCommand::UpdateProfile(Box::new(UpdateProfile {
        school: Some(school),
        at: Utc::now(),
        ..Default::default()
    }));
    users
        .execute(id, update, &(), &Metadata::default())
        .await
        .expect("update");
}

/// The relay and the users and notices projections, stopped when the returned senders drop. They get
/// a pool of their own, as in a real process: a test's pool has only five connections.
fn start_pipeline(test_pool: &PgPool, nats: &async_nats::Client) -> Vec<oneshot::Sender<()>> {
    let pool = &sqlx::postgres::PgPoolOptions::new()
        .max_connections(10)
        .connect_lazy(&testkit::database_url(test_pool))
        .expect("pipeline pool");
    let (stop_relay, relay_stopped) = oneshot::channel::<()>();
    let relay = relay::Relay::new(pool.clone(), nats.clone(), relay::Config::default());
    tokio::spawn(relay.run(async move { drop(relay_stopped.await) }));
    let mut stops = vec![stop_relay];
    let projections: [Arc<dyn Projection>; 2] = [
        Arc::new(Users::new(Keys::new(pool.clone()))),
        Arc::new(Notices::new(Keys::new(pool.clone()))),
    ];
    for projection in projections {
        let (stop, stopped) = oneshot::channel::<()>();
        let runner = Runner::new(pool.clone(), nats.clone(), projection, Config::default());
        tokio::spawn(runner.run(async move { drop(stopped.await) }));
        stops.push(stop);
    }
    stops
}

async fn wait_until_caught_up(pool: &PgPool) {
    let target = FeedReader::new(pool.clone())
        .last_committed()
        .await
        .expect("last committed");
    for name in ["users", "notices"] {
        eventually(
            Duration::from_secs(20),
            "the projection to reach the last committed event",
            || async {
                let mut conn = pool.acquire().await.ok()?;
                let checkpoint = event_store::checkpoint::load(&mut conn, name).await.ok()?;
                (checkpoint.cursor >= target).then_some(())
            },
        )
        .await;
    }
}

type Row = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    bool,
    i64,
);

async fn user_row(pool: &PgPool, id: &str) -> Row {
    sqlx::query_as("SELECT user_id, email, first_name, school, school_public, version FROM user_table WHERE user_id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("row")
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn keeps_the_user_view_and_tells_the_user_after_commit(pool: PgPool) {
    let nats = TestNats::start().expect("nats");
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let mut ann_notices = client
        .subscribe(event_bus::notice_subject("ann"))
        .await
        .expect("subscribe");
    let keys = Keys::new(pool.clone());
    register(&pool, &keys, "ann", "ann@example.com").await;
    let _running = start_pipeline(&pool, &client);

    wait_until_caught_up(&pool).await;
    let expected: Row = (
        "ann".into(),
        Some("ann@example.com".into()),
        Some("Ann".into()),
        Some("MIT".into()),
        true,
        3, // registered, its sharing policy, the update
    );
    assert_eq!(user_row(&pool, "ann").await, expected);
    let first = tokio::time::timeout(Duration::from_secs(10), ann_notices.next())
        .await
        .expect("notice")
        .expect("open");
    let notice: event_bus::Notice = serde_json::from_slice(&first.payload).expect("notice json");
    assert_eq!(notice.kind, "user.registered");
    let stored: (i64,) = sqlx::query_as("SELECT count(*) FROM user_notices WHERE user_id = 'ann'")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(stored.0, 2);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn events_delivered_again_change_nothing(pool: PgPool) {
    let nats = TestNats::start().expect("nats");
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let keys = Keys::new(pool.clone());
    register(&pool, &keys, "ann", "ann@example.com").await;
    let running = start_pipeline(&pool, &client);
    wait_until_caught_up(&pool).await;
    let before = user_row(&pool, "ann").await;
    drop(running);

    // Forget where the stream stood: the next runner is handed every event again.
    sqlx::query("UPDATE checkpoints SET stream_sequence = 0 WHERE name = 'users'")
        .execute(&pool)
        .await
        .expect("reset");
    register(&pool, &keys, "bob", "bob@example.com").await;
    let _running = start_pipeline(&pool, &client);
    wait_until_caught_up(&pool).await;

    assert_eq!(user_row(&pool, "ann").await, before);
    assert_eq!(user_row(&pool, "bob").await.5, 3);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_replay_of_the_store_equals_the_live_view(pool: PgPool) {
    let nats = TestNats::start().expect("nats");
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let keys = Keys::new(pool.clone());
    for (id, email) in [
        ("ann", "ann@example.com"),
        ("bob", "bob@example.com"),
        ("cy", "cy@example.com"),
    ] {
        register(&pool, &keys, id, email).await;
    }
    let _running = start_pipeline(&pool, &client);
    wait_until_caught_up(&pool).await;

    sqlx::query("CREATE TABLE user_table_replay (LIKE user_table INCLUDING ALL)")
        .execute(&pool)
        .await
        .expect("scratch");
    let read = replay::rebuild(&pool, &Users::into_table(keys, "user_table_replay"), 2)
        .await
        .expect("rebuild");
    assert_eq!(read, 9);
    assert_eq!(
        replay::differences(&pool, "user_table", "user_table_replay")
            .await
            .expect("compare"),
        Vec::<serde_json::Value>::new()
    );

    sqlx::query("UPDATE user_table SET school = 'Yale' WHERE user_id = 'bob'")
        .execute(&pool)
        .await
        .expect("tamper");
    assert_eq!(
        replay::differences(&pool, "user_table", "user_table_replay")
            .await
            .expect("compare")
            .len(),
        2
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_replay_after_erasure_shows_the_user_without_personal_data(pool: PgPool) {
    let keys = Keys::new(pool.clone());
    register(&pool, &keys, "ann", "ann@example.com").await;
    keys.shred("ann").await.expect("shred");

    let replayed = Users::new(Keys::new(pool.clone()));
    replay::rebuild(&pool, &replayed, 100)
        .await
        .expect("rebuild");
    let expected: Row = ("ann".into(), None, None, None, true, 3);
    assert_eq!(user_row(&pool, "ann").await, expected);
}

/// Changes ann's work: one more `user.profile_updated` event.
async fn change_work(pool: &PgPool, keys: &Keys, work: &str) {
    let users = AggregateRepository::<User>::new(
        pool.clone(),
        Upcasters::default(),
        UserEvent::current_version,
    );
    let field = FieldPatch {
        value: Patch::Set(keys.seal("ann", work).await.expect("seal")),
        public: None,
    };
    let update = UpdateProfile {
        work: Some(field),
        at: Utc::now(),
        ..Default::default()
    };
    users
        .execute(
            "ann",
            UserCommand::UpdateProfile(Box::new(update)),
            &(),
            &Metadata::default(),
        )
        .await
        .expect("update");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_previous_leaders_late_commit_is_not_applied_again(pool: PgPool) {
    let nats = TestNats::start().expect("nats");
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let keys = Keys::new(pool.clone());
    register(&pool, &keys, "ann", "ann@example.com").await;
    let running = start_pipeline(&pool, &client);
    wait_until_caught_up(&pool).await;
    drop(running);
    change_work(&pool, &keys, "first").await;
    change_work(&pool, &keys, "second").await;

    // The old leader's last batch: applied, its commit still in flight.
    let mut late = pool.begin().await.expect("begin");
    let mut checkpoint = event_store::checkpoint::lock(&mut late, "users")
        .await
        .expect("lock");
    let users = Users::new(keys.clone());
    for event in FeedReader::new(pool.clone())
        .read_after(checkpoint.cursor, 10)
        .await
        .expect("read")
    {
        projector::Projection::apply(&users, &mut late, &event)
            .await
            .expect("apply");
        checkpoint.cursor = event.cursor();
        checkpoint.stream_sequence += 1;
    }
    event_store::checkpoint::save(&mut late, "users", checkpoint)
        .await
        .expect("save");

    // A new leader starts from the committed checkpoint, before the late commit lands.
    let _running = start_pipeline(&pool, &client);
    eventually(
        Duration::from_secs(10),
        "the new runner to wait on the checkpoint row",
        || async {
            let (waiting,): (i64,) =
                sqlx::query_as("SELECT count(*) FROM pg_locks WHERE NOT granted")
                    .fetch_one(&pool)
                    .await
                    .ok()?;
            (waiting > 0).then_some(())
        },
    )
    .await;
    late.commit().await.expect("late commit");
    change_work(&pool, &keys, "third").await;
    wait_until_caught_up(&pool).await;

    let (work, version): (Option<String>, i64) =
        sqlx::query_as("SELECT work, version FROM user_table WHERE user_id = 'ann'")
            .fetch_one(&pool)
            .await
            .expect("row");
    assert_eq!(
        (work.as_deref(), version),
        (Some("third"), 6),
        "an event was applied twice or lost"
    );
}

/// Folding events in memory (two statements a batch, or a rebuild's window of many
/// batches) gives the rows that applying each event alone gives: several events of one
/// user in one batch, registration included, and windows that write and forget their
/// rows after every change.
#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_batch_folded_at_once_equals_its_events_applied_one_by_one(pool: PgPool) {
    let keys = Keys::new(pool.clone());
    for (id, email) in [("ann", "ann@example.com"), ("bob", "bob@example.com")] {
        register(&pool, &keys, id, email).await;
    }
    for work in ["Acme", "Initech", "Globex"] {
        change_work(&pool, &keys, work).await;
    }
    for table in ["one_by_one", "window_of_one", "all_at_once"] {
        sqlx::query(&format!(
            "CREATE TABLE {table} (LIKE user_table INCLUDING ALL)"
        ))
        .execute(&pool)
        .await
        .expect("scratch");
    }
    let events = FeedReader::new(pool.clone())
        .read_after(event_store::Cursor::START, 1000)
        .await
        .expect("feed");
    let one_by_one = Users::into_table(keys.clone(), "one_by_one");
    for event in &events {
        let mut tx = pool.begin().await.expect("begin");
        one_by_one.apply(&mut tx, event).await.expect("apply");
        tx.commit().await.expect("commit");
    }
    let to = events.last().expect("events").cursor();
    let window_of_one = replay::RebuildOptions {
        rows: 1,
        ..replay::RebuildOptions::live(1)
    };
    let replayed = Users::into_table(keys.clone(), "window_of_one");
    replay::rebuild_range(
        &pool,
        &replayed,
        event_store::Cursor::START,
        to,
        &window_of_one,
    )
    .await
    .expect("rebuild, a row at a time");
    replay::rebuild(&pool, &Users::into_table(keys.clone(), "all_at_once"), 1000)
        .await
        .expect("rebuild");

    assert_eq!(
        replay::differences(&pool, "one_by_one", "window_of_one")
            .await
            .expect("compare"),
        Vec::<serde_json::Value>::new()
    );
    assert_eq!(
        replay::differences(&pool, "one_by_one", "all_at_once")
            .await
            .expect("compare"),
        Vec::<serde_json::Value>::new()
    );
    let (work, version, school): (Option<String>, i64, Option<String>) =
        sqlx::query_as("SELECT work, version, school FROM all_at_once WHERE user_id = 'ann'")
            .fetch_one(&pool)
            .await
            .expect("ann");
    // Registration, its policy event, the school and three changes of work.
    assert_eq!(
        (work.as_deref(), version, school.as_deref()),
        (Some("Globex"), 6, Some("MIT"))
    );
}

/// A projection added to a system that is running (relay and other projections live, history
/// in the store) builds its view from the whole history, then follows what comes after.
#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_projection_added_to_a_running_system_builds_from_the_whole_history(pool: PgPool) {
    let nats = TestNats::start().expect("nats");
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let keys = Keys::new(pool.clone());
    for (id, email) in [("ann", "ann@example.com"), ("bob", "bob@example.com")] {
        register(&pool, &keys, id, email).await;
    }
    let _running = start_pipeline(&pool, &client);
    wait_until_caught_up(&pool).await;

    // Added now: the sharing-policy view, never run on this database.
    let own_pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect_lazy(&testkit::database_url(&pool))
        .expect("pool");
    let added = Arc::new(projector::policies::Policies::new());
    let (_stop, stopped) = oneshot::channel::<()>();
    let runner = Runner::new(own_pool, client.clone(), added, Config::default());
    tokio::spawn(runner.run(async move { drop(stopped.await) }));
    register(&pool, &keys, "cy", "cy@example.com").await;

    let target = FeedReader::new(pool.clone())
        .last_committed()
        .await
        .expect("last committed");
    eventually(
        Duration::from_secs(20),
        "the added view to catch up",
        || async {
            let mut conn = pool.acquire().await.ok()?;
            let checkpoint = event_store::checkpoint::load(&mut conn, "policies")
                .await
                .ok()?;
            (checkpoint.cursor >= target).then_some(())
        },
    )
    .await;
    let users: Vec<(String,)> =
        sqlx::query_as("SELECT user_id FROM sharing_policy ORDER BY user_id")
            .fetch_all(&pool)
            .await
            .expect("policies");
    assert_eq!(users, [("ann".into(),), ("bob".into(),), ("cy".into(),)]);
    sqlx::query("CREATE TABLE policy_replay (LIKE sharing_policy INCLUDING ALL)")
        .execute(&pool)
        .await
        .expect("scratch");
    replay::rebuild(
        &pool,
        &projector::policies::Policies::into_table("policy_replay"),
        100,
    )
    .await
    .expect("rebuild");
    assert_eq!(
        replay::differences(&pool, "sharing_policy", "policy_replay")
            .await
            .expect("compare"),
        Vec::<serde_json::Value>::new()
    );
}
