//! A query API started on a free loopback port, and rows written straight into the
//! tables it reads, in place of the command API and the projector.

#![allow(dead_code)] // each test file uses its own part

use std::time::Duration;

use auth::{AuthConfig, Verifier, DEV_HS256_SECRET};
use query_api::Config;
use sqlx::PgPool;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running query API and a client for it.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    shutdown: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
}

/// Starts the query API on `pool` with the default consistency timeout.
pub async fn start(pool: PgPool) -> TestApp {
    start_with_timeout(pool, query_api::DEFAULT_CONSISTENCY_TIMEOUT).await
}

/// Starts the query API on `pool`, waiting at most `timeout` for views.
pub async fn start_with_timeout(pool: PgPool, timeout: Duration) -> TestApp {
    let config = Config {
        addr: ([127, 0, 0, 1], 0).into(),
        consistency_timeout: timeout,
    };
    let app = query_api::build(config, pool, verifier().await)
        .await
        .expect("the query API binds");
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
    /// `GET path`, signed in as `user` when one is given.
    pub async fn get(&self, path: &str, user: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(user) = user {
            request = request.bearer_auth(token(user));
        }
        request.send().await.expect("the query API answers")
    }

    /// Signals shutdown and waits for the server to stop.
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

/// A valid token for `user`.
pub fn token(user: &str) -> String {
    auth::mint_dev_token(DEV_HS256_SECRET, user, Duration::from_secs(600), false)
        .expect("a dev token is minted")
}

/// The error code of an error answer.
pub async fn error_code(response: reqwest::Response) -> String {
    let body: serde_json::Value = response.json().await.expect("a JSON error envelope");
    body["error"]["code"]
        .as_str()
        .expect("the envelope has a code")
        .to_owned()
}

/// A header of `response` as text, if present.
pub fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Inserts a profile for `user_id` named Ada Lovelace, every optional field filled in and
/// private, as the `users` projection would after registration and edits.
pub async fn insert_user(pool: &PgPool, user_id: &str) {
    sqlx::query(
        "INSERT INTO user_table (user_id, email, first_name, last_name, birth_date, gender,
                                 school, work, location, description,
                                 registered_at, updated_at, last_position, version)
         VALUES ($1, $1 || '@example.com', 'Ada', 'Lovelace', '1815-12-10', 'female',
                 'Home schooled', 'Analyst', 'London', 'Poetical science',
                 '2024-01-02T03:04:05Z', '2024-02-03T04:05:06Z', 0, 1)",
    )
    .bind(user_id)
    .execute(pool)
    .await
    .expect("the user row is inserted");
}

/// A feed cursor: `(tx_id, position)`.
#[derive(Debug, Clone, Copy)]
pub struct Cursor {
    pub tx_id: i64,
    pub position: i64,
}

/// Appends one event of the `user` aggregate `user_id`, as the command API would, and
/// returns its cursor.
pub async fn append_event(pool: &PgPool, user_id: &str) -> Cursor {
    let (position, tx_id): (i64, i64) = sqlx::query_as(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type,
                             event_version, payload, metadata)
         SELECT 'user', $1, count(*) + 1, 'UserProfileEdited', '1', '{}', '{}'
           FROM events WHERE aggregate_type = 'user' AND aggregate_id = $1
         RETURNING position, tx_id::text::bigint",
    )
    .bind(user_id)
    .fetch_one(pool)
    .await
    .expect("the event is appended");
    Cursor { tx_id, position }
}

/// Moves the `users` projection's checkpoint to `cursor`, on `conn` (so inside the
/// caller's transaction when it has one).
pub async fn set_users_checkpoint(conn: &mut sqlx::PgConnection, cursor: Cursor) {
    sqlx::query(
        "INSERT INTO checkpoints (name, tx_id, position)
         VALUES ('users', $1::bigint::text::xid8, $2)
         ON CONFLICT (name) DO UPDATE SET tx_id = EXCLUDED.tx_id, position = EXCLUDED.position",
    )
    .bind(cursor.tx_id)
    .bind(cursor.position)
    .execute(conn)
    .await
    .expect("the checkpoint is stored");
}
