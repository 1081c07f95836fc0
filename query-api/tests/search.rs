//! `GET /v1/users/search` and `GET /v1/friends/search`: matching, ranking, e-mail
//! privacy, `LIKE` escaping and pagination.

mod graph;
mod support;

use graph::{befriend, ids, keys, person, request, set_email};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use support::{error_code, start, TestApp};

async fn search(app: &TestApp, path: &str, caller: &str) -> Value {
    let response = app.get(path, Some(caller)).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.expect("a JSON answer")
}

/// `me` has two friends, m1 and m2, whose names match no search below.
async fn me_and_two_friends(pool: &PgPool) {
    person(pool, "me", "Mia", "Moe").await;
    person(pool, "m1", "Max", "Moe").await;
    person(pool, "m2", "Meg", "Moe").await;
    befriend(pool, "me", "m1").await;
    befriend(pool, "m2", "me").await;
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn friends_come_first_then_pending_requests_then_everyone_else(pool: PgPool) {
    me_and_two_friends(&pool).await;
    person(&pool, "s1", "Ann", "Zed").await; // exact, two friends in common
    person(&pool, "p1", "Annabel", "Yu").await; // prefix, one in common, I asked
    person(&pool, "p2", "Annette", "Yu").await; // prefix, she asked me
    person(&pool, "f1", "Joanne", "Xi").await; // contains, none in common, a friend
    befriend(&pool, "s1", "m1").await;
    befriend(&pool, "s1", "m2").await;
    befriend(&pool, "p1", "m1").await;
    request(&pool, "me", "p1").await;
    request(&pool, "p2", "me").await;
    befriend(&pool, "me", "f1").await;
    let app = start(pool).await;

    let answer = search(&app, "/v1/users/search?name=ann", "me").await;

    assert_eq!(
        answer,
        json!({
            "items": [
                {"user_id": "f1", "first_name": "Joanne", "last_name": "Xi",
                 "relationship": "friends", "mutual_friend_count": 0},
                {"user_id": "p1", "first_name": "Annabel", "last_name": "Yu",
                 "relationship": "pending_outgoing", "mutual_friend_count": 1},
                {"user_id": "p2", "first_name": "Annette", "last_name": "Yu",
                 "relationship": "pending_incoming", "mutual_friend_count": 0},
                {"user_id": "s1", "first_name": "Ann", "last_name": "Zed",
                 "relationship": "none", "mutual_friend_count": 2}
            ],
            "total": 4
        })
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn more_friends_in_common_rank_higher_than_a_better_match(pool: PgPool) {
    me_and_two_friends(&pool).await;
    person(&pool, "a", "Ann", "Lee").await; // exact, none in common
    person(&pool, "b", "Annie", "Lee").await; // prefix, one in common
    person(&pool, "c", "Joanna", "Lee").await; // contains, two in common
    befriend(&pool, "b", "m1").await;
    befriend(&pool, "c", "m1").await;
    befriend(&pool, "m2", "c").await;
    let app = start(pool).await;

    let answer = search(&app, "/v1/users/search?name=ann", "me").await;

    assert_eq!(ids(&answer), ["c", "b", "a"]);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn exact_matches_come_before_prefixes_and_prefixes_before_the_rest(pool: PgPool) {
    person(&pool, "me", "Mia", "Moe").await;
    person(&pool, "u1", "Joanna", "Lee").await; // contains
    person(&pool, "u2", "Annabel", "Lee").await; // prefix of the first name
    person(&pool, "u3", "ANN", "Lee").await; // exact, whatever the case
    person(&pool, "u0", "Bob", "Annson").await; // prefix of the last name
    person(&pool, "u4", "Bob", "Lee").await; // no match
    let app = start(pool).await;

    let answer = search(&app, "/v1/users/search?name=Ann", "me").await;

    assert_eq!(ids(&answer), ["u3", "u0", "u2", "u1"]);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_name_search_matches_first_and_last_name_together(pool: PgPool) {
    person(&pool, "me", "Mia", "Moe").await;
    person(&pool, "lovelace", "Ada", "Lovelace").await;
    person(&pool, "byron", "Ada", "Byron").await;
    person(&pool, "other", "Lovelace", "Ada").await;
    let app = start(pool).await;

    let prefix = search(&app, "/v1/users/search?name=ada%20lov", "me").await;
    let exact = search(&app, "/v1/users/search?name=ADA%20LOVELACE", "me").await;

    assert_eq!(ids(&prefix), ["lovelace"]);
    assert_eq!(ids(&exact), ["lovelace"]);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_caller_never_finds_themselves(pool: PgPool) {
    person(&pool, "me", "Ann", "Lee").await;
    set_email(&pool, "me", "ann@example.com", true).await;
    person(&pool, "other", "Ann", "Lee").await;
    let app = start(pool).await;

    let by_name = search(&app, "/v1/users/search?name=ann", "me").await;
    let by_email = search(&app, "/v1/users/search?email=ann@example.com", "me").await;

    assert_eq!(ids(&by_name), ["other"]);
    assert_eq!(by_email, json!({"items": [], "total": 0}));
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn an_email_search_finds_public_addresses_and_friends_addresses_only(pool: PgPool) {
    person(&pool, "me", "Mia", "Moe").await;
    person(&pool, "public", "P", "Q").await;
    person(&pool, "private", "P", "Q").await;
    person(&pool, "friend", "P", "Q").await;
    person(&pool, "asked", "P", "Q").await;
    set_email(&pool, "public", "ann@example.com", true).await;
    set_email(&pool, "private", "anna@example.com", false).await;
    set_email(&pool, "friend", "annie@example.com", false).await;
    set_email(&pool, "asked", "annika@example.com", false).await;
    befriend(&pool, "me", "friend").await;
    request(&pool, "me", "asked").await;
    let app = start(pool).await;

    let prefix = search(&app, "/v1/users/search?email=ANN", "me").await;
    let exact_private = search(&app, "/v1/users/search?email=anna@example.com", "me").await;
    let not_a_prefix = search(&app, "/v1/users/search?email=example.com", "me").await;

    assert_eq!(ids(&prefix), ["friend", "public"]);
    assert_eq!(ids(&exact_private), Vec::<String>::new());
    assert_eq!(ids(&not_a_prefix), Vec::<String>::new());
    let item = &prefix["items"][0];
    assert_eq!(
        keys(item),
        [
            "first_name",
            "last_name",
            "mutual_friend_count",
            "relationship",
            "user_id"
        ]
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn an_exact_email_match_ranks_before_a_prefix_match(pool: PgPool) {
    person(&pool, "me", "Mia", "Moe").await;
    person(&pool, "a", "P", "Q").await;
    person(&pool, "b", "P", "Q").await;
    set_email(&pool, "a", "ann@example.com.au", true).await;
    set_email(&pool, "b", "Ann@example.com", true).await;
    let app = start(pool).await;

    let answer = search(&app, "/v1/users/search?email=ann@example.com", "me").await;

    assert_eq!(ids(&answer), ["b", "a"]);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn wildcards_in_the_search_text_match_only_themselves(pool: PgPool) {
    person(&pool, "me", "Mia", "Moe").await;
    person(&pool, "underscore", "Ann_e", "Lee").await;
    person(&pool, "letter", "Annie", "Lee").await;
    person(&pool, "backslash", r"Back\slash", "Lee").await;
    set_email(&pool, "underscore", "a_n@example.com", true).await;
    set_email(&pool, "letter", "ann@example.com", true).await;
    let app = start(pool).await;

    let underscore = search(&app, "/v1/users/search?name=ann_", "me").await;
    let percent = search(&app, "/v1/users/search?name=%25", "me").await;
    let backslash = search(&app, "/v1/users/search?name=k%5Cs", "me").await;
    let email = search(&app, "/v1/users/search?email=a_n", "me").await;

    assert_eq!(ids(&underscore), ["underscore"]);
    assert_eq!(ids(&percent), Vec::<String>::new());
    assert_eq!(ids(&backslash), ["backslash"]);
    assert_eq!(ids(&email), ["underscore"]);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn pages_of_results_neither_repeat_nor_skip(pool: PgPool) {
    person(&pool, "me", "Mia", "Moe").await;
    for n in (0..25).rev() {
        person(&pool, &format!("u{n:02}"), "Ann", "Lee").await;
    }
    let app = start(pool).await;

    let first = search(&app, "/v1/users/search?name=ann", "me").await;
    let mut seen = Vec::new();
    for offset in [0, 10, 20, 30] {
        let path = format!("/v1/users/search?name=ann&limit=10&offset={offset}");
        let page = search(&app, &path, "me").await;
        assert_eq!(page["total"], 25, "offset {offset}");
        seen.extend(ids(&page));
    }

    assert_eq!(ids(&first).len(), 20, "the default limit");
    let expected: Vec<String> = (0..25).map(|n| format!("u{n:02}")).collect();
    assert_eq!(seen, expected);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_search_among_friends_finds_only_friends(pool: PgPool) {
    me_and_two_friends(&pool).await;
    person(&pool, "friend", "Ann", "Lee").await;
    person(&pool, "close", "Joanna", "Lee").await;
    person(&pool, "asked", "Ann", "Lee").await;
    person(&pool, "stranger", "Ann", "Lee").await;
    set_email(&pool, "friend", "ann@example.com", false).await;
    befriend(&pool, "me", "friend").await;
    befriend(&pool, "close", "me").await;
    befriend(&pool, "close", "m1").await;
    request(&pool, "me", "asked").await;
    let app = start(pool).await;

    let by_name = search(&app, "/v1/friends/search?name=ann", "me").await;
    let by_email = search(&app, "/v1/friends/search?email=ann@", "me").await;

    assert_eq!(ids(&by_name), ["close", "friend"]);
    assert_eq!(by_name["total"], 2);
    assert_eq!(by_name["items"][0]["relationship"], "friends");
    assert_eq!(by_name["items"][0]["mutual_friend_count"], 1);
    assert_eq!(ids(&by_email), ["friend"]);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_search_route_is_not_taken_for_a_user_id(pool: PgPool) {
    person(&pool, "me", "Mia", "Moe").await;
    person(&pool, "search", "Ann", "Lee").await;
    let app = start(pool).await;

    let answer = search(&app, "/v1/users/search?name=ann", "me").await;
    let without_text = app.get("/v1/users/search", Some("me")).await;

    assert_eq!(ids(&answer), ["search"]);
    assert_eq!(without_text.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(without_text).await, "search.invalid_query");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn bad_search_parameters_are_bad_requests_with_their_codes(pool: PgPool) {
    let app = start(pool).await;
    let too_long = format!("name={}", "a".repeat(101));
    let cases = [
        ("", "search.invalid_query"),
        ("name=ann&email=ann", "search.invalid_query"),
        ("name=", "search.invalid_query"),
        ("email=%20%20", "search.invalid_query"),
        (too_long.as_str(), "search.invalid_query"),
        ("name=ann&limit=0", "query.invalid_limit"),
        ("name=ann&limit=101", "query.invalid_limit"),
        ("name=ann&offset=-1", "query.invalid_offset"),
        ("name=ann&offset=first", "request.invalid_query"),
    ];

    for base in ["/v1/users/search", "/v1/friends/search"] {
        for (query, code) in cases {
            let response = app.get(&format!("{base}?{query}"), Some("me")).await;

            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{base}?{query}");
            assert_eq!(error_code(response).await, code, "{base}?{query}");
        }
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_search_without_a_token_is_unauthorized(pool: PgPool) {
    let app = start(pool).await;

    for path in ["/v1/users/search?name=ann", "/v1/friends/search?name=ann"] {
        let response = app.get(path, None).await;

        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(error_code(response).await, "auth.missing_token", "{path}");
    }
}
