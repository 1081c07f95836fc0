//! One WebSocket per user, kept open as the extension would: opened with `since` (the
//! position of the user's registration, so its whole notice history after that is owed to
//! it), and whenever it breaks, reopened with `since` = the position of the last notice it
//! received. Every notice received, over every connection, is logged for the check.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::client::{lock, User};

/// A notice as the check identifies it: its event's `(tx_id, position)` and its kind.
pub type NoticeId = (u64, i64, String);

/// The server pings every 20 s; this long without any frame means the connection is dead.
const SILENCE: Duration = Duration::from_secs(45);
/// The pause before reconnecting while the push node is down or the history unavailable.
const RECONNECT_PAUSE: Duration = Duration::from_millis(250);

/// What one user's socket went through.
#[derive(Debug, Default, Clone)]
pub struct SocketLog {
    /// Every notice received, in order, duplicates included.
    pub received: Vec<NoticeId>,
    /// Connections that reached `ready`.
    pub connections: u32,
    /// `resync: unavailable` answers (the history could not be read, as while Postgres
    /// restarts): the socket retried with the same `since`, as a client is told to.
    pub retried_unavailable: u32,
    /// Any other `resync`: the socket could not recover what it missed.
    pub resyncs: Vec<String>,
}

/// A socket being kept open for `user`.
pub struct Watch {
    pub user: String,
    /// The `since` of its first connection.
    pub start: i64,
    pub log: Arc<Mutex<SocketLog>>,
}

impl Watch {
    /// Starts keeping a socket open for `user` until `stop` is cancelled.
    pub fn open(push: SocketAddr, user: &User, start: i64, stop: CancellationToken) -> Self {
        let log = Arc::new(Mutex::new(SocketLog::default()));
        let follower = Follower {
            url: format!("ws://{push}/v1/ws"),
            token: user.token.clone(),
            last: start,
            log: log.clone(),
        };
        tokio::spawn(follower.run(stop));
        Self {
            user: user.id.clone(),
            start,
            log,
        }
    }

    /// A copy of the log so far.
    pub fn snapshot(&self) -> SocketLog {
        lock(&self.log).clone()
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How one connection ended.
enum End {
    /// Closed, reset or silent: reconnect with the last position.
    Broken,
    /// Asked to stop.
    Stopped,
}

struct Follower {
    url: String,
    token: String,
    /// The position of the last notice received (or the first `since`).
    last: i64,
    log: Arc<Mutex<SocketLog>>,
}

impl Follower {
    async fn run(mut self, stop: CancellationToken) {
        loop {
            let end = match self.connect().await {
                Some(ws) => self.follow(ws, &stop).await,
                None => End::Broken,
            };
            if matches!(end, End::Stopped) || stop.is_cancelled() {
                return;
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(RECONNECT_PAUSE) => {}
            }
        }
    }

    /// Opens a socket as a browser does: the token in the `pagenow` subprotocol.
    async fn connect(&self) -> Option<Ws> {
        let mut request = format!("{}?since={}", self.url, self.last)
            .into_client_request()
            .ok()?;
        let protocols = HeaderValue::from_str(&format!("pagenow, {}", self.token)).ok()?;
        request
            .headers_mut()
            .insert("sec-websocket-protocol", protocols);
        let (ws, _) = tokio_tungstenite::connect_async(request).await.ok()?;
        Some(ws)
    }

    /// Reads frames until the connection ends or `stop`.
    async fn follow(&mut self, mut ws: Ws, stop: &CancellationToken) -> End {
        loop {
            let message = tokio::select! {
                _ = stop.cancelled() => return End::Stopped,
                message = tokio::time::timeout(SILENCE, ws.next()) => message,
            };
            let text = match message {
                Ok(Some(Ok(Message::Text(text)))) => text,
                Ok(Some(Ok(Message::Close(_)) | Err(_)) | None) | Err(_) => return End::Broken,
                Ok(Some(Ok(_))) => continue,
            };
            let Ok(frame) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            if !self.take(&frame) {
                return End::Broken;
            }
        }
    }

    /// Logs one frame; false when the connection must be dropped and opened again.
    fn take(&mut self, frame: &Value) -> bool {
        let mut log = lock(&self.log);
        match frame["type"].as_str() {
            Some("notice") => {
                let position = frame["position"].as_i64().unwrap_or_default();
                let tx_id = frame["tx_id"].as_u64().unwrap_or_default();
                let kind = frame["kind"].as_str().unwrap_or_default().to_owned();
                log.received.push((tx_id, position, kind));
                self.last = position;
            }
            Some("ready") => log.connections += 1,
            Some("resync") if frame["reason"] == "unavailable" => {
                log.retried_unavailable += 1;
                return false;
            }
            Some("resync") => log.resyncs.push(frame["reason"].to_string()),
            _ => {}
        }
        true
    }
}
