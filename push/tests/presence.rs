//! Presence: reports and heartbeats over HTTP and the socket, what friends see of them
//! under the owner's sharing policy, live and as a query, and going offline.

#![allow(clippy::unwrap_used, reason = "a test may fail by panicking")]

mod common;

use std::time::Duration;

use serde_json::{json, Value};
use sqlx::PgPool;
use tokio_tungstenite::tungstenite::Message;

use common::{next_json, send_text, token, Service, PATIENCE};

/// Makes `a` and `b` accepted friends, as the projector does.
async fn befriend(pool: &PgPool, a: &str, b: &str) {
    for (user, other) in [(a, b), (b, a)] {
        sqlx::query(
            "INSERT INTO friendship_table
                 (user_id, other_id, status, requested_by, requested_at, accepted_at, last_position)
             VALUES ($1, $2, 'accepted', $1, now(), now(), 1)",
        )
        .bind(user)
        .bind(other)
        .execute(pool)
        .await
        .unwrap();
    }
}

/// Gives `user` a sharing policy, as the projector does.
async fn set_policy(pool: &PgPool, user: &str, mode: &str, deny: &[&str]) {
    sqlx::query(
        "INSERT INTO sharing_policy (user_id, mode, allow, deny, updated_at, last_position, version)
         VALUES ($1, $2, '{}', $3, now(), 1, 1)",
    )
    .bind(user)
    .bind(mode)
    .bind(deny)
    .execute(pool)
    .await
    .unwrap();
}

