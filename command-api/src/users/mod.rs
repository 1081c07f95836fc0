//! Profile commands: `POST /v1/commands/register-user` and `POST /v1/commands/update-profile`;
//! the sharing-policy commands ([`policy`]) and the policy new accounts start with
//! ([`defaults`]).

mod body;
pub mod defaults;
pub mod policy;

use auth::AuthUser;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::Utc;
use domain::user::{RegisterUser, UserCommand, UserId};
use event_store::Committed;
use http_api::{ApiError, Json};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use body::{FieldBody, RegisterBody, UpdateBody};

use crate::error::CommandError;
use crate::AppState;

/// The profile and sharing-policy commands.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register_user))
        .routes(routes!(update_profile))
        .routes(routes!(policy::set_share_mode))
        .routes(routes!(policy::share_domain))
        .routes(routes!(policy::stop_sharing_domain))
}

/// The answer to a command that was carried out.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    /// The position of the aggregate's latest event: pass it as `min_position` to a
    /// query to read your own write. `null` when the aggregate has no event.
    pub position: Option<i64>,
    /// How many events the command appended (0 when it changed nothing).
    pub events: usize,
}

/// `200` with [`Accepted`]: what every command that answers no new id names among its
/// responses (`responses(CarriedOut, …)`).
#[derive(utoipa::IntoResponses)]
#[response(
    status = 200,
    description = "Carried out, or nothing to change: `position` lets a query read this write"
)]
#[allow(dead_code)] // describes an answer; never built
pub struct CarriedOut(Accepted);

impl From<Committed> for Accepted {
    fn from(committed: Committed) -> Self {
        Self {
            position: committed.last_position,
            events: committed.positions.len(),
        }
    }
}

/// First sign-in: creates the caller's profile, with the default sharing policy; again,
/// changes nothing.
#[utoipa::path(
    post,
    path = "/v1/commands/register-user",
    tag = "users",
    request_body = RegisterBody,
    responses(
        crate::users::CarriedOut,
    )
)]
async fn register_user(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Json(body): Json<RegisterBody>,
) -> Result<Json<Accepted>, ApiError> {
    let user_id = UserId::parse(&user.user_id).map_err(CommandError::from)?;
    let values = body.parse()?;
    let keys = &state.keys;
    let command = UserCommand::Register(RegisterUser {
        email: keys
            .seal(user_id.as_str(), values.email.as_str())
            .await
            .map_err(CommandError::from)?,
        first_name: keys
            .seal(user_id.as_str(), values.first_name.as_str())
            .await
            .map_err(CommandError::from)?,
        last_name: keys
            .seal(user_id.as_str(), values.last_name.as_str())
            .await
            .map_err(CommandError::from)?,
        user_id: user_id.clone(),
        policy: state.sharing_defaults.as_ref().clone(),
        at: Utc::now(),
    });
    execute(&state, &user_id, command, &headers).await
}

/// Changes the caller's profile: only the fields present in the body.
#[utoipa::path(
    post,
    path = "/v1/commands/update-profile",
    tag = "users",
    request_body = UpdateBody,
    responses(
        crate::users::CarriedOut,
    )
)]
async fn update_profile(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Json(body): Json<UpdateBody>,
) -> Result<Json<Accepted>, ApiError> {
    let user_id = UserId::parse(&user.user_id).map_err(CommandError::from)?;
    let command = body.into_command(&user_id, &state.keys, Utc::now()).await?;
    execute(
        &state,
        &user_id,
        UserCommand::UpdateProfile(Box::new(command)),
        &headers,
    )
    .await
}

async fn execute(
    state: &AppState,
    user_id: &UserId,
    command: UserCommand,
    headers: &HeaderMap,
) -> Result<Json<Accepted>, ApiError> {
    let metadata = crate::metadata(user_id, headers);
    let committed = state
        .users
        .execute(user_id.as_str(), command, &(), &metadata)
        .await
        .map_err(CommandError::from)?;
    Ok(Json(committed.into()))
}
