//! Profile commands: `POST /v1/commands/register-user` and `POST /v1/commands/update-profile`;
//! the sharing-policy commands ([`policy`]) and the policy new accounts start with
//! ([`defaults`]).

mod body;
pub mod defaults;
pub mod policy;

use auth::AuthUser;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use chrono::Utc;
use domain::user::{RegisterUser, UserCommand, UserId};
use event_store::Committed;
use http_api::{ApiError, Json};
use serde::Serialize;

pub use body::{FieldBody, RegisterBody, UpdateBody};

use crate::error::CommandError;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/commands/register-user", post(register_user))
        .route("/v1/commands/update-profile", post(update_profile))
        .route("/v1/commands/set-share-mode", post(policy::set_share_mode))
        .route("/v1/commands/share-domain", post(policy::share_domain))
        .route(
            "/v1/commands/stop-sharing-domain",
            post(policy::stop_sharing_domain),
        )
}

/// The answer to a command that was carried out.
#[derive(Debug, Serialize)]
pub struct Accepted {
    /// The position of the aggregate's latest event: pass it as `min_position` to a
    /// query to read your own write. `null` when the aggregate has no event.
    pub position: Option<i64>,
    /// How many events the command appended (0 when it changed nothing).
    pub events: usize,
}

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