/// `POST {path}` as `user` with `body`: the status and the JSON answer.
async fn post(service: &Service, user: &str, path: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(service.http_url(path))
        .bearer_auth(token(user))
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

/// `GET /v1/presence/friends` as `user`: the friends' presence.
async fn friends_of(service: &Service, user: &str) -> Value {
    let response = reqwest::Client::new()
        .get(service.http_url("/v1/presence/friends"))
        .bearer_auth(token(user))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response.json::<Value>().await.unwrap()["friends"].clone()
}

async fn report(service: &Service, user: &str, url: &str, title: &str) -> Value {
    let body = json!({ "url": url, "title": title });
    let (status, answer) = post(service, user, "/v1/presence", body).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_friend_sees_the_page_live_and_a_stranger_sees_nothing(pool: PgPool) {
    befriend(&pool, "ann", "bob").await;
    befriend(&pool, "dan", "cid").await;
    set_policy(&pool, "ann", "default_all", &[]).await;
    set_policy(&pool, "dan", "default_all", &[]).await;
    let service = common::start(&pool).await;
    let mut bob = service.connect("bob").await;
    let mut cid = service.connect("cid").await;

    let answer = report(&service, "ann", "https://example.com/a", "A page").await;
    report(&service, "dan", "https://example.org/d", "Dan's page").await;

    assert_eq!(answer, json!({ "state": "online" }));
    let seen = next_json(&mut bob).await;
    assert_eq!(
        (&seen["type"], &seen["user_id"], &seen["state"]),
        (&json!("presence"), &json!("ann"), &json!("online"))
    );
    assert_eq!(seen["url"], "https://example.com/a");
    assert_eq!(seen["title"], "A page");
    assert!(seen["at"].is_string());
    // Ann's report was published first: had Cid been told, it would come before Dan's.
    assert_eq!(next_json(&mut cid).await["user_id"], "dan");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_page_on_a_hidden_domain_is_seen_as_browsing_privately(pool: PgPool) {
    befriend(&pool, "ann", "bob").await;
    set_policy(&pool, "ann", "default_all", &["bank.com"]).await;
    let service = common::start(&pool).await;
    let mut bob = service.connect("bob").await;
    let mut ann = service.connect("ann").await;

    let news = json!({ "type": "presence", "url": "https://news.org/", "title": "News" });
    send_text(&mut ann, news.to_string()).await;
    assert_eq!(next_json(&mut bob).await["state"], "online");
    let bank = json!({ "type": "presence", "url": "https://my.bank.com/login", "title": "Bank" });
    send_text(&mut ann, bank.to_string()).await;

    let seen = next_json(&mut bob).await;
    assert_eq!(seen["type"], "presence");
    assert_eq!(seen["state"], "private");
    assert!(
        seen.get("url").is_none() && seen.get("title").is_none(),
        "{seen}"
    );
    let last_shared = json!({ "url": "https://news.org/", "title": "News" });
    assert_eq!(seen["last_shared"], last_shared);
    let friends = friends_of(&service, "bob").await;
    assert_eq!(friends[0]["state"], "private");
    assert!(!friends.to_string().contains("bank"), "{friends}");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_friends_query_shows_online_private_and_offline(pool: PgPool) {
    for friend in ["ann", "eve", "fay"] {
        befriend(&pool, "bob", friend).await;
    }
    set_policy(&pool, "ann", "default_all", &[]).await;
    let service = common::start(&pool).await;
    report(&service, "ann", "https://example.com/", "Home").await;
    // Eve has no policy row: the default shares nothing.
    report(&service, "eve", "https://example.com/secret", "Secret").await;

    let friends = friends_of(&service, "bob").await;

    let states: Vec<_> = friends
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["user_id"].clone(),
                f["state"].clone(),
                f.get("url").cloned(),
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![
            (
                json!("ann"),
                json!("online"),
                Some(json!("https://example.com/"))
            ),
            (json!("eve"), json!("private"), None),
            (json!("fay"), json!("offline"), None),
        ]
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_user_silent_for_the_timeout_goes_offline_and_friends_are_told(pool: PgPool) {
    befriend(&pool, "ann", "bob").await;
    set_policy(&pool, "ann", "default_all", &[]).await;
    let service = common::start_with(&pool, |config| push::Config {
        // Long enough for the sweeper to lead (and list ann as online) before she expires,
        // even on a loaded machine: a user who expires unseen is not announced.
        presence_timeout: Duration::from_secs(3),
        presence_sweep_interval: Duration::from_millis(100),
        ..config
    })
    .await;
    let mut bob = service.connect("bob").await;

    report(&service, "ann", "https://example.com/", "Home").await;
    assert_eq!(next_json(&mut bob).await["state"], "online");

    // The record expires three seconds after the report, then the next sweep tells bob: on a
    // loaded machine that can take longer than a live frame's usual patience.
    let offline = loop {
        match common::next_message_within(&mut bob, Duration::from_secs(30)).await {
            Message::Text(text) => break serde_json::from_str::<Value>(&text).unwrap(),
            _ => continue,
        }
    };
    assert_eq!(
        offline,
        json!({ "type": "presence", "user_id": "ann", "state": "offline" })
    );
    assert_eq!(friends_of(&service, "bob").await[0]["state"], "offline");
    let (status, answer) = post(&service, "ann", "/v1/presence/heartbeat", json!({})).await;
    assert_eq!(
        (status, &answer["error"]["code"]),
        (404, &json!("presence.unknown"))
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_heartbeat_keeps_a_user_online(pool: PgPool) {
    set_policy(&pool, "ann", "default_all", &[]).await;
    let service = common::start(&pool).await;
    report(&service, "ann", "https://example.com/", "Home").await;

    let (status, answer) = post(&service, "ann", "/v1/presence/heartbeat", json!({})).await;

    assert_eq!((status, answer), (200, json!({ "state": "online" })));
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn presence_survives_a_restart_of_the_push_service(pool: PgPool) {
    befriend(&pool, "ann", "bob").await;
    set_policy(&pool, "ann", "default_all", &[]).await;
    let mut first = common::start(&pool).await;
    report(&first, "ann", "https://example.com/", "Home").await;
    first.shut_down().await.unwrap();

    let second = common::start_beside(&pool, &first, |config| config).await;

    let friends = friends_of(&second, "bob").await;
    assert_eq!(friends[0]["state"], "online");
    assert_eq!(friends[0]["url"], "https://example.com/");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn bad_reports_are_refused_with_stable_codes(pool: PgPool) {
    let service = common::start(&pool).await;
    let long_title = "t".repeat(301);
    let cases = [
        (
            json!({ "url": "javascript:alert(1)", "title": "" }),
            "presence.invalid_url",
        ),
        (
            json!({ "url": "https://a.com/", "title": long_title }),
            "presence.invalid_title",
        ),
    ];
    for (body, code) in cases {
        let (status, answer) = post(&service, "ann", "/v1/presence", body).await;
        assert_eq!((status, &answer["error"]["code"]), (422, &json!(code)));
    }
    let (status, answer) = post(&service, "ann", "/v1/presence/heartbeat", json!({})).await;
    assert_eq!(
        (status, &answer["error"]["code"]),
        (404, &json!("presence.unknown"))
    );

    let mut ws = service.connect("ann").await;
    send_text(
        &mut ws,
        json!({ "type": "presence", "url": "ftp://x" }).to_string(),
    )
    .await;
    let refusal = tokio::time::timeout(PATIENCE, next_json(&mut ws))
        .await
        .unwrap();
    assert_eq!(refusal["type"], "error");
    assert_eq!(refusal["code"], "presence.invalid_url");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_report_on_one_node_reaches_a_friend_on_another(pool: PgPool) {
    befriend(&pool, "ann", "bob").await;
    set_policy(&pool, "ann", "default_all", &[]).await;
    let first = common::start(&pool).await;
    let second = common::start_beside(&pool, &first, |config| config).await;
    let mut bob = second.connect("bob").await;

    report(&first, "ann", "https://example.com/", "Home").await;

    let seen = next_json(&mut bob).await;
    assert_eq!(
        (&seen["user_id"], &seen["state"]),
        (&json!("ann"), &json!("online"))
    );
}

/// A policy change reaches friends' sockets with the owner's next heartbeat, not only at
/// their next page: hiding the site of the page they are on shows them browsing
/// privately, and showing it again shows the page.
#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_policy_change_reaches_friends_at_the_next_heartbeat(pool: PgPool) {
    befriend(&pool, "ann", "bob").await;
    set_policy(&pool, "ann", "default_all", &[]).await;
    let service = common::start(&pool).await;
    let mut bob = service.connect("bob").await;
    report(&service, "ann", "https://shop.example.com/gift", "A gift").await;
    assert_eq!(next_json(&mut bob).await["state"], "online");

    sqlx::query("UPDATE sharing_policy SET deny = '{example.com}' WHERE user_id = 'ann'")
        .execute(&pool)
        .await
        .unwrap();
    let (status, answer) = post(&service, "ann", "/v1/presence/heartbeat", json!({})).await;
    assert_eq!((status, answer), (200, json!({ "state": "private" })));
    let hidden = next_json(&mut bob).await;
    assert_eq!(hidden["state"], "private");
    assert!(!hidden.to_string().contains("gift"), "{hidden}");

    sqlx::query("UPDATE sharing_policy SET deny = '{}' WHERE user_id = 'ann'")
        .execute(&pool)
        .await
        .unwrap();
    post(&service, "ann", "/v1/presence/heartbeat", json!({})).await;
    let shown = next_json(&mut bob).await;
    assert_eq!(
        (&shown["state"], &shown["url"]),
        (&json!("online"), &json!("https://shop.example.com/gift"))
    );
}
