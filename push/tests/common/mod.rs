//! A push service on a real NATS server, and a WebSocket client to talk to it.

#![allow(dead_code, reason = "each test file uses a part")]
#![allow(clippy::unwrap_used, reason = "a test may fail by panicking")]

use std::net::SocketAddr;
use std::time::Duration;

use event_bus::Notice;
use futures::{SinkExt, StreamExt};
use push::Config;
use serde_json::Value;
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
    pub nats: TestNats,
    /// A clone of the client the service uses.
    pub service_nats: async_nats::Client,
    pub publisher: async_nats::Client,
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    stopped: Option<oneshot::Receiver<std::io::Result<()>>>,
}

/// Starts a push service with the default configuration.
pub async fn start() -> Service {
    start_with(|config| config).await
}

/// Starts a push service with the default configuration changed by `configure`.
pub async fn start_with(configure: impl FnOnce(Config) -> Config) -> Service {
    let nats = TestNats::start().unwrap();
    let service_nats = async_nats::connect(nats.url()).await.unwrap();
    let publisher = async_nats::connect(nats.url()).await.unwrap();
    let config = configure(Config::new("127.0.0.1:0".parse().unwrap()));
    let (stop, stop_signal) = oneshot::channel::<()>();
    let (bound, addr) = oneshot::channel();
    let (report, stopped) = oneshot::channel();
    let (client, verifier) = (service_nats.clone(), verifier().await);
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let result = runtime.block_on(async move {
            let app = push::build(config, client, verifier).await?;
            let _ = bound.send(app.local_addr());
            app.run(async move {
                let _ = stop_signal.await;
            })
            .await
        });
        drop(runtime);
        let _ = report.send(result);
    });
    Service {
        nats,
        service_nats,
        publisher,
        addr: addr.await.expect("the service binds"),
        stop: Some(stop),
        stopped: Some(stopped),
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
        let url = format!("{}?token={}", self.ws_url(), token(user_id));
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        expect_ready(&mut ws, user_id).await;
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
    tokio::time::timeout(PATIENCE, ws.next())
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
