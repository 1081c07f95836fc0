//! The rebuild handlers.

use audit::shadow::ShadowOptions;
use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http_api::{ApiError, Json, Path, Query};
use serde::Deserialize;

use super::RebuildStatus;
use crate::access::Admin;
use crate::AppState;

/// Events read at a time unless asked.
pub const DEFAULT_BATCH: i64 = 1000;
/// The largest batch a caller may ask for.
pub const MAX_BATCH: i64 = 100_000;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/projections/{name}/rebuild", post(start))
        .route("/v1/admin/rebuilds/{name}", get(show))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    /// Events read at a time (and applied per transaction by projections that do not
    /// fold across batches).
    batch: Option<i64>,
    /// Keep the replaced tables (in the schema the report names) instead of dropping them.
    #[serde(default)]
    keep_old: bool,
}

impl Params {
    fn options(&self) -> Result<ShadowOptions, ApiError> {
        let batch = match self.batch.unwrap_or(DEFAULT_BATCH) {
            batch @ 1..=MAX_BATCH => batch,
            _ => {
                let message = format!("batch must be between 1 and {MAX_BATCH}");
                return Err(ApiError::bad_request("rebuild.invalid_batch", message));
            }
        };
        Ok(ShadowOptions {
            batch,
            keep_old: self.keep_old,
            ..ShadowOptions::default()
        })
    }
}

/// `POST /v1/admin/projections/{name}/rebuild[?batch=&keep_old=]`: `202` with the
/// rebuild's status and, in `Location`, where to watch it.
async fn start(
    admin: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    let options = params.options()?;
    let projection = state.projections.named(&name)?;
    if projection.tables().is_empty() {
        let message = format!("projection {name} declares no tables (Projection::tables)");
        return Err(ApiError::unprocessable(
            "projection.not_rebuildable",
            message,
        ));
    }
    let projection = projection.name();
    let status = state.rebuilds.begin(projection).map_err(|_| {
        let message = format!(
            "a rebuild of {projection} is running; watch it at {}",
            watch(projection)
        );
        ApiError::conflict("rebuild.already_running", message)
    })?;
    tracing::info!(user.id = admin.user_id(), projection, "rebuild started");
    spawn(&state, projection, options);
    let location = [(LOCATION, watch(projection))];
    Ok((StatusCode::ACCEPTED, location, Json(status)).into_response())
}

/// `GET /v1/admin/rebuilds/{name}`: the last rebuild of that projection.
async fn show(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<RebuildStatus>, ApiError> {
    let projection = state.projections.named(&name)?.name();
    state.rebuilds.status(projection).map(Json).ok_or_else(|| {
        ApiError::not_found(
            "rebuild.not_found",
            format!("no rebuild of {projection} was started since the admin API started"),
        )
    })
}

fn watch(projection: &str) -> String {
    format!("/v1/admin/rebuilds/{projection}")
}

/// Runs the rebuild in the background, recording its progress and outcome. Stopped at
/// shutdown, it leaves the live tables as they were and drops its schemas.
fn spawn(state: &AppState, projection: &'static str, options: ShadowOptions) {
    let work = rebuild(state.clone(), projection, options.clone());
    let on_stop = stopped(state.clone(), projection, options);
    drop(state.background.spawn(work, on_stop));
}

async fn rebuild(state: AppState, projection: &'static str, options: ShadowOptions) {
    let mut report = |progress| state.rebuilds.progress(projection, progress);
    let all = state.projections.all();
    let outcome = audit::shadow::rebuild(&state.pool, all, projection, &options, &mut report).await;
    state.rebuilds.finish(projection, Some(outcome));
}

/// After a rebuild was dropped half way: its schemas go, as `pagenow rebuild` does on
/// Ctrl-C.
async fn stopped(state: AppState, projection: &'static str, options: ShadowOptions) {
    // The retired schema exists only if the switch committed (it is made inside it).
    let retired = (!options.keep_old).then_some(&options.retired);
    for schema in std::iter::once(&options.schema).chain(retired) {
        if let Err(error) = audit::scratch::drop_scratch(&state.pool, schema).await {
            tracing::warn!(%error, schema, "schema not dropped");
        }
    }
    state.rebuilds.finish(projection, None);
}
