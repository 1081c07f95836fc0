//! Hostile input against the real admin API: the hostile-token suite gets 401s (a token
//! whose payload was altered to claim `admin` included), a valid token without the admin
//! claim gets 403, and a connection that sends nothing is closed at the header timeout.

#[path = "../../auth/tests/hostile_suite/mod.rs"]
mod hostile_suite;
mod support;

use std::time::Duration;

use http_api::Limits;
use sqlx::PgPool;
use tokio::io::AsyncReadExt;

/// Short HTTP timeouts, installed as `pagenow` installs the configured ones.
const LIMITS: Limits = Limits {
    header_read_timeout: Duration::from_secs(1),
    body_read_timeout: Duration::from_secs(1),
    max_connections: 1_000,
};

async fn start(pool: PgPool) -> std::net::SocketAddr {
    LIMITS
        .install()
        .expect("every test here installs the same limits");
    let config = admin_api::Config::new(([127, 0, 0, 1], 0).into());
    let app = admin_api::build(config, pool, hostile_suite::verifier().await)
        .await
        .expect("the admin API binds");
    let addr = app.local_addr();
    tokio::spawn(app.run(std::future::pending()));
    addr
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn every_hostile_token_gets_401_and_a_valid_one_without_the_admin_claim_403(pool: PgPool) {
    let base = format!("http://{}", start(pool).await);
    let http = reqwest::Client::new();
    let requests = [
        (reqwest::Method::GET, "/v1/admin/status"),
        (reqwest::Method::GET, "/v1/admin/events"),
        (reqwest::Method::POST, "/v1/admin/verify"),
    ];
    for (method, path) in requests {
        let send = |token: &str| {
            http.request(method.clone(), format!("{base}{path}"))
                .bearer_auth(token)
                .send()
        };
        for case in hostile_suite::refused() {
            hostile_suite::assert_refused(send(&case.token).await.expect("an answer"), &case).await;
        }
        for case in hostile_suite::valid() {
            let status = send(&case.token).await.expect("an answer").status();
            assert_eq!(status, 403, "{method} {path}, {}", case.name);
        }
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_connection_that_sends_nothing_is_closed_at_the_header_timeout(pool: PgPool) {
    let addr = start(pool).await;
    let mut silent = tokio::net::TcpStream::connect(addr)
        .await
        .expect("a connection");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        LIMITS.header_read_timeout * 10,
        silent.read_to_end(&mut answer),
    )
    .await;
    assert!(read.is_ok(), "the silent connection is still open");
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
}
