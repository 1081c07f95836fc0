//! Who may use the admin API: a token with the admin claim; anyone else is refused
//! before anything is read or started. `/metrics` needs no token.

mod support;

use reqwest::Method;
use sqlx::PgPool;
use support::{code, register, request, start, Caller};

/// Every admin route, with arguments that would succeed for an admin.
const ADMIN_ROUTES: [(&str, &str); 7] = [
    ("GET", "/v1/admin/events"),
    ("GET", "/v1/admin/aggregates/user/ann"),
    ("GET", "/v1/admin/aggregates/user/ann/events/1/diff"),
    ("GET", "/v1/admin/status"),
    ("POST", "/v1/admin/verify?wait_secs=0"),
    ("POST", "/v1/admin/projections/users/rebuild"),
    ("GET", "/v1/admin/rebuilds/users"),
];

async fn refusals(pool: PgPool, caller: Caller) -> Vec<(String, u16, String)> {
    register(&pool, "ann", &request("ann", "r1")).await;
    let app = start(pool).await;
    let mut answers = Vec::new();
    for (method, path) in ADMIN_ROUTES {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let response = app.request(method, path, caller).await;
        let status = response.status().as_u16();
        let answer = response.json().await.unwrap_or_default();
        answers.push((path.to_owned(), status, code(&answer).to_owned()));
    }
    answers
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn every_admin_route_refuses_a_caller_without_a_token(pool: PgPool) {
    for (path, status, code) in refusals(pool, Caller::Anonymous).await {
        assert_eq!(
            (status, code.as_str()),
            (401, "auth.missing_token"),
            "{path}"
        );
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn every_admin_route_refuses_a_token_without_the_admin_claim(pool: PgPool) {
    for (path, status, code) in refusals(pool, Caller::User).await {
        assert_eq!((status, code.as_str()), (403, "auth.not_admin"), "{path}");
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_refused_rebuild_starts_nothing(pool: PgPool) {
    let app = start(pool).await;
    let (status, _) = app
        .post("/v1/admin/projections/users/rebuild", Caller::User)
        .await;
    assert_eq!(status, 403);
    let (status, answer) = app.get("/v1/admin/rebuilds/users", Caller::Admin).await;
    assert_eq!((status, code(&answer)), (404, "rebuild.not_found"));
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn metrics_and_health_need_no_token(pool: PgPool) {
    let app = start(pool).await;
    let (status, text) = app.metrics().await;
    assert_eq!(status, 200, "{text}");
    for path in ["/healthz", "/readyz"] {
        let response = app.request(Method::GET, path, Caller::Anonymous).await;
        assert_eq!(response.status().as_u16(), 200, "{path}");
    }
}
