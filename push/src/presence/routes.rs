//! `POST /v1/presence`, `POST /v1/presence/heartbeat`, `GET /v1/presence/friends`.

use ::presence::{PresenceState, Seen};
use auth::AuthUser;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use http_api::{ApiError, Json};
use serde::{Deserialize, Serialize};

use super::Failure;
use crate::AppState;

/// The presence routes, before the shared layers.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/presence", post(report))
        .route("/v1/presence/heartbeat", post(heartbeat))
        .route("/v1/presence/friends", get(friends))
}

/// `{"url", "title"}`: the page the caller is on.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Report {
    url: String,
    #[serde(default)]
    title: String,
}

/// `{"state"}`: how friends now see the caller (`online` or `private`).
#[derive(Debug, Serialize)]
struct Answer {
    state: PresenceState,
}

/// `{"friends": [...]}`: each accepted friend's presence, in id order.
#[derive(Debug, Serialize)]
struct Friends {
    friends: Vec<Seen>,
}

/// `POST /v1/presence`: `422 presence.invalid_url` / `presence.invalid_title`.
async fn report(
    State(state): State<AppState>,
    caller: AuthUser,
    Json(body): Json<Report>,
) -> Result<Json<Answer>, ApiError> {
    let reported = state
        .presences
        .report(&caller.user_id, &body.url, &body.title);
    let state = reported.await.map_err(api_error)?;
    Ok(Json(Answer { state }))
}

/// `POST /v1/presence/heartbeat`: `404 presence.unknown` when there is nothing to refresh.
async fn heartbeat(
    State(state): State<AppState>,
    caller: AuthUser,
) -> Result<Json<Answer>, ApiError> {
    let state = state.presences.heartbeat(&caller.user_id).await;
    Ok(Json(Answer {
        state: state.map_err(api_error)?,
    }))
}

/// `GET /v1/presence/friends`.
async fn friends(
    State(state): State<AppState>,
    caller: AuthUser,
) -> Result<Json<Friends>, ApiError> {
    let friends = state.presences.friends(&caller.user_id).await;
    Ok(Json(Friends {
        friends: friends.map_err(api_error)?,
    }))
}

/// The code and message of `failure`, as both HTTP and socket `error` frames give them.
pub(crate) fn code_of(failure: &Failure) -> (&'static str, String) {
    let error = api_error_ref(failure);
    (error.code, error.message)
}

fn api_error(failure: Failure) -> ApiError {
    api_error_ref(&failure)
}

fn api_error_ref(failure: &Failure) -> ApiError {
    match failure {
        Failure::Invalid(error) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            error.code(),
            error.to_string(),
        ),
        Failure::Unknown => ApiError::not_found("presence.unknown", failure.to_string()),
        Failure::Store(error) => ApiError::unavailable("presence", error),
        Failure::Database(error) => ApiError::unavailable("the database", error),
    }
}
