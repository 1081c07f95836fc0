//! "Replay equals live": every projection rebuilt from the store into scratch tables and
//! compared, row by row, with its live tables.
//!
//! How, and why this way:
//! - First every projection must have caught up with the store's last committed event
//!   (bounded wait): a stuck projector is reported, not compared at an old point.
//! - The scratch schema holds an empty copy of each declared table
//!   ([`projector::Projection::tables`]); each rebuild transaction resolves names in that
//!   schema only, so the projections' own SQL writes the copies and a table a projection
//!   forgot to declare is an error instead of a write to the live table.
//! - The live view keeps moving while the system serves traffic. Each projection is
//!   rebuilt up to its live checkpoint, then compared inside one read-only
//!   `REPEATABLE READ` snapshot in which the checkpoint is still there (view rows and
//!   checkpoint commit together, so that snapshot shows the view at exactly that event).
//!   If it moved, the rebuild carries on to the new checkpoint and compares again.
//!   Read-only transactions take no transaction id, so the comparison never holds the
//!   feed back.
//! - The scratch schema is dropped at the end, also after a failure.

use std::time::{Duration, Instant};

use event_store::checkpoint;
use event_store::{Cursor, FeedReader};
use personal_data::Keys;
use projector::replay::{self, RebuildOptions};
use projector::{Projection, ProjectionError};
use serde::Serialize;
use sqlx::PgPool;

use crate::compare::{compare_table, TableReport};
use crate::scratch::{self, LIVE_SCHEMA};

/// How often the verifier looks at the checkpoints while it waits for them.
const CATCH_UP_POLL: Duration = Duration::from_millis(100);

/// How a verification runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOptions {
    /// How long to wait for every projection to catch up with the store, at most.
    pub wait: Duration,
    /// Events read at a time by each rebuild (see [`RebuildOptions::batch`]).
    pub batch: i64,
    /// The scratch schema to create (and drop); see [`scratch::scratch_name`].
    pub schema: String,
    /// Comparisons tried per projection while its live view keeps moving.
    pub attempts: u32,
}

impl VerifyOptions {
    /// Waits up to `wait`, in a fresh scratch schema.
    pub fn new(wait: Duration) -> Self {
        Self {
            wait,
            batch: 1000,
            schema: scratch::scratch_name(),
            attempts: 50,
        }
    }
}

/// Why a verification could not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A projection did not reach the store's last committed event in time.
    #[error("projection {projection} is not caught up: at {checkpoint:?}, the store at {target:?}, after waiting {waited:?}")]
    NotCaughtUp {
        projection: String,
        checkpoint: Cursor,
        target: Cursor,
        waited: Duration,
    },
    /// The live view moved between every rebuild and its comparison.
    #[error("projection {projection} moved on before each of {attempts} comparisons; verify when traffic is lower")]
    KeptMoving { projection: String, attempts: u32 },
    #[error("{0:?} is not a plain SQL identifier")]
    BadIdentifier(String),
    #[error("postgres: {0}")]
    Postgres(#[from] sqlx::Error),
    #[error("rebuild: {0}")]
    Projection(#[from] ProjectionError),
}

impl VerifyError {
    /// Whether the views were not at one point with the store, rather than broken.
    pub fn is_not_caught_up(&self) -> bool {
        matches!(self, Self::NotCaughtUp { .. } | Self::KeptMoving { .. })
    }
}

/// What the verifier found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The scratch schema used (dropped by now).
    pub schema: String,
    /// The store's last committed event when the verifier started: every projection had
    /// reached it.
    pub target: Cursor,
    pub projections: Vec<ProjectionReport>,
    /// Projections that declare no tables, so were not verified.
    pub undeclared: Vec<String>,
}

/// How one projection compares.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProjectionReport {
    pub projection: String,
    /// The live checkpoint both sides were compared at.
    pub checkpoint: Cursor,
    pub events_replayed: u64,
    pub tables: Vec<TableReport>,
}

impl Report {
    /// The number of differences across every table.
    pub fn difference_count(&self) -> usize {
        self.projections
            .iter()
            .flat_map(|p| &p.tables)
            .map(|t| t.differences.len())
            .sum()
    }

    /// Every verified table equals its replay.
    pub fn is_consistent(&self) -> bool {
        self.difference_count() == 0
    }

    /// Every projection was verified.
    pub fn is_complete(&self) -> bool {
        self.undeclared.is_empty()
    }
}

