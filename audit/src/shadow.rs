//! Rebuilding one projection without downtime: the new version of its tables is built
//! beside the live ones (shadow tables), catches up, and replaces them atomically while
//! the projector keeps running and queries keep answering.
//!
//! The steps, and why they are safe:
//! 1. A shadow schema gets an empty copy of each table of the projection (indexes renamed
//!    to the live names, grants copied) and of every other view table, empty, so that a
//!    projection reading another view resolves it in the shadow schema too.
//! 2. The projection's own code rebuilds the copies from the store, in batches, up to
//!    the live checkpoint, and chases it while the live projector moves on. It never goes
//!    past the live checkpoint: the live runner carries on from that checkpoint after the
//!    switch, so an event applied beyond it would be applied twice.
//! 3. The switch is one transaction: lock the projection's checkpoint row (the runner's
//!    next batch waits on it, before touching any view table), apply the last few events
//!    to the shadow tables, move the live tables to a retired schema and the shadow ones
//!    to `public`. Queries wait for the table locks a few milliseconds, never fail, and see
//!    either the old tables or the new ones. Postgres re-plans prepared statements after
//!    the move, so every connection reads the new tables from then on.
//! 4. The retired tables are dropped (or kept, on request, for a look or a way back).

use std::time::Duration;

use event_store::checkpoint;
use event_store::{Cursor, FeedReader};
use projector::replay::{self, quote_identifier, RebuildOptions};
use projector::{Projection, ProjectionError};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use crate::scratch::{self, check_identifier, LIVE_SCHEMA};

/// Chase the live checkpoint until the shadow is this close before switching: the
/// switch applies the rest while the projection waits.
const CLOSE_ENOUGH: i64 = 1000;

/// How often the switch looks again while the feed is held back.
const HELD_BACK_POLL: Duration = Duration::from_millis(10);

/// How a shadow rebuild runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShadowOptions {
    /// Events read at a time (and applied per transaction by projections that do not
    /// fold across batches).
    pub batch: i64,
    /// The schema the shadow tables are built in.
    pub schema: String,
    /// The schema the replaced live tables are moved to.
    pub retired: String,
    /// Keep the retired tables instead of dropping them.
    pub keep_old: bool,
    /// How long the switch waits for the table locks before it lets queries go and tries
    /// again (queries queue behind a waiting lock, so keep this short).
    pub lock_timeout: Duration,
    /// Switches tried before giving up.
    pub attempts: u32,
}

impl Default for ShadowOptions {
    fn default() -> Self {
        let id = scratch::scratch_name();
        let id = id.trim_start_matches("verify_");
        Self {
            batch: 1000,
            schema: format!("shadow_{id}"),
            retired: format!("retired_{id}"),
            keep_old: false,
            lock_timeout: Duration::from_secs(2),
            attempts: 10,
        }
    }
}

/// Where a rebuild stands, reported after every batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub phase: Phase,
    /// Events applied so far.
    pub applied: u64,
    /// Events to apply to reach the live checkpoint as last seen.
    pub total: u64,
}

/// The stages of a rebuild.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Replaying the history into the shadow tables.
    Building,
    /// Replacing the live tables.
    Switching,
}

/// What a finished rebuild did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShadowReport {
    pub projection: String,
    pub tables: Vec<String>,
    pub events_replayed: u64,
    /// The checkpoint at which the new tables replaced the old ones.
    pub switched_at: Cursor,
    /// Where the old tables are, when kept.
    pub retired_schema: Option<String>,
}

