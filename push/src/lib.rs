//! The push service: the WebSocket gateway that tells each user, live, what concerns them.
//!
//! A client opens `GET /v1/ws` with its token (see [`auth::WsAuthUser`] for where it may
//! be put); the socket is authenticated before the upgrade. The service then subscribes
//! to the user's notices on core NATS ([`event_bus::notice_subject`]), which the
//! projector publishes, and forwards each one as a text frame. It reads no database and
//! writes nothing: a notice missed while no socket was open is lost to this first cut.
//!
//! Seams for what comes next:
//! - recovery on reconnect goes between subscribing and `ready` (see `socket`);
//! - presence will read the client's text frames (ignored for now) and live beside
//!   `sessions`;
//! - several nodes need nothing more: each subscribes only to the users it holds sockets
//!   for.
//!
//! Modules:
//! - [`frame`]: the socket protocol, the frames the server sends and its close codes;
//! - `routes`: `/v1/ws`, `/healthz`, `/readyz`;
//! - `socket`: one socket's session loop;
//! - `sessions`: the sessions of this node as a whole, closed (`1001`) on shutdown.

pub mod frame;
mod routes;
mod sessions;
mod socket;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use auth::Verifier;
use axum::extract::FromRef;
use axum::Router;
use tokio::net::TcpListener;

use crate::sessions::Sessions;

/// How often a socket is pinged when the configuration does not say.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(20);

/// The largest client frame accepted when the configuration does not say.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// How the push service runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Where to listen.
    pub addr: SocketAddr,
    /// How often each socket is pinged. A client that sends nothing (not even a Pong)
    /// for twice this long, or does not take a frame within it, is dropped as dead.
    /// Must not be zero.
    pub ping_interval: Duration,
    /// The largest client message; a larger one closes the socket with `1009`.
    pub max_message_bytes: usize,
}

impl Config {
    /// Listens on `addr`, with the default ping interval and message limit.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            ping_interval: DEFAULT_PING_INTERVAL,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

/// What every handler shares. Cheap to clone.
#[derive(Clone, FromRef)]
pub struct AppState {
    verifier: Verifier,
    nats: async_nats::Client,
    config: Config,
    #[from_ref(skip)]
    sessions: Sessions,
}

impl AppState {
    /// The state of a push node delivering what `nats` carries to the callers whose
    /// tokens `verifier` accepts.
    pub fn new(config: Config, nats: async_nats::Client, verifier: Verifier) -> Self {
        Self {
            verifier,
            nats,
            config,
            sessions: Sessions::default(),
        }
    }
}

/// Every route of the push service, wrapped in the shared layers.
pub fn router(state: AppState) -> Router {
    http_api::layers::standard(routes::routes()).with_state(state)
}

/// A bound push service, ready to serve.
pub struct App {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
    sessions: Sessions,
}

/// Binds `config.addr` and builds the router; nothing is served until [`App::run`].
///
/// Fails with [`std::io::ErrorKind::InvalidInput`] when `config.ping_interval` is zero.
pub async fn build(
    config: Config,
    nats: async_nats::Client,
    verifier: Verifier,
) -> std::io::Result<App> {
    if config.ping_interval.is_zero() {
        let message = "the ping interval must not be zero";
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            message,
        ));
    }
    let listener = TcpListener::bind(config.addr).await?;
    let local_addr = listener.local_addr()?;
    tracing::info!(http.addr = %local_addr, "push service bound");
    let state = AppState::new(config, nats, verifier);
    let sessions = state.sessions.clone();
    Ok(App {
        listener,
        local_addr,
        router: router(state),
        sessions,
    })
}

impl App {
    /// The address actually bound (the port is chosen by the OS when `config.addr` has 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes. Then it stops accepting, every socket gets a
    /// Close frame with code `1001` (going away), and it returns once each session has
    /// ended (a client that does not answer its Close holds it back a few seconds at most).
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let sessions = self.sessions.clone();
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down: closing every socket");
            sessions.close_all();
        };
        let served = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(signal)
            .await;
        self.sessions.drain().await;
        served
    }
}
