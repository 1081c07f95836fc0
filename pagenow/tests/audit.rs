//! The operator's audit commands, run as the real `pagenow` binary against views that a
//! real pipeline (command API → relay → JetStream → projector) built. This is the check
//! CI runs after the end-to-end tests: `pagenow verify` must find the live views equal
//! to their replay, and must catch a tampered one, which `pagenow rebuild` repairs.

mod support;

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use sqlx::PgPool;
use support::{wait_for_views, wait_healthy, Client, Env};
use testkit::{database_url, eventually, TestNats};

/// Runs `pagenow <args>` to its end; returns its exit code, stdout and stderr.
async fn pagenow(env: &Env, args: &[&str]) -> (i32, String, String) {
    let output = command(env, args).output().await.expect("run pagenow");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn command(env: &Env, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_pagenow"));
    command
        .args(args)
        .env("DATABASE_URL", &env.database_url)
        .env("PAGENOW_DB_POOL", "4")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true);
    command
}

/// ann registers with request id `audit-e2e-1`; bob registers and sets his school.
async fn traffic(env: &Env) {
    let token = Client::new(env, "ann").token;
    let response = reqwest::Client::new()
        .post(format!(
            "http://{}/v1/commands/register-user",
            env.command_api
        ))
        .bearer_auth(token)
        .header("x-request-id", "audit-e2e-1")
        .json(&json!({ "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee" }))
        .send()
        .await
        .expect("command API");
    assert_eq!(response.status(), 200);
    let bob = Client::new(env, "bob");
    let body = json!({ "email": "bob@example.com", "first_name": "Bob", "last_name": "Ray" });
    let (status, _) = bob
        .command("register-user", body)
        .await
        .expect("command API");
    assert_eq!(status, 200);
    let school = json!({ "school": { "value": "MIT", "public": true } });
    let (status, _) = bob
        .command("update-profile", school)
        .await
        .expect("command API");
    assert_eq!(status, 200);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn verify_passes_after_a_real_pipeline_and_catches_a_tampered_view_that_rebuild_repairs(
    pool: PgPool,
) {
    let nats = TestNats::start().expect("nats");
    let env = Env::new(database_url(&pool), nats.url());
    let mut all = env.spawn("all");
    wait_healthy(env.command_api).await;
    traffic(&env).await;
    wait_for_views(&pool, Duration::from_secs(30)).await;

    let (code, out, err) = pagenow(&env, &["verify", "--wait-secs", "30"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("user_table: 2 live rows, 2 replayed, no difference"),
        "{out}"
    );
    assert!(
        out.contains("result: the live views equal their replay"),
        "{out}"
    );

    sqlx::query("UPDATE user_table SET school = 'Yale' WHERE user_id = 'bob'")
        .execute(&pool)
        .await
        .expect("tamper");
    let (code, out, err) = pagenow(&env, &["verify"]).await;
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        out.contains(r#"changed {"user_id":"bob"}: school: live "Yale" replayed "MIT""#),
        "{out}"
    );
    let (code, out, _) = pagenow(&env, &["verify", "--format", "json"]).await;
    let report: Value = serde_json::from_str(&out).expect("a JSON report");
    assert_eq!(code, 3);
    assert_eq!(
        report["projections"][0]["tables"][0]["differences"][0]["kind"],
        "changed"
    );

    // A rebuild beside the live table, switched in while the pipeline runs, repairs it.
    let (code, out, err) = pagenow(&env, &["rebuild", "users"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("the new user_table replaced the live tables"),
        "{out}"
    );
    assert!(
        err.contains("users: switching ["),
        "no progress shown: {err}"
    );
    let (code, out, err) = pagenow(&env, &["verify"]).await;
    assert_eq!(code, 0, "{out}{err}");

    // Once the projector is gone, a new event leaves the views behind: no comparison.
    assert!(all.terminate().await, "pagenow all did not stop cleanly");
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('note', 'n1', 1, 'note.written', '1', '{}', '{}')",
    )
    .execute(&pool)
    .await
    .expect("insert");
    let (code, out, err) = pagenow(&env, &["verify", "--wait-secs", "1"]).await;
    assert_eq!(code, 4, "{out}{err}");
    assert!(out.starts_with("not caught up: projection "), "{out}");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn status_events_tail_and_aggregate_show_what_the_pipeline_did(pool: PgPool) {
    let nats = TestNats::start().expect("nats");
    let env = Env::new(database_url(&pool), nats.url());
    let _all = env.spawn("all");
    wait_healthy(env.command_api).await;
    traffic(&env).await;

    let (last, bob_events): (i64, i64) = sqlx::query_as(
        "SELECT max(position), count(*) FILTER (WHERE aggregate_id = 'bob') FROM events",
    )
    .fetch_one(&pool)
    .await
    .expect("the store");
    let status = eventually(
        Duration::from_secs(30),
        "every reader to catch up",
        || async {
            let (code, out, _) = pagenow(&env, &["status", "--format", "json"]).await;
            assert_eq!(code, 0, "{out}");
            let status: Value = serde_json::from_str(&out).expect("JSON status");
            let readers = status["readers"].as_array()?;
            readers
                .iter()
                .all(|r| r["lag_events"] == 0)
                .then_some(status)
        },
    )
    .await;
    let names: Vec<&str> = status["readers"]
        .as_array()
        .expect("readers")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names[..2], ["relay", "users"]);
    assert_eq!(status["store"]["last_committed"]["position"], last);
    let (code, table, _) = pagenow(&env, &["status"]).await;
    assert_eq!(code, 0);
    let users_row: Vec<&str> = table
        .lines()
        .find(|l| l.starts_with("users "))
        .expect("a users row")
        .split_whitespace()
        .collect();
    let last_text = last.to_string();
    assert_eq!(
        users_row,
        [
            "users",
            "projection",
            last_text.as_str(),
            last_text.as_str(),
            "0",
            "0.0"
        ]
    );

    let (code, out, _) = pagenow(
        &env,
        &["events", "--correlation", "audit-e2e-1", "--format", "json"],
    )
    .await;
    assert_eq!(code, 0);
    let types: Vec<String> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line")["event_type"].to_string())
        .collect();
    assert_eq!(
        types,
        [r#""user.registered""#, r#""user.sharing_policy_set""#]
    );

    let (code, out, _) = pagenow(&env, &["aggregate", "user", "bob"]).await;
    assert_eq!(code, 0);
    let bob: Value = serde_json::from_str(&out).expect("JSON state");
    assert_eq!(
        (&bob["version"], &bob["state"]["school"]["public"]),
        (&json!(bob_events), &json!(true))
    );

    // `tail` from the next position prints the next event as it commits, then stops.
    let next = (last + 1).to_string();
    let tail = command(
        &env,
        &[
            "tail",
            "--from-position",
            &next,
            "--limit",
            "1",
            "--format",
            "json",
        ],
    )
    .stdout(Stdio::piped())
    .spawn()
    .expect("tail");
    let ann = Client::new(&env, "ann");
    let (status, _) = ann
        .command("update-profile", json!({ "work": { "value": "Acme" } }))
        .await
        .expect("command API");
    assert_eq!(status, 200);
    let output = tokio::time::timeout(Duration::from_secs(30), tail.wait_with_output())
        .await
        .expect("tail printed the new event and stopped")
        .expect("tail output");
    let event: Value = serde_json::from_slice(&output.stdout).expect("one JSON line");
    assert_eq!(
        (
            &event["position"],
            &event["event_type"],
            &event["metadata"]["user_id"]
        ),
        (
            &json!(last + 1),
            &json!("user.profile_updated"),
            &json!("ann")
        )
    );
}
