//! Liveness, readiness, an unreachable database and shutdown.

mod support;

use std::time::Duration;

use query_api::{App, Config};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use support::{error_code, start, verifier};

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_service_is_alive_and_ready_when_postgres_answers(pool: PgPool) {
    let app = start(pool).await;

    let alive = app.get("/healthz", None).await;
    assert_eq!(alive.status(), StatusCode::OK);
    assert_eq!(alive.text().await.expect("a body"), "ok");

    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().await.expect("a JSON readiness");
    assert_eq!(
        body,
        json!({"ready": true, "checks": [{"name": "postgres", "ok": true}]})
    );
}

/// A pool whose server refuses connections: a port that was free a moment ago.
async fn unreachable_pool() -> PgPool {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("its address").port();
    drop(listener);
    PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy(&format!("postgres://postgres@127.0.0.1:{port}/none"))
        .expect("a lazy pool")
}

async fn start_on(pool: PgPool) -> (App, String) {
    let config = Config::new(([127, 0, 0, 1], 0).into());
    let app = query_api::build(config, pool, verifier().await)
        .await
        .expect("the query API binds");
    let base = format!("http://{}", app.local_addr());
    (app, base)
}

#[tokio::test]
async fn an_unreachable_database_makes_the_service_unready_and_queries_unavailable() {
    let (app, base) = start_on(unreachable_pool().await).await;
    tokio::spawn(app.run(std::future::pending()));
    let client = reqwest::Client::new();

    let ready = client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);

    let me = client
        .get(format!("{base}/v1/me"))
        .bearer_auth(support::token("ada"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(me.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error_code(me).await, "service.unavailable");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_server_stops_once_shutdown_is_signalled(pool: PgPool) {
    let app = start(pool).await;
    let base = app.base.clone();
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);

    app.stop().await.expect("the server stops cleanly");

    let after = reqwest::Client::new()
        .get(format!("{base}/healthz"))
        .send()
        .await;
    assert!(after.is_err(), "nothing listens after shutdown: {after:?}");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn an_unknown_route_answers_with_the_error_envelope(pool: PgPool) {
    let app = start(pool).await;

    let response = app.get("/v1/nothing-here", Some("ada")).await;

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(response).await, "route.not_found");
}
