//! The admin API as the binary runs it: inside `pagenow all` when it has an address, and
//! alone as `pagenow admin-api`; an admin token gets the status, others do not.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};
use sqlx::PgPool;
use support::{wait_healthy, Client, Env};
use testkit::{database_url, eventually, free_port, TestNats};

fn admin_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

fn token(user: &str, admin: bool) -> String {
    auth::mint_dev_token(
        auth::DEV_HS256_SECRET,
        user,
        Duration::from_secs(600),
        admin,
    )
    .expect("token")
}

/// `GET http://addr/path` with `token`: the status and the JSON answer.
async fn get(addr: SocketAddr, path: &str, token: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("http://{addr}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("the admin API answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The `users` projection's lag in events, as `/metrics` shows it.
async fn users_lag(addr: SocketAddr) -> Option<f64> {
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let line = text
        .lines()
        .find(|l| l.starts_with(r#"pagenow_projection_lag_events{projection="users"} "#))?;
    line.rsplit_once(' ')?.1.parse().ok()
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn pagenow_all_serves_the_admin_api_and_its_metrics_follow_the_projector(pool: PgPool) {
    let nats = TestNats::start().expect("nats");
    let env = Env::new(database_url(&pool), nats.url());
    let admin = admin_addr();
    let _all = env.spawn_with("all", &[("ADMIN_API_ADDR", admin.to_string())]);
    for addr in [env.command_api, admin] {
        wait_healthy(addr).await;
    }
    let body = json!({ "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee" });
    let (status, _) = Client::new(&env, "ann")
        .command("register-user", body)
        .await
        .expect("command API");
    assert_eq!(status, 200);

    let (status, answer) = get(admin, "/v1/admin/status", &token("root", true)).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["store"]["last_committed"]["position"].as_i64() > Some(0));
    let (status, answer) = get(admin, "/v1/admin/status", &token("ann", false)).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (403, Some("auth.not_admin"))
    );
    eventually(
        Duration::from_secs(30),
        "the users lag to fall to 0",
        || async { (users_lag(admin).await? == 0.0).then_some(()) },
    )
    .await;
    let (_, answer) = get(admin, "/v1/admin/events?user=ann", &token("root", true)).await;
    let types: Vec<&str> = answer["events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .filter_map(|e| e["event_type"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(types, ["user.registered", "user.sharing_policy_set"]);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn pagenow_admin_api_alone_answers_an_admin_token(pool: PgPool) {
    // The admin API needs no NATS: nothing listens at this URL.
    let env = Env::new(
        database_url(&pool),
        format!("nats://127.0.0.1:{}", free_port()),
    );
    let admin = admin_addr();
    let _admin_api = env.spawn_with("admin-api", &[("ADMIN_API_ADDR", admin.to_string())]);
    wait_healthy(admin).await;

    let (status, answer) = get(admin, "/v1/admin/status", &token("root", true)).await;
    assert_eq!(status, 200, "{answer}");
    let readers: Vec<&str> = answer["readers"]
        .as_array()
        .map(|readers| readers.iter().filter_map(|r| r["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        readers.contains(&"relay") && readers.contains(&"users"),
        "{answer}"
    );
    let (status, _) = get(admin, "/v1/admin/status", "not-a-token").await;
    assert_eq!(status, 401);
}
