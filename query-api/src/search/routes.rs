//! The search handlers.

use auth::AuthUser;
use axum::extract::State;
use axum::response::Response;
use http_api::{ApiError, Json, Query};

use super::query::{SearchParams, SearchQuery};
use super::store::{self, Scope};
use crate::consistency::ReadAfter;
use crate::page::{Bounds, PageParams};
use crate::users::views::wait_for_users_and_friendships;
use crate::AppState;

/// The bounds of a page of search results.
const RESULTS: Bounds = Bounds {
    default_limit: 20,
    max_limit: 100,
};

/// `GET /v1/users/search`: users other than the caller, by e-mail or name.
#[utoipa::path(
    get,
    path = "/v1/users/search",
    tag = "search",
    params(super::query::SearchParams, crate::page::PageParams, crate::consistency::ReadAfter),
    responses(
        (status = OK, description = "The answer; `x-pagenow-stale: true` when the view was behind `min_position`", body = crate::page::Paged<super::store::Found>),
    )
)]
pub(super) async fn among_everyone(
    state: State<AppState>,
    caller: AuthUser,
    params: Query<SearchParams>,
    page: Query<PageParams>,
    read_after: Query<ReadAfter>,
) -> Result<Response, ApiError> {
    search(state, caller, Scope::Everyone, params, page, read_after).await
}

/// `GET /v1/friends/search`: the caller's friends, by e-mail or name.
#[utoipa::path(
    get,
    path = "/v1/friends/search",
    tag = "search",
    params(super::query::SearchParams, crate::page::PageParams, crate::consistency::ReadAfter),
    responses(
        (status = OK, description = "The answer; `x-pagenow-stale: true` when the view was behind `min_position`", body = crate::page::Paged<super::store::Found>),
    )
)]
pub(super) async fn among_friends(
    state: State<AppState>,
    caller: AuthUser,
    params: Query<SearchParams>,
    page: Query<PageParams>,
    read_after: Query<ReadAfter>,
) -> Result<Response, ApiError> {
    search(state, caller, Scope::Friends, params, page, read_after).await
}

async fn search(
    State(state): State<AppState>,
    caller: AuthUser,
    scope: Scope,
    Query(params): Query<SearchParams>,
    Query(page): Query<PageParams>,
    Query(read_after): Query<ReadAfter>,
) -> Result<Response, ApiError> {
    let query = SearchQuery::parse(params)?;
    let page = page.within(RESULTS)?;
    let freshness = wait_for_users_and_friendships(&state, read_after).await?;
    let answer = store::search(&state.pool, &caller.user_id, &query, scope, page)
        .await
        .map(Json)
        .map_err(ApiError::from);
    Ok(freshness.attach(answer))
}
