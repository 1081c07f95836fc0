//! A push service on a real NATS server and a real Postgres database (the test's own,
//! made by `#[sqlx::test]`), a WebSocket client to talk to it, and the rows the projector
//! would write.

#![allow(dead_code, reason = "each test file uses a part")]
#![allow(clippy::unwrap_used, reason = "a test may fail by panicking")]

use std::net::SocketAddr;
use std::time::Duration;

use event_bus::Notice;
use futures::{SinkExt, StreamExt};
use push::Config;
use serde_json::Value;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use testkit::TestNats;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A client socket.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a test waits for anything the service should do promptly.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// A running push service, the NATS server behind it, and a client to publish with.
///
/// The service runs on a runtime and thread of its own, as in its own process: when
/// `App::run` returns, the runtime is dropped and whatever the service left running
/// (a socket's session included) stops there.
pub struct Service {
    /// The NATS server, unless the service shares another's (see [`start_beside`]).
    pub nats: Option<TestNats>,
    pub nats_url: String,
    /// A clone of the client the service uses.
    pub service_nats: async_nats::Client,
    pub publisher: async_nats::Client,
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    stopped: Option<oneshot::Receiver<std::io::Result<()>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Service {
    /// Stops the service and waits for its thread, so that nothing of it outlives the
    /// test (its database connections included).
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts a push service with the default configuration, on `pool`'s database.
pub async fn start(pool: &PgPool) -> Service {
    start_with(pool, |config| config).await
}

/// Starts a push service with the default configuration changed by `configure`, on
/// `pool`'s database.
pub async fn start_with(pool: &PgPool, configure: impl FnOnce(Config) -> Config) -> Service {
    let nats = TestNats::start().unwrap();
    let url = nats.url();
    launch(pool, Some(nats), url, configure).await
}

/// Starts another push service on the NATS server of `other` (another node, or the same
/// one restarted).
pub async fn start_beside(
    pool: &PgPool,
    other: &Service,
    configure: impl FnOnce(Config) -> Config,
) -> Service {
    launch(pool, None, other.nats_url.clone(), configure).await
}

async fn launch(
    pool: &PgPool,
    nats: Option<TestNats>,
    nats_url: String,
    configure: impl FnOnce(Config) -> Config,
) -> Service {
    let database = pool.connect_options().as_ref().clone();
    let (service_nats, losses) = event_bus::Losses::connect(&nats_url, Default::default())
        .await
        .unwrap();
    let publisher = async_nats::connect(&nats_url).await.unwrap();
    let config = configure(Config::new("127.0.0.1:0".parse().unwrap()));
    let (stop, stop_signal) = oneshot::channel::<()>();
    let (bound, addr) = oneshot::channel();
    let (report, stopped) = oneshot::channel();
    let (client, verifier) = (service_nats.clone(), verifier().await);
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let result = runtime.block_on(async move {
            // A pool of the service's own runtime, as in its own process; closed before
            // the test ends, so that its database can be dropped.
            let pool = PgPoolOptions::new().connect_lazy_with(database);
            let app = push::build(config, pool.clone(), client, losses, verifier).await;
            let served = match app {
                Ok(app) => {
                    let _ = bound.send(app.local_addr());
                    app.run(async move {
                        let _ = stop_signal.await;
                    })
                    .await
                }
                Err(error) => Err(error),
            };
            pool.close().await;
            served
        });
        drop(runtime);
        let _ = report.send(result);
    });
    Service {
        nats,
        nats_url,
        service_nats,
        publisher,
        addr: addr.await.expect("the service binds"),
        stop: Some(stop),
        stopped: Some(stopped),
        thread: Some(thread),
    }
}

async fn verifier() -> auth::Verifier {
    let config = auth::AuthConfig {
        hs256_secret: Some(auth::DEV_HS256_SECRET.into()),
        ..Default::default()
    };
    auth::Verifier::new(&config).await.unwrap()
}

/// A valid token for `user_id`.
pub fn token(user_id: &str) -> String {
    auth::mint_dev_token(
        auth::DEV_HS256_SECRET,
        user_id,
        Duration::from_secs(600),
        false,
    )
    .unwrap()
}

/// A notice with recognisable fields.
pub fn notice(position: i64, kind: &str) -> Notice {
    Notice {
        position,
        tx_id: 7_000 + position as u64,
        kind: kind.to_owned(),
        data: serde_json::json!({ "position": position, "nested": { "kind": kind } }),
    }
}

impl Service {
    /// `ws://…/v1/ws`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/v1/ws", self.addr)
    }

    /// `http://…{path}`.
    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A socket of `user_id` (token in the query string) that has received `ready`.
    pub async fn connect(&self, user_id: &str) -> Ws {
        let mut ws = self.open(user_id, "").await;
        expect_ready(&mut ws, user_id).await;
        ws
    }

    /// A socket of `user_id` that reconnects with `since`; nothing read yet.
    pub async fn reconnect(&self, user_id: &str, since: i64) -> Ws {
        self.open(user_id, &format!("&since={since}")).await
    }

    /// A socket of `user_id` with `query` after the token in the query string.
    pub async fn open(&self, user_id: &str, query: &str) -> Ws {
        let url = format!("{}?token={}{query}", self.ws_url(), token(user_id));
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        ws
    }

    /// Publishes `notice` on `user_id`'s subject, as the projector does.
    pub async fn publish(&self, user_id: &str, notice: &Notice) {
        let body = serde_json::to_vec(notice).unwrap();
        self.publish_raw(user_id, body).await;
    }

    /// Publishes any bytes on `user_id`'s notice subject.
    pub async fn publish_raw(&self, user_id: &str, body: Vec<u8>) {
        let subject = event_bus::notice_subject(user_id);
        self.publisher.publish(subject, body.into()).await.unwrap();
        self.publisher.flush().await.unwrap();
    }

    /// Fires the shutdown signal and returns what `App::run` returned, once the
    /// service's runtime is gone.
    pub async fn shut_down(&mut self) -> std::io::Result<()> {
        let _ = self.stop.take().unwrap().send(());
        let stopped = self.stopped.take().unwrap();
        tokio::time::timeout(PATIENCE, stopped)
            .await
            .expect("the service stops in time")
            .unwrap()
    }
}

