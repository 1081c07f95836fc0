//! Share notifications, shares sent and the sharing policy over HTTP: order, pages,
//! unread counts, who sees what, and read-your-writes on the `shares` view.
//!
//! Rows are written straight into the views, as the `shares` and `policies` projections
//! would write them.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use support::{append_event, error_code, header, start, start_with_timeout, Cursor};

/// A profile for `user` in `user_table`.
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

/// Share number `n` (its position, too): `sharer` sent `https://example.com/<n>` to
/// `recipients`; those in `seen` saw it at minute `n`.
async fn share(pool: &PgPool, n: i64, sharer: &str, recipients: &[&str], seen: &[&str]) -> String {
    let share_id = format!("00000000-0000-4000-8000-{n:012}");
    let url = format!("https://example.com/{n}");
    let at = format!("2026-11-23T12:{n:02}:00Z");
    for recipient in recipients {
        let seen_at = seen.contains(recipient).then(|| at.clone());
        sqlx::query(
            "INSERT INTO share_notifications (share_id, recipient_id, sharer_id, url, title, domain, shared_at, seen_at, position)
             VALUES ($1::uuid, $2, $3, $4, 'Page ' || $5, 'example.com', $6::timestamptz, $7::timestamptz, $5)",
        )
        .bind(&share_id).bind(recipient).bind(sharer).bind(&url).bind(n).bind(&at).bind(seen_at)
        .execute(pool)
        .await
        .expect("notification row");
    }
    sqlx::query(
        "INSERT INTO shares_sent (share_id, sharer_id, url, title, domain, shared_at, recipient_count, position)
         VALUES ($1::uuid, $2, $3, 'Page ' || $4, 'example.com', $5::timestamptz, $6, $4)",
    )
    .bind(&share_id).bind(sharer).bind(&url).bind(n).bind(&at).bind(recipients.len() as i32)
    .execute(pool)
    .await
    .expect("sent row");
    share_id
}

