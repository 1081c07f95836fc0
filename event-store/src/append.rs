//! Appending a command's events: one statement, one round trip; then telling readers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::Value;
use sqlx::PgPool;

use crate::codec::Encoded;
use crate::reader::EVENTS_CHANNEL;
use crate::Metadata;

/// Why an append did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Another command appended to this aggregate first: reload and decide again.
    #[error("another command changed this aggregate first")]
    Conflict,
    #[error("event store: {0}")]
    Store(#[from] sqlx::Error),
}

/// What the store assigned to one appended event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub sequence: i64,
    pub position: i64,
}

/// Appends `events` to one aggregate's stream, the first at `first_sequence`, all in one
/// statement (so one implicit transaction). A taken sequence number is a [`AppendError::Conflict`].
pub async fn append(
    pool: &PgPool,
    aggregate_type: &str,
    aggregate_id: &str,
    first_sequence: i64,
    events: &[Encoded],
    metadata: &Metadata,
) -> Result<Vec<Appended>, AppendError> {
    let sequences: Vec<i64> = (first_sequence..).take(events.len()).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let versions: Vec<&str> = events.iter().map(|e| e.event_version.as_str()).collect();
    let payloads: Vec<String> = events.iter().map(|e| e.payload.to_string()).collect();
    let metadata = serde_json::to_string(metadata).unwrap_or_else(|_| Value::Null.to_string());
    let rows: Result<Vec<(i64, i64)>, sqlx::Error> = sqlx::query_as(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         SELECT $1, $2, e.sequence, e.event_type, e.event_version, e.payload::json, $7::json
           FROM UNNEST($3::bigint[], $4::text[], $5::text[], $6::text[])
                AS e(sequence, event_type, event_version, payload)
         RETURNING sequence, position",
    )
    .bind(aggregate_type)
    .bind(aggregate_id)
    .bind(&sequences)
    .bind(&types)
    .bind(&versions)
    .bind(&payloads)
    .bind(metadata)
    .fetch_all(pool)
    .await;
    let mut appended: Vec<Appended> = rows
        .map_err(conflict_or_store)?
        .into_iter()
        .map(|(sequence, position)| Appended { sequence, position })
        .collect();
    appended.sort_by_key(|a| a.sequence);
    Ok(appended)
}

fn conflict_or_store(error: sqlx::Error) -> AppendError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => AppendError::Conflict,
        _ => AppendError::Store(error),
    }
}

/// Wakes the feed's readers (the relay, replays: [`crate::reader::Wakeup`]) after appends,
/// with a `NOTIFY` of its own, outside the appending transactions.
///
/// A `NOTIFY` inside an appending transaction (a trigger on `events`, as before) made
/// every such commit take one server-wide lock and hold it until its commit record was on
/// disk: commits could no longer share a flush. At 32 clients pgbench's inserts ran at
/// 455 per second with the trigger and 9,491 without it (docs/PERFORMANCE.md). Here the
/// notification has a transaction of its own, committed without waiting for the disk (a
/// lost wake-up costs a reader one poll interval, never an event), sent in the background
/// so that no command waits for it, and coalesced: appends made while one is on its way
/// are told by the next one.
#[derive(Debug, Clone)]
pub struct AppendSignal {
    inner: Arc<Signal>,
}

#[derive(Debug)]
struct Signal {
    pool: PgPool,
    /// An append happened that no notification sent since tells.
    pending: AtomicBool,
    /// A task is sending notifications.
    sending: AtomicBool,
}

impl AppendSignal {
    pub fn new(pool: PgPool) -> Self {
        Self {
            inner: Arc::new(Signal {
                pool,
                pending: AtomicBool::new(false),
                sending: AtomicBool::new(false),
            }),
        }
    }

    /// Events were appended (and committed): readers will be told, soon.
    pub fn appended(&self) {
        self.inner.pending.store(true, Ordering::SeqCst);
        if !self.inner.sending.swap(true, Ordering::SeqCst) {
            tokio::spawn(send_while_pending(Arc::clone(&self.inner)));
        }
    }
}

/// Sends one notification per round of appends until none is pending. An append that
/// lands just as the task stops finds `sending` false and starts another.
async fn send_while_pending(signal: Arc<Signal>) {
    loop {
        while signal.pending.swap(false, Ordering::SeqCst) {
            if let Err(error) = notify(&signal.pool).await {
                tracing::debug!(%error, "readers not woken; they poll");
            }
        }
        signal.sending.store(false, Ordering::SeqCst);
        if !signal.pending.load(Ordering::SeqCst) || signal.sending.swap(true, Ordering::SeqCst) {
            return;
        }
    }
}

async fn notify(pool: &PgPool) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL synchronous_commit = off")
        .execute(&mut *tx)
        .await?;
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(EVENTS_CHANNEL)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}
