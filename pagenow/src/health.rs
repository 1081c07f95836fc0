//! `/healthz` and `/readyz` for the workers (relay, projector), which have no HTTP API
//! of their own: served on `PAGENOW_HEALTH_ADDR` when it is set.

use std::future::Future;
use std::net::SocketAddr;

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use http_api::health::{healthz, Check, Readiness};
use sqlx::PgPool;

#[derive(Clone)]
struct Dependencies {
    pool: PgPool,
    nats: Option<async_nats::Client>,
}

/// Serves the worker health endpoints on `addr` until `shutdown`.
pub async fn serve(
    addr: SocketAddr,
    pool: PgPool,
    nats: Option<async_nats::Client>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(Dependencies { pool, nats });
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(url = %format!("http://{addr}/readyz"), "worker health listening");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

async fn readyz(State(deps): State<Dependencies>) -> Readiness {
    let mut checks = vec![Check {
        name: "postgres",
        ok: event_store::availability::ping(&deps.pool).await,
    }];
    if let Some(nats) = &deps.nats {
        let ok = nats.connection_state() == async_nats::connection::State::Connected;
        checks.push(Check { name: "nats", ok });
    }
    Readiness::from_checks(checks)
}
