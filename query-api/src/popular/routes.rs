//! The popular pages handlers.

use auth::AuthUser;
use axum::extract::State;
use axum::response::Response;
use domain::user::Domain;
use domain::ErrorCode;
use http_api::{ApiError, Json, Path, Query};

use super::{store, LEADERBOARD, POPULAR, VIEW};
use crate::consistency::ReadAfter;
use crate::page::PageParams;
use crate::AppState;

/// `GET /v1/popular/domains`: the most-shared domains with their counts.
#[utoipa::path(
    get,
    path = "/v1/popular/domains",
    tag = "popular",
    params(crate::page::PageParams, crate::consistency::ReadAfter),
    responses(
        (status = OK, description = "The answer; `x-pagenow-stale: true` when the view was behind `min_position`", body = super::store::Items<super::store::PopularDomain>),
    )
)]
pub(super) async fn domains(
    State(state): State<AppState>,
    _caller: AuthUser,
    Query(page): Query<PageParams>,
    Query(read_after): Query<ReadAfter>,
) -> Result<Response, ApiError> {
    let page = page.within(POPULAR)?;
    let freshness = state.wait_for(VIEW, read_after).await?;
    let answer = store::domains(&state.pool, page)
        .await
        .map(Json)
        .map_err(ApiError::from);
    Ok(freshness.attach(answer))
}

/// `GET /v1/popular/domains/{domain}/pages`: the domain's pages, most shared first.
/// The domain is normalised as a sharing policy's is (`WWW.Example.com` is `example.com`).
#[utoipa::path(
    get,
    path = "/v1/popular/domains/{domain}/pages",
    tag = "popular",
    params(("domain" = String, Path, description = "A domain, as `/v1/popular/domains` lists it"), crate::page::PageParams, crate::consistency::ReadAfter),
    responses(
        (status = OK, description = "The answer; `x-pagenow-stale: true` when the view was behind `min_position`", body = super::store::Items<super::store::PopularPage>),
    )
)]
pub(super) async fn pages(
    State(state): State<AppState>,
    _caller: AuthUser,
    Path(domain): Path<String>,
    Query(page): Query<PageParams>,
    Query(read_after): Query<ReadAfter>,
) -> Result<Response, ApiError> {
    let domain =
        Domain::parse(&domain).map_err(|err| ApiError::bad_request(err.code(), err.to_string()))?;
    let page = page.within(POPULAR)?;
    let freshness = state.wait_for(VIEW, read_after).await?;
    let answer = store::pages(&state.pool, &domain, page)
        .await
        .map(Json)
        .map_err(ApiError::from);
    Ok(freshness.attach(answer))
}

/// `GET /v1/leaderboard`: the most active sharers, with their names.
#[utoipa::path(
    get,
    path = "/v1/leaderboard",
    tag = "popular",
    params(crate::page::PageParams, crate::consistency::ReadAfter),
    responses(
        (status = OK, description = "The answer; `x-pagenow-stale: true` when the view was behind `min_position`", body = super::store::Items<super::store::Sharer>),
    )
)]
pub(super) async fn leaderboard(
    State(state): State<AppState>,
    _caller: AuthUser,
    Query(page): Query<PageParams>,
    Query(read_after): Query<ReadAfter>,
) -> Result<Response, ApiError> {
    let page = page.within(LEADERBOARD)?;
    let freshness = state.wait_for(VIEW, read_after).await?;
    let answer = store::leaderboard(&state.pool, page)
        .await
        .map(Json)
        .map_err(ApiError::from);
    Ok(freshness.attach(answer))
}
