//! The push service: the WebSocket gateway that tells each user, live, what concerns them,
//! and what they missed while away.
//!
//! A client opens `GET /v1/ws` with its token (see [`auth::WsAuthUser`] for where it may
//! be put) and, when it reconnects, `?since=<position>`: the position of the last notice
//! it saw. The socket is authenticated and counted against the node's limits before the
//! upgrade. The session then subscribes to the user's notices on core NATS
//! ([`event_bus::notice_subject`]), which the projector publishes, reads what the client
//! missed from the recovery history in Postgres (`user_notices`, which the projector
//! writes), sends that, then the live notices. The whole protocol is in [`frame`] and
//! `docs/api/push.md`.
//!
//! Several nodes need nothing more than this: each subscribes only to the users it holds
//! sockets for, and a client whose node stops reconnects to another with `since`.
//! Presence (the page each user is on, kept in a NATS key-value bucket, never in the
//! event store) is reported over the socket or HTTP and pushed live to friends: see
//! [`presence`] (the module) and the `presence` crate.
//!
//! Modules:
//! - [`frame`]: the socket protocol, the frames each side sends and the close codes;
//! - `routes`: `/v1/ws`, `/healthz`, `/readyz`;
//! - `socket`: one socket's session, from subscription to Close frame;
//! - `recovery`: what a reconnecting socket missed, and the seam with the live notices;
//! - `history`: the recovery history in Postgres, read and pruned (its SQL);
//! - `outbox`: a socket's bounded queue of outgoing frames;
//! - `keepalive`: pings, and noticing a silent client;
//! - `sessions`: the sessions of this node as a whole: limits, and closing (`1001`) on
//!   shutdown;
//! - [`presence`]: presence reports, the friends query, live presence frames and the
//!   offline sweeper.

pub mod frame;
mod history;
mod keepalive;
mod outbox;
pub mod presence;
mod recovery;
mod routes;
mod sessions;
mod socket;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use ::presence::PresenceStore;
use auth::Verifier;
use axum::extract::FromRef;
use axum::Router;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::history::History;
use crate::presence::Presences;
use crate::sessions::Sessions;

/// How often a socket is pinged when the configuration does not say.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(20);

/// How long a client may stay silent when the configuration does not say.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(40);

/// The largest client frame accepted when the configuration does not say.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// How many frames may wait for a client when the configuration does not say.
pub const DEFAULT_QUEUE_FRAMES: usize = 1_000;

/// How many sockets one user may have on one node when the configuration does not say.
pub const DEFAULT_MAX_SOCKETS_PER_USER: usize = 10;

/// How many sockets one node holds when the configuration does not say.
pub const DEFAULT_MAX_SOCKETS: usize = 10_000;

/// The most notices one recovery sends when the configuration does not say.
pub const DEFAULT_MAX_RECOVERY: usize = 1_000;

/// How long notices are kept for recovery when the configuration does not say.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// How often expired notices are deleted when the configuration does not say.
pub const DEFAULT_CLEANUP_INTERVAL: Duration = Duration::from_secs(3600);

/// How long a user with no presence report or heartbeat stays online when the
/// configuration does not say.
pub const DEFAULT_PRESENCE_TIMEOUT: Duration = Duration::from_secs(60);

/// How often expired presences are looked for when the configuration does not say.
pub const DEFAULT_PRESENCE_SWEEP_INTERVAL: Duration = Duration::from_secs(5);

/// How often the NATS connection's state is looked at when the configuration does not say.
pub const DEFAULT_BROKER_WATCH_INTERVAL: Duration = Duration::from_millis(100);

