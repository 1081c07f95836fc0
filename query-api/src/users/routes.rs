//! The profile handlers.

use auth::AuthUser;
use axum::extract::State;
use axum::response::Response;
use domain::user::UserId;
use domain::ErrorCode;
use http_api::{ApiError, Json, Path, Query};
use sqlx::PgPool;

use super::profile::Profile;
use super::{store, VIEW};
use crate::consistency::ReadAfter;
use crate::AppState;

/// `GET /v1/me`: the caller's own profile, everything included.
pub(super) async fn me(
    State(state): State<AppState>,
    caller: AuthUser,
    Query(read_after): Query<ReadAfter>,
) -> Result<Response, ApiError> {
    // A token whose `sub` is no valid user id is authentic, but can never have registered.
    let user_id = UserId::parse(&caller.user_id).map_err(|_| not_found())?;
    let freshness = state.wait_for(VIEW, read_after).await?;
    let answer = profile(&state.pool, &user_id, &caller).await;
    Ok(freshness.attach(answer))
}

/// `GET /v1/users/{id}`: a profile as the caller may see it.
pub(super) async fn user_by_id(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    Query(read_after): Query<ReadAfter>,
) -> Result<Response, ApiError> {
    let user_id = UserId::parse(&id).map_err(|e| ApiError::bad_request(e.code(), e.to_string()))?;
    let freshness = state.wait_for(VIEW, read_after).await?;
    let answer = profile(&state.pool, &user_id, &caller).await;
    Ok(freshness.attach(answer))
}

async fn profile(
    pool: &PgPool,
    user_id: &UserId,
    caller: &AuthUser,
) -> Result<Json<Profile>, ApiError> {
    let row = store::find(pool, user_id).await?.ok_or_else(not_found)?;
    Ok(Json(Profile::seen_by(row, &caller.user_id)))
}

fn not_found() -> ApiError {
    ApiError::not_found("user.not_found", "no such user")
}
