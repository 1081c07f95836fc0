//! `POST /v1/admin/verify`: every projection rebuilt into scratch tables and compared
//! row by row with its live view ("replay equals live"), as `pagenow verify` does.
//!
//! A verification that ran answers `200` whatever it found: the finding is in the body
//! (`consistent`, `complete`, every difference). One that could not compare answers
//! `409` (`verify.not_caught_up`, `verify.kept_moving`): the views were not at one point
//! with the store, try again. One verification runs at a time per admin API.

use std::sync::Arc;
use std::time::Duration;

use audit::{Report, VerifyError, VerifyOptions};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use http_api::{ApiError, Json, Query};
use personal_data::Keys;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::access::Admin;
use crate::background::Background;
use crate::AppState;

/// How long a verification waits for the projections to catch up, unless asked.
pub const DEFAULT_WAIT_SECS: u64 = 60;
/// The longest wait a caller may ask for.
pub const MAX_WAIT_SECS: u64 = 600;

/// Held while a verification runs.
#[derive(Clone, Default)]
pub struct Verifying(Arc<Mutex<()>>);

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/v1/admin/verify", post(verify))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    /// How long to wait for every projection to reach the store's last event (seconds).
    wait_secs: Option<u64>,
}

/// What a verification found.
#[derive(Debug, Serialize)]
struct Verdict {
    /// Every verified table equals its replay.
    consistent: bool,
    /// Every projection was verified (each declares its tables).
    complete: bool,
    difference_count: usize,
    /// Every projection's tables, with every difference.
    report: Report,
}

/// `POST /v1/admin/verify[?wait_secs=]`.
async fn verify(
    admin: Admin,
    State(state): State<AppState>,
    Query(params): Query<Params>,
) -> Result<Json<Verdict>, ApiError> {
    let wait = match params.wait_secs.unwrap_or(DEFAULT_WAIT_SECS) {
        secs @ 0..=MAX_WAIT_SECS => Duration::from_secs(secs),
        _ => {
            let message = format!("wait_secs must be at most {MAX_WAIT_SECS}");
            return Err(ApiError::bad_request("verify.invalid_wait", message));
        }
    };
    let running =
        state.verifying.0.clone().try_lock_owned().map_err(|_| {
            ApiError::conflict("verify.already_running", "a verification is running")
        })?;
    tracing::info!(user.id = admin.user_id(), "verification started");
    let options = VerifyOptions::new(wait);
    let report = in_background(&state.background, state.pool.clone(), options, running);
    let report = report.await.map_err(verify_error)?;
    Ok(Json(Verdict {
        consistent: report.is_consistent(),
        complete: report.is_complete(),
        difference_count: report.difference_count(),
        report,
    }))
}

/// Runs the verification in a task of its own, so that a client that goes away does not
/// abandon it with its scratch schema still there.
/// `running` is held until the verification ends.
async fn in_background(
    background: &Background,
    pool: PgPool,
    options: VerifyOptions,
    running: OwnedMutexGuard<()>,
) -> Result<Report, Outcome> {
    let schema = options.schema.clone();
    let dropping = pool.clone();
    let work = async move {
        let report = audit::verify(&pool, Keys::new(pool.clone()), &options).await;
        drop(running);
        report
    };
    let on_stop = async move {
        if let Err(error) = audit::scratch::drop_scratch(&dropping, &schema).await {
            tracing::warn!(%error, schema, "scratch schema not dropped");
        }
    };
    match background.spawn(work, on_stop).await {
        Ok(Some(outcome)) => outcome.map_err(Outcome::Failed),
        Ok(None) => Err(Outcome::Stopped),
        Err(panicked) => Err(Outcome::Panicked(panicked.to_string())),
    }
}

/// Why a verification gave no report.
enum Outcome {
    Failed(VerifyError),
    /// The admin API is shutting down.
    Stopped,
    Panicked(String),
}

fn verify_error(outcome: Outcome) -> ApiError {
    match outcome {
        Outcome::Failed(VerifyError::NotCaughtUp {
            projection,
            checkpoint,
            target,
            waited,
        }) => ApiError::conflict(
            "verify.not_caught_up",
            format!(
                "projection {projection} is at position {}, the store at {}, after {} s; verify again when it has caught up",
                checkpoint.position,
                target.position,
                waited.as_secs()
            ),
        ),
        Outcome::Failed(error @ VerifyError::KeptMoving { .. }) => {
            ApiError::conflict("verify.kept_moving", error.to_string())
        }
        Outcome::Failed(VerifyError::Postgres(error)) => crate::database::error(error),
        Outcome::Failed(error) => ApiError::internal(&error),
        Outcome::Stopped => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service.shutting_down",
            "the admin API is shutting down; the verification was stopped",
        ),
        Outcome::Panicked(error) => ApiError::internal(&error),
    }
}