/// How the push service runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Where to listen.
    pub addr: SocketAddr,
    /// How often each socket is pinged. Must not be zero.
    pub ping_interval: Duration,
    /// A client that sends nothing (no Pong, no `ping`, no frame at all) for this long is
    /// dropped as dead. Must not be zero; unless every client sends `ping` on its own,
    /// it must be longer than `ping_interval` (a warning says so at start-up).
    pub idle_timeout: Duration,
    /// The largest client message; a larger one closes the socket with `1009`.
    pub max_message_bytes: usize,
    /// How many frames may wait for a client that reads slowly; one more closes its
    /// socket with `4008`. At least 1.
    pub queue_frames: usize,
    /// How many sockets one user may have open on this node; more get `429`.
    pub max_sockets_per_user: usize,
    /// How many sockets this node holds; more get `429`.
    pub max_sockets: usize,
    /// The most notices one recovery sends; a client that missed more gets `resync`.
    pub max_recovery: usize,
    /// How long notices are kept for recovery; older ones are deleted, and a `since`
    /// older than this gets `resync`.
    pub retention: Duration,
    /// How often this node deletes notices older than `retention`. Must not be zero.
    pub cleanup_interval: Duration,
    /// A user with no presence report or heartbeat for this long is offline: the
    /// presence bucket's `max_age`, shared by every node (the last one started sets it).
    /// Must not be zero.
    pub presence_timeout: Duration,
    /// How often the leading node looks for expired presences to tell friends about;
    /// an offline notice comes up to this long after the timeout. Must not be zero.
    pub presence_sweep_interval: Duration,
    /// How often the NATS connection's state is looked at, besides the losses the client
    /// reports as they happen ([`event_bus::Losses`]). Must not be zero.
    pub broker_watch_interval: Duration,
}

impl Config {
    /// Listens on `addr`, with every other setting at its default.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            ping_interval: DEFAULT_PING_INTERVAL,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            queue_frames: DEFAULT_QUEUE_FRAMES,
            max_sockets_per_user: DEFAULT_MAX_SOCKETS_PER_USER,
            max_sockets: DEFAULT_MAX_SOCKETS,
            max_recovery: DEFAULT_MAX_RECOVERY,
            retention: DEFAULT_RETENTION,
            cleanup_interval: DEFAULT_CLEANUP_INTERVAL,
            presence_timeout: DEFAULT_PRESENCE_TIMEOUT,
            presence_sweep_interval: DEFAULT_PRESENCE_SWEEP_INTERVAL,
            broker_watch_interval: DEFAULT_BROKER_WATCH_INTERVAL,
        }
    }

    /// What is wrong with this configuration, if anything.
    fn invalid(&self) -> Option<&'static str> {
        if self.ping_interval.is_zero() {
            return Some("the ping interval must not be zero");
        }
        if self.idle_timeout.is_zero() {
            return Some("the idle timeout must not be zero");
        }
        if self.queue_frames == 0 || self.max_sockets_per_user == 0 || self.max_sockets == 0 {
            return Some("the queue and socket limits must be at least 1");
        }
        if self.cleanup_interval.is_zero() || self.broker_watch_interval.is_zero() {
            return Some("the cleanup and broker watch intervals must not be zero");
        }
        if self.presence_timeout.is_zero() || self.presence_sweep_interval.is_zero() {
            return Some("the presence timeout and sweep interval must not be zero");
        }
        None
    }
}

/// What every handler shares. Cheap to clone.
#[derive(Clone, FromRef)]
pub struct AppState {
    verifier: Verifier,
    nats: async_nats::Client,
    config: Config,
    #[from_ref(skip)]
    history: History,
    #[from_ref(skip)]
    sessions: Sessions,
    #[from_ref(skip)]
    presences: Presences,
}

impl AppState {
    /// The state of a push node delivering what `nats` carries, and recovering from the
    /// history in `pool`, to the callers whose tokens `verifier` accepts; presence is
    /// kept in `store`.
    pub fn new(
        config: Config,
        pool: PgPool,
        nats: async_nats::Client,
        verifier: Verifier,
        store: PresenceStore,
    ) -> Self {
        Self {
            verifier,
            presences: Presences::new(store, pool.clone(), nats.clone()),
            nats,
            config,
            history: History::new(pool),
            sessions: Sessions::new(config.max_sockets_per_user, config.max_sockets),
        }
    }
}

/// Every route of the push service, wrapped in the shared layers.
pub fn router(state: AppState) -> Router {
    let routes = routes::routes().merge(presence::routes::routes());
    http_api::layers::standard(routes).with_state(state)
}

/// A bound push service, ready to serve.
pub struct App {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
    sessions: Sessions,
    history: History,
    config: Config,
    pool: PgPool,
    store: PresenceStore,
    presences: Presences,
    nats: async_nats::Client,
    losses: event_bus::Losses,
}