/// Rebuilds every projection of [`projector::all`] into the scratch schema and compares
/// it with the live view, as the module documentation describes.
pub async fn verify(
    pool: &PgPool,
    keys: Keys,
    options: &VerifyOptions,
) -> Result<Report, VerifyError> {
    let projections = projector::all(keys);
    let target = wait_caught_up(pool, &projections, options.wait).await?;
    let (declared, undeclared): (Vec<_>, Vec<_>) =
        projections.iter().partition(|p| !p.tables().is_empty());
    let tables: Vec<&str> = declared.iter().flat_map(|p| p.tables()).copied().collect();
    scratch::create(pool, &options.schema, &tables).await?;
    let mut reports = Vec::new();
    let mut outcome = Ok(());
    for projection in declared {
        match verify_projection(pool, projection.as_ref(), options).await {
            Ok(report) => reports.push(report),
            Err(error) => {
                outcome = Err(error);
                break;
            }
        }
    }
    let dropped = scratch::drop_scratch(pool, &options.schema).await;
    if let Err(error) = &dropped {
        tracing::warn!(%error, schema = options.schema, "scratch schema not dropped");
    }
    outcome.and(dropped)?;
    Ok(Report {
        schema: options.schema.clone(),
        target,
        projections: reports,
        undeclared: undeclared.iter().map(|p| p.name().to_owned()).collect(),
    })
}

/// Waits until every projection's checkpoint reaches the store's last committed event
/// (as it was on entry), for at most `wait`; returns that event's cursor.
async fn wait_caught_up(
    pool: &PgPool,
    projections: &[std::sync::Arc<dyn Projection>],
    wait: Duration,
) -> Result<Cursor, VerifyError> {
    let target = FeedReader::new(pool.clone()).last_committed().await?;
    let started = Instant::now();
    for projection in projections {
        loop {
            let at = live_checkpoint(pool, projection.name()).await?;
            if at >= target {
                break;
            }
            if started.elapsed() >= wait {
                return Err(VerifyError::NotCaughtUp {
                    projection: projection.name().to_owned(),
                    checkpoint: at,
                    target,
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(CATCH_UP_POLL).await;
        }
    }
    Ok(target)
}

async fn live_checkpoint(pool: &PgPool, name: &str) -> Result<Cursor, sqlx::Error> {
    Ok(checkpoint::load(&mut *pool.acquire().await?, name)
        .await?
        .cursor)
}

/// Rebuilds `projection` up to its live checkpoint and compares, carrying the rebuild on
/// while the live view moves (up to `options.attempts` times).
async fn verify_projection(
    pool: &PgPool,
    projection: &dyn Projection,
    options: &VerifyOptions,
) -> Result<ProjectionReport, VerifyError> {
    let rebuild = RebuildOptions::into_schema(&options.schema, options.batch);
    let (mut rebuilt, mut replayed) = (Cursor::START, 0);
    for _ in 0..options.attempts {
        let live = live_checkpoint(pool, projection.name()).await?;
        replayed += replay::rebuild_range(pool, projection, rebuilt, live, &rebuild).await?;
        rebuilt = live;
        if let Some(tables) = compare_at(pool, projection, &options.schema, live).await? {
            return Ok(ProjectionReport {
                projection: projection.name().to_owned(),
                checkpoint: live,
                events_replayed: replayed,
                tables,
            });
        }
    }
    Err(VerifyError::KeptMoving {
        projection: projection.name().to_owned(),
        attempts: options.attempts,
    })
}

/// Compares every table of `projection` with its copy in `schema`, in one read-only
/// snapshot, if the live checkpoint in that snapshot is still `at`; `None` if it moved.
async fn compare_at(
    pool: &PgPool,
    projection: &dyn Projection,
    schema: &str,
    at: Cursor,
) -> Result<Option<Vec<TableReport>>, VerifyError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    if checkpoint::load(&mut tx, projection.name()).await?.cursor != at {
        return Ok(None);
    }
    let mut tables = Vec::new();
    for table in projection.tables() {
        scratch::check_identifier(table)?;
        let (live, replayed) = (
            format!("{LIVE_SCHEMA}.{table}"),
            format!("{schema}.{table}"),
        );
        tables.push(compare_table(&mut tx, table, &live, &replayed).await?);
    }
    tx.rollback().await?;
    Ok(Some(tables))
}
