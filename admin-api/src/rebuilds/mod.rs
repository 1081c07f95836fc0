//! Shadow rebuilds started over HTTP: `POST /v1/admin/projections/{name}/rebuild`
//! starts one in the background and answers `202` at once; `GET
//! /v1/admin/rebuilds/{name}` shows how it goes (events applied, rate, time left) and how
//! it ended.
//!
//! One rebuild per projection runs at a time in one admin API (a second one is `409
//! rebuild.already_running`). The record of the last rebuild of each projection lives in
//! memory: it is gone when the admin API restarts, and a rebuild still running at
//! shutdown is stopped, leaving the live tables as they were.

mod routes;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use audit::shadow::{Phase, Progress, ShadowError, ShadowReport};
use chrono::{DateTime, Utc};
use serde::Serialize;

pub(crate) use routes::routes;

/// The rebuilds this admin API started, by projection. Cheap to clone.
#[derive(Clone, Default)]
pub struct Rebuilds(Arc<Mutex<HashMap<&'static str, Run>>>);

/// One rebuild.
#[derive(Debug, Clone)]
struct Run {
    started: Instant,
    started_at: DateTime<Utc>,
    progress: Option<Progress>,
    outcome: Outcome,
    /// How long it took, once it ended.
    took: Option<Duration>,
    finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
enum Outcome {
    Running,
    Succeeded(ShadowReport),
    Failed(Failure),
    /// The admin API shut down before it ended.
    Stopped,
}

/// Why a rebuild did not switch its tables in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub code: &'static str,
    pub message: String,
}

/// Where a rebuild stands, as `GET /v1/admin/rebuilds/{name}` answers.
#[derive(Debug, Clone, Serialize)]
pub struct RebuildStatus {
    pub projection: &'static str,
    pub state: RunState,
    /// `building` or `switching` while running; the last phase reached once ended.
    pub phase: Option<Phase>,
    pub events_applied: u64,
    /// Events to apply to reach the live checkpoint, as last seen.
    pub events_total: u64,
    /// Events applied per second since the start.
    pub events_per_second: f64,
    /// At that rate, while running and once a first batch is done.
    pub seconds_left: Option<f64>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// What it did, once it succeeded.
    pub report: Option<ShadowReport>,
    /// Why not, once it failed.
    pub error: Option<Failure>,
}

/// The states of a rebuild.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Running,
    /// The new tables replaced the live ones.
    Succeeded,
    /// The live tables are as they were.
    Failed,
    /// The admin API shut down first; the live tables are as they were.
    Stopped,
}

/// A rebuild of this projection is running already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadyRunning;

impl Rebuilds {
    fn runs(&self) -> MutexGuard<'_, HashMap<&'static str, Run>> {
        // A panic elsewhere leaves the records whole: each change is one assignment.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a new rebuild of `projection`, unless one is running.
    pub fn begin(&self, projection: &'static str) -> Result<RebuildStatus, AlreadyRunning> {
        let mut runs = self.runs();
        if runs
            .get(projection)
            .is_some_and(|run| matches!(run.outcome, Outcome::Running))
        {
            return Err(AlreadyRunning);
        }
        let run = Run {
            started: Instant::now(),
            started_at: Utc::now(),
            progress: None,
            outcome: Outcome::Running,
            took: None,
            finished_at: None,
        };
        let status = run.status(projection);
        runs.insert(projection, run);
        Ok(status)
    }

    /// Records how far the rebuild of `projection` has got.
    pub fn progress(&self, projection: &'static str, progress: Progress) {
        if let Some(run) = self.runs().get_mut(projection) {
            run.progress = Some(progress);
        }
    }

    /// Records how the rebuild of `projection` ended (`None`: stopped at shutdown).
    pub fn finish(
        &self,
        projection: &'static str,
        outcome: Option<Result<ShadowReport, ShadowError>>,
    ) {
        let outcome = match outcome {
            Some(Ok(report)) => Outcome::Succeeded(report),
            Some(Err(error)) => Outcome::Failed(failure(projection, error)),
            None => Outcome::Stopped,
        };
        if let Some(run) = self.runs().get_mut(projection) {
            if let Outcome::Succeeded(report) = &outcome {
                // The switch applies the last events itself, after the last progress.
                run.progress = Some(Progress {
                    phase: Phase::Switching,
                    applied: report.events_replayed,
                    total: report.events_replayed,
                });
            }
            run.took = Some(run.started.elapsed());
            run.finished_at = Some(Utc::now());
            run.outcome = outcome;
        }
    }

    /// The last rebuild of `projection`, if this admin API started one.
    pub fn status(&self, projection: &'static str) -> Option<RebuildStatus> {
        self.runs()
            .get(projection)
            .map(|run| run.status(projection))
    }
}

impl Run {
    fn status(&self, projection: &'static str) -> RebuildStatus {
        let (applied, total) = self.progress.map_or((0, 0), |p| (p.applied, p.total));
        let elapsed = self.took.unwrap_or_else(|| self.started.elapsed());
        let rate = match elapsed.as_secs_f64() {
            secs if secs > 0.0 => applied as f64 / secs,
            _ => 0.0,
        };
        let running = matches!(self.outcome, Outcome::Running);
        let (state, report, error) = match &self.outcome {
            Outcome::Running => (RunState::Running, None, None),
            Outcome::Succeeded(report) => (RunState::Succeeded, Some(report.clone()), None),
            Outcome::Failed(failure) => (RunState::Failed, None, Some(failure.clone())),
            Outcome::Stopped => (RunState::Stopped, None, None),
        };
        RebuildStatus {
            projection,
            state,
            phase: self.progress.map(|p| p.phase),
            events_applied: applied,
            events_total: total,
            events_per_second: rate,
            seconds_left: (running && rate > 0.0)
                .then(|| total.saturating_sub(applied) as f64 / rate),
            started_at: self.started_at,
            finished_at: self.finished_at,
            report,
            error,
        }
    }
}

/// A failed rebuild as its status shows it: what the operator can act on, and a
/// generic message (the cause in the log) for anything else.
fn failure(projection: &str, error: ShadowError) -> Failure {
    match error {
        ShadowError::Locked { .. } => Failure {
            code: "rebuild.locked",
            message: error.to_string(),
        },
        ShadowError::Unsupported { .. } => Failure {
            code: "rebuild.unsupported_table",
            message: error.to_string(),
        },
        error => {
            tracing::error!(%error, projection, "rebuild failed");
            Failure {
                code: "rebuild.failed",
                message:
                    "the rebuild failed; the live tables are unchanged (see the admin API's log)"
                        .to_owned(),
            }
        }
    }
}
