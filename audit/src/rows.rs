//! Events read straight from the `events` table, as [`StoredEvent`]s.

use chrono::{DateTime, Utc};
use event_store::{Cursor, Metadata, StoredEvent};
use sqlx::FromRow;
use uuid::Uuid;

/// The columns of a [`StoredEvent`], for `SELECT {EVENT_COLUMNS} FROM events`.
pub(crate) const EVENT_COLUMNS: &str =
    "position, tx_id::text::bigint AS tx_id, event_id, aggregate_type, aggregate_id, sequence,
     event_type, event_version, payload, metadata, recorded_at";

/// One row of `events`.
#[derive(FromRow)]
pub(crate) struct EventRow {
    position: i64,
    tx_id: i64,
    event_id: Uuid,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    payload: sqlx::types::Json<serde_json::Value>,
    metadata: sqlx::types::Json<serde_json::Value>,
    recorded_at: DateTime<Utc>,
}

impl From<EventRow> for StoredEvent {
    fn from(row: EventRow) -> Self {
        StoredEvent {
            position: row.position,
            tx_id: row.tx_id as u64,
            event_id: row.event_id,
            aggregate_type: row.aggregate_type,
            aggregate_id: row.aggregate_id,
            sequence: row.sequence,
            event_type: row.event_type,
            event_version: row.event_version,
            payload: row.payload.0,
            // Metadata written by other tools may hold other keys: keep what we know.
            metadata: serde_json::from_value::<Metadata>(row.metadata.0).unwrap_or_default(),
            recorded_at: row.recorded_at,
        }
    }
}

/// A cursor as the two values a query binds: the `tx_id` (cast back with
/// `$n::bigint::text::xid8`) and the position.
pub(crate) fn bind_cursor(cursor: Cursor) -> (i64, i64) {
    (cursor.tx_id as i64, cursor.position)
}
