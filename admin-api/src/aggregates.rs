//! An aggregate as it stood at any version, and what one of its events changed:
//! `GET /v1/admin/aggregates/{type}/{id}?version=` and
//! `GET /v1/admin/aggregates/{type}/{id}/events/{version}/diff`.

use audit::{AggregateError, AggregateState, EventDiff};
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use http_api::{ApiError, Json, Path, Query};
use serde::Deserialize;
use sqlx::PgPool;

use crate::access::Admin;
use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/admin/aggregates/{aggregate_type}/{aggregate_id}",
            get(state_at),
        )
        .route(
            "/v1/admin/aggregates/{aggregate_type}/{aggregate_id}/events/{version}/diff",
            get(diff),
        )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AtVersion {
    /// The state after this event's sequence number; the latest when absent.
    version: Option<i64>,
}

/// `GET /v1/admin/aggregates/{type}/{id}`: the state after `?version=` (or now).
async fn state_at(
    _: Admin,
    State(pool): State<PgPool>,
    Path((aggregate_type, aggregate_id)): Path<(String, String)>,
    Query(at): Query<AtVersion>,
) -> Result<Json<AggregateState>, ApiError> {
    let version = at.version.map(checked_version).transpose()?;
    audit::aggregate_state(&pool, &aggregate_type, &aggregate_id, version)
        .await
        .map(Json)
        .map_err(aggregate_error)
}

/// `GET /v1/admin/aggregates/{type}/{id}/events/{version}/diff`: the event at that
/// sequence number, the state before and after it, and the values it changed.
async fn diff(
    _: Admin,
    State(pool): State<PgPool>,
    Path((aggregate_type, aggregate_id, version)): Path<(String, String, i64)>,
) -> Result<Json<EventDiff>, ApiError> {
    let version = checked_version(version)?;
    audit::aggregate_diff(&pool, &aggregate_type, &aggregate_id, version)
        .await
        .map(Json)
        .map_err(aggregate_error)
}

/// Versions are sequence numbers: 1 is an aggregate's first event.
fn checked_version(version: i64) -> Result<i64, ApiError> {
    match version {
        1.. => Ok(version),
        _ => Err(ApiError::bad_request(
            "aggregate.invalid_version",
            "versions start at 1",
        )),
    }
}

fn aggregate_error(error: AggregateError) -> ApiError {
    match error {
        // The path names a kind of aggregate the tools do not know: no such resource.
        AggregateError::UnknownType(_) => {
            ApiError::not_found("aggregate.unknown_type", error.to_string())
        }
        AggregateError::NotFound { .. } => {
            ApiError::not_found("aggregate.not_found", error.to_string())
        }
        AggregateError::NoSuchVersion { .. } => {
            ApiError::not_found("aggregate.version_not_found", error.to_string())
        }
        AggregateError::Postgres(error) => crate::database::error(error),
        AggregateError::Codec(_) | AggregateError::Serialize(_) => ApiError::internal(&error),
    }
}