/// Ann (sharer), bob and cy (her friends) and dan (a stranger); ann shared page 1 with
/// bob and cy (cy saw it) and page 2 with bob.
async fn scene(pool: &PgPool) {
    for (id, first, last) in [
        ("ann", "Ann", "Lee"),
        ("bob", "Bob", "Ray"),
        ("cy", "Cy", "Ng"),
        ("dan", "Dan", "Oz"),
    ] {
        user(pool, id, first, last).await;
    }
    share(pool, 1, "ann", &["bob", "cy"], &["cy"]).await;
    share(pool, 2, "ann", &["bob"], &[]).await;
}

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.expect("a JSON answer")
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn notifications_come_newest_first_with_the_sharers_name_and_the_unread_count(pool: PgPool) {
    scene(&pool).await;
    let app = start(pool).await;

    let response = app.get("/v1/notifications", Some("cy")).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        json_of(response).await,
        json!({
            "items": [{
                "share_id": "00000000-0000-4000-8000-000000000001",
                "sharer": { "user_id": "ann", "first_name": "Ann", "last_name": "Lee" },
                "url": "https://example.com/1",
                "title": "Page 1",
                "shared_at": "2026-11-23T12:01:00Z",
                "seen_at": "2026-11-23T12:01:00Z"
            }],
            "unread_count": 0,
            "next_before": null
        })
    );
    let bob = json_of(app.get("/v1/notifications", Some("bob")).await).await;
    let urls: Vec<&str> = bob["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["url"].as_str())
        .collect();
    assert_eq!(urls, ["https://example.com/2", "https://example.com/1"]);
    assert_eq!(bob["unread_count"], 2);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn notifications_are_paged_by_cursor(pool: PgPool) {
    user(&pool, "ann", "Ann", "Lee").await;
    for n in 1..=5 {
        share(&pool, n, "ann", &["bob"], &[]).await;
    }
    let app = start(pool).await;
    let mut pages = Vec::new();
    let mut path = "/v1/notifications?limit=2".to_owned();
    loop {
        let page = json_of(app.get(&path, Some("bob")).await).await;
        let titles: Vec<String> = page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["title"].as_str().unwrap_or("").to_owned())
            .collect();
        pages.push(titles);
        assert_eq!(page["unread_count"], 5);
        match page["next_before"].as_i64() {
            Some(before) => path = format!("/v1/notifications?limit=2&before={before}"),
            None => break,
        }
    }
    assert_eq!(
        pages,
        [
            vec!["Page 5", "Page 4"],
            vec!["Page 3", "Page 2"],
            vec!["Page 1"]
        ]
    );
    for bad in ["limit=0", "limit=101", "limit=lots", "before=yesterday"] {
        let response = app
            .get(&format!("/v1/notifications?{bad}"), Some("bob"))
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        let expected = if bad.starts_with("limit=") && bad != "limit=lots" {
            "query.invalid_limit"
        } else {
            "request.invalid_query"
        };
        assert_eq!(error_code(response).await, expected, "{bad}");
    }
    let all = json_of(app.get("/v1/notifications?limit=100", Some("bob")).await).await;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(5));
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn shares_sent_list_their_recipients_and_how_many_have_not_seen_them(pool: PgPool) {
    scene(&pool).await;
    let app = start(pool).await;

    let response = app.get("/v1/shares/sent?limit=1", Some("ann")).await;

    assert_eq!(response.status(), StatusCode::OK);
    let first_page = json_of(response).await;
    assert_eq!(first_page["items"][0]["url"], "https://example.com/2");
    assert_eq!(first_page["next_before"], 2);
    let second = json_of(app.get("/v1/shares/sent?before=2", Some("ann")).await).await;
    assert_eq!(
        second,
        json!({
            "items": [{
                "share_id": "00000000-0000-4000-8000-000000000001",
                "url": "https://example.com/1",
                "title": "Page 1",
                "domain": "example.com",
                "shared_at": "2026-11-23T12:01:00Z",
                "recipients": [
                    { "user_id": "bob", "first_name": "Bob", "last_name": "Ray" },
                    { "user_id": "cy", "first_name": "Cy", "last_name": "Ng" }
                ],
                "unread_count": 1
            }],
            "next_before": null
        })
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_sharing_policy_is_the_callers_own(pool: PgPool) {
    scene(&pool).await;
    sqlx::query(
        "INSERT INTO sharing_policy (user_id, mode, allow, deny, updated_at, last_position, version)
         VALUES ('ann', 'default_all', '{github.com}', '{paypal.com}', now(), 1, 1)",
    )
    .execute(&pool)
    .await
    .expect("policy row");
    let app = start(pool).await;

    let ann = app.get("/v1/me/sharing-policy", Some("ann")).await;
    assert_eq!(ann.status(), StatusCode::OK);
    assert_eq!(
        json_of(ann).await,
        json!({ "mode": "default_all", "allow": ["github.com"], "deny": ["paypal.com"] })
    );
    // Registered before policies were recorded: nothing shared.
    let bob = json_of(app.get("/v1/me/sharing-policy", Some("bob")).await).await;
    assert_eq!(
        bob,
        json!({ "mode": "default_none", "allow": [], "deny": [] })
    );
    let stranger = app.get("/v1/me/sharing-policy", Some("zoe")).await;
    assert_eq!(stranger.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(stranger).await, "user.not_found");
}

/// What each caller gets from each sharing query: ann (the sharer), bob (a recipient
/// friend), dan (a stranger), nobody. No query names another user: asking for someone
/// else's lists with a parameter changes nothing.
#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn each_sharing_query_answers_each_caller_with_their_own_items_only(pool: PgPool) {
    scene(&pool).await;
    let app = start(pool).await;
    let count = |v: &Value| v["items"].as_array().map_or(usize::MAX, Vec::len);
    let matrix: [(&str, [usize; 3]); 4] = [
        ("/v1/notifications", [0, 2, 0]),
        ("/v1/notifications?user_id=bob&recipient_id=bob", [0, 2, 0]),
        ("/v1/shares/sent", [2, 0, 0]),
        ("/v1/shares/sent?sharer_id=ann", [2, 0, 0]),
    ];
    for (path, expected) in matrix {
        for (caller, items) in ["ann", "bob", "dan"].into_iter().zip(expected) {
            let response = app.get(path, Some(caller)).await;
            assert_eq!(response.status(), StatusCode::OK, "{caller} {path}");
            assert_eq!(count(&json_of(response).await), items, "{caller} {path}");
        }
    }
    for path in [
        "/v1/notifications",
        "/v1/shares/sent",
        "/v1/me/sharing-policy",
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
async fn a_query_with_min_position_waits_for_the_shares_view(pool: PgPool) {
    scene(&pool).await;
    let earlier = append_event(&pool, "ann").await;
    set_checkpoint(&mut pool.acquire().await.expect("conn"), "shares", earlier).await;
    let shared = append_event(&pool, "ann").await;
    let app = start_with_timeout(pool.clone(), Duration::from_secs(5)).await;
    let path = format!("/v1/notifications?min_position={}", shared.position);

    let stale = app.get(&format!("{path}&wait_ms=100"), Some("bob")).await;
    assert_eq!(header(&stale, "x-pagenow-stale"), Some("true"));
    assert_eq!(json_of(stale).await["unread_count"], 2);

    // The projection commits while the query runs, before or during its wait.
    let projector = pool.clone();
    tokio::spawn(async move {
        let mut tx = projector.begin().await.expect("begin");
        sqlx::query("UPDATE share_notifications SET seen_at = now() WHERE recipient_id = 'bob'")
            .execute(&mut *tx)
            .await
            .expect("seen");
        set_checkpoint(&mut tx, "shares", shared).await;
        tx.commit().await.expect("commit");
    });
    let fresh = app.get(&path, Some("bob")).await;
    assert_eq!(header(&fresh, "x-pagenow-stale"), None);
    let expected_position = shared.position.to_string();
    assert_eq!(
        header(&fresh, "x-pagenow-view-position"),
        Some(expected_position.as_str())
    );
    assert_eq!(json_of(fresh).await["unread_count"], 0);
}
