//! Popular pages over HTTP: order, limits, the domain parameter, authentication and
//! read-your-writes on the `popular` view.
//!
//! Rows are written straight into the views, as the `popular` projection would write them.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use support::{append_event, error_code, header, start, start_with_timeout, Cursor};

async fn domain(pool: &PgPool, domain: &str, count: i64) {
    sqlx::query("INSERT INTO popular_domains (domain, share_count) VALUES ($1, $2)")
        .bind(domain)
        .bind(count)
        .execute(pool)
        .await
        .expect("domain row");
}

/// A page of `example.com` shared `count` times, last at minute `minute`.
async fn page(pool: &PgPool, path: &str, count: i64, minute: u32) {
    sqlx::query(
        "INSERT INTO popular_pages (domain, url, title, share_count, last_shared_at)
         VALUES ('example.com', 'https://example.com/' || $1, 'Page ' || $1, $2,
                 ('2026-11-23T12:' || lpad($3::text, 2, '0') || ':00Z')::timestamptz)",
    )
    .bind(path)
    .bind(count)
    .bind(minute as i32)
    .execute(pool)
    .await
    .expect("page row");
}

async fn sharer(pool: &PgPool, user: &str, count: i64) {
    sqlx::query("INSERT INTO sharer_stats (user_id, share_count) VALUES ($1, $2)")
        .bind(user)
        .bind(count)
        .execute(pool)
        .await
        .expect("sharer row");
}

async fn user(pool: &PgPool, user: &str, first: &str, last: &str) {
    sqlx::query(
        "INSERT INTO user_table (user_id, email, first_name, last_name, registered_at, updated_at, last_position, version)
         VALUES ($1, $1 || '@example.com', $2, $3, now(), now(), 0, 1)",
    )
    .bind(user)
    .bind(first)
    .bind(last)
    .execute(pool)
    .await
    .expect("user row");
}

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.expect("a JSON answer")
}

