//! Real `pagenow` processes for end-to-end tests, and a client that talks to them as the
//! extension would: HTTP and WebSocket.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use testkit::{eventually, free_port};
use tokio_tungstenite::tungstenite::Message;

/// The addresses and servers one test's processes share.
#[derive(Clone)]
pub struct Env {
    pub database_url: String,
    pub nats_url: String,
    pub command_api: SocketAddr,
    pub query_api: SocketAddr,
    pub push: SocketAddr,
}

impl Env {
    pub fn new(database_url: String, nats_url: String) -> Self {
        let local = |port| SocketAddr::from(([127, 0, 0, 1], port));
        Self {
            database_url,
            nats_url,
            command_api: local(free_port()),
            query_api: local(free_port()),
            push: local(free_port()),
        }
    }

    /// Starts `pagenow <role>`; with `role` `all`, every service in one process.
    pub fn spawn(&self, role: &str) -> Process {
        self.spawn_with(role, &[])
    }

    /// Starts `pagenow <role>` with extra environment variables (which win over the
    /// environment's own).
    pub fn spawn_with(&self, role: &str, vars: &[(&str, String)]) -> Process {
        let log = std::env::temp_dir().join(format!("pagenow-e2e-{role}-{}.log", free_port()));
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_pagenow"))
            .arg(role)
            .env("DATABASE_URL", &self.database_url)
            .env("NATS_URL", &self.nats_url)
            .env("COMMAND_API_ADDR", self.command_api.to_string())
            .env("QUERY_API_ADDR", self.query_api.to_string())
            .env("PUSH_ADDR", self.push.to_string())
            // Small on purpose: leadership locks hold sessions of their own, outside the
            // pool, so even `all` (six projections and the relay) works with eight.
            .env("PAGENOW_DB_POOL", "8")
            .env("PAGENOW_JWT_SECRET", auth::DEV_HS256_SECRET)
            .env("RUST_LOG", "info")
            .envs(vars.iter().map(|(name, value)| (*name, value)))
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn pagenow");
        Process { child, log }
    }
}

/// A running `pagenow` process; killed when dropped.
pub struct Process {
    child: Child,
    pub log: PathBuf,
}

impl Process {
    /// `kill -9`: no chance to finish anything.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits (bounded) for a graceful exit; true if it exited cleanly.
    pub async fn terminate(&mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..500 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits until `GET http://addr/healthz` answers.
pub async fn wait_healthy(addr: SocketAddr) {
    let http = reqwest::Client::new();
    eventually(
        Duration::from_secs(30),
        "the service to answer /healthz",
        || async {
            let response = http
                .get(format!("http://{addr}/healthz"))
                .send()
                .await
                .ok()?;
            response.status().is_success().then_some(())
        },
    )
    .await;
}

/// A signed-in user of the extension.
pub struct Client {
    pub user: String,
    pub token: String,
    env: Env,
    http: reqwest::Client,
}

impl Client {
    pub fn new(env: &Env, user: &str) -> Self {
        let token = auth::mint_dev_token(
            auth::DEV_HS256_SECRET,
            user,
            Duration::from_secs(3600),
            false,
        )
        .expect("token");
        Self {
            user: user.to_owned(),
            token,
            env: env.clone(),
            http: reqwest::Client::new(),
        }
    }

    /// Posts a command; returns the status and the JSON answer (None when unreachable).
    pub async fn command(&self, name: &str, body: Value) -> Option<(u16, Value)> {
        let url = format!("http://{}/v1/commands/{name}", self.env.command_api);
        let response = self
            .http
            .post(url)
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .ok()?;
        let status = response.status().as_u16();
        Some((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// GETs a query; returns the status, the `x-pagenow-stale` header and the JSON answer.
    pub async fn query(&self, path_and_query: &str) -> (u16, bool, Value) {
        let url = format!("http://{}{path_and_query}", self.env.query_api);
        let response = self
            .http
            .get(url)
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("query");
        let stale = response
            .headers()
            .get("x-pagenow-stale")
            .is_some_and(|v| v == "true");
        (
            response.status().as_u16(),
            stale,
            response.json().await.unwrap_or(Value::Null),
        )
    }

    /// Opens a socket on the push node at `addr`, reconnecting with `since` when given;
    /// nothing is read yet.
    pub async fn socket_at(&self, addr: SocketAddr, since: Option<i64>) -> Socket {
        let since = since.map(|p| format!("&since={p}")).unwrap_or_default();
        let url = format!("ws://{addr}/v1/ws?token={}{since}", self.token);
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket");
        Socket { ws }
    }

    /// Opens a socket and waits for its `ready` frame.
    pub async fn socket(&self) -> Socket {
        let url = format!("ws://{}/v1/ws?token={}", self.env.push, self.token);
        let (mut ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket");
        let ready = next_json(&mut ws).await;
        assert_eq!(ready["type"], "ready", "{ready}");
        Socket { ws }
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// An open WebSocket.
pub struct Socket {
    ws: Ws,
}

impl Socket {
    /// The next notice frame (other frames skipped), within 10 s.
    pub async fn next_notice(&mut self) -> Value {
        loop {
            let frame = next_json(&mut self.ws).await;
            if frame["type"] == "notice" {
                return frame;
            }
        }
    }

    /// The next text frame (pings skipped) within 10 s, or `None` once the connection
    /// has ended (its node was killed, or closed it).
    pub async fn next_frame(&mut self) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .expect("a frame, or the end, within 10 s");
            match message {
                Some(Ok(Message::Text(text))) => {
                    return Some(serde_json::from_str(&text).expect("JSON frame"))
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.send(Message::Close(None)).await;
    }
}

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10 s")
            .expect("socket open")
            .expect("frame");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).expect("JSON frame");
        }
    }
}

/// Waits until every projection (views and notices) has applied every event committed so
/// far: the notices projection runs apart from the views and may come last.
pub async fn wait_for_views(pool: &sqlx::PgPool, limit: Duration) {
    let target = event_store::FeedReader::new(pool.clone())
        .last_committed()
        .await
        .expect("last committed");
    let projections = projector::all(personal_data::Keys::new(pool.clone()));
    for projection in projections {
        let name = projection.name();
        eventually(
            limit,
            "every projection to reach the last committed event",
            || async {
                let mut conn = pool.acquire().await.ok()?;
                let checkpoint = event_store::checkpoint::load(&mut conn, name).await.ok()?;
                (checkpoint.cursor >= target).then_some(())
            },
        )
        .await;
    }
}
