//! Projection status over HTTP, and the same figures as Prometheus metrics: a lag that
//! shows while the projections are behind and falls to zero once they catch up.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use event_store::FeedReader;
use serde_json::Value;
use sqlx::PgPool;
use support::{
    build_live_views, last_committed, register, request, set_checkpoint, start,
    wait_until_readable, Caller, TestApp,
};
use testkit::eventually;

/// Every sample of a Prometheus text answer, by series (`name{labels}`), after checking
/// that each line is a comment or `series value` and each family is typed.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    let mut typed = Vec::new();
    for line in text.lines() {
        if let Some(family) = line.strip_prefix("# TYPE ") {
            typed.push(family.split(' ').next().unwrap_or_default().to_owned());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("`series value`");
        let value: f64 = value.parse().expect("a number");
        let family = series.split('{').next().unwrap_or_default();
        assert!(typed.iter().any(|t| t == family), "untyped {family}");
        samples.insert(series.to_owned(), value);
    }
    samples
}

async fn metrics(app: &TestApp) -> HashMap<String, f64> {
    let (status, text) = app.metrics().await;
    assert_eq!(status, 200, "{text}");
    parse(&text)
}

fn reader<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["readers"]
        .as_array()
        .and_then(|readers| readers.iter().find(|r| r["name"] == name))
        .unwrap_or_else(|| panic!("no reader {name} in {status}"))
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn status_shows_each_readers_position_and_lag(pool: PgPool) {
    let registered = register(&pool, "ann", &request("ann", "r1")).await;
    wait_until_readable(&pool).await;
    let first = FeedReader::new(pool.clone())
        .cursor_of(registered[0])
        .await
        .expect("read")
        .expect("the event");
    set_checkpoint(&pool, "users", first).await;
    let app = start(pool.clone()).await;

    let (status, answer) = app.get("/v1/admin/status", Caller::Admin).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["store"]["last_committed"]["position"].as_i64(),
        Some(registered[1])
    );
    assert_eq!(answer["store"]["held_back_events"].as_i64(), Some(0));
    let users = reader(&answer, "users");
    assert_eq!(
        (
            users["kind"].as_str(),
            users["checkpoint"]["position"].as_i64(),
            users["lag_events"].as_i64()
        ),
        (Some("projection"), Some(registered[0]), Some(1))
    );
    let relay = reader(&answer, "relay");
    assert_eq!(
        (relay["kind"].as_str(), relay["lag_events"].as_i64()),
        (Some("relay"), Some(2))
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_metrics_lag_falls_to_zero_once_the_projections_catch_up(pool: PgPool) {
    register(&pool, "ann", &request("ann", "r1")).await;
    register(&pool, "bob", &request("bob", "r2")).await;
    wait_until_readable(&pool).await;
    let app = start(pool.clone()).await;

    let behind = metrics(&app).await;
    let last = last_committed(&pool).await.position as f64;
    assert_eq!(behind["pagenow_store_last_committed_position"], last);
    assert_eq!(behind["pagenow_store_head_position"], last);
    assert_eq!(behind["pagenow_store_held_back_events"], 0.0);
    assert_eq!(
        behind[r#"pagenow_projection_lag_events{projection="users"}"#],
        4.0
    );
    assert_eq!(
        behind[r#"pagenow_projection_position{projection="users"}"#],
        0.0
    );
    assert!(behind[r#"pagenow_projection_lag_seconds{projection="users"}"#] >= 0.0);
    assert_eq!(behind["pagenow_relay_lag_events"], 4.0);

    build_live_views(&pool).await;
    set_checkpoint(&pool, relay::ROLE, last_committed(&pool).await).await;
    let caught_up = eventually(Duration::from_secs(30), "every lag to be 0", || async {
        let now = metrics(&app).await;
        let lags = now.iter().filter(|(series, _)| series.contains("_lag_"));
        lags.clone().all(|(_, lag)| *lag == 0.0).then_some(now)
    })
    .await;
    let projections = projector::all(personal_data::Keys::new(pool.clone()));
    for projection in &projections {
        let series = format!(
            "pagenow_projection_position{{projection=\"{}\"}}",
            projection.name()
        );
        assert_eq!(caught_up.get(&series), Some(&last), "{series}");
    }
    assert_eq!(caught_up["pagenow_relay_position"], last);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_metrics_name_no_user(pool: PgPool) {
    register(&pool, "u7f3a", &request("u7f3a", "r1")).await;
    let app = start(pool).await;
    let (status, text) = app.metrics().await;
    assert_eq!(status, 200);
    for personal in ["u7f3a", "example.com", "First"] {
        assert!(!text.contains(personal), "{personal:?} in\n{text}");
    }
}
