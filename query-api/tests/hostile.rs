//! Hostile input against the real query API on a socket: the hostile-token suite gets
//! 401s, and the HTTP timeouts do not cut short a query that waits for its position.

#[path = "../../auth/tests/hostile_suite/mod.rs"]
mod hostile_suite;
mod support;

use std::time::Duration;

use http_api::Limits;
use sqlx::PgPool;
use support::{append_event, header, insert_user, set_users_checkpoint, start_with_timeout};

/// Short HTTP timeouts, installed as `pagenow` installs the configured ones.
const LIMITS: Limits = Limits {
    header_read_timeout: Duration::from_secs(1),
    body_read_timeout: Duration::from_secs(1),
    max_connections: 1_000,
};

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn every_hostile_token_gets_401(pool: PgPool) {
    LIMITS
        .install()
        .expect("every test here installs the same limits");
    let config = query_api::Config {
        addr: ([127, 0, 0, 1], 0).into(),
        consistency_timeout: query_api::DEFAULT_CONSISTENCY_TIMEOUT,
    };
    let app = query_api::build(config, pool, hostile_suite::verifier().await)
        .await
        .expect("the query API binds");
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run(std::future::pending()));
    let http = reqwest::Client::new();
    for path in ["/v1/me", "/v1/friends", "/v1/conversations"] {
        let url = format!("{base}{path}");
        for case in hostile_suite::refused() {
            let answer = http.get(&url).bearer_auth(&case.token).send().await;
            hostile_suite::assert_refused(answer.expect("an answer"), &case).await;
        }
        for case in hostile_suite::valid() {
            let answer = http.get(&url).bearer_auth(&case.token).send().await;
            let status = answer.expect("an answer").status();
            assert_ne!(status, 401, "{path}, {}", case.name);
            assert!(!status.is_server_error(), "{path}, {}: {status}", case.name);
        }
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_query_waiting_for_its_position_is_not_cut_off_by_the_http_timeouts(pool: PgPool) {
    LIMITS
        .install()
        .expect("every test here installs the same limits");
    insert_user(&pool, "ada").await;
    let registered = append_event(&pool, "ada").await;
    let mut conn = pool.acquire().await.expect("a connection");
    set_users_checkpoint(&mut conn, registered).await;
    let edited = append_event(&pool, "ada").await;
    // The view never reaches `edited`: the query waits its whole timeout, three times
    // the HTTP limits, then answers stale.
    let app = start_with_timeout(pool, LIMITS.body_read_timeout * 3).await;

    let path = format!("/v1/users/ada?min_position={}", edited.position);
    let response = app.get(&path, Some("bob")).await;

    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-pagenow-stale"), Some("true"));
}
