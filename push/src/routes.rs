//! The routes: `GET /v1/ws` (the socket), `GET /healthz` and `GET /readyz`.

use async_nats::connection::State as NatsState;
use auth::WsAuthUser;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{State, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use http_api::health::{healthz, Check, Readiness};
use http_api::ApiError;
use tracing::Instrument;

use crate::socket::{self, Session};
use crate::AppState;

/// Every route of the push service, before the shared layers.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/ws", get(open_socket))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// `GET /v1/ws`: the caller is authenticated before anything else, so an anonymous one
/// gets a `401` and no upgrade; then the socket runs its session (see `socket`).
async fn open_socket(
    user: WsAuthUser,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let upgrade = upgrade.map_err(not_a_websocket)?;
    let limit = state.config.max_message_bytes;
    // The session runs on a task of its own: keep it inside the request's span (its id).
    let request_span = tracing::Span::current();
    let live = state.sessions.enter();
    let session = Session {
        user_id: user.user_id,
        nats: state.nats,
        ping_interval: state.config.ping_interval,
        sessions: state.sessions,
    };
    let response = upgrade
        .protocols([auth::WS_PROTOCOL])
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_failed_upgrade(|error| tracing::info!(error.cause = %error, "upgrade failed"))
        .on_upgrade(move |ws| {
            async move {
                socket::run(ws, session).await;
                drop(live);
            }
            .instrument(request_span)
        });
    Ok(response)
}

/// A plain HTTP request on the socket route, in the shared envelope.
fn not_a_websocket(rejection: WebSocketUpgradeRejection) -> ApiError {
    ApiError::new(
        rejection.status(),
        "request.not_a_websocket",
        rejection.body_text(),
    )
}

/// `GET /readyz`: ready while the NATS connection is up.
async fn readyz(State(nats): State<async_nats::Client>) -> Readiness {
    let nats = Check {
        name: "nats",
        ok: nats.connection_state() == NatsState::Connected,
    };
    Readiness::from_checks(vec![nats])
}
