//! Recovery on reconnect, end to end through real processes: two `pagenow push` nodes,
//! one of which is killed (`kill -9`) while commands keep flowing; the client moves to
//! the other with the last position it saw and misses nothing, receives nothing twice.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use sqlx::PgPool;
use support::{wait_for_views, wait_healthy, Client, Env, Socket};
use testkit::{database_url, eventually, free_port, TestNats};

/// A notice as the client compares it with the history: (`tx_id`, `position`, `kind`).
type Seen = (i64, i64, String);

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_client_moved_from_a_killed_node_receives_every_notice_once_in_order(pool: PgPool) {
    let nats = TestNats::start().expect("nats");
    let env = Env::new(database_url(&pool), nats.url());
    let node_b = Env {
        push: SocketAddr::from(([127, 0, 0, 1], free_port())),
        ..env.clone()
    };
    let _pipeline = ["command-api", "relay", "projector"].map(|role| env.spawn(role));
    let mut node_a = env.spawn("push");
    let _node_b = node_b.spawn("push");
    for addr in [env.command_api, env.push, node_b.push] {
        wait_healthy(addr).await;
    }
    let ann = Client::new(&env, "ann");
    let mut socket = ann.socket_at(env.push, None).await;
    assert_eq!(socket.next_frame().await.expect("ready")["type"], "ready");
    register(&ann).await;
    let writing = Arc::new(AtomicBool::new(true));
    let writer = tokio::spawn(update_until_stopped(env.clone(), writing.clone()));

    let mut seen = notices(&mut socket, 30).await;
    node_a.kill();
    while let Some(frame) = socket.next_frame().await {
        seen.extend(notice_of(&frame));
    }
    let since = seen.last().expect("notices on node A").1;
    wait_for_notices_after(&pool, "ann", since, 5).await;
    let mut socket = ann.socket_at(node_b.push, Some(since)).await;
    let recovered = recovered(&mut socket).await;
    assert!(recovered.len() >= 5, "only {} recovered", recovered.len());
    seen.extend(recovered);
    seen.extend(notices(&mut socket, 30).await);
    writing.store(false, Ordering::SeqCst);
    let updates = writer.await.expect("writer");

    wait_for_views(&pool, Duration::from_secs(30)).await;
    let stored = stored_notices(&pool, "ann").await;
    while seen.len() < stored.len() {
        let frame = socket.next_frame().await.expect("node B stays up");
        seen.extend(notice_of(&frame));
    }
    eprintln!(
        "{updates} updates; {} notices, {since} the last seen on node A",
        seen.len()
    );
    assert_eq!(seen, stored);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn recovery_that_cannot_be_complete_says_resync_and_the_socket_stays_live(pool: PgPool) {
    let nats = TestNats::start().expect("nats");
    let env = Env::new(database_url(&pool), nats.url());
    let _pipeline = ["command-api", "relay", "projector"].map(|role| env.spawn(role));
    let _push = env.spawn_with("push", &[("PUSH_MAX_RECOVERY", "3".to_owned())]);
    for addr in [env.command_api, env.push] {
        wait_healthy(addr).await;
    }
    let ann = Client::new(&env, "ann");
    let registered = register(&ann).await;
    for n in 0..4 {
        update(&ann, n).await;
    }
    wait_for_views(&pool, Duration::from_secs(30)).await;

    let mut too_far = ann.socket_at(env.push, Some(registered)).await;
    let mut unknown = ann.socket_at(env.push, Some(i64::MAX)).await;

    assert_eq!(
        frames_until_ready(&mut too_far).await[0],
        resync("too_many_missed")
    );
    assert_eq!(
        frames_until_ready(&mut unknown).await[0],
        resync("unknown_position")
    );
    let position = update(&ann, 4).await;
    for socket in [&mut too_far, &mut unknown] {
        let live = socket.next_frame().await.expect("a live notice");
        assert_eq!(live["position"].as_i64(), Some(position), "{live}");
    }
}

fn resync(reason: &str) -> Value {
    json!({ "type": "resync", "reason": reason })
}

/// Registers `client`'s user; returns the position of the registration.
async fn register(client: &Client) -> i64 {
    let body = json!({ "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee" });
    let (status, answer) = client
        .command("register-user", body)
        .await
        .expect("command API");
    assert_eq!(status, 200, "{answer}");
    answer["position"].as_i64().expect("position")
}

/// Updates `client`'s profile; returns the position of the update.
async fn update(client: &Client, n: usize) -> i64 {
    let body = json!({ "school": { "value": format!("school {n}") } });
    let (status, answer) = client
        .command("update-profile", body)
        .await
        .expect("command API");
    assert_eq!(status, 200, "{answer}");
    answer["position"].as_i64().expect("position")
}

/// Updates Ann's profile, one command after another, until told to stop; returns how
/// many updates were made.
async fn update_until_stopped(env: Env, writing: Arc<AtomicBool>) -> usize {
    let ann = Client::new(&env, "ann");
    let mut n = 0;
    while writing.load(Ordering::SeqCst) {
        update(&ann, n).await;
        n += 1;
    }
    n
}

/// The next `count` notices (other frames skipped).
async fn notices(socket: &mut Socket, count: usize) -> Vec<Seen> {
    let mut seen = Vec::with_capacity(count);
    while seen.len() < count {
        let frame = socket.next_frame().await.expect("the socket stays open");
        seen.extend(notice_of(&frame));
    }
    seen
}

/// The notices recovered before `ready`; fails on `resync`.
async fn recovered(socket: &mut Socket) -> Vec<Seen> {
    let frames = frames_until_ready(socket).await;
    assert!(frames.iter().all(|f| f["type"] != "resync"), "{frames:?}");
    frames.iter().filter_map(notice_of).collect()
}

/// The frames up to and including `ready`.
async fn frames_until_ready(socket: &mut Socket) -> Vec<Value> {
    let mut frames = Vec::new();
    loop {
        let frame = socket.next_frame().await.expect("the socket stays open");
        let ready = frame["type"] == "ready";
        frames.push(frame);
        if ready {
            return frames;
        }
    }
}

fn notice_of(frame: &Value) -> Option<Seen> {
    if frame["type"] != "notice" {
        return None;
    }
    let tx_id = frame["tx_id"].as_i64().expect("tx_id");
    let position = frame["position"].as_i64().expect("position");
    Some((
        tx_id,
        position,
        frame["kind"].as_str().expect("kind").to_owned(),
    ))
}

/// Every notice stored for `user_id`, in feed order.
async fn stored_notices(pool: &PgPool, user_id: &str) -> Vec<Seen> {
    sqlx::query_as(
        "SELECT tx_id::text::bigint, position, kind FROM user_notices
          WHERE user_id = $1 ORDER BY tx_id, position, kind",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await
    .expect("user_notices")
}

/// Waits until at least `count` notices of `user_id` are stored after the event at
/// `since`: what a socket reconnecting now has missed.
async fn wait_for_notices_after(pool: &PgPool, user_id: &str, since: i64, count: i64) {
    eventually(
        Duration::from_secs(30),
        "notices missed while away",
        || async {
            let missed: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM user_notices n, events e
              WHERE e.position = $2 AND n.user_id = $1
                AND (n.tx_id, n.position) > (e.tx_id, e.position)",
            )
            .bind(user_id)
            .bind(since)
            .fetch_one(pool)
            .await
            .ok()?;
            (missed >= count).then_some(())
        },
    )
    .await;
}
