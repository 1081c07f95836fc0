//! The friendship handlers, and the shapes of their answers.

use auth::AuthUser;
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use domain::user::UserId;
use domain::ErrorCode;
use http_api::{ApiError, Json, Path, Query};
use serde::Serialize;

use super::store::{self, List, Listed, Related};
use super::{LISTS, VIEW};
use crate::consistency::ReadAfter;
use crate::page::{PageParams, Paged};
use crate::users::relationship::{FriendshipRow, Relationship};
use crate::AppState;

/// A friend: `{"user_id", "first_name", "last_name", "since"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Friend {
    pub user_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    #[serde(serialize_with = "http_api::time::rfc3339")]
    pub since: DateTime<Utc>,
}

/// A pending request: `{"user_id", "first_name", "last_name", "requested_at"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FriendRequest {
    pub user_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    #[serde(serialize_with = "http_api::time::rfc3339")]
    pub requested_at: DateTime<Utc>,
}

/// How the caller stands with one user; `since` for friends, `requested_at` for a
/// pending request, each left out otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RelationshipAnswer {
    pub user_id: String,
    pub status: Relationship,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(serialize_with = "http_api::time::rfc3339_opt")]
    pub since: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(serialize_with = "http_api::time::rfc3339_opt")]
    pub requested_at: Option<DateTime<Utc>>,
}

impl From<Listed> for Friend {
    fn from(l: Listed) -> Self {
        Self {
            user_id: l.user_id,
            first_name: l.first_name,
            last_name: l.last_name,
            since: l.at,
        }
    }
}

impl From<Listed> for FriendRequest {
    fn from(l: Listed) -> Self {
        Self {
            user_id: l.user_id,
            first_name: l.first_name,
            last_name: l.last_name,
            requested_at: l.at,
        }
    }
}

impl RelationshipAnswer {
    /// `caller`'s relationship with `other`, from `caller`'s row about them.
    fn of(caller: &str, other: UserId, row: Option<Related>) -> Self {
        let status = Relationship::of(
            caller,
            other.as_str(),
            FriendshipRow {
                status: row.as_ref().map(|r| r.status.as_str()),
                requested_by: row.as_ref().map(|r| r.requested_by.as_str()),
            },
        );
        let (since, requested_at) = match (status, row) {
            (Relationship::Friends, Some(row)) => (row.accepted_at, None),
            (Relationship::PendingIncoming | Relationship::PendingOutgoing, Some(row)) => {
                (None, Some(row.requested_at))
            }
            _ => (None, None),
        };
        Self {
            user_id: other.to_string(),
            status,
            since,
            requested_at,
        }
    }
}

/// `GET /v1/friends`: the caller's friends, newest first.
#[utoipa::path(
    get,
    path = "/v1/friends",
    tag = "friendships",
    params(crate::page::PageParams, crate::consistency::ReadAfter),
    responses(
        (status = OK, description = "The answer; `x-pagenow-stale: true` when the view was behind `min_position`", body = crate::page::Paged<Friend>),
    )
)]
pub(super) async fn friends(
    State(state): State<AppState>,
    caller: AuthUser,
    Query(page): Query<PageParams>,
    Query(read_after): Query<ReadAfter>,
) -> Result<Response, ApiError> {
    listed::<Friend>(&state, &caller, List::Friends, page, read_after).await
}

/// `GET /v1/friend-requests/incoming`: pending requests to the caller, newest first.
#[utoipa::path(
    get,
    path = "/v1/friend-requests/incoming",
    tag = "friendships",
    params(crate::page::PageParams, crate::consistency::ReadAfter),
    responses(
        (status = OK, description = "The answer; `x-pagenow-stale: true` when the view was behind `min_position`", body = crate::page::Paged<FriendRequest>),
    )
)]
pub(super) async fn incoming(
    State(state): State<AppState>,
    caller: AuthUser,
    Query(page): Query<PageParams>,
    Query(read_after): Query<ReadAfter>,
) -> Result<Response, ApiError> {
    listed::<FriendRequest>(&state, &caller, List::Incoming, page, read_after).await
}

/// `GET /v1/friend-requests/outgoing`: the caller's pending requests, newest first.
#[utoipa::path(
    get,
    path = "/v1/friend-requests/outgoing",
    tag = "friendships",
    params(crate::page::PageParams, crate::consistency::ReadAfter),
    responses(
        (status = OK, description = "The answer; `x-pagenow-stale: true` when the view was behind `min_position`", body = crate::page::Paged<FriendRequest>),
    )
)]
pub(super) async fn outgoing(
    State(state): State<AppState>,
    caller: AuthUser,
    Query(page): Query<PageParams>,
    Query(read_after): Query<ReadAfter>,
) -> Result<Response, ApiError> {
    listed::<FriendRequest>(&state, &caller, List::Outgoing, page, read_after).await
}

/// `GET /v1/relationships/{user_id}`: how the caller stands with that user.
#[utoipa::path(
    get,
    path = "/v1/relationships/{user_id}",
    tag = "friendships",
    params(("user_id" = String, Path, description = "A user id"), crate::consistency::ReadAfter),
    responses(
        (status = OK, description = "The answer; `x-pagenow-stale: true` when the view was behind `min_position`", body = RelationshipAnswer),
    )
)]
pub(super) async fn relationship(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<String>,
    Query(read_after): Query<ReadAfter>,
) -> Result<Response, ApiError> {
    let other =
        UserId::parse(&user_id).map_err(|e| ApiError::bad_request(e.code(), e.to_string()))?;
    let freshness = state.wait_for(VIEW, read_after).await?;
    let answer = store::find(&state.pool, &caller.user_id, other.as_str())
        .await
        .map(|row| Json(RelationshipAnswer::of(&caller.user_id, other, row)))
        .map_err(ApiError::from);
    Ok(freshness.attach(answer))
}

/// A page of one of the caller's lists, each item shown as `T`.
async fn listed<T: From<Listed> + Serialize>(
    state: &AppState,
    caller: &AuthUser,
    list: List,
    page: PageParams,
    read_after: ReadAfter,
) -> Result<Response, ApiError> {
    let page = page.within(LISTS)?;
    let freshness = state.wait_for(VIEW, read_after).await?;
    let answer = store::list(&state.pool, list, &caller.user_id, page)
        .await
        .map(|listed| {
            Json(Paged {
                items: listed.items.into_iter().map(T::from).collect::<Vec<T>>(),
                total: listed.total,
            })
        })
        .map_err(ApiError::from);
    Ok(freshness.attach(answer))
}
