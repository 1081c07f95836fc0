//! End to end through real processes: HTTP command → Postgres → relay → JetStream →
//! projector → view and notice → query API and WebSocket.

mod support;

use std::time::Duration;

use serde_json::json;
use sqlx::PgPool;
use support::{wait_for_views, wait_healthy, Client, Env};
use testkit::{database_url, eventually, TestNats};

fn ann_body() -> serde_json::Value {
    json!({ "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee" })
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_registration_reaches_the_view_and_the_users_socket(pool: PgPool) {
    let nats = TestNats::start().expect("nats");
    let env = Env::new(database_url(&pool), nats.url());
    let _all = env.spawn("all");
    for addr in [env.command_api, env.query_api, env.push] {
        wait_healthy(addr).await;
    }
    let ann = Client::new(&env, "ann");
    let mut socket = ann.socket().await;

    let (status, accepted) = ann
        .command("register-user", ann_body())
        .await
        .expect("command API");
    assert_eq!(status, 200, "{accepted}");
    let position = accepted["position"].as_i64().expect("position");

    let (status, stale, me) = ann.query(&format!("/v1/me?min_position={position}")).await;
    assert_eq!((status, stale), (200, false), "{me}");
    assert_eq!(
        (me["email"].as_str(), me["first_name"].as_str()),
        (Some("ann@example.com"), Some("Ann"))
    );

    // The answer's position is the registration's last event (the sharing policy).
    let (registered,): (i64,) =
        sqlx::query_as("SELECT position FROM events WHERE event_type = 'user.registered'")
            .fetch_one(&pool)
            .await
            .expect("the registration event");
    let notice = socket.next_notice().await;
    assert_eq!(
        (notice["kind"].as_str(), notice["position"].as_i64()),
        (Some("user.registered"), Some(registered))
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_query_with_a_commands_position_waits_for_the_view(pool: PgPool) {
    let nats = TestNats::start().expect("nats");
    let env = Env::new(database_url(&pool), nats.url());
    let _processes = [
        env.spawn("command-api"),
        env.spawn("query-api"),
        env.spawn("relay"),
    ];
    wait_healthy(env.command_api).await;
    wait_healthy(env.query_api).await;
    let ann = Client::new(&env, "ann");
    let (_, accepted) = ann
        .command("register-user", ann_body())
        .await
        .expect("command API");
    let position = accepted["position"].as_i64().expect("position");

    // No projector yet: the view cannot reach the position, and says so.
    let (status, stale, _) = ann
        .query(&format!("/v1/me?min_position={position}&wait_ms=200"))
        .await;
    assert_eq!((status, stale), (404, true));

    let waiting = tokio::spawn(async move {
        ann.query(&format!("/v1/me?min_position={position}&wait_ms=10000"))
            .await
    });
    let _projector = env.spawn("projector");
    let (status, stale, me) = waiting.await.expect("query");
    assert_eq!(
        (status, stale, me["last_name"].as_str()),
        (200, false, Some("Lee")),
        "{me}"
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn commands_succeed_while_nats_is_down_and_views_catch_up_after(pool: PgPool) {
    let mut nats = TestNats::start().expect("nats");
    let env = Env::new(database_url(&pool), nats.url());
    let _all = env.spawn("all");
    wait_healthy(env.command_api).await;
    let ann = Client::new(&env, "ann");
    ann.command("register-user", ann_body())
        .await
        .expect("command API");
    wait_for_views(&pool, Duration::from_secs(30)).await;

    nats.stop();
    let mut last_position = 0;
    for n in 0..20 {
        let body = json!({ "work": { "value": format!("job {n}") } });
        let (status, answer) = ann
            .command("update-profile", body)
            .await
            .expect("command API");
        assert_eq!(status, 200, "{answer}");
        last_position = answer["position"].as_i64().expect("position");
    }
    let (_, stale, _) = ann
        .query(&format!("/v1/me?min_position={last_position}&wait_ms=300"))
        .await;
    assert!(stale, "the view moved while NATS was down");
    nats.resume().expect("nats back");

    let (status, stale, me) = ann
        .query(&format!(
            "/v1/me?min_position={last_position}&wait_ms=10000"
        ))
        .await;
    assert_eq!(
        (status, stale, me["work"].as_str()),
        (200, false, Some("job 19")),
        "{me}"
    );
}

/// Posts `count` profile updates, spread over `users`, each until it is accepted
/// (a 503 during a restart is retried). Returns how many were accepted.
async fn stream_commands(env: Env, users: Vec<String>, count: usize) -> usize {
    let clients: Vec<Client> = users.iter().map(|u| Client::new(&env, u)).collect();
    for (n, client) in (0..count).zip(clients.iter().cycle()) {
        let body = json!({ "school": { "value": format!("school {n}"), "public": n % 2 == 0 } });
        eventually(
            Duration::from_secs(30),
            "a command to be accepted",
            || async {
                let (status, _) = client.command("update-profile", body.clone()).await?;
                (status == 200).then_some(())
            },
        )
        .await;
    }
    count
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn killing_relay_and_projector_mid_stream_loses_nothing_and_applies_nothing_twice(
    pool: PgPool,
) {
    let nats = TestNats::start().expect("nats");
    let env = Env::new(database_url(&pool), nats.url());
    let _command_api = env.spawn("command-api");
    wait_healthy(env.command_api).await;
    let users: Vec<String> = (0..10).map(|n| format!("user-{n}")).collect();
    for user in &users {
        Client::new(&env, user)
            .command("register-user", ann_body())
            .await
            .expect("register");
    }
    let mut relay = env.spawn("relay");
    let mut projector = env.spawn("projector");

    let writer = tokio::spawn(stream_commands(env.clone(), users.clone(), 1500));
    let mut kills = 0;
    while !writer.is_finished() {
        tokio::time::sleep(Duration::from_millis(150 + 60 * (kills % 4))).await;
        if kills % 2 == 0 {
            relay.kill();
            relay = env.spawn("relay")
        } else {
            projector.kill();
            projector = env.spawn("projector")
        }
        kills += 1;
    }
    assert_eq!(writer.await.expect("writer"), 1500);
    eprintln!("{kills} kill -9 while 1,500 commands streamed in");
    assert!(kills >= 10, "only {kills} kills happened");

    wait_for_views(&pool, Duration::from_secs(60)).await;
    assert_view_equals_replay(&pool).await;
    let counts: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT u.user_id, u.version, (SELECT count(*) FROM events e WHERE e.aggregate_type = 'user' AND e.aggregate_id = u.user_id)
           FROM user_table u",
    )
    .fetch_all(&pool)
    .await
    .expect("versions");
    assert_eq!(counts.len(), 10);
    for (user, applied, stored) in counts {
        assert_eq!(
            applied, stored,
            "{user}: applied {applied} events of {stored}"
        );
    }
}

async fn assert_view_equals_replay(pool: &PgPool) {
    sqlx::query("CREATE TABLE user_table_replay (LIKE user_table INCLUDING ALL)")
        .execute(pool)
        .await
        .expect("scratch");
    let replayed = projector::users::Users::into_table(
        personal_data::Keys::new(pool.clone()),
        "user_table_replay",
    );
    projector::replay::rebuild(pool, &replayed, 500)
        .await
        .expect("replay");
    let differences = projector::replay::differences(pool, "user_table", "user_table_replay")
        .await
        .expect("compare");
    assert!(
        differences.is_empty(),
        "view differs from replay: {differences:#?}"
    );
}
