//! `GET /v1/me/sharing-policy`: the caller's share mode and domain lists.

use auth::AuthUser;
use axum::extract::State;
use axum::response::Response;
use domain::user::UserId;
use http_api::{ApiError, Json, Query};
use serde::Serialize;
use sqlx::PgPool;

use super::{store, POLICY_VIEW};
use crate::consistency::ReadAfter;
use crate::AppState;

/// `{"mode", "allow": [...], "deny": [...]}`, the lists sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SharingPolicy {
    pub mode: String,
    pub allow: Vec<String>,
    pub deny: Vec<String>,
}

impl SharingPolicy {
    /// The policy of an account registered before policies were recorded: nothing shared.
    fn untouched() -> Self {
        Self {
            mode: "default_none".into(),
            allow: vec![],
            deny: vec![],
        }
    }
}

/// `GET /v1/me/sharing-policy`: `404 user.not_found` before registration.
#[utoipa::path(
    get,
    path = "/v1/me/sharing-policy",
    tag = "shares",
    params(crate::consistency::ReadAfter),
    responses(
        (status = OK, description = "The answer; `x-pagenow-stale: true` when the view was behind `min_position`", body = SharingPolicy),
        http_api::openapi::NotFound,
    )
)]
pub(super) async fn sharing_policy(
    State(state): State<AppState>,
    caller: AuthUser,
    Query(read_after): Query<ReadAfter>,
) -> Result<Response, ApiError> {
    // A token whose `sub` is no valid user id is authentic, but can never have registered.
    let user = UserId::parse(&caller.user_id).map_err(|_| not_found())?;
    let freshness = state.wait_for(POLICY_VIEW, read_after).await?;
    let answer = policy_of(&state.pool, &user).await.map(Json);
    Ok(freshness.attach(answer))
}

async fn policy_of(pool: &PgPool, user: &UserId) -> Result<SharingPolicy, ApiError> {
    match store::policy(pool, user).await? {
        Some(row) => Ok(SharingPolicy {
            mode: row.mode,
            allow: row.allow,
            deny: row.deny,
        }),
        None if store::registered(pool, user).await? => Ok(SharingPolicy::untouched()),
        None => Err(not_found()),
    }
}

fn not_found() -> ApiError {
    ApiError::not_found("user.not_found", "no such user")
}
