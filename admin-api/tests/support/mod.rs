//! An admin API started on a free loopback port, callers with and without the admin
//! claim, and events written as the command side writes them, with views built as the
//! projector builds them.

#![allow(dead_code)] // each test file uses its own part

// Events written as the command side writes them, views built as the projector builds
// them: the audit crate's test support, shared rather than copied.
#[path = "../../../audit/tests/support/mod.rs"]
mod events;

#[allow(unused_imports)] // each test file uses its own part
pub use events::{build_live_views, register, request, set_checkpoint, set_school};

use std::time::Duration;

use auth::{AuthConfig, Verifier, DEV_HS256_SECRET};
use event_store::{Cursor, FeedReader};
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// A token with `admin: true`.
    Admin,
    /// A valid token without the admin claim.
    User,
    /// No token at all.
    Anonymous,
}

/// A running admin API and a client for it.
pub struct TestApp {
    pub base: String,
    client: reqwest::Client,
    shutdown: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
}

/// Starts the admin API on `pool`.
pub async fn start(pool: PgPool) -> TestApp {
    let config = admin_api::Config::new(([127, 0, 0, 1], 0).into());
    let app = admin_api::build(config, pool, verifier().await)
        .await
        .expect("the admin API binds");
    let base = format!("http://{}", app.local_addr());
    let (shutdown, stop) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run(async move {
        let _ = stop.await;
    }));
    TestApp {
        base,
        client: reqwest::Client::new(),
        shutdown,
        server,
    }
}

impl TestApp {
    /// `GET path` as `caller`: the status and the JSON answer (`null` when not JSON).
    pub async fn get(&self, path: &str, caller: Caller) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, caller).await
    }

    /// `POST path` (no body) as `caller`: the status and the JSON answer.
    pub async fn post(&self, path: &str, caller: Caller) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, caller).await
    }

    /// `method path` as `caller`, answered in full.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        caller: Caller,
    ) -> reqwest::Response {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        match caller {
            Caller::Admin => request = request.bearer_auth(token("root", true)),
            Caller::User => request = request.bearer_auth(token("ann", false)),
            Caller::Anonymous => {}
        }
        request.send().await.expect("the admin API answers")
    }

    async fn send(&self, method: reqwest::Method, path: &str, caller: Caller) -> (u16, Value) {
        let response = self.request(method, path, caller).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `GET /metrics`, no token: the status and the text.
    pub async fn metrics(&self) -> (u16, String) {
        let response = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("the admin API answers");
        let status = response.status().as_u16();
        (status, response.text().await.expect("a text body"))
    }

    /// Signals shutdown and waits for the server (and its background work) to stop.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(());
        self.server.await.expect("the server task does not panic")
    }
}

/// The verifier every test app uses: the development secret.
pub async fn verifier() -> Verifier {
    let config = AuthConfig {
        hs256_secret: Some(DEV_HS256_SECRET.into()),
        ..AuthConfig::default()
    };
    Verifier::new(&config)
        .await
        .expect("the dev secret is accepted")
}

/// A valid token for `user`, with the admin claim when `admin`.
pub fn token(user: &str, admin: bool) -> String {
    auth::mint_dev_token(DEV_HS256_SECRET, user, Duration::from_secs(600), admin)
        .expect("a dev token is minted")
}

/// The `error.code` of an error answer.
pub fn code(answer: &Value) -> &str {
    answer["error"]["code"].as_str().unwrap_or("")
}

pub async fn last_committed(pool: &PgPool) -> Cursor {
    FeedReader::new(pool.clone())
        .last_committed()
        .await
        .expect("last committed")
}

/// Waits (bounded) until every committed event is readable: `xmin` is server-wide, so
/// another test's open transaction can hold this database's feed back for a moment.
pub async fn wait_until_readable(pool: &PgPool) {
    let reader = FeedReader::new(pool.clone());
    let last = reader.last_committed().await.expect("last committed");
    testkit::eventually(
        Duration::from_secs(30),
        "the feed to be readable",
        || async { (reader.head().await.ok()? >= last).then_some(()) },
    )
    .await;
}

/// The names of the scratch, shadow and retired schemas that still exist.
pub async fn schemas_left(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace
          WHERE nspname LIKE 'verify\\_%' OR nspname LIKE 'shadow\\_%'
             OR nspname LIKE 'retired\\_%' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .expect("schemas")
}
