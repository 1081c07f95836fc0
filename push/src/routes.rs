//! The routes: `GET /v1/ws` (the socket), `GET /healthz` and `GET /readyz`.

use async_nats::connection::State as NatsState;
use auth::WsAuthUser;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use http_api::health::{healthz, Check, Readiness};
use http_api::{ApiError, Query};
use serde::Deserialize;
use tracing::Instrument;

use crate::sessions::Refusal;
use crate::socket::{self, Session};
use crate::AppState;

/// The longest header a WebSocket frame can have: 2 bytes, an 8-byte length, a 4-byte mask.
const MAX_FRAME_HEADER_BYTES: usize = 14;

/// Every route of the push service, before the shared layers.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/ws", get(open_socket))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The query string of `/v1/ws` (besides `token`, which [`WsAuthUser`] reads).
#[derive(Debug, Deserialize)]
struct SocketParams {
    /// The position of the last notice the client saw: recover what came after it.
    since: Option<i64>,
}

/// `GET /v1/ws`: the caller is authenticated and given a seat within the node's limits
/// before anything else, so an anonymous one gets a `401`, one too many a `429`, and
/// neither an upgrade; then the socket runs its session (see `socket`).
async fn open_socket(
    user: WsAuthUser,
    Query(params): Query<SocketParams>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let upgrade = upgrade.map_err(not_a_websocket)?;
    let seat = state.sessions.take_seat(&user.user_id).map_err(refused)?;
    let limit = state.config.max_message_bytes;
    // The session runs on a task of its own: keep it inside the request's span (its id).
    let request_span = tracing::Span::current();
    let live = state.sessions.enter();
    let session = Session {
        user_id: user.user_id,
        since: params.since,
        nats: state.nats,
        history: state.history,
        config: state.config,
        sessions: state.sessions,
        presences: state.presences,
    };
    let response = upgrade
        .protocols([auth::WS_PROTOCOL])
        .max_message_size(limit)
        .max_frame_size(limit)
        // tungstenite allocates and zeroes its read buffer for every socket up front: at
        // its default, 128 KiB, that was most of an idle socket's memory (a heap profile:
        // 131 KB of about 165 KiB). The largest frame a client may send, with its header,
        // is enough: read whole, a frame one byte too long is still answered with a clean
        // close (1009) rather than a reset over unread bytes.
        .read_buffer_size(limit.saturating_add(MAX_FRAME_HEADER_BYTES))
        .on_failed_upgrade(|error| tracing::info!(error.cause = %error, "upgrade failed"))
        .on_upgrade(move |ws| {
            async move {
                socket::run(ws, session).await;
                drop(seat);
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

/// A socket over the node's limits: the client retries later, or elsewhere.
fn refused(refusal: Refusal) -> ApiError {
    let (code, message) = match refusal {
        Refusal::UserFull => (
            "push.too_many_sockets_for_user",
            "this user has as many sockets open on this node as allowed; close one",
        ),
        Refusal::NodeFull => (
            "push.node_full",
            "this node holds as many sockets as it may; retry later or on another node",
        ),
    };
    tracing::info!(error.code = code, "socket refused");
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, message)
}

/// `GET /readyz`: ready while the NATS connection is up and Postgres (the recovery
/// history) answers.
async fn readyz(State(state): State<AppState>) -> Readiness {
    let nats = Check {
        name: "nats",
        ok: state.nats.connection_state() == NatsState::Connected,
    };
    let postgres = Check {
        name: "postgres",
        ok: state.history.ping().await,
    };
    Readiness::from_checks(vec![nats, postgres])
}