/// The next text frame, as JSON; pings and pongs are skipped.
pub async fn next_json(ws: &mut Ws) -> Value {
    loop {
        match next_message(ws).await {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// The next frame, whatever it is; fails the test if none comes in time.
pub async fn next_message(ws: &mut Ws) -> Message {
    next_message_within(ws, PATIENCE).await
}

/// [`next_message`], waiting at most `limit`: for what comes only after a timeout of the
/// service's own (an expiry), which a loaded machine may take a while longer to reach.
pub async fn next_message_within(ws: &mut Ws, limit: Duration) -> Message {
    tokio::time::timeout(limit, ws.next())
        .await
        .expect("a frame in time")
        .expect("the socket is open")
        .expect("a readable frame")
}

/// The Close frame the server sends next, skipping pings; fails on any other frame.
pub async fn expect_close(ws: &mut Ws) -> CloseFrame {
    loop {
        match next_message(ws).await {
            Message::Close(Some(frame)) => return frame,
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a Close frame, got {other:?}"),
        }
    }
}

/// Reads the `ready` frame of `user_id`.
pub async fn expect_ready(ws: &mut Ws, user_id: &str) {
    let ready = next_json(ws).await;
    assert_eq!(
        ready,
        serde_json::json!({ "type": "ready", "user_id": user_id })
    );
}

/// The `notice` frame `notice` becomes on the socket.
pub fn notice_frame(notice: &Notice) -> Value {
    serde_json::json!({
        "type": "notice",
        "position": notice.position,
        "tx_id": notice.tx_id,
        "kind": notice.kind,
        "data": notice.data,
    })
}

/// Sends a text frame from the client.
pub async fn send_text(ws: &mut Ws, text: String) {
    ws.send(Message::text(text)).await.unwrap();
}

/// A WebSocket handshake request to `url` with extra headers.
pub fn request_with(
    url: &str,
    headers: &[(&'static str, String)],
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut request = url.into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
    request
}

/// Appends an event as the command API would, in a transaction of its own; returns its
/// position and its transaction (`tx_id`).
pub async fn insert_event(pool: &PgPool) -> (i64, u64) {
    insert_event_recorded_ago(pool, Duration::ZERO).await
}

/// Appends an event recorded `age` ago; returns its position and transaction.
pub async fn insert_event_recorded_ago(pool: &PgPool, age: Duration) -> (i64, u64) {
    let (position, tx_id): (i64, i64) = sqlx::query_as(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version,
                             payload, metadata, recorded_at)
         VALUES ('test', gen_random_uuid()::text, 1, 'test.happened', '1', '{}', '{}',
                 now() - make_interval(secs => $1))
         RETURNING position, tx_id::text::bigint",
    )
    .bind(age.as_secs_f64())
    .fetch_one(pool)
    .await
    .unwrap();
    (position, tx_id as u64)
}

/// A notice at the feed cursor (`tx_id`, `position`).
pub fn notice_at(tx_id: u64, position: i64, kind: &str) -> Notice {
    Notice {
        tx_id,
        ..notice(position, kind)
    }
}

/// Stores `notice` for `user_id` in the recovery history, as the projector does.
pub async fn store_notice<'c>(executor: impl sqlx::PgExecutor<'c>, user_id: &str, notice: &Notice) {
    sqlx::query(
        "INSERT INTO user_notices (user_id, tx_id, position, kind, data)
         VALUES ($1, $2::bigint::text::xid8, $3, $4, $5)",
    )
    .bind(user_id)
    .bind(notice.tx_id as i64)
    .bind(notice.position)
    .bind(&notice.kind)
    .bind(&notice.data)
    .execute(executor)
    .await
    .unwrap();
}

/// The `ready` frame of `user_id`.
pub fn ready(user_id: &str) -> Value {
    serde_json::json!({ "type": "ready", "user_id": user_id })
}

/// The text frames up to and including `ready`, as JSON; pings are skipped.
pub async fn frames_until_ready(ws: &mut Ws) -> Vec<Value> {
    let mut frames = Vec::new();
    loop {
        let frame = next_json(ws).await;
        let ready = frame["type"] == "ready";
        frames.push(frame);
        if ready {
            return frames;
        }
    }
}

/// A WebSocket upgrade request as a browser sends it, over plain HTTP.
pub async fn upgrade_request(url: &str) -> reqwest::Response {
    let url = url.replacen("ws://", "http://", 1);
    reqwest::Client::new()
        .get(url)
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap()
}
