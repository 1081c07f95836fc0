//! The caller's friendships over HTTP: lists, one relationship, paging, read-your-writes
//! and who sees what. Rows are written straight into the views, as the projector would.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use support::{error_code, header, start, start_with_timeout};

const T0: &str = "2026-01-01T10:00:00Z";
const T1: &str = "2026-01-02T10:00:00Z";
const T2: &str = "2026-01-03T10:00:00Z";
const T3: &str = "2026-01-04T10:00:00Z";
const T4: &str = "2026-01-05T10:00:00Z";

async fn insert_person(pool: &PgPool, user_id: &str, first: &str, last: &str) {
    sqlx::query(
        "INSERT INTO user_table (user_id, first_name, last_name, registered_at, updated_at,
                                 last_position, version)
         VALUES ($1, $2, $3, now(), now(), 0, 1)",
    )
    .bind(user_id)
    .bind(first)
    .bind(last)
    .execute(pool)
    .await
    .expect("the user row is inserted");
}

/// Both rows of a pair, as the friendships projection keeps them; `accepted_at` makes
/// them friends, otherwise `requester`'s request is pending.
async fn relate(
    pool: &PgPool,
    requester: &str,
    recipient: &str,
    requested_at: &str,
    accepted_at: Option<&str>,
) {
    sqlx::query(
        "INSERT INTO friendship_table
                (user_id, other_id, status, requested_by, requested_at, accepted_at, last_position)
         SELECT a, b, CASE WHEN $4::timestamptz IS NULL THEN 'pending' ELSE 'accepted' END,
                $1, $3::timestamptz, $4::timestamptz, 0
           FROM (VALUES ($1, $2), ($2, $1)) AS pair (a, b)",
    )
    .bind(requester)
    .bind(recipient)
    .bind(requested_at)
    .bind(accepted_at)
    .execute(pool)
    .await
    .expect("the pair's rows are inserted");
}

/// Ann is friends with Bob (since T1) and Dan (since T2); Cy asked Ann (T3); Ann asked
/// Eve (T4), who has no row in the user view. Zed knows nobody.
async fn anns_world(pool: &PgPool) {
    for (user, first, last) in [
        ("ann", "Ann", "Lee"),
        ("bob", "Bob", "Ray"),
        ("cy", "Cy", "Young"),
        ("dan", "Dan", "Brown"),
        ("zed", "Zed", "Zhu"),
    ] {
        insert_person(pool, user, first, last).await;
    }
    relate(pool, "ann", "bob", T0, Some(T1)).await;
    relate(pool, "dan", "ann", T0, Some(T2)).await;
    relate(pool, "cy", "ann", T3, None).await;
    relate(pool, "ann", "eve", T4, None).await;
}

