//! `GET /v1/admin/status`: the store's head and every reader's position and lag, as
//! `pagenow status --format json` prints them.

use audit::Status;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use http_api::{ApiError, Json};
use sqlx::PgPool;

use crate::access::Admin;
use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/v1/admin/status", get(status))
}

/// `GET /v1/admin/status`.
async fn status(_: Admin, State(pool): State<PgPool>) -> Result<Json<Status>, ApiError> {
    audit::status(&pool)
        .await
        .map(Json)
        .map_err(crate::database::error)
}
