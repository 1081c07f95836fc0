//! The friendships projection: rows after each event, and the notices the `notices`
//! projection tells of them, through the real runners from a real JetStream stream;
//! events applied twice; replay equals live.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use domain::friendship::{
    pair_id, AcceptFriendRequest, CancelFriendRequest, DeclineFriendRequest, Friendship,
    FriendshipCommand, FriendshipEvent, RemoveFriend, SendFriendRequest,
};
use domain::user::{RegisterUser, User, UserCommand, UserEvent, UserId};
use event_store::codec::Upcasters;
use event_store::{AggregateRepository, Cursor, FeedReader, Metadata, StoredEvent};
use futures::StreamExt;
use personal_data::Keys;
use projector::friendships::Friendships;
use projector::notices::Notices;
use projector::users::Users;
use projector::{replay, Config, Projection, Runner};
use serde_json::{json, Value};
use sqlx::PgPool;
use testkit::{eventually, TestNats};
use tokio::sync::oneshot;

fn id(user: &str) -> UserId {
    UserId::parse(user).expect("id")
}

async fn register(pool: &PgPool, user: &str, first: &str, last: &str) {
    let keys = Keys::new(pool.clone());
    let users = AggregateRepository::<User>::new(
        pool.clone(),
        Upcasters::default(),
        UserEvent::current_version,
    );
    let command = UserCommand::Register(RegisterUser {
        user_id: id(user),
        email: keys.seal(user, "x@example.com").await.expect("seal"),
        first_name: keys.seal(user, first).await.expect("seal"),
        last_name: keys.seal(user, last).await.expect("seal"),
        policy: Default::default(),
        at: Utc::now(),
    });
    users
        .execute(user, command, &(), &Metadata::default())
        .await
        .expect("register");
}

/// What one user does to their relationship with another.
#[derive(Clone, Copy)]
enum Act {
    Send,
    Accept,
    Decline,
    Cancel,
    Remove,
}

/// `by` does `act` to their relationship with `other`, straight on the aggregate.
async fn act(pool: &PgPool, by: &str, act: Act, other: &str) {
    let repository = AggregateRepository::<Friendship>::new(
        pool.clone(),
        Upcasters::default(),
        FriendshipEvent::current_version,
    );
    let (by, other, at) = (id(by), id(other), Utc::now());
    let pair = pair_id(&by, &other);
    let command = match act {
        Act::Send => FriendshipCommand::SendFriendRequest(SendFriendRequest {
            from: by,
            to: other,
            recipient_exists: true,
            at,
        }),
        Act::Accept => FriendshipCommand::AcceptFriendRequest(AcceptFriendRequest { by, at }),
        Act::Decline => FriendshipCommand::DeclineFriendRequest(DeclineFriendRequest { by, at }),
        Act::Cancel => FriendshipCommand::CancelFriendRequest(CancelFriendRequest { by, at }),
        Act::Remove => FriendshipCommand::RemoveFriend(RemoveFriend { by, at }),
    };
    repository
        .execute(&pair, command, &(), &Metadata::default())
        .await
        .expect("the command is carried out");
}

