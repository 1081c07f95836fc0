//! Sharing-policy commands: `POST /v1/commands/set-share-mode`, `/share-domain` and
//! `/stop-sharing-domain`. Each changes the caller's own policy; one that would change
//! nothing appends nothing (`events: 0`).

use auth::AuthUser;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::Utc;
use domain::user::{
    Domain, SetShareMode, ShareDomain, ShareMode, StopSharingDomain, UserCommand, UserId,
};
use http_api::{ApiError, Json};
use serde::Deserialize;

use super::{execute, Accepted};
use crate::error::CommandError;
use crate::AppState;

/// `POST /v1/commands/set-share-mode`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModeBody {
    /// `default_all` or `default_none`.
    pub mode: String,
}

/// `POST /v1/commands/share-domain` and `/stop-sharing-domain`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainBody {
    /// A domain, or a URL whose host is taken.
    pub domain: String,
}

/// Switches the caller between `default_all` and `default_none`.
#[utoipa::path(
    post,
    path = "/v1/commands/set-share-mode",
    tag = "users",
    request_body = ModeBody,
    responses(
        crate::users::CarriedOut,
    )
)]
pub(super) async fn set_share_mode(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Json(body): Json<ModeBody>,
) -> Result<Json<Accepted>, ApiError> {
    let user_id = UserId::parse(&user.user_id).map_err(CommandError::from)?;
    let mode = ShareMode::parse(&body.mode).map_err(CommandError::from)?;
    let command = UserCommand::SetShareMode(SetShareMode {
        mode,
        at: Utc::now(),
    });
    execute(&state, &user_id, command, &headers).await
}

/// Allows a domain (and takes it off the caller's deny list).
#[utoipa::path(
    post,
    path = "/v1/commands/share-domain",
    tag = "users",
    request_body = DomainBody,
    responses(
        crate::users::CarriedOut,
    )
)]
pub(super) async fn share_domain(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Json(body): Json<DomainBody>,
) -> Result<Json<Accepted>, ApiError> {
    let user_id = UserId::parse(&user.user_id).map_err(CommandError::from)?;
    let domain = Domain::parse(&body.domain).map_err(CommandError::from)?;
    let command = UserCommand::ShareDomain(ShareDomain {
        domain,
        at: Utc::now(),
    });
    execute(&state, &user_id, command, &headers).await
}

/// Denies a domain (and takes it off the caller's allow list).
#[utoipa::path(
    post,
    path = "/v1/commands/stop-sharing-domain",
    tag = "users",
    request_body = DomainBody,
    responses(
        crate::users::CarriedOut,
    )
)]
pub(super) async fn stop_sharing_domain(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Json(body): Json<DomainBody>,
) -> Result<Json<Accepted>, ApiError> {
    let user_id = UserId::parse(&user.user_id).map_err(CommandError::from)?;
    let domain = Domain::parse(&body.domain).map_err(CommandError::from)?;
    let command = UserCommand::StopSharingDomain(StopSharingDomain {
        domain,
        at: Utc::now(),
    });
    execute(&state, &user_id, command, &headers).await
}