/// The values of `field` in each item of `answer`, as text.
fn field(answer: &Value, field: &str) -> Vec<String> {
    answer["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item[field].to_string().trim_matches('"').to_owned())
        .collect()
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn domains_come_most_shared_first_then_by_name(pool: PgPool) {
    domain(&pool, "b.example", 3).await;
    domain(&pool, "a.example", 3).await;
    domain(&pool, "z.example", 7).await;
    domain(&pool, "c.example", 1).await;
    let app = start(pool).await;

    let response = app.get("/v1/popular/domains", Some("ann")).await;

    assert_eq!(response.status(), StatusCode::OK);
    let answer = json_of(response).await;
    assert_eq!(
        answer["items"][0],
        json!({ "domain": "z.example", "share_count": 7 })
    );
    assert_eq!(
        field(&answer, "domain"),
        ["z.example", "a.example", "b.example", "c.example"]
    );
    let first_two = json_of(app.get("/v1/popular/domains?limit=2", Some("ann")).await).await;
    assert_eq!(field(&first_two, "domain"), ["z.example", "a.example"]);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_domains_pages_come_most_shared_first_then_latest_shared(pool: PgPool) {
    page(&pool, "old", 2, 1).await;
    page(&pool, "new", 2, 9).await;
    page(&pool, "top", 5, 3).await;
    page(&pool, "one", 1, 30).await;
    sqlx::query(
        "INSERT INTO popular_pages (domain, url, title, share_count, last_shared_at)
         VALUES ('other.org', 'https://other.org/', 'Other', 9, now())",
    )
    .execute(&pool)
    .await
    .expect("another domain's page");
    let app = start(pool).await;

    let response = app
        .get("/v1/popular/domains/www.EXAMPLE.com/pages", Some("ann"))
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let answer = json_of(response).await;
    assert_eq!(
        answer["items"][0],
        json!({
            "url": "https://example.com/top",
            "title": "Page top",
            "share_count": 5,
            "last_shared_at": "2026-11-23T12:03:00Z"
        })
    );
    assert_eq!(
        field(&answer, "url"),
        [
            "https://example.com/top",
            "https://example.com/new",
            "https://example.com/old",
            "https://example.com/one"
        ]
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_leaderboard_ranks_sharers_with_their_names_ten_by_default(pool: PgPool) {
    user(&pool, "ann", "Ann", "Lee").await;
    user(&pool, "bob", "Bob", "Ray").await;
    sharer(&pool, "ann", 4).await;
    sharer(&pool, "bob", 9).await;
    for n in 0..12 {
        sharer(&pool, &format!("u{n:02}"), 1).await;
    }
    let app = start(pool).await;

    let response = app.get("/v1/leaderboard", Some("cy")).await;

    assert_eq!(response.status(), StatusCode::OK);
    let answer = json_of(response).await;
    assert_eq!(
        answer["items"][0],
        json!({ "user_id": "bob", "first_name": "Bob", "last_name": "Ray", "share_count": 9 })
    );
    assert_eq!(
        field(&answer, "user_id"),
        ["bob", "ann", "u00", "u01", "u02", "u03", "u04", "u05", "u06", "u07"]
    );
    assert_eq!(answer["items"][2]["first_name"], Value::Null);
    let all = json_of(app.get("/v1/leaderboard?limit=100", Some("cy")).await).await;
    assert_eq!(field(&all, "user_id").len(), 14);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_domain_list_answers_twenty_by_default(pool: PgPool) {
    for n in 0..25 {
        domain(&pool, &format!("d{n:02}.example"), 1).await;
    }
    let app = start(pool).await;

    let answer = json_of(app.get("/v1/popular/domains", Some("ann")).await).await;

    assert_eq!(field(&answer, "domain").len(), 20);
    assert_eq!(field(&answer, "domain")[19], "d19.example");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_limit_out_of_bounds_is_refused(pool: PgPool) {
    let app = start(pool).await;
    for path in [
        "/v1/popular/domains?limit=0",
        "/v1/popular/domains?limit=101",
        "/v1/popular/domains/example.com/pages?limit=101",
        "/v1/leaderboard?limit=0",
        "/v1/leaderboard?limit=101",
    ] {
        let response = app.get(path, Some("ann")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(error_code(response).await, "query.invalid_limit", "{path}");
    }
    for path in ["/v1/popular/domains?limit=100", "/v1/leaderboard?limit=100"] {
        let response = app.get(path, Some("ann")).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn an_invalid_domain_is_refused(pool: PgPool) {
    let app = start(pool).await;
    for domain in ["localhost", "not%20a%20domain", "-bad-.com"] {
        let path = format!("/v1/popular/domains/{domain}/pages");
        let response = app.get(&path, Some("ann")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(
            error_code(response).await,
            "policy.invalid_domain",
            "{path}"
        );
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn every_popular_query_needs_a_token(pool: PgPool) {
    let app = start(pool).await;
    for path in [
        "/v1/popular/domains",
        "/v1/popular/domains/example.com/pages",
        "/v1/leaderboard",
    ] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(error_code(response).await, "auth.missing_token");
    }
}

async fn set_checkpoint(conn: &mut sqlx::PgConnection, view: &str, cursor: Cursor) {
    sqlx::query(
        "INSERT INTO checkpoints (name, tx_id, position) VALUES ($1, $2::bigint::text::xid8, $3)
         ON CONFLICT (name) DO UPDATE SET tx_id = EXCLUDED.tx_id, position = EXCLUDED.position",
    )
    .bind(view)
    .bind(cursor.tx_id)
    .bind(cursor.position)
    .execute(conn)
    .await
    .expect("checkpoint");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_query_with_min_position_waits_for_the_popular_view(pool: PgPool) {
    sharer(&pool, "ann", 1).await;
    let earlier = append_event(&pool, "ann").await;
    set_checkpoint(&mut pool.acquire().await.expect("conn"), "popular", earlier).await;
    let shared = append_event(&pool, "ann").await;
    // Another view being there does not count.
    set_checkpoint(&mut pool.acquire().await.expect("conn"), "shares", shared).await;
    let app = start_with_timeout(pool.clone(), Duration::from_secs(5)).await;
    let path = format!("/v1/leaderboard?min_position={}", shared.position);

    let stale = app.get(&format!("{path}&wait_ms=100"), Some("bob")).await;
    assert_eq!(header(&stale, "x-pagenow-stale"), Some("true"));
    assert_eq!(json_of(stale).await["items"][0]["share_count"], 1);

    // The projection commits while the query runs, before or during its wait.
    let projector = pool.clone();
    tokio::spawn(async move {
        let mut tx = projector.begin().await.expect("begin");
        sqlx::query("UPDATE sharer_stats SET share_count = 2 WHERE user_id = 'ann'")
            .execute(&mut *tx)
            .await
            .expect("counted");
        set_checkpoint(&mut tx, "popular", shared).await;
        tx.commit().await.expect("commit");
    });
    let fresh = app.get(&path, Some("bob")).await;
    assert_eq!(header(&fresh, "x-pagenow-stale"), None);
    let expected_position = shared.position.to_string();
    assert_eq!(
        header(&fresh, "x-pagenow-view-position"),
        Some(expected_position.as_str())
    );
    assert_eq!(json_of(fresh).await["items"][0]["share_count"], 2);
}
