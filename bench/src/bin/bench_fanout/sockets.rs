//! The clients: one WebSocket per user, each read by a task of its own that counts the
//! notice frames it receives (and answers the node's pings, as reading does).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::Config;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long one socket may take from connecting to `ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// What the readers count, across all sockets.
#[derive(Debug, Default)]
pub struct Counts {
    /// Notice frames received.
    pub notices: AtomicU64,
    /// Sockets whose stream ended (closed by the node, or broken).
    pub ended: AtomicU64,
}

/// The sockets that were opened (each read by its task) and why the others were not.
pub struct Opened {
    /// The users with an open socket, in the order they were opened.
    pub users: Vec<String>,
    pub counts: Arc<Counts>,
    failed: usize,
    first_error: Option<String>,
    _readers: JoinSet<()>,
}

impl Opened {
    pub fn count(&self) -> usize {
        self.users.len()
    }

    /// How many sockets could not be opened and the first reason, if any could not.
    pub fn stopped_by(&self) -> Option<String> {
        let error = self.first_error.as_ref()?;
        Some(format!("{} not opened; first error: {error}", self.failed))
    }
}

/// Opens a socket for each of `u00001…`, `--concurrency` at a time, each up to `ready`.
/// A socket that cannot be opened is counted, and the others are still tried.
pub async fn open(url: &str, config: &Config) -> Opened {
    let counts = Arc::new(Counts::default());
    let mut opened = Opened {
        users: Vec::with_capacity(config.sockets),
        counts: counts.clone(),
        failed: 0,
        first_error: None,
        _readers: JoinSet::new(),
    };
    let mut attempts = futures::stream::iter(1..=config.sockets)
        .map(|n| {
            let user = crate::user(n);
            async move { (connect(url, &user).await, user) }
        })
        .buffer_unordered(config.concurrency);
    while let Some((outcome, user)) = attempts.next().await {
        match outcome {
            Ok(socket) => {
                opened._readers.spawn(read(socket, counts.clone()));
                opened.users.push(user);
            }
            Err(error) => {
                opened.failed += 1;
                opened.first_error.get_or_insert(format!("{error:#}"));
            }
        }
    }
    opened
}

/// Connects as `user` with a development token and waits for `ready`.
async fn connect(url: &str, user: &str) -> anyhow::Result<Socket> {
    let token = bench::dev_token(user)?;
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    tokio::time::timeout(READY_TIMEOUT, ready(&mut socket))
        .await
        .context("no ready frame in 30 s")??;
    Ok(socket)
}

async fn ready(socket: &mut Socket) -> anyhow::Result<()> {
    while let Some(message) = socket.try_next().await? {
        if let Message::Text(text) = message {
            if text.starts_with(r#"{"type":"ready""#) {
                return Ok(());
            }
        }
    }
    anyhow::bail!("the socket ended before ready")
}

async fn read(mut socket: Socket, counts: Arc<Counts>) {
    while let Some(Ok(message)) = socket.next().await {
        if let Message::Text(text) = message {
            if text.starts_with(r#"{"type":"notice""#) {
                counts.notices.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    counts.ended.fetch_add(1, Ordering::Relaxed);
}
