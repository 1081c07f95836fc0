//! Events written as the command side writes them, and views built as the projector
//! builds them, for the audit tests.

#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use domain::user::{
    FieldPatch, Patch, RegisterUser, SharingPolicy, UpdateProfile, User, UserCommand, UserEvent,
    UserId,
};
use event_store::checkpoint::{self, Checkpoint};
use event_store::codec::Upcasters;
use event_store::{AggregateRepository, FeedReader, Metadata};
use personal_data::Keys;
use projector::replay;
use sqlx::PgPool;

/// Metadata of a request by `user` with request id `correlation`.
pub fn request(user: &str, correlation: &str) -> Metadata {
    Metadata {
        user_id: Some(user.to_owned()),
        correlation_id: Some(correlation.to_owned()),
        causation_id: None,
    }
}

fn users(pool: &PgPool) -> AggregateRepository<User> {
    AggregateRepository::new(
        pool.clone(),
        Upcasters::default(),
        UserEvent::current_version,
    )
}

/// `id` signs in for the first time: `user.registered` and `user.sharing_policy_set`.
pub async fn register(pool: &PgPool, id: &str, metadata: &Metadata) -> Vec<i64> {
    let keys = Keys::new(pool.clone());
    let command = UserCommand::Register(RegisterUser {
        user_id: UserId::parse(id).expect("id"),
        email: keys
            .seal(id, &format!("{id}@example.com"))
            .await
            .expect("seal"),
        first_name: keys.seal(id, "First").await.expect("seal"),
        last_name: keys.seal(id, "Last").await.expect("seal"),
        policy: SharingPolicy::default(),
        at: Utc::now(),
    });
    users(pool)
        .execute(id, command, &(), metadata)
        .await
        .expect("register")
        .positions
}

/// `id` sets their school (and whether it is public): one `user.profile_updated`.
pub async fn set_school(
    pool: &PgPool,
    id: &str,
    school: &str,
    public: bool,
    metadata: &Metadata,
) -> i64 {
    let keys = Keys::new(pool.clone());
    let patch = FieldPatch {
        value: Patch::Set(keys.seal(id, school).await.expect("seal")),
        public: Some(public),
    };
    let update = UpdateProfile {
        school: Some(patch),
        at: Utc::now(),
        ..Default::default()
    };
    let committed = users(pool)
        .execute(
            id,
            UserCommand::UpdateProfile(Box::new(update)),
            &(),
            metadata,
        )
        .await
        .expect("update");
    committed.positions[0]
}

/// Builds every live view from the store and moves every projection's checkpoint to
/// the last committed event: the state a caught-up projector leaves.
pub async fn build_live_views(pool: &PgPool) {
    let target = FeedReader::new(pool.clone())
        .last_committed()
        .await
        .expect("last committed");
    for projection in projector::all(Keys::new(pool.clone())) {
        replay::rebuild(pool, projection.as_ref(), 100)
            .await
            .expect("rebuild live");
        set_checkpoint(pool, projection.name(), target).await;
    }
}

/// Moves checkpoint `name` to `cursor`.
pub async fn set_checkpoint(pool: &PgPool, name: &str, cursor: event_store::Cursor) {
    let mut conn = pool.acquire().await.expect("connection");
    let at = Checkpoint {
        cursor,
        stream_sequence: 0,
    };
    checkpoint::save(&mut conn, name, at).await.expect("save");
}

/// The names of the schemas the verifier made that still exist.
pub async fn scratch_schemas(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'verify\\_%'")
        .fetch_all(pool)
        .await
        .expect("schemas")
}

/// A pool of its own on the test's database, for a background task.
pub fn own_pool(pool: &PgPool) -> PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect_lazy(&testkit::database_url(pool))
        .expect("pool")
}

/// Applies what commits to every live view, checkpoint in the same transaction, as the
/// runner does (checkpoint row locked first), until `stop` is set.
pub async fn keep_views_current(pool: PgPool, stop: Arc<AtomicBool>) {
    let reader = FeedReader::new(pool.clone());
    let projections = projector::all(Keys::new(pool.clone()));
    while !stop.load(Ordering::Relaxed) {
        for projection in &projections {
            let mut tx = pool.begin().await.expect("begin");
            let mut at = checkpoint::lock(&mut tx, projection.name())
                .await
                .expect("lock");
            for event in reader.read_after(at.cursor, 100).await.expect("read") {
                projection.apply(&mut tx, &event).await.expect("apply");
                at.cursor = event.cursor();
            }
            checkpoint::save(&mut tx, projection.name(), at)
                .await
                .expect("save");
            tx.commit().await.expect("commit");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// ann keeps changing her school until `stop` is set; returns how many times.
pub async fn keep_writing(pool: PgPool, stop: Arc<AtomicBool>) -> u64 {
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let school = format!("school {n}");
        set_school(&pool, "ann", &school, n % 2 == 0, &request("ann", "w")).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    n
}

/// Reads `user_table` as the query API does until `stop` is set; returns the number of
/// queries answered and the errors of those that failed.
pub async fn keep_reading(pool: PgPool, stop: Arc<AtomicBool>) -> (u64, Vec<String>) {
    let (mut answered, mut failed) = (0, Vec::new());
    while !stop.load(Ordering::Relaxed) {
        let row: Result<Option<(Option<String>,)>, _> =
            sqlx::query_as("SELECT school FROM user_table WHERE user_id = $1")
                .bind("bob")
                .fetch_optional(&pool)
                .await;
        match row {
            Ok(Some(_)) => answered += 1,
            Ok(None) => failed.push("bob's row was missing".to_owned()),
            Err(error) => failed.push(error.to_string()),
        }
    }
    (answered, failed)
}

/// Waits (bounded) until checkpoint `name` is past `cursor`: traffic is being applied.
pub async fn wait_for_checkpoint_past(pool: &PgPool, name: &str, cursor: event_store::Cursor) {
    testkit::eventually(Duration::from_secs(30), "the view to move", || async {
        let mut conn = pool.acquire().await.ok()?;
        let at = checkpoint::load(&mut conn, name).await.ok()?.cursor;
        (at > cursor).then_some(())
    })
    .await;
}

/// Waits (bounded) until every committed event is readable: `xmin` is server-wide, so
/// another test's open transaction can hold this database's feed back for a moment.
pub async fn wait_until_readable(pool: &PgPool) {
    let reader = FeedReader::new(pool.clone());
    let last = reader.last_committed().await.expect("last committed");
    testkit::eventually(
        Duration::from_secs(30),
        "the feed to be readable",
        || async { (reader.head().await.ok()? >= last).then_some(()) },
    )
    .await;
}
