//! Friendship commands: `POST /v1/commands/{send,accept,decline,cancel}-friend-request`
//! and `POST /v1/commands/remove-friend`, each with the body `{"user_id": "<other user>"}`.
//!
//! The caller acts on their relationship with the user the body names: one
//! [`Friendship`] aggregate per pair ([`pair_id`]), so a caller can only ever reach the
//! relationships they are part of. Before deciding, the handler checks in the event store
//! (not a view, which may lag) that the caller has registered and, for a request, that
//! the recipient has; the aggregate enforces every other rule.

use auth::AuthUser;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use domain::friendship::{
    pair_id, AcceptFriendRequest, CancelFriendRequest, DeclineFriendRequest, Friendship,
    FriendshipCommand, FriendshipEvent, RemoveFriend, SendFriendRequest,
};
use domain::user::{UserError, UserId};
use event_store::codec::Upcasters;
use event_store::{AggregateRepository, ExecuteError};
use http_api::{ApiError, Json};
use personal_data::Keys;
use serde::Deserialize;
use sqlx::PgPool;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::CommandError;
use crate::users::Accepted;
use crate::AppState;

/// What the friendship handlers share: the repository of [`Friendship`] aggregates.
pub struct Commands {
    friendships: AggregateRepository<Friendship>,
}

impl Commands {
    /// Friendship events hold no personal data, so `_keys` is not needed.
    pub fn new(pool: PgPool, _keys: Keys) -> Self {
        Self {
            friendships: AggregateRepository::new(
                pool,
                Upcasters::default(),
                FriendshipEvent::current_version,
            ),
        }
    }

    /// Runs `command` on the relationship of `caller` and `other`.
    async fn execute(
        &self,
        caller: &UserId,
        other: &UserId,
        command: FriendshipCommand,
        headers: &HeaderMap,
    ) -> Result<Json<Accepted>, ApiError> {
        let metadata = crate::metadata(caller, headers);
        let committed = self
            .friendships
            .execute(&pair_id(caller, other), command, &(), &metadata)
            .await
            .map_err(CommandError::from)?;
        Ok(Json(committed.into()))
    }
}

/// The friendship routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send_friend_request))
        .routes(routes!(accept_friend_request))
        .routes(routes!(decline_friend_request))
        .routes(routes!(cancel_friend_request))
        .routes(routes!(remove_friend))
}

/// The body of every friendship command: the other user of the relationship.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OtherUser {
    pub user_id: String,
}

/// Asks the body's user to be friends; accepts their request if they asked first.
#[utoipa::path(
    post,
    path = "/v1/commands/send-friend-request",
    tag = "friendships",
    request_body = OtherUser,
    responses(
        crate::users::CarriedOut,
        http_api::openapi::Forbidden,
        http_api::openapi::NotFound,
    )
)]
async fn send_friend_request(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Json(body): Json<OtherUser>,
) -> Result<Json<Accepted>, ApiError> {
    let (caller, other) = parties(&state, &user, &body).await?;
    let recipient_exists = is_registered(&state, &other).await?;
    let command = FriendshipCommand::SendFriendRequest(SendFriendRequest {
        from: caller.clone(),
        to: other.clone(),
        recipient_exists,
        at: Utc::now(),
    });
    state
        .friendships
        .execute(&caller, &other, command, &headers)
        .await
}

/// Accepts the body's user's pending request to the caller.
#[utoipa::path(
    post,
    path = "/v1/commands/accept-friend-request",
    tag = "friendships",
    request_body = OtherUser,
    responses(
        crate::users::CarriedOut,
        http_api::openapi::Forbidden,
        http_api::openapi::NotFound,
    )
)]
async fn accept_friend_request(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Json(body): Json<OtherUser>,
) -> Result<Json<Accepted>, ApiError> {
    act(&state, &user, &headers, &body, |by, at| {
        FriendshipCommand::AcceptFriendRequest(AcceptFriendRequest { by, at })
    })
    .await
}

/// Declines the body's user's pending request to the caller.
#[utoipa::path(
    post,
    path = "/v1/commands/decline-friend-request",
    tag = "friendships",
    request_body = OtherUser,
    responses(
        crate::users::CarriedOut,
        http_api::openapi::Forbidden,
        http_api::openapi::NotFound,
    )
)]
async fn decline_friend_request(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Json(body): Json<OtherUser>,
) -> Result<Json<Accepted>, ApiError> {
    act(&state, &user, &headers, &body, |by, at| {
        FriendshipCommand::DeclineFriendRequest(DeclineFriendRequest { by, at })
    })
    .await
}

/// Takes back the caller's pending request to the body's user.
#[utoipa::path(
    post,
    path = "/v1/commands/cancel-friend-request",
    tag = "friendships",
    request_body = OtherUser,
    responses(
        crate::users::CarriedOut,
        http_api::openapi::Forbidden,
        http_api::openapi::NotFound,
    )
)]
async fn cancel_friend_request(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Json(body): Json<OtherUser>,
) -> Result<Json<Accepted>, ApiError> {
    act(&state, &user, &headers, &body, |by, at| {
        FriendshipCommand::CancelFriendRequest(CancelFriendRequest { by, at })
    })
    .await
}

/// Ends the caller's friendship with the body's user.
#[utoipa::path(
    post,
    path = "/v1/commands/remove-friend",
    tag = "friendships",
    request_body = OtherUser,
    responses(
        crate::users::CarriedOut,
        http_api::openapi::Forbidden,
        http_api::openapi::NotFound,
    )
)]
async fn remove_friend(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Json(body): Json<OtherUser>,
) -> Result<Json<Accepted>, ApiError> {
    act(&state, &user, &headers, &body, |by, at| {
        FriendshipCommand::RemoveFriend(RemoveFriend { by, at })
    })
    .await
}

/// Runs the command `make` builds from the caller's id and the time, on the caller's
/// relationship with the body's user.
async fn act(
    state: &AppState,
    user: &AuthUser,
    headers: &HeaderMap,
    body: &OtherUser,
    make: impl FnOnce(UserId, DateTime<Utc>) -> FriendshipCommand,
) -> Result<Json<Accepted>, ApiError> {
    let (caller, other) = parties(state, user, body).await?;
    let command = make(caller.clone(), Utc::now());
    state
        .friendships
        .execute(&caller, &other, command, headers)
        .await
}

/// The caller and the other user, both valid ids; the caller must have registered.
async fn parties(
    state: &AppState,
    user: &AuthUser,
    body: &OtherUser,
) -> Result<(UserId, UserId), ApiError> {
    let caller = UserId::parse(&user.user_id).map_err(CommandError::from)?;
    let other = UserId::parse(&body.user_id).map_err(CommandError::from)?;
    if !is_registered(state, &caller).await? {
        let refused: ExecuteError<UserError> = ExecuteError::Domain(UserError::NotRegistered);
        return Err(CommandError::from(refused).into());
    }
    Ok((caller, other))
}

/// Whether `user_id` has registered, from the event store itself.
async fn is_registered(state: &AppState, user_id: &UserId) -> Result<bool, ApiError> {
    let user = state
        .users
        .load_state(user_id.as_str())
        .await
        .map_err(CommandError::from)?;
    Ok(user.is_registered())
}