/// The relay and the users, friendships and notices projections, stopped when the returned
/// senders drop. They get a pool of their own, as in a real process.
fn start_pipeline(test_pool: &PgPool, nats: &async_nats::Client) -> Vec<oneshot::Sender<()>> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(10)
        .connect_lazy(&testkit::database_url(test_pool))
        .expect("pipeline pool");
    let (stop_relay, relay_stopped) = oneshot::channel::<()>();
    let relay = relay::Relay::new(pool.clone(), nats.clone(), relay::Config::default());
    tokio::spawn(relay.run(async move { drop(relay_stopped.await) }));
    let mut stops = vec![stop_relay];
    let projections: [Arc<dyn Projection>; 3] = [
        Arc::new(Users::new(Keys::new(pool.clone()))),
        Arc::new(Friendships::new()),
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

/// Waits until the projection `name` has applied every committed event.
async fn caught_up(pool: &PgPool, name: &str) {
    let target = FeedReader::new(pool.clone())
        .last_committed()
        .await
        .expect("last committed");
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

/// Every committed event, in feed order. The feed holds back while any transaction on
/// the server is open (other tests' too), so this reads until the last committed event.
async fn every_event(pool: &PgPool) -> Vec<StoredEvent> {
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

/// `(user_id, other_id, status, requested_by, accepted)` of every row of `table`.
type Row = (String, String, String, String, bool);

async fn rows(pool: &PgPool, table: &str) -> Vec<Row> {
    let sql = format!(
        "SELECT user_id, other_id, status, requested_by, accepted_at IS NOT NULL
           FROM {table} ORDER BY user_id, other_id"
    );
    sqlx::query_as(&sql).fetch_all(pool).await.expect("rows")
}

fn row(user: &str, other: &str, status: &str, requested_by: &str) -> Row {
    let accepted = status == "accepted";
    (
        user.into(),
        other.into(),
        status.into(),
        requested_by.into(),
        accepted,
    )
}

/// `(kind, data)` of `user`'s stored friendship notices, in feed order.
async fn notices(pool: &PgPool, user: &str) -> Vec<(String, Value)> {
    sqlx::query_as(
        "SELECT kind, data FROM user_notices
          WHERE user_id = $1 AND kind LIKE 'friendship.%' ORDER BY tx_id, position",
    )
    .bind(user)
    .fetch_all(pool)
    .await
    .expect("notices")
}

fn from(kind: &str, actor: &str, first: &str, last: &str) -> (String, Value) {
    let data = json!({ "user_id": actor, "first_name": first, "last_name": last });
    (kind.to_owned(), data)
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn each_event_keeps_both_rows_and_tells_the_user_who_did_not_act(pool: PgPool) {
    let nats = TestNats::start().expect("nats");
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let mut bob_live = client
        .subscribe(event_bus::notice_subject("bob"))
        .await
        .expect("subscribe");
    register(&pool, "ann", "Ann", "Lee").await;
    register(&pool, "bob", "Bob", "Ray").await;
    let _running = start_pipeline(&pool, &client);
    caught_up(&pool, "users").await;
    let step = |by, what, other| {
        let pool = pool.clone();
        async move {
            act(&pool, by, what, other).await;
            caught_up(&pool, "friendships").await;
            rows(&pool, "friendship_table").await
        }
    };

    let pending = vec![
        row("ann", "bob", "pending", "ann"),
        row("bob", "ann", "pending", "ann"),
    ];
    assert_eq!(step("ann", Act::Send, "bob").await, pending);
    let accepted = vec![
        row("ann", "bob", "accepted", "ann"),
        row("bob", "ann", "accepted", "ann"),
    ];
    assert_eq!(step("bob", Act::Accept, "ann").await, accepted);
    assert_eq!(step("ann", Act::Remove, "bob").await, vec![]);
    let pending = vec![
        row("ann", "bob", "pending", "bob"),
        row("bob", "ann", "pending", "bob"),
    ];
    assert_eq!(step("bob", Act::Send, "ann").await, pending);
    assert_eq!(step("ann", Act::Decline, "bob").await, vec![]);
    step("bob", Act::Send, "ann").await;
    assert_eq!(step("bob", Act::Cancel, "ann").await, vec![]);
    caught_up(&pool, "notices").await;

    let ann = [
        from("friendship.request_accepted", "bob", "Bob", "Ray"),
        from("friendship.request_received", "bob", "Bob", "Ray"),
        from("friendship.request_received", "bob", "Bob", "Ray"),
        from("friendship.request_cancelled", "bob", "Bob", "Ray"),
    ];
    assert_eq!(notices(&pool, "ann").await, ann);
    let bob = [
        from("friendship.request_received", "ann", "Ann", "Lee"),
        from("friendship.removed", "ann", "Ann", "Lee"),
        from("friendship.request_declined", "ann", "Ann", "Lee"),
    ];
    assert_eq!(notices(&pool, "bob").await, bob);

    let live = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let message = bob_live.next().await.expect("the subscription is open");
            let notice: event_bus::Notice =
                serde_json::from_slice(&message.payload).expect("a notice");
            if notice.kind.starts_with("friendship.") {
                return notice;
            }
        }
    })
    .await
    .expect("bob's first friendship notice arrives live");
    assert_eq!(
        (live.kind.as_str(), &live.data),
        (bob[0].0.as_str(), &bob[0].1)
    );
}

/// Ann and Bob are friends; Ann asked Cy; Cy declined Bob; Dan removed Ann, then asked
/// her again.
async fn a_small_world(pool: &PgPool) {
    for (user, first) in [("ann", "Ann"), ("bob", "Bob"), ("cy", "Cy"), ("dan", "Dan")] {
        register(pool, user, first, "Test").await;
    }
    let story = [
        ("ann", Act::Send, "bob"),
        ("bob", Act::Accept, "ann"),
        ("ann", Act::Send, "cy"),
        ("bob", Act::Send, "cy"),
        ("cy", Act::Decline, "bob"),
        ("ann", Act::Send, "dan"),
        ("dan", Act::Accept, "ann"),
        ("dan", Act::Remove, "ann"),
        ("dan", Act::Send, "ann"),
    ];
    for (by, what, other) in story {
        act(pool, by, what, other).await;
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn applying_each_event_twice_changes_nothing(pool: PgPool) {
    a_small_world(&pool).await;
    let projection = Friendships::new();
    let events = every_event(&pool).await;
    for event in events {
        let mut tx = pool.begin().await.expect("begin");
        let first = projection.apply(&mut tx, &event).await.expect("apply");
        tx.commit().await.expect("commit");
        let once = rows(&pool, "friendship_table").await;
        let mut tx = pool.begin().await.expect("begin");
        let second = projection
            .apply(&mut tx, &event)
            .await
            .expect("apply again");
        tx.commit().await.expect("commit");
        assert_eq!(
            rows(&pool, "friendship_table").await,
            once,
            "{}",
            event.event_type
        );
        assert_eq!(first, second);
    }
    let expected = vec![
        row("ann", "bob", "accepted", "ann"),
        row("ann", "cy", "pending", "ann"),
        row("ann", "dan", "pending", "dan"),
        row("bob", "ann", "accepted", "ann"),
        row("cy", "ann", "pending", "ann"),
        row("dan", "ann", "pending", "dan"),
    ];
    assert_eq!(rows(&pool, "friendship_table").await, expected);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_replay_of_the_store_equals_the_live_view(pool: PgPool) {
    let nats = TestNats::start().expect("nats");
    let client = async_nats::connect(nats.url()).await.expect("connect");
    a_small_world(&pool).await;
    let _running = start_pipeline(&pool, &client);
    caught_up(&pool, "friendships").await;
    assert_eq!(rows(&pool, "friendship_table").await.len(), 6);

    sqlx::query("CREATE TABLE friendship_table_replay (LIKE friendship_table INCLUDING ALL)")
        .execute(&pool)
        .await
        .expect("scratch");
    let replayed = Friendships::into_table("friendship_table_replay");
    replay::rebuild(&pool, &replayed, 3).await.expect("rebuild");
    let differences = replay::differences(&pool, "friendship_table", "friendship_table_replay");
    assert_eq!(differences.await.expect("compare"), Vec::<Value>::new());

    sqlx::query("UPDATE friendship_table SET status = 'accepted' WHERE user_id = 'cy'")
        .execute(&pool)
        .await
        .expect("tamper");
    let differences = replay::differences(&pool, "friendship_table", "friendship_table_replay");
    assert_eq!(differences.await.expect("compare").len(), 2);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_notice_about_someone_the_notices_projection_has_no_names_of_has_null_names(
    pool: PgPool,
) {
    register(&pool, "ann", "Ann", "Lee").await;
    register(&pool, "bob", "Bob", "Ray").await;
    act(&pool, "ann", Act::Send, "bob").await;
    let events = every_event(&pool).await;
    let requested = events.last().expect("the request");

    let mut tx = pool.begin().await.expect("begin");
    let notices = Notices::new(Keys::new(pool.clone()))
        .apply(&mut tx, requested)
        .await
        .expect("apply");
    let told: Vec<(&str, &str, &Value)> = notices
        .iter()
        .map(|n| (n.user_id.as_str(), n.notice.kind.as_str(), &n.notice.data))
        .collect();
    let data = json!({ "user_id": "ann", "first_name": null, "last_name": null });
    assert_eq!(told, [("bob", "friendship.request_received", &data)]);
    assert_eq!(notices[0].notice.position, requested.position);
}