/// Binds `config.addr`, creates or opens the presence bucket and builds the router;
/// nothing is served until [`App::run`]. `losses` counts the losses of `nats`'
/// connection: make the client with [`event_bus::Losses::connect`].
///
/// Fails with [`std::io::ErrorKind::InvalidInput`] when `config` is inconsistent (see
/// each field of [`Config`]), and with another error when the bucket cannot be made.
pub async fn build(
    config: Config,
    pool: PgPool,
    nats: async_nats::Client,
    losses: event_bus::Losses,
    verifier: Verifier,
) -> std::io::Result<App> {
    if let Some(message) = config.invalid() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            message,
        ));
    }
    if config.idle_timeout <= config.ping_interval {
        tracing::warn!("the idle timeout is not longer than the ping interval: clients that do not send pings of their own will be dropped");
    }
    let listener = TcpListener::bind(config.addr).await?;
    let local_addr = listener.local_addr()?;
    tracing::info!(http.addr = %local_addr, "push service bound");
    let store = PresenceStore::open(nats.clone(), config.presence_timeout)
        .await
        .map_err(std::io::Error::other)?;
    let state = AppState::new(config, pool.clone(), nats.clone(), verifier, store.clone());
    let (sessions, history) = (state.sessions.clone(), state.history.clone());
    let presences = state.presences.clone();
    Ok(App {
        listener,
        local_addr,
        router: router(state),
        sessions,
        history,
        config,
        pool,
        store,
        presences,
        nats,
        losses,
    })
}

impl App {
    /// The address actually bound (the port is chosen by the OS when `config.addr` has 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves, deletes expired notices every `cleanup_interval` and, while this node
    /// leads, tells friends who went offline every `presence_sweep_interval`, until
    /// `shutdown` completes. Then it stops accepting, every socket gets a Close frame with code
    /// `1001` (going away), and it returns once each session has ended (a client that
    /// does not answer its Close holds it back a few seconds at most).
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let sessions = self.sessions.clone();
        let stopping = self.sessions.clone();
        let cleanup = tokio::spawn(history::prune_every(
            self.history,
            self.config.retention,
            self.config.cleanup_interval,
            async move { stopping.closing().await },
        ));
        let sweeping = self.sessions.clone();
        let sweeper = tokio::spawn(presence::sweeper::run(
            self.pool,
            self.store,
            self.presences,
            self.config.presence_sweep_interval,
            async move { sweeping.closing().await },
        ));
        let watching = self.sessions.clone();
        let broker = tokio::spawn(watch_broker(
            self.nats,
            self.losses,
            self.config.broker_watch_interval,
            self.sessions.clone(),
            async move { watching.closing().await },
        ));
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down: closing every socket");
            sessions.close_all();
        };
        let served = http_api::serve(http_api::listen::no_delay(self.listener), self.router)
            .with_graceful_shutdown(signal)
            .await;
        self.sessions.drain().await;
        if let Err(error) = cleanup.await {
            tracing::error!(error.cause = %error, "the notice cleanup panicked");
        }
        if let Err(error) = sweeper.await {
            tracing::error!(error.cause = %error, "the presence sweeper panicked");
        }
        if let Err(error) = broker.await {
            tracing::error!(error.cause = %error, "the NATS watch panicked");
        }
        served
    }
}

/// Tells the sessions when the NATS connection is lost and when the client has connected
/// again (its count of connections grew), until `stop` completes. Sessions are closed as
/// soon as the loss is told, not only once the connection is back: after a reconnection
/// the sessions would otherwise forward new live notices, and a client reconnecting
/// after one of those would start past what was published while its subscription was
/// away. A loss is told by the client's event as it happens (`losses`); the state,
/// looked at `every` so often, is the backstop, and tells when the connection is back.
async fn watch_broker(
    nats: async_nats::Client,
    mut losses: event_bus::Losses,
    every: Duration,
    sessions: Sessions,
    stop: impl Future<Output = ()>,
) {
    use async_nats::connection::State;
    let connects = || {
        nats.statistics()
            .connects
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let interrupted = |lost: bool, back: bool| {
        tracing::warn!(
            nats.lost = lost,
            nats.back = back,
            "NATS connection interrupted: sockets are closed to recover what they miss"
        );
        sessions.broker_interrupted();
    };
    let mut seen = connects();
    let mut was_connected = nats.connection_state() == State::Connected;
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            () = losses.next() => {
                interrupted(true, false);
                was_connected = false;
                continue;
            }
            () = tokio::time::sleep(every) => {}
        }
        let (connected, now) = (nats.connection_state() == State::Connected, connects());
        let (lost, back) = (was_connected && !connected, now > seen);
        if lost || back {
            interrupted(lost, back);
        }
        (was_connected, seen) = (connected, now);
    }
}
