//! The history over HTTP: events by user, request, type, aggregate, time and position,
//! paged with a cursor; an aggregate at any version and what one event changed.

mod support;

use chrono::{Duration as Age, Utc};
use serde_json::{json, Value};
use sqlx::PgPool;
use support::{code, register, request, set_school, start, wait_until_readable, Caller, TestApp};

/// ann registers (r1), bob registers (r2), ann sets her school (r3) then changes it
/// (r4): six events, four in ann's stream and two in bob's.
async fn ann_and_bob(pool: &PgPool) {
    register(pool, "ann", &request("ann", "r1")).await;
    register(pool, "bob", &request("bob", "r2")).await;
    set_school(pool, "ann", "MIT", true, &request("ann", "r3")).await;
    set_school(pool, "ann", "Yale", false, &request("ann", "r4")).await;
    wait_until_readable(pool).await;
}

/// The listed events as `(aggregate_id, sequence, event_type)`.
async fn listed(app: &TestApp, query: &str) -> Vec<(String, i64, String)> {
    let (status, page) = app
        .get(&format!("/v1/admin/events?{query}"), Caller::Admin)
        .await;
    assert_eq!(status, 200, "{query}: {page}");
    let events = page["events"].as_array().cloned().unwrap_or_default();
    events
        .iter()
        .map(|e| {
            (
                e["aggregate_id"].as_str().unwrap_or_default().to_owned(),
                e["sequence"].as_i64().unwrap_or_default(),
                e["event_type"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn ids(events: &[(String, i64, String)]) -> Vec<String> {
    events
        .iter()
        .map(|(id, sequence, _)| format!("{id}/{sequence}"))
        .collect()
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn events_are_chosen_by_user_request_type_aggregate_time_and_position(pool: PgPool) {
    ann_and_bob(&pool).await;
    let app = start(pool.clone()).await;

    assert_eq!(
        ids(&listed(&app, "user=ann").await),
        ["ann/1", "ann/2", "ann/3", "ann/4"]
    );
    assert_eq!(
        ids(&listed(&app, "correlation=r2").await),
        ["bob/1", "bob/2"]
    );
    assert_eq!(
        ids(&listed(&app, "type=user.profile_updated").await),
        ["ann/3", "ann/4"]
    );
    assert_eq!(
        ids(&listed(&app, "aggregate_type=user&aggregate_id=bob").await),
        ["bob/1", "bob/2"]
    );
    let (from, to): (i64, i64) = sqlx::query_as(
        "SELECT min(position), max(position) FROM events WHERE aggregate_id = 'bob'",
    )
    .fetch_one(&pool)
    .await
    .expect("bob's positions");
    let range = format!("from_position={from}&to_position={to}");
    assert_eq!(ids(&listed(&app, &range).await), ["bob/1", "bob/2"]);
    let later = (Utc::now() + Age::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert!(listed(&app, &format!("since={later}")).await.is_empty());
    assert_eq!(
        listed(&app, &format!("until={later}&user=bob")).await.len(),
        2
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_cursor_pages_through_the_history_giving_each_event_once(pool: PgPool) {
    ann_and_bob(&pool).await;
    let app = start(pool).await;
    let everything = listed(&app, "").await;
    assert_eq!(everything.len(), 6);

    let (mut paged, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
    loop {
        let query = match &cursor {
            Some(cursor) => format!("/v1/admin/events?limit=4&cursor={cursor}"),
            None => "/v1/admin/events?limit=4".to_owned(),
        };
        let (status, page) = app.get(&query, Caller::Admin).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        paged.extend(page["events"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let paged_ids: Vec<String> = paged
        .iter()
        .map(|e| {
            format!(
                "{}/{}",
                e["aggregate_id"].as_str().unwrap_or(""),
                e["sequence"]
            )
        })
        .collect();
    assert_eq!(pages, 2);
    assert_eq!(paged_ids, ids(&everything));
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn bad_filters_are_refused_with_stable_codes(pool: PgPool) {
    let app = start(pool).await;
    for (query, expected) in [
        ("limit=0", "events.invalid_limit"),
        ("limit=1001", "events.invalid_limit"),
        ("from_position=0", "events.invalid_position"),
        ("from_position=5&to_position=2", "events.invalid_position"),
        ("cursor=yesterday", "events.invalid_cursor"),
        (
            "since=2024-03-02T00:00:00Z&until=2024-03-01T00:00:00Z",
            "events.invalid_time_range",
        ),
        ("since=yesterday", "request.invalid_query"),
        ("from_position=first", "request.invalid_query"),
        ("user_id=ann", "request.invalid_query"),
    ] {
        let (status, answer) = app
            .get(&format!("/v1/admin/events?{query}"), Caller::Admin)
            .await;
        assert_eq!((status, code(&answer)), (400, expected), "{query}");
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn an_aggregate_is_shown_at_any_version(pool: PgPool) {
    ann_and_bob(&pool).await;
    let app = start(pool).await;
    let (status, now) = app
        .get("/v1/admin/aggregates/user/ann", Caller::Admin)
        .await;
    assert_eq!(status, 200, "{now}");
    assert_eq!(
        (now["version"].as_i64(), now["latest"].as_i64()),
        (Some(4), Some(4))
    );
    assert_eq!(now["state"]["school"]["public"], json!(false));

    let (status, then) = app
        .get("/v1/admin/aggregates/user/ann?version=3", Caller::Admin)
        .await;
    assert_eq!(status, 200, "{then}");
    assert_eq!(then["version"].as_i64(), Some(3));
    assert_eq!(then["state"]["school"]["public"], json!(true));
    // Personal values stay sealed: an owner, never the text.
    assert_eq!(then["state"]["school"]["value"]["owner"], json!("ann"));
    assert!(!then.to_string().contains("MIT"), "{then}");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_diff_shows_one_event_and_what_it_changed(pool: PgPool) {
    ann_and_bob(&pool).await;
    let app = start(pool).await;
    let (status, diff) = app
        .get("/v1/admin/aggregates/user/ann/events/4/diff", Caller::Admin)
        .await;
    assert_eq!(status, 200, "{diff}");
    assert_eq!(
        (
            diff["event"]["sequence"].as_i64(),
            diff["event"]["metadata"]["correlation_id"].as_str()
        ),
        (Some(4), Some("r4"))
    );
    let paths: Vec<&str> = diff["changes"]
        .as_array()
        .map(|changes| changes.iter().filter_map(|c| c["path"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(paths, ["/school/public", "/school/value/sealed"]);
    assert_eq!(diff["changes"][0]["before"], Value::Bool(true));
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn unknown_aggregates_and_versions_are_refused_with_stable_codes(pool: PgPool) {
    ann_and_bob(&pool).await;
    let app = start(pool).await;
    for (path, expected) in [
        (
            "/v1/admin/aggregates/spaceship/ann",
            (404, "aggregate.unknown_type"),
        ),
        (
            "/v1/admin/aggregates/user/zed",
            (404, "aggregate.not_found"),
        ),
        (
            "/v1/admin/aggregates/user/ann?version=5",
            (404, "aggregate.version_not_found"),
        ),
        (
            "/v1/admin/aggregates/user/ann/events/9/diff",
            (404, "aggregate.version_not_found"),
        ),
        (
            "/v1/admin/aggregates/user/ann?version=0",
            (400, "aggregate.invalid_version"),
        ),
        (
            "/v1/admin/aggregates/user/ann/events/0/diff",
            (400, "aggregate.invalid_version"),
        ),
        (
            "/v1/admin/aggregates/user/ann/events/one/diff",
            (400, "request.invalid_path"),
        ),
        (
            "/v1/admin/aggregates/user/ann?at=3",
            (400, "request.invalid_query"),
        ),
    ] {
        let (status, answer) = app.get(path, Caller::Admin).await;
        assert_eq!((status, code(&answer)), expected, "{path}");
    }
}
