//! The directory handler.

use auth::AuthUser;
use axum::extract::State;
use axum::response::Response;
use http_api::{ApiError, Json, Query};

use super::store;
use crate::consistency::ReadAfter;
use crate::page::{Bounds, PageParams};
use crate::{users, AppState};

/// Without `limit`, the directory answers every user up to the cap, as the first
/// product did; the cap keeps one answer's size bounded as users grow.
const DIRECTORY: Bounds = Bounds {
    default_limit: store::CAP,
    max_limit: store::CAP,
};

/// `GET /v1/users`: registered users, newest first.
///
/// Reads `user_table` only, so `?min_position=` waits for the `users` view alone.
#[utoipa::path(
    get,
    path = "/v1/users",
    tag = "users",
    params(crate::page::PageParams, crate::consistency::ReadAfter),
    responses(
        (status = OK, description = "The answer; `x-pagenow-stale: true` when the view was behind `min_position`", body = super::store::Directory),
    )
)]
pub(super) async fn directory(
    State(state): State<AppState>,
    _caller: AuthUser,
    Query(page): Query<PageParams>,
    Query(read_after): Query<ReadAfter>,
) -> Result<Response, ApiError> {
    let page = page.within(DIRECTORY)?;
    let freshness = state.wait_for(users::VIEW, read_after).await?;
    let answer = store::newest_first(&state.pool, page)
        .await
        .map(Json)
        .map_err(ApiError::from);
    Ok(freshness.attach(answer))
}
