//! Verify and rebuild over HTTP: the verifier's report with every difference, and a
//! rebuild started in the background that completes while the views keep answering.

mod support;

use std::time::Duration;

use query_api::Config as QueryConfig;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::{PgPool, Postgres, Transaction};
use support::{
    build_live_views, code, register, request, schemas_left, set_school, start, token, verifier,
    Caller, TestApp,
};
use testkit::eventually;

async fn ann_and_bob(pool: &PgPool) {
    register(pool, "ann", &request("ann", "r1")).await;
    register(pool, "bob", &request("bob", "r2")).await;
    set_school(pool, "bob", "MIT", true, &request("bob", "r3")).await;
    build_live_views(pool).await;
}

async fn execute(pool: &PgPool, sql: &str) {
    sqlx::query(sql).execute(pool).await.expect(sql);
}

/// A view gone wrong: bob's school is not what his events say.
async fn tamper_with_bobs_school(pool: &PgPool) {
    execute(
        pool,
        "UPDATE user_table SET school = 'Yale' WHERE user_id = 'bob'",
    )
    .await;
}

/// A reader of `user_table` in an open transaction: the rebuild's switch cannot move
/// the table until it ends, so the rebuild keeps running meanwhile.
async fn hold_the_switch(pool: &PgPool) -> Transaction<'static, Postgres> {
    let mut reader = pool.begin().await.expect("begin");
    sqlx::query("SELECT count(*) FROM user_table")
        .execute(&mut *reader)
        .await
        .expect("read");
    reader
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_verification_of_views_equal_to_their_replay_answers_consistent(pool: PgPool) {
    ann_and_bob(&pool).await;
    let app = start(pool.clone()).await;
    let (status, verdict) = app
        .post("/v1/admin/verify?wait_secs=5", Caller::Admin)
        .await;
    assert_eq!(status, 200, "{verdict}");
    assert_eq!(
        (
            &verdict["consistent"],
            &verdict["complete"],
            &verdict["difference_count"]
        ),
        (&json!(true), &json!(true), &json!(0))
    );
    let projections = verdict["report"]["projections"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        projections.iter().any(|p| p["projection"] == "users"),
        "{verdict}"
    );
    assert_eq!(schemas_left(&pool).await, Vec::<String>::new());
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_verification_names_every_row_that_differs(pool: PgPool) {
    ann_and_bob(&pool).await;
    tamper_with_bobs_school(&pool).await;
    let app = start(pool).await;
    let (status, verdict) = app
        .post("/v1/admin/verify?wait_secs=5", Caller::Admin)
        .await;
    assert_eq!(status, 200, "{verdict}");
    assert_eq!(
        (&verdict["consistent"], &verdict["difference_count"]),
        (&json!(false), &json!(1))
    );
    let users = verdict["report"]["projections"]
        .as_array()
        .and_then(|all| all.iter().find(|p| p["projection"] == "users"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        users["tables"][0]["differences"],
        json!([{
            "kind": "changed",
            "key": { "user_id": "bob" },
            "columns": [{ "column": "school", "live": "Yale", "replayed": "MIT" }],
        }])
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_verification_of_views_behind_the_store_is_a_conflict(pool: PgPool) {
    register(&pool, "ann", &request("ann", "r1")).await;
    let app = start(pool).await;
    let (status, answer) = app
        .post("/v1/admin/verify?wait_secs=0", Caller::Admin)
        .await;
    assert_eq!(
        (status, code(&answer)),
        (409, "verify.not_caught_up"),
        "{answer}"
    );
    let (status, answer) = app
        .post("/v1/admin/verify?wait_secs=601", Caller::Admin)
        .await;
    assert_eq!((status, code(&answer)), (400, "verify.invalid_wait"));
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn one_verification_runs_at_a_time_and_waits_for_the_views(pool: PgPool) {
    register(&pool, "ann", &request("ann", "r1")).await;
    let app = std::sync::Arc::new(start(pool.clone()).await);
    let waiting = tokio::spawn({
        let app = app.clone();
        async move {
            app.post("/v1/admin/verify?wait_secs=60", Caller::Admin)
                .await
        }
    });
    eventually(
        Duration::from_secs(30),
        "a second verification to be refused",
        || async {
            let (status, answer) = app
                .post("/v1/admin/verify?wait_secs=0", Caller::Admin)
                .await;
            (code(&answer) == "verify.already_running").then_some(status)
        },
    )
    .await;

    build_live_views(&pool).await;
    let (status, verdict) = waiting.await.expect("the first verification");
    assert_eq!(
        (status, &verdict["consistent"]),
        (200, &json!(true)),
        "{verdict}"
    );
}

/// bob's school as the query API shows it to him.
async fn bobs_school(query_api: &str) -> Option<String> {
    let me: Value = reqwest::Client::new()
        .get(format!("{query_api}/v1/me"))
        .bearer_auth(token("bob", false))
        .send()
        .await
        .expect("the query API answers")
        .error_for_status()
        .expect("bob's profile")
        .json()
        .await
        .expect("JSON");
    me["school"].as_str().map(str::to_owned)
}

async fn start_query_api(pool: PgPool) -> String {
    let config = QueryConfig::new(([127, 0, 0, 1], 0).into());
    let app = query_api::build(config, pool, verifier().await)
        .await
        .expect("the query API binds");
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run(std::future::pending()));
    base
}

async fn rebuild_state(app: &TestApp) -> Value {
    let (status, run) = app.get("/v1/admin/rebuilds/users", Caller::Admin).await;
    assert_eq!(status, 200, "{run}");
    run
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_rebuild_started_over_http_completes_while_the_views_answer(pool: PgPool) {
    ann_and_bob(&pool).await;
    tamper_with_bobs_school(&pool).await;
    let (app, query_api) = (
        start(pool.clone()).await,
        start_query_api(pool.clone()).await,
    );
    assert_eq!(bobs_school(&query_api).await.as_deref(), Some("Yale"));
    let reader = hold_the_switch(&pool).await;

    let response = app
        .request(
            Method::POST,
            "/v1/admin/projections/users/rebuild",
            Caller::Admin,
        )
        .await;
    assert_eq!(response.status().as_u16(), 202);
    let location = response.headers().get("location").cloned();
    assert_eq!(
        location.as_ref().and_then(|l| l.to_str().ok()),
        Some("/v1/admin/rebuilds/users")
    );
    let started: Value = response.json().await.expect("JSON");
    assert_eq!(started["state"], "running", "{started}");
    let (status, again) = app
        .post("/v1/admin/projections/users/rebuild", Caller::Admin)
        .await;
    assert_eq!((status, code(&again)), (409, "rebuild.already_running"));
    // Built, and waiting to switch: the views answer meanwhile.
    eventually(
        Duration::from_secs(30),
        "the rebuild to reach its switch",
        || async { (rebuild_state(&app).await["phase"] == "switching").then_some(()) },
    )
    .await;
    assert_eq!(bobs_school(&query_api).await.as_deref(), Some("Yale"));

    reader.commit().await.expect("end the read");
    let done = eventually(Duration::from_secs(60), "the rebuild to end", || async {
        let run = rebuild_state(&app).await;
        (run["state"] != "running").then_some(run)
    })
    .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(
        done["events_applied"], done["report"]["events_replayed"],
        "{done}"
    );
    assert_eq!(done["report"]["tables"], json!(["user_table"]));
    assert_eq!(bobs_school(&query_api).await.as_deref(), Some("MIT"));
    assert_eq!(schemas_left(&pool).await, Vec::<String>::new());
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_rebuild_stopped_by_shutdown_leaves_the_live_tables_and_no_schema(pool: PgPool) {
    ann_and_bob(&pool).await;
    tamper_with_bobs_school(&pool).await;
    let app = start(pool.clone()).await;
    let reader = hold_the_switch(&pool).await;
    let (status, _) = app
        .post("/v1/admin/projections/users/rebuild", Caller::Admin)
        .await;
    assert_eq!(status, 202);
    eventually(
        Duration::from_secs(30),
        "the rebuild to reach its switch",
        || async { (rebuild_state(&app).await["phase"] == "switching").then_some(()) },
    )
    .await;

    let stopped = tokio::time::timeout(Duration::from_secs(30), app.stop()).await;
    assert!(matches!(stopped, Ok(Ok(()))), "{stopped:?}");
    reader.commit().await.expect("end the read");
    let school: Option<String> =
        sqlx::query_scalar("SELECT school FROM user_table WHERE user_id = 'bob'")
            .fetch_one(&pool)
            .await
            .expect("bob's row");
    assert_eq!(school.as_deref(), Some("Yale"));
    assert_eq!(schemas_left(&pool).await, Vec::<String>::new());
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn rebuilds_of_unknown_projections_and_bad_batches_are_refused(pool: PgPool) {
    let app = start(pool).await;
    for (method, path, expected) in [
        (
            Method::POST,
            "/v1/admin/projections/nope/rebuild",
            (404, "projection.not_found"),
        ),
        (
            Method::GET,
            "/v1/admin/rebuilds/nope",
            (404, "projection.not_found"),
        ),
        (
            Method::GET,
            "/v1/admin/rebuilds/users",
            (404, "rebuild.not_found"),
        ),
        (
            Method::POST,
            "/v1/admin/projections/users/rebuild?batch=0",
            (400, "rebuild.invalid_batch"),
        ),
        (
            Method::POST,
            "/v1/admin/projections/users/rebuild?keep=1",
            (400, "request.invalid_query"),
        ),
    ] {
        let response = app.request(method, path, Caller::Admin).await;
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or_default();
        assert_eq!((status, code(&answer)), expected, "{path}");
    }
}