async fn get_json(app: &support::TestApp, path: &str, user: Option<&str>) -> (StatusCode, Value) {
    let response = app.get(path, user).await;
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The `user_id`s of a list answer's items.
fn ids(answer: &Value) -> Vec<&str> {
    answer["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|i| i["user_id"].as_str()).collect())
        .unwrap_or_default()
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn my_friends_are_listed_newest_first_with_their_names(pool: PgPool) {
    anns_world(&pool).await;
    let app = start(pool).await;
    let (status, answer) = get_json(&app, "/v1/friends", Some("ann")).await;
    assert_eq!(status, StatusCode::OK);
    let expected = json!({
        "items": [
            {"user_id": "dan", "first_name": "Dan", "last_name": "Brown", "since": T2},
            {"user_id": "bob", "first_name": "Bob", "last_name": "Ray", "since": T1},
        ],
        "total": 2
    });
    assert_eq!(answer, expected);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn incoming_and_outgoing_requests_are_listed_with_when_they_were_sent(pool: PgPool) {
    anns_world(&pool).await;
    let app = start(pool).await;
    let (_, incoming) = get_json(&app, "/v1/friend-requests/incoming", Some("ann")).await;
    let cy = json!({"user_id": "cy", "first_name": "Cy", "last_name": "Young", "requested_at": T3});
    assert_eq!(incoming, json!({ "items": [cy], "total": 1 }));
    let (_, outgoing) = get_json(&app, "/v1/friend-requests/outgoing", Some("ann")).await;
    let eve = json!({"user_id": "eve", "first_name": null, "last_name": null, "requested_at": T4});
    assert_eq!(outgoing, json!({ "items": [eve], "total": 1 }));
    let (_, cys_outgoing) = get_json(&app, "/v1/friend-requests/outgoing", Some("cy")).await;
    assert_eq!(ids(&cys_outgoing), ["ann"]);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_relationship_says_how_the_caller_stands_with_a_user(pool: PgPool) {
    anns_world(&pool).await;
    let app = start(pool).await;
    let cases = [
        (
            "ann",
            "bob",
            json!({"user_id": "bob", "status": "friends", "since": T1}),
        ),
        (
            "ann",
            "cy",
            json!({"user_id": "cy", "status": "pending_incoming", "requested_at": T3}),
        ),
        (
            "cy",
            "ann",
            json!({"user_id": "ann", "status": "pending_outgoing", "requested_at": T3}),
        ),
        (
            "ann",
            "eve",
            json!({"user_id": "eve", "status": "pending_outgoing", "requested_at": T4}),
        ),
        ("ann", "zed", json!({"user_id": "zed", "status": "none"})),
        (
            "ann",
            "nobody",
            json!({"user_id": "nobody", "status": "none"}),
        ),
        ("ann", "ann", json!({"user_id": "ann", "status": "self"})),
    ];
    for (caller, other, expected) in cases {
        let (status, answer) =
            get_json(&app, &format!("/v1/relationships/{other}"), Some(caller)).await;
        assert_eq!(
            (status, answer),
            (StatusCode::OK, expected),
            "{caller} about {other}"
        );
    }
    let response = app.get("/v1/relationships/a%20b", Some("ann")).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(response).await, "user.invalid_id");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn lists_are_paged_in_a_stable_order(pool: PgPool) {
    insert_person(&pool, "ann", "Ann", "Lee").await;
    // 60 friends accepted at the same moment: only the user id orders them.
    sqlx::query(
        "INSERT INTO friendship_table (user_id, other_id, status, requested_by, requested_at, accepted_at, last_position)
         SELECT 'ann', 'f' || lpad(n::text, 2, '0'), 'accepted', 'ann', $1::timestamptz, $1::timestamptz, 0
           FROM generate_series(1, 60) AS n",
    )
    .bind(T1)
    .execute(&pool)
    .await
    .expect("friends");
    let app = start(pool).await;

    let (_, first_page) = get_json(&app, "/v1/friends", Some("ann")).await;
    assert_eq!(
        (ids(&first_page).len(), first_page["total"].as_i64()),
        (50, Some(60))
    );
    let mut paged = Vec::new();
    for offset in (0..60).step_by(7) {
        let (_, page) = get_json(
            &app,
            &format!("/v1/friends?limit=7&offset={offset}"),
            Some("ann"),
        )
        .await;
        paged.extend(ids(&page).into_iter().map(str::to_owned));
    }
    let all: Vec<String> = (1..=60).map(|n| format!("f{n:02}")).collect();
    assert_eq!(paged, all);
    let (_, past_the_end) = get_json(&app, "/v1/friends?offset=100", Some("ann")).await;
    assert_eq!(past_the_end, json!({ "items": [], "total": 60 }));
    let (status, _) = get_json(&app, "/v1/friends?limit=200", Some("ann")).await;
    assert_eq!(status, StatusCode::OK);

    for (query, code) in [
        ("limit=0", "query.invalid_limit"),
        ("limit=201", "query.invalid_limit"),
        ("offset=-1", "query.invalid_offset"),
        ("limit=many", "request.invalid_query"),
    ] {
        for list in [
            "/v1/friends",
            "/v1/friend-requests/incoming",
            "/v1/friend-requests/outgoing",
        ] {
            let response = app.get(&format!("{list}?{query}"), Some("ann")).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{list}?{query}");
            assert_eq!(error_code(response).await, code, "{list}?{query}");
        }
    }
}

/// Appends a `friendship.requested` event for ann and bob, as the command API would;
/// returns its `(tx_id, position)`.
async fn a_request_is_stored(pool: &PgPool) -> (i64, i64) {
    sqlx::query_as(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('friendship', 'ann bob', 1, 'friendship.requested', '1',
                 '{\"requester\": \"ann\", \"recipient\": \"bob\", \"requested_at\": \"2026-01-01T10:00:00Z\"}', '{}')
         RETURNING tx_id::text::bigint, position",
    )
    .fetch_one(pool)
    .await
    .expect("the event is appended")
}

/// The friendships projection applies that event: the rows and its checkpoint, at once.
async fn the_request_is_projected(pool: &PgPool, (tx_id, position): (i64, i64)) {
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query(
        "INSERT INTO friendship_table (user_id, other_id, status, requested_by, requested_at, last_position)
         VALUES ('ann', 'bob', 'pending', 'ann', $1::timestamptz, $2), ('bob', 'ann', 'pending', 'ann', $1::timestamptz, $2)",
    )
    .bind(T0)
    .bind(position)
    .execute(&mut *tx)
    .await
    .expect("rows");
    sqlx::query("INSERT INTO checkpoints (name, tx_id, position) VALUES ('friendships', $1::bigint::text::xid8, $2)")
        .bind(tx_id)
        .bind(position)
        .execute(&mut *tx)
        .await
        .expect("checkpoint");
    tx.commit().await.expect("commit");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_list_read_with_a_commands_position_shows_that_command(pool: PgPool) {
    insert_person(&pool, "ann", "Ann", "Lee").await;
    insert_person(&pool, "bob", "Bob", "Ray").await;
    let cursor = a_request_is_stored(&pool).await;
    let app = start_with_timeout(pool.clone(), Duration::from_millis(200)).await;
    let path = format!("/v1/friend-requests/incoming?min_position={}", cursor.1);

    let response = app.get(&path, Some("bob")).await;
    assert_eq!(header(&response, "x-pagenow-stale"), Some("true"));
    let stale: Value = response.json().await.expect("json");
    assert_eq!(ids(&stale), Vec::<&str>::new());

    the_request_is_projected(&pool, cursor).await;
    let response = app.get(&path, Some("bob")).await;
    assert_eq!(header(&response, "x-pagenow-stale"), None);
    let position = cursor.1.to_string();
    assert_eq!(
        header(&response, "x-pagenow-view-position"),
        Some(position.as_str())
    );
    let fresh: Value = response.json().await.expect("json");
    assert_eq!(ids(&fresh), ["ann"]);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_query_waits_for_the_friendships_view_to_apply_the_command(pool: PgPool) {
    insert_person(&pool, "ann", "Ann", "Lee").await;
    let cursor = a_request_is_stored(&pool).await;
    let app = start(pool.clone()).await;
    let path = format!(
        "/v1/relationships/bob?min_position={}&wait_ms=10000",
        cursor.1
    );
    let waiting = tokio::spawn(async move {
        let response = app.get(&path, Some("ann")).await;
        let stale = header(&response, "x-pagenow-stale").map(str::to_owned);
        (stale, response.json::<Value>().await.expect("json"))
    });
    the_request_is_projected(&pool, cursor).await;
    let (stale, answer) = waiting.await.expect("the query answers");
    assert_eq!(stale, None);
    assert_eq!(
        answer,
        json!({"user_id": "bob", "status": "pending_outgoing", "requested_at": T0})
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn each_caller_sees_only_their_own_friendships(pool: PgPool) {
    anns_world(&pool).await;
    let app = start(pool).await;
    // (path, caller, what they see): the owner Ann, her friend Bob, the stranger Zed.
    let lists: [(&str, &str, &[&str]); 12] = [
        ("/v1/friends", "ann", &["dan", "bob"]),
        ("/v1/friends", "bob", &["ann"]),
        ("/v1/friends", "zed", &[]),
        ("/v1/friends?user_id=ann", "zed", &[]),
        ("/v1/friend-requests/incoming", "ann", &["cy"]),
        ("/v1/friend-requests/incoming", "bob", &[]),
        ("/v1/friend-requests/incoming", "zed", &[]),
        ("/v1/friend-requests/incoming?user_id=ann", "zed", &[]),
        ("/v1/friend-requests/outgoing", "ann", &["eve"]),
        ("/v1/friend-requests/outgoing", "bob", &[]),
        ("/v1/friend-requests/outgoing", "zed", &[]),
        ("/v1/friend-requests/outgoing?user_id=ann", "zed", &[]),
    ];
    for (path, caller, expected) in lists {
        let (status, answer) = get_json(&app, path, Some(caller)).await;
        assert_eq!(
            (status, ids(&answer)),
            (StatusCode::OK, expected.to_vec()),
            "{caller} {path}"
        );
    }
    for (caller, status) in [("ann", "self"), ("bob", "friends"), ("zed", "none")] {
        let (_, answer) = get_json(&app, "/v1/relationships/ann", Some(caller)).await;
        assert_eq!(answer["status"], status, "{caller}");
    }
    for path in [
        "/v1/friends",
        "/v1/friend-requests/incoming",
        "/v1/friend-requests/outgoing",
        "/v1/relationships/ann",
    ] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(error_code(response).await, "auth.missing_token");
    }
}
