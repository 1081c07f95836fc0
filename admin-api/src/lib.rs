//! The admin API: the operator's audit and replay tools over HTTP, for callers whose
//! token carries `admin: true`, and the store's and readers' progress as Prometheus
//! metrics.
//!
//! The `audit` crate does the work, as it does for the `pagenow events|aggregate|verify|
//! status|rebuild` commands; this crate checks the caller, parses and bounds the input,
//! and answers JSON (or the metrics text). It reads the event store and the views, never
//! writes an event, and changes the live views only through a shadow rebuild's switch.
//!
//! Modules:
//! - [`access`]: the [`access::Admin`] extractor: 401 without a valid token, 403
//!   (`auth.not_admin`) without the `admin` claim;
//! - [`events`]: the history, filtered and paged with a cursor (`/v1/admin/events`);
//! - [`aggregates`]: an aggregate's state at a version, and what one event changed;
//! - [`status`]: each reader's position and lag (`/v1/admin/status`);
//! - [`metrics`]: the same figures in the Prometheus text format (`/metrics`, no token);
//! - [`verify`]: "replay equals live", run on request (`POST /v1/admin/verify`);
//! - [`rebuilds`]: a projection rebuilt in the background (`POST
//!   /v1/admin/projections/{name}/rebuild`), watched at `/v1/admin/rebuilds/{name}`;
//! - [`background`]: the tasks that outlive a request, stopped cleanly at shutdown;
//! - [`database`]: Postgres failures as the client sees them.
//!
//! Errors are [`http_api::ApiError`]s; codes are listed in docs/OPERATIONS.md.

pub mod access;
pub mod aggregates;
pub mod background;
pub mod database;
pub mod events;
pub mod metrics;
pub mod rebuilds;
pub mod status;
pub mod verify;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use auth::Verifier;
use axum::extract::{FromRef, State};
use axum::routing::get;
use axum::Router;
use http_api::health::{healthz, Check, Readiness};
use http_api::ApiError;
use personal_data::Keys;
use projector::Projection;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::background::Background;
use crate::rebuilds::Rebuilds;
use crate::verify::Verifying;

/// How the admin API runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Where to listen.
    pub addr: SocketAddr,
}

impl Config {
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr }
    }
}

/// Every projection of the system, as `projector::all` lists them.
#[derive(Clone)]
pub struct Projections(Arc<[Arc<dyn Projection>]>);

impl Projections {
    /// The projection named `name`; `404 projection.not_found` for any other name.
    pub fn named(&self, name: &str) -> Result<&Arc<dyn Projection>, ApiError> {
        self.0.iter().find(|p| p.name() == name).ok_or_else(|| {
            let known: Vec<_> = self.0.iter().map(|p| p.name()).collect();
            ApiError::not_found(
                "projection.not_found",
                format!(
                    "no projection is named {name:?} (known: {})",
                    known.join(", ")
                ),
            )
        })
    }

    pub fn all(&self) -> &[Arc<dyn Projection>] {
        &self.0
    }
}

/// What every handler shares. Cheap to clone.
#[derive(Clone, FromRef)]
pub struct AppState {
    pool: PgPool,
    verifier: Verifier,
    projections: Projections,
    rebuilds: Rebuilds,
    verifying: Verifying,
    background: Background,
}

impl AppState {
    /// The state of an admin API over `pool`, trusting the tokens `verifier` accepts.
    pub fn new(pool: PgPool, verifier: Verifier) -> Self {
        let projections = projector::all(Keys::new(pool.clone()));
        Self {
            pool,
            verifier,
            projections: Projections(projections.into()),
            rebuilds: Rebuilds::default(),
            verifying: Verifying::default(),
            background: Background::default(),
        }
    }
}

/// Every route of the admin API, wrapped in the shared layers.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .merge(events::routes())
        .merge(aggregates::routes())
        .merge(status::routes())
        .merge(metrics::routes())
        .merge(verify::routes())
        .merge(rebuilds::routes())
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    http_api::layers::standard(routes).with_state(state)
}

/// `GET /readyz`: ready when Postgres answers.
async fn readyz(State(pool): State<PgPool>) -> Readiness {
    let postgres = Check {
        name: "postgres",
        ok: database::ping(&pool).await,
    };
    Readiness::from_checks(vec![postgres])
}

/// A bound admin API, ready to serve.
pub struct App {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
    background: Background,
}

/// Binds `config.addr` and builds the router; nothing is served until [`App::run`].
pub async fn build(config: Config, pool: PgPool, verifier: Verifier) -> std::io::Result<App> {
    let listener = TcpListener::bind(config.addr).await?;
    let local_addr = listener.local_addr()?;
    tracing::info!(http.addr = %local_addr, "admin API bound");
    let state = AppState::new(pool, verifier);
    let background = state.background.clone();
    Ok(App {
        listener,
        local_addr,
        router: router(state),
        background,
    })
}

impl App {
    /// The address actually bound (the port is chosen by the OS when `config.addr` has 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes. Then a rebuild or verification still running
    /// is stopped and its scratch schema dropped (the live views stay as they were),
    /// requests in flight are drained, and this returns once the background work is gone.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let background = self.background.clone();
        let stop = async move {
            shutdown.await;
            background.stop();
        };
        let served = http_api::serve(http_api::listen::no_delay(self.listener), self.router)
            .with_graceful_shutdown(stop)
            .await;
        self.background.finished().await;
        served
    }
}
