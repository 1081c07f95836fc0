//! The query API: HTTP reads over the view tables.
//!
//! Every answer comes from a view the projector keeps (`user_table`, …); this crate
//! never reads the event history to build an answer, never writes a table and never
//! talks to NATS. The one exception is read-your-writes: a query that passes the
//! position a command returned (`?min_position=`) looks that event's feed cursor up in
//! `events` and waits, bounded, until the view's checkpoint has passed it.
//!
//! Modules:
//! - [`consistency`]: read-your-writes, waiting for a view's checkpoint, shared by every
//!   view's handlers;
//! - [`users`]: profiles and profile pages (`/v1/me`, `/v1/users/{id}`, a user's friends
//!   and mutual friends): routes, the answers' shape and who may see which field, and
//!   their SQL over `user_table` and `friendship_table`;
//! - [`search`]: users by e-mail or name, among everyone or among one's friends;
//! - [`directory`]: every user, newest first (`/v1/users`);
//! - [`popular`]: the most-shared domains and pages, and the sharers' leaderboard;
//! - [`friendships`]: the caller's friends and friend requests;
//! - [`shares`]: pages shared with the caller, the caller's shares, their sharing policy;
//! - [`chat`]: the caller's conversations, their messages, participants and read
//!   positions, shown to current participants only;
//! - [`page`]: `limit` and `offset`, shared by every list;
//! - [`database`]: Postgres failures as the client sees them, and the readiness probe;
//! - `rows`: rows decoded by column position, their columns checked once per result.
//!
//! Errors are [`http_api::ApiError`]s, authentication is [`auth::AuthUser`].

pub mod chat;
pub mod consistency;
pub mod database;
pub mod directory;
pub mod friendships;
pub mod page;
pub mod popular;
mod rows;
pub mod search;
pub mod shares;
pub mod users;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use auth::Verifier;
use axum::extract::{FromRef, State};
use axum::routing::get;
use axum::Router;
use http_api::health::{healthz, Check, Readiness};
use sqlx::PgPool;
use tokio::net::TcpListener;
use utoipa_axum::router::OpenApiRouter;

use crate::consistency::{ConsistencyError, Freshness, ReadAfter};

/// How long a read-your-writes query waits for its view when its caller does not ask for
/// less (`?wait_ms=`).
pub const DEFAULT_CONSISTENCY_TIMEOUT: Duration = Duration::from_secs(3);

/// How the query API runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Where to listen.
    pub addr: SocketAddr,
    /// The longest a query with `?min_position=` waits for its view before answering
    /// with what the view has, marked stale.
    pub consistency_timeout: Duration,
}

impl Config {
    /// Listens on `addr`, with the default consistency timeout.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            consistency_timeout: DEFAULT_CONSISTENCY_TIMEOUT,
        }
    }
}

/// What every handler shares. Cheap to clone.
#[derive(Clone, FromRef)]
pub struct AppState {
    pool: PgPool,
    verifier: Verifier,
    config: Config,
}

impl AppState {
    /// The state of a query API reading `pool` and trusting the tokens `verifier` accepts.
    pub fn new(pool: PgPool, verifier: Verifier, config: Config) -> Self {
        Self {
            pool,
            verifier,
            config,
        }
    }

    /// Waits for `view` as `read_after` asks, within the configured timeout.
    pub(crate) async fn wait_for(
        &self,
        view: &str,
        read_after: ReadAfter,
    ) -> Result<Freshness, ConsistencyError> {
        let timeout = self.config.consistency_timeout;
        consistency::wait_for_view(&self.pool, view, read_after, timeout).await
    }
}

/// Every route of the query API, wrapped in the shared layers.
pub fn router(state: AppState) -> Router {
    let (routes, api) = queries().split_for_parts();
    let routes = routes
        .merge(http_api::openapi::routes(document(api)))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    http_api::layers::standard(routes).with_state(state)
}

/// The OpenAPI document of the query API, as `/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    document(queries().into_openapi())
}

fn queries() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(users::routes())
        .merge(search::routes())
        .merge(directory::routes())
        .merge(friendships::routes())
        .merge(shares::routes())
        .merge(popular::routes())
        .merge(chat::routes())
}

fn document(api: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    http_api::openapi::finish(
        api,
        "PageNow query API",
        "Queries read the views the projector keeps. Pass a command's `position` as \
         `min_position` to read your own write: the query waits up to `wait_ms` for the \
         view, then answers anyway with `x-pagenow-stale: true`. Every request needs a \
         bearer token; errors are `{\"error\": {\"code\", \"message\"}}` with a stable code.",
    )
}

/// `GET /readyz`: ready when Postgres answers.
async fn readyz(State(pool): State<PgPool>) -> Readiness {
    let postgres = Check {
        name: "postgres",
        ok: database::ping(&pool).await,
    };
    Readiness::from_checks(vec![postgres])
}

/// A bound query API, ready to serve.
pub struct App {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
}

/// Binds `config.addr` and builds the router; nothing is served until [`App::run`].
pub async fn build(config: Config, pool: PgPool, verifier: Verifier) -> std::io::Result<App> {
    let listener = TcpListener::bind(config.addr).await?;
    let local_addr = listener.local_addr()?;
    tracing::info!(http.addr = %local_addr, "query API bound");
    let router = router(AppState::new(pool, verifier, config));
    Ok(App {
        listener,
        local_addr,
        router,
    })
}

impl App {
    /// The address actually bound (the port is chosen by the OS when `config.addr` has 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, then stops accepting and drains the requests
    /// in flight (a read-your-writes wait lasts at most its timeout).
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        http_api::serve(http_api::listen::no_delay(self.listener), self.router)
            .with_graceful_shutdown(shutdown)
            .await
    }
}