/// Why a rebuild did not replace the live tables (which are then untouched).
#[derive(Debug, thiserror::Error)]
pub enum ShadowError {
    #[error("no projection is named {0:?}")]
    UnknownProjection(String),
    #[error("projection {0} declares no tables (Projection::tables)")]
    Undeclared(String),
    #[error("table {table}: {reason}")]
    Unsupported { table: String, reason: &'static str },
    #[error("the switch did not get its locks in {attempts} attempts; try again when queries are shorter")]
    Locked { attempts: u32 },
    #[error(transparent)]
    Scratch(#[from] crate::verify::VerifyError),
    #[error("postgres: {0}")]
    Postgres(#[from] sqlx::Error),
    #[error("rebuild: {0}")]
    Projection(#[from] ProjectionError),
}

/// Rebuilds the projection named `name`, one of `projections`, as the module
/// documentation describes, calling `progress` after every batch.
pub async fn rebuild(
    pool: &PgPool,
    projections: &[std::sync::Arc<dyn Projection>],
    name: &str,
    options: &ShadowOptions,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<ShadowReport, ShadowError> {
    let projection = projections
        .iter()
        .find(|p| p.name() == name)
        .ok_or_else(|| ShadowError::UnknownProjection(name.to_owned()))?;
    let tables = projection.tables();
    if tables.is_empty() {
        return Err(ShadowError::Undeclared(name.to_owned()));
    }
    let every_table: Vec<&str> = projections
        .iter()
        .flat_map(|p| p.tables())
        .copied()
        .collect();
    scratch::create(pool, &options.schema, &every_table).await?;
    let outcome = prepare_and_switch(pool, projection.as_ref(), options, progress).await;
    cleanup(pool, options, outcome.is_ok()).await;
    let (switched_at, events_replayed) = outcome?;
    Ok(ShadowReport {
        projection: name.to_owned(),
        tables: tables.iter().map(|t| (*t).to_owned()).collect(),
        events_replayed,
        switched_at,
        retired_schema: options.keep_old.then(|| options.retired.clone()),
    })
}

async fn prepare_and_switch(
    pool: &PgPool,
    projection: &dyn Projection,
    options: &ShadowOptions,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<(Cursor, u64), ShadowError> {
    for table in projection.tables() {
        scratch::check_supported(pool, table).await?;
        scratch::match_live(pool, &options.schema, table).await?;
    }
    let mut shadow = Building {
        cursor: Cursor::START,
        applied: 0,
        total: 0,
    };
    for _ in 0..options.attempts {
        shadow.chase(pool, projection, options, progress).await?;
        progress(shadow.progress(Phase::Switching));
        if let Some(at) = switch(pool, projection, options, &mut shadow).await? {
            return Ok((at, shadow.applied));
        }
    }
    Err(ShadowError::Locked {
        attempts: options.attempts,
    })
}

/// The shadow tables' progress.
struct Building {
    cursor: Cursor,
    applied: u64,
    total: u64,
}

impl Building {
    fn progress(&self, phase: Phase) -> Progress {
        Progress {
            phase,
            applied: self.applied,
            total: self.total.max(self.applied),
        }
    }

    /// Rebuilds up to the live checkpoint, again and again, until it is close behind.
    async fn chase(
        &mut self,
        pool: &PgPool,
        projection: &dyn Projection,
        options: &ShadowOptions,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<(), ShadowError> {
        let rebuild = RebuildOptions::into_schema(&options.schema, options.batch);
        loop {
            let live = live_checkpoint(pool, projection.name()).await?;
            let behind = events_between(pool, self.cursor, live).await?;
            self.total = self.applied + behind as u64;
            if behind <= CLOSE_ENOUGH {
                return Ok(());
            }
            let before = self.applied;
            let total = self.total;
            let mut report = |applied: u64| {
                progress(Progress {
                    phase: Phase::Building,
                    applied: before + applied,
                    total: total.max(before + applied),
                })
            };
            let applied = replay::rebuild_reporting(
                pool,
                projection,
                self.cursor,
                live,
                &rebuild,
                &mut report,
            )
            .await?;
            (self.applied, self.cursor) = (before + applied, live);
            progress(self.progress(Phase::Building));
        }
    }
}

/// The switch, in one transaction; `None` when it did not get its locks in time (then
/// nothing of it happened, and `shadow` is where it was).
async fn switch(
    pool: &PgPool,
    projection: &dyn Projection,
    options: &ShadowOptions,
    shadow: &mut Building,
) -> Result<Option<Cursor>, ShadowError> {
    let mut tx = pool.begin().await?;
    let timeout = format!(
        "SET LOCAL lock_timeout = {}",
        options.lock_timeout.as_millis()
    );
    sqlx::query(&timeout).execute(&mut *tx).await?;
    let schema = &options.schema;
    let result = async {
        let live = checkpoint::lock(&mut tx, projection.name()).await?.cursor;
        let applied = catch_up(&mut tx, pool, projection, schema, shadow.cursor, live).await?;
        swap_tables(&mut tx, projection.tables(), options).await?;
        Ok::<_, ShadowError>((live, applied))
    }
    .await;
    match result {
        Ok((live, applied)) => {
            tx.commit().await?;
            (shadow.cursor, shadow.applied) = (live, shadow.applied + applied);
            Ok(Some(live))
        }
        Err(ShadowError::Postgres(e)) if is_lock_timeout(&e) => Ok(None),
        Err(other) => Err(other),
    }
}

fn is_lock_timeout(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some("55P03"))
}

/// Applies the events after `from` up to `to` to the shadow tables, inside `tx`.
async fn catch_up(
    tx: &mut PgConnection,
    pool: &PgPool,
    projection: &dyn Projection,
    schema: &str,
    from: Cursor,
    to: Cursor,
) -> Result<u64, ShadowError> {
    replay::set_search_path(tx, schema).await?;
    let reader = FeedReader::new(pool.clone());
    let (mut cursor, mut applied) = (from, 0);
    while cursor < to {
        let events = reader.read_after(cursor, 1000).await?;
        let Some(last) = events.last().map(|e| e.cursor()) else {
            // Held back by an older transaction somewhere on the server: wait for it.
            tokio::time::sleep(HELD_BACK_POLL).await;
            continue;
        };
        let within = events.iter().take_while(|e| e.cursor() <= to).count();
        projection.apply_batch(tx, &events[..within]).await?;
        applied += within as u64;
        cursor = last.min(to);
    }
    sqlx::query("SET LOCAL search_path TO DEFAULT")
        .execute(tx)
        .await?;
    Ok(applied)
}

/// Moves the live tables to the retired schema and the shadow tables to the live one.
async fn swap_tables(
    tx: &mut PgConnection,
    tables: &[&str],
    options: &ShadowOptions,
) -> Result<(), ShadowError> {
    check_identifier(&options.retired)?;
    let (shadow, retired) = (&options.schema, &options.retired);
    sqlx::query(&format!("CREATE SCHEMA {}", quote_identifier(retired)))
        .execute(&mut *tx)
        .await?;
    for table in tables {
        check_identifier(table)?;
        for sql in [
            format!("ALTER TABLE {LIVE_SCHEMA}.{table} SET SCHEMA {retired}"),
            format!("ALTER TABLE {shadow}.{table} SET SCHEMA {LIVE_SCHEMA}"),
        ] {
            sqlx::query(&sql).execute(&mut *tx).await?;
        }
    }
    Ok(())
}

async fn live_checkpoint(pool: &PgPool, name: &str) -> Result<Cursor, sqlx::Error> {
    Ok(checkpoint::load(&mut *pool.acquire().await?, name)
        .await?
        .cursor)
}

/// The number of events after `from` up to and including `to`.
async fn events_between(pool: &PgPool, from: Cursor, to: Cursor) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM events
          WHERE (tx_id, position) > ($1::bigint::text::xid8, $2)
            AND (tx_id, position) <= ($3::bigint::text::xid8, $4)",
    )
    .bind(from.tx_id as i64)
    .bind(from.position)
    .bind(to.tx_id as i64)
    .bind(to.position)
    .fetch_one(pool)
    .await
}

/// Drops the shadow schema (after a switch it holds only the empty context tables) and,
/// unless kept, the retired one. Failures are logged: the rebuild's outcome stands.
async fn cleanup(pool: &PgPool, options: &ShadowOptions, switched: bool) {
    let mut schemas = vec![&options.schema];
    if !(switched && options.keep_old) {
        schemas.push(&options.retired);
    }
    for schema in schemas {
        if let Err(error) = scratch::drop_scratch(pool, schema).await {
            tracing::warn!(%error, schema, "schema not dropped");
        }
    }
}
