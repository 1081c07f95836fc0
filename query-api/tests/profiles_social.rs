//! Profile pages: who sees which fields as owner, friend, pending requester or stranger,
//! the relationship and friend counts, and a user's friends and mutual friends.

mod graph;
mod support;

use std::time::Duration;

use graph::{befriend, befriend_at, ids, keys, person, request, set_checkpoint};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use support::{append_event, error_code, header, insert_user, start, start_with_timeout};

async fn json_of(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("a JSON answer")
}

const ALWAYS_SHOWN: [&str; 5] = [
    "description",
    "first_name",
    "last_name",
    "registered_at",
    "user_id",
];
const OPTIONAL: [&str; 6] = [
    "birth_date",
    "email",
    "gender",
    "location",
    "school",
    "work",
];
const PAGE: [&str; 3] = ["friend_count", "mutual_friend_count", "relationship"];

fn sorted(groups: &[&[&str]]) -> Vec<String> {
    let mut keys: Vec<String> = groups.concat().into_iter().map(str::to_owned).collect();
    keys.sort();
    keys
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn each_caller_sees_the_fields_their_relationship_allows(pool: PgPool) {
    insert_user(&pool, "ada").await; // every optional field private
    for caller in ["friend", "asker", "asked", "stranger"] {
        person(&pool, caller, "Some", "One").await;
    }
    befriend(&pool, "ada", "friend").await;
    request(&pool, "asker", "ada").await;
    request(&pool, "ada", "asked").await;
    let app = start(pool).await;

    let everything = sorted(&[&ALWAYS_SHOWN, &OPTIONAL, &PAGE]);
    let owner = sorted(&[
        &ALWAYS_SHOWN,
        &OPTIONAL,
        &PAGE,
        &["updated_at", "visibility"],
    ]);
    let public_only = sorted(&[&ALWAYS_SHOWN, &PAGE]);
    let cases = [
        ("ada", "self", owner),
        ("friend", "friends", everything),
        ("asker", "pending_outgoing", public_only.clone()),
        ("asked", "pending_incoming", public_only.clone()),
        ("stranger", "none", public_only),
    ];
    for (caller, relationship, fields) in cases {
        let page = json_of(app.get("/v1/users/ada", Some(caller)).await).await;

        assert_eq!(keys(&page), fields, "{caller}");
        assert_eq!(page["relationship"], relationship, "{caller}");
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_friend_sees_private_values_and_a_stranger_the_public_ones(pool: PgPool) {
    insert_user(&pool, "ada").await;
    sqlx::query("UPDATE user_table SET school_public = true WHERE user_id = 'ada'")
        .execute(&pool)
        .await
        .expect("the flag is set");
    person(&pool, "bob", "Bob", "Stone").await;
    person(&pool, "eve", "Eve", "Black").await;
    befriend(&pool, "bob", "ada").await;
    let app = start(pool).await;

    let as_friend = json_of(app.get("/v1/users/ada", Some("bob")).await).await;
    let as_stranger = json_of(app.get("/v1/users/ada", Some("eve")).await).await;

    assert_eq!(as_friend["email"], "ada@example.com");
    assert_eq!(as_friend["work"], "Analyst");
    assert_eq!(as_friend["birth_date"], "1815-12-10");
    assert_eq!(as_stranger["school"], "Home schooled");
    assert_eq!(as_stranger.get("work"), None);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_profile_page_counts_friends_and_friends_in_common(pool: PgPool) {
    for id in ["ada", "bob", "c1", "c2", "c3", "c4", "c5"] {
        person(&pool, id, "P", id).await;
    }
    for friend in ["c1", "c2", "c3"] {
        befriend(&pool, "ada", friend).await;
    }
    for friend in ["c2", "c3", "c4"] {
        befriend(&pool, friend, "bob").await;
    }
    request(&pool, "c5", "ada").await; // pending: not a friend
    request(&pool, "c5", "bob").await;
    let app = start(pool).await;

    let seen_by_bob = json_of(app.get("/v1/users/ada", Some("bob")).await).await;
    let own_page = json_of(app.get("/v1/users/ada", Some("ada")).await).await;

    assert_eq!(seen_by_bob["friend_count"], 3);
    assert_eq!(seen_by_bob["mutual_friend_count"], 2);
    assert_eq!(seen_by_bob["relationship"], "none");
    assert_eq!(own_page["friend_count"], 3);
    assert_eq!(own_page["mutual_friend_count"], 0);
}

/// Ada's friends, newest friendship first: bob, carl, dora, erin, finn. Bob asks about
/// them: he is bob, friends with carl, asked dora, was asked by erin, does not know finn.
async fn ada_and_her_friends(pool: &PgPool) {
    for (id, first) in [
        ("ada", "Ada"),
        ("bob", "Bob"),
        ("carl", "Carl"),
        ("dora", "Dora"),
        ("erin", "Erin"),
        ("finn", "Finn"),
        ("gus", "Gus"),
    ] {
        person(pool, id, first, "Doe").await;
    }
    befriend_at(pool, "ada", "bob", "2024-06-05T00:00:00Z").await;
    befriend_at(pool, "carl", "ada", "2024-06-04T00:00:00Z").await;
    befriend_at(pool, "ada", "dora", "2024-06-03T00:00:00Z").await;
    befriend_at(pool, "ada", "erin", "2024-06-03T00:00:00Z").await;
    befriend_at(pool, "ada", "finn", "2024-06-01T00:00:00Z").await;
    request(pool, "gus", "ada").await; // pending: not in her list
    befriend(pool, "bob", "carl").await;
    request(pool, "bob", "dora").await;
    request(pool, "erin", "bob").await;
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_users_friends_come_with_the_callers_relationship_with_each(pool: PgPool) {
    ada_and_her_friends(&pool).await;
    let app = start(pool).await;

    let answer = json_of(app.get("/v1/users/ada/friends", Some("bob")).await).await;

    assert_eq!(
        answer,
        json!({
            "items": [
                {"user_id": "bob", "first_name": "Bob", "last_name": "Doe", "relationship": "self"},
                {"user_id": "carl", "first_name": "Carl", "last_name": "Doe", "relationship": "friends"},
                {"user_id": "dora", "first_name": "Dora", "last_name": "Doe", "relationship": "pending_outgoing"},
                {"user_id": "erin", "first_name": "Erin", "last_name": "Doe", "relationship": "pending_incoming"},
                {"user_id": "finn", "first_name": "Finn", "last_name": "Doe", "relationship": "none"}
            ],
            "total": 5
        })
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn pages_of_a_friend_list_neither_repeat_nor_skip(pool: PgPool) {
    ada_and_her_friends(&pool).await;
    let app = start(pool).await;

    let mut seen = Vec::new();
    for offset in [0, 2, 4, 6] {
        let path = format!("/v1/users/ada/friends?limit=2&offset={offset}");
        let page = json_of(app.get(&path, Some("ada")).await).await;
        assert_eq!(page["total"], 5, "offset {offset}");
        seen.extend(ids(&page));
    }

    assert_eq!(seen, ["bob", "carl", "dora", "erin", "finn"]);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn mutual_friends_are_the_friends_of_both(pool: PgPool) {
    ada_and_her_friends(&pool).await;
    befriend(&pool, "finn", "gus").await;
    befriend(&pool, "dora", "gus").await;
    request(&pool, "gus", "carl").await; // pending: not mutual
    let app = start(pool).await;

    let answer = json_of(app.get("/v1/users/ada/mutual-friends", Some("gus")).await).await;
    let own = json_of(app.get("/v1/users/ada/mutual-friends", Some("ada")).await).await;

    assert_eq!(
        answer,
        json!({
            "items": [
                {"user_id": "dora", "first_name": "Dora", "last_name": "Doe"},
                {"user_id": "finn", "first_name": "Finn", "last_name": "Doe"}
            ],
            "total": 2
        })
    );
    assert_eq!(own, json!({"items": [], "total": 0}));
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_user_without_friends_has_empty_lists(pool: PgPool) {
    person(&pool, "ada", "Ada", "Doe").await;
    let app = start(pool).await;

    for (list, caller) in [("friends", "ada"), ("mutual-friends", "bob")] {
        let path = format!("/v1/users/ada/{list}");
        let answer = json_of(app.get(&path, Some(caller)).await).await;

        assert_eq!(answer, json!({"items": [], "total": 0}), "{list}");
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_lists_of_an_unknown_user_are_not_found(pool: PgPool) {
    let app = start(pool).await;

    for list in ["friends", "mutual-friends"] {
        let response = app
            .get(&format!("/v1/users/nobody/{list}"), Some("bob"))
            .await;

        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{list}");
        assert_eq!(error_code(response).await, "user.not_found", "{list}");
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn profile_page_requests_without_a_token_are_unauthorized(pool: PgPool) {
    person(&pool, "ada", "Ada", "Doe").await;
    let app = start(pool).await;

    for path in ["/v1/users/ada/friends", "/v1/users/ada/mutual-friends"] {
        let response = app.get(path, None).await;

        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(error_code(response).await, "auth.missing_token", "{path}");
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn bad_list_parameters_are_bad_requests_with_their_codes(pool: PgPool) {
    person(&pool, "ada", "Ada", "Doe").await;
    let app = start(pool).await;
    let long_id = "u".repeat(129);
    let cases = [
        ("/v1/users/ada/friends?limit=0", "query.invalid_limit"),
        ("/v1/users/ada/friends?limit=101", "query.invalid_limit"),
        (
            "/v1/users/ada/mutual-friends?offset=-1",
            "query.invalid_offset",
        ),
        ("/v1/users/ada/friends?limit=many", "request.invalid_query"),
        (&format!("/v1/users/{long_id}/friends"), "user.invalid_id"),
    ];

    for (path, code) in cases {
        let response = app.get(path, Some("bob")).await;

        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(error_code(response).await, code, "{path}");
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_profile_page_with_min_position_waits_for_the_friendships_view_too(pool: PgPool) {
    person(&pool, "ada", "Ada", "Doe").await;
    person(&pool, "bob", "Bob", "Doe").await;
    let accepted = append_event(&pool, "bob").await;
    set_checkpoint(&pool, "users", accepted.tx_id, accepted.position).await;
    let path = format!("/v1/users/ada?min_position={}", accepted.position);

    let behind = start_with_timeout(pool.clone(), Duration::from_millis(200)).await;
    let response = behind.get(&path, Some("bob")).await;
    assert_eq!(header(&response, "x-pagenow-stale"), Some("true"));
    assert_eq!(json_of(response).await["relationship"], "none");

    let projector = pool.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut tx = projector.begin().await.expect("a transaction");
        for (a, b) in [("ada", "bob"), ("bob", "ada")] {
            sqlx::query(
                "INSERT INTO friendship_table VALUES ($1, $2, 'accepted', 'bob', now(), now(), 0)",
            )
            .bind(a)
            .bind(b)
            .execute(&mut *tx)
            .await
            .expect("the friendship is projected");
        }
        tx.commit().await.expect("the projection commits");
        set_checkpoint(&projector, "friendships", accepted.tx_id, accepted.position).await;
    });
    let app = start(pool).await;
    let response = app.get(&path, Some("bob")).await;

    assert_eq!(header(&response, "x-pagenow-stale"), None);
    let page = json_of(response).await;
    assert_eq!(page["relationship"], "friends");
    assert_eq!(page["friend_count"], 1);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn only_the_user_and_their_friends_see_their_friend_list(pool: PgPool) {
    ada_and_her_friends(&pool).await;
    person(&pool, "eve", "Eve", "Doe").await;
    let app = start(pool).await;

    for (caller, expected) in [
        ("ada", StatusCode::OK),
        ("bob", StatusCode::OK),
        ("gus", StatusCode::FORBIDDEN),
        ("eve", StatusCode::FORBIDDEN),
    ] {
        let response = app.get("/v1/users/ada/friends", Some(caller)).await;
        assert_eq!(response.status(), expected, "{caller}");
        if expected == StatusCode::FORBIDDEN {
            assert_eq!(
                error_code(response).await,
                "user.friends_hidden",
                "{caller}"
            );
        }
    }
}
