//! Appending a command's events: one statement, one round trip.

use serde_json::Value;
use sqlx::PgPool;

use crate::codec::Encoded;
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
