//! Support for the command API's tests: the API on a free port with an HTTP client,
//! tokens, registered users, and friendships and notifications written straight into the
//! views the commands consult.

#![allow(dead_code)] // each test file uses its own part

use std::time::Duration;

use auth::{mint_dev_token, AuthConfig, Verifier, DEV_HS256_SECRET};
use domain::user::SharingPolicy;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

pub const REGISTER: &str = "/v1/commands/register-user";
pub const SHARE: &str = "/v1/commands/share-url";
pub const SEEN: &str = "/v1/commands/mark-share-seen";
pub const ALL_SEEN: &str = "/v1/commands/mark-all-shares-seen";
pub const SET_MODE: &str = "/v1/commands/set-share-mode";
pub const SHARE_DOMAIN: &str = "/v1/commands/share-domain";
pub const STOP_SHARING: &str = "/v1/commands/stop-sharing-domain";

/// A command API and an HTTP client for it.
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

impl Api {
    /// Starts the API with the built-in sharing defaults.
    pub async fn start(pool: &PgPool) -> Self {
        Self::start_with(pool, command_api::users::defaults::built_in()).await
    }

    /// Starts the API with `defaults` as new accounts' sharing policy.
    pub async fn start_with(pool: &PgPool, defaults: SharingPolicy) -> Self {
        let config = AuthConfig {
            hs256_secret: Some(DEV_HS256_SECRET.into()),
            ..Default::default()
        };
        let verifier = Verifier::new(&config).await.expect("verifier");
        let addr = "127.0.0.1:0".parse().expect("addr");
        let config = command_api::Config { addr };
        let app =
            command_api::build_with_sharing_defaults(config, defaults, pool.clone(), verifier)
                .await
                .expect("build");
        let base = format!("http://{}", app.local_addr());
        tokio::spawn(app.run(std::future::pending()));
        Self {
            base,
            http: reqwest::Client::new(),
        }
    }

    /// Starts the API and registers each of `users`.
    pub async fn with_users(pool: &PgPool, users: &[&str]) -> Self {
        let api = Self::start(pool).await;
        api.register(users).await;
        api
    }

    /// `caller` runs the command at `path` on their relationship with `other`.
    pub async fn act(&self, caller: Option<&str>, path: &str, other: &str) -> (StatusCode, Value) {
        self.post(caller, path, &json!({ "user_id": other }).to_string())
            .await
    }

    /// Registers each of `users` (first name: the id; last name: "Test").
    pub async fn register(&self, users: &[&str]) {
        for user in users {
            let body = json!({ "email": format!("{user}@example.com"), "first_name": user, "last_name": "Test" });
            let (status, answer) = self.post(Some(user), REGISTER, &body.to_string()).await;
            assert_eq!(status, StatusCode::OK, "registering {user}: {answer}");
        }
    }

    /// Posts `body` to `path`, as `user` when one is given.
    pub async fn post(&self, user: Option<&str>, path: &str, body: &str) -> (StatusCode, Value) {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(user) = user {
            request = request.bearer_auth(token(user));
        }
        let response = request.send().await.expect("send");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `user` shares `url` (titled "A page") with `to`, or with every friend.
    pub async fn share(&self, user: &str, url: &str, to: Option<&[&str]>) -> (StatusCode, Value) {
        let mut body = json!({ "url": url, "title": "A page" });
        if let Some(to) = to {
            body["to"] = json!(to);
        }
        self.post(Some(user), SHARE, &body.to_string()).await
    }
}

pub fn token(user: &str) -> String {
    mint_dev_token(DEV_HS256_SECRET, user, Duration::from_secs(600), false).expect("token")
}

pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no code>")
}

pub async fn event_count(pool: &PgPool) -> i64 {
    sqlx::query_as::<_, (i64,)>("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await
        .expect("count")
        .0
}

/// The type and payload of the latest event.
pub async fn last_event(pool: &PgPool) -> (String, Value) {
    sqlx::query_as("SELECT event_type, payload::jsonb FROM events ORDER BY position DESC LIMIT 1")
        .fetch_one(pool)
        .await
        .expect("an event")
}

/// Makes `a` and `b` friends in the `friendships` view, as its projection would.
pub async fn befriend(pool: &PgPool, a: &str, b: &str) {
    sqlx::query(
        "INSERT INTO friendship_table (user_id, other_id, status, requested_by, requested_at, accepted_at, last_position)
         VALUES ($1, $2, 'accepted', $1, now(), now(), 0), ($2, $1, 'accepted', $1, now(), now(), 0)",
    )
    .bind(a)
    .bind(b)
    .execute(pool)
    .await
    .expect("friendship rows");
}

/// Makes `from` ask `to` to be friends (pending) in the `friendships` view.
pub async fn request_friendship(pool: &PgPool, from: &str, to: &str) {
    sqlx::query(
        "INSERT INTO friendship_table (user_id, other_id, status, requested_by, requested_at, last_position)
         VALUES ($1, $2, 'pending', $1, now(), 0), ($2, $1, 'pending', $1, now(), 0)",
    )
    .bind(from)
    .bind(to)
    .execute(pool)
    .await
    .expect("pending rows");
}

/// Puts the notification of `share_id` for `recipient` in the `shares` view (unseen).
pub async fn deliver(pool: &PgPool, share_id: &str, sharer: &str, recipient: &str) {
    sqlx::query(
        "INSERT INTO share_notifications (share_id, recipient_id, sharer_id, url, title, domain, shared_at, position)
         VALUES ($1::uuid, $2, $3, 'https://example.com/', 'A page', 'example.com', now(), 1)",
    )
    .bind(share_id)
    .bind(recipient)
    .bind(sharer)
    .execute(pool)
    .await
    .expect("notification row");
}
