//! The profile handlers.

use auth::AuthUser;
use axum::extract::State;
use axum::response::Response;
use domain::user::UserId;
use domain::ErrorCode;
use http_api::{ApiError, Json, Path, Query};

use super::friends::{self, Friend, MutualFriend};
use super::profile::{Profile, ProfilePage};
use super::views::wait_for_users_and_friendships;
use super::{store, VIEW};
use crate::consistency::ReadAfter;
use crate::page::{Bounds, PageParams, Paged};
use crate::AppState;

/// The bounds of the friend lists of a profile page.
const FRIEND_LISTS: Bounds = Bounds {
    default_limit: 20,
    max_limit: 100,
};

/// `GET /v1/me`: the caller's own profile, everything included.
#[utoipa::path(
    get,
    path = "/v1/me",
    tag = "users",
    params(crate::consistency::ReadAfter),
    responses(
        (status = OK, description = "The answer; `x-pagenow-stale: true` when the view was behind `min_position`", body = crate::users::profile::Profile),
        http_api::openapi::NotFound,
    )
)]
pub(super) async fn me(
    State(state): State<AppState>,
    caller: AuthUser,
    Query(read_after): Query<ReadAfter>,
) -> Result<Response, ApiError> {
    // A token whose `sub` is no valid user id is authentic, but can never have registered.
    let user_id = UserId::parse(&caller.user_id).map_err(|_| not_found())?;
    let freshness = state.wait_for(VIEW, read_after).await?;
    let answer = store::find(&state.pool, &user_id)
        .await
        .map_err(ApiError::from)
        .and_then(|row| {
            row.map(|row| Json(Profile::for_owner(row)))
                .ok_or_else(not_found)
        });
    Ok(freshness.attach(answer))
}

/// `GET /v1/users/{id}`: a profile page as the caller may see it.
#[utoipa::path(
    get,
    path = "/v1/users/{id}",
    tag = "users",
    params(("id" = String, Path, description = "A user id"), crate::consistency::ReadAfter),
    responses(
        (status = OK, description = "The answer; `x-pagenow-stale: true` when the view was behind `min_position`", body = crate::users::profile::ProfilePage),
        http_api::openapi::NotFound,
    )
)]
pub(super) async fn user_by_id(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    Query(read_after): Query<ReadAfter>,
) -> Result<Response, ApiError> {
    let user_id = parse_id(&id)?;
    let freshness = wait_for_users_and_friendships(&state, read_after).await?;
    let answer = store::find_page(&state.pool, &user_id, &caller.user_id)
        .await
        .map_err(ApiError::from)
        .and_then(|row| row.map(|row| Json(page_of(row))).ok_or_else(not_found));
    Ok(freshness.attach(answer))
}

/// `GET /v1/users/{id}/friends`: a page of the user's friends, with the caller's
/// relationship with each. Only the user and their friends may see it (issue 3: a
/// stranger never reads another user's friend list); others get `403 user.friends_hidden`.
#[utoipa::path(
    get,
    path = "/v1/users/{id}/friends",
    operation_id = "user_friends",
    tag = "users",
    params(("id" = String, Path, description = "A user id"), crate::page::PageParams, crate::consistency::ReadAfter),
    responses(
        (status = OK, description = "The answer; `x-pagenow-stale: true` when the view was behind `min_position`", body = crate::page::Paged<crate::users::friends::Friend>),
        http_api::openapi::Forbidden,
        http_api::openapi::NotFound,
    )
)]
pub(super) async fn friends(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    Query(page): Query<PageParams>,
    Query(read_after): Query<ReadAfter>,
) -> Result<Response, ApiError> {
    let user_id = parse_id(&id)?;
    let page = page.within(FRIEND_LISTS)?;
    let freshness = wait_for_users_and_friendships(&state, read_after).await?;
    // An unknown user is a 404 first: existence is no secret (the profile answers it).
    let list =
        found::<Friend>(friends::friends_of(&state.pool, &user_id, &caller.user_id, page).await)?;
    let allowed = user_id.as_str() == caller.user_id
        || friends::are_friends(&state.pool, &caller.user_id, user_id.as_str()).await?;
    if !allowed {
        return Err(ApiError::forbidden(
            "user.friends_hidden",
            "only this user and their friends see their friends",
        ));
    }
    Ok(freshness.attach(list))
}

/// `GET /v1/users/{id}/mutual-friends`: a page of the friends the caller and the user
/// have in common.
#[utoipa::path(
    get,
    path = "/v1/users/{id}/mutual-friends",
    tag = "users",
    params(("id" = String, Path, description = "A user id"), crate::page::PageParams, crate::consistency::ReadAfter),
    responses(
        (status = OK, description = "The answer; `x-pagenow-stale: true` when the view was behind `min_position`", body = crate::page::Paged<crate::users::friends::MutualFriend>),
        http_api::openapi::NotFound,
    )
)]
pub(super) async fn mutual_friends(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    Query(page): Query<PageParams>,
    Query(read_after): Query<ReadAfter>,
) -> Result<Response, ApiError> {
    let user_id = parse_id(&id)?;
    let page = page.within(FRIEND_LISTS)?;
    let freshness = wait_for_users_and_friendships(&state, read_after).await?;
    let answer = friends::mutual_friends(&state.pool, &user_id, &caller.user_id, page).await;
    Ok(freshness.attach(found::<MutualFriend>(answer)))
}

fn page_of(row: store::PageRow) -> ProfilePage {
    ProfilePage {
        profile: Profile::seen_as(row.user, row.relationship),
        relationship: row.relationship,
        friend_count: row.friend_count,
        mutual_friend_count: row.mutual_friend_count,
    }
}

/// A list of an unknown user is `404 user.not_found`.
fn found<T>(
    list: Result<Option<Paged<T>>, crate::database::DatabaseError>,
) -> Result<Json<Paged<T>>, ApiError> {
    list?.map(Json).ok_or_else(not_found)
}

fn parse_id(id: &str) -> Result<UserId, ApiError> {
    UserId::parse(id).map_err(|e| ApiError::bad_request(e.code(), e.to_string()))
}

fn not_found() -> ApiError {
    ApiError::not_found("user.not_found", "no such user")
}
