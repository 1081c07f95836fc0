//! The feed: every committed event, in commit-safe order, never skipping one.
//!
//! Positions are taken at insert but transactions commit out of order, so "position
//! greater than the last one read" would pass over an event that commits late. The
//! reader orders by `(tx_id, position)` and reads only events whose transaction is
//! below `pg_snapshot_xmin(pg_current_snapshot())`: every such transaction has ended,
//! and any transaction still running, or yet to start, has a larger `tx_id`. The price:
//! one long write transaction holds the feed back until it ends.

use std::sync::LazyLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use futures::StreamExt;
use sqlx::postgres::PgListener;
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

use crate::{Cursor, Metadata, StoredEvent};

/// The channel the `events` insert trigger notifies.
pub const EVENTS_CHANNEL: &str = "events_appended";

/// The columns of a [`StoredEvent`], for `SELECT {EVENT_COLUMNS} FROM events`, read as an
/// [`EventRow`]. Their `tx_id` is a bigint: an `ORDER BY tx_id` beside them sorts by that
/// output column, not by the indexed `xid8`, so queries order by `events.tx_id`.
pub const EVENT_COLUMNS: &str = "position, tx_id::text::bigint AS tx_id, event_id, aggregate_type,
        aggregate_id, sequence, event_type, event_version, payload, metadata, recorded_at";

/// Reads the feed in batches.
#[derive(Debug, Clone)]
pub struct FeedReader {
    pool: PgPool,
}

/// One row of `events`, selected with [`EVENT_COLUMNS`]; becomes a [`StoredEvent`].
#[derive(FromRow)]
pub struct EventRow {
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

impl FeedReader {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Up to `limit` events after `after`, in feed order, from finished transactions only.
    pub async fn read_after(
        &self,
        after: Cursor,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, sqlx::Error> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events
              WHERE (tx_id, position) > ($1::bigint::text::xid8, $2)
                AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
              ORDER BY events.tx_id, events.position
              LIMIT $3"
        );
        let rows: Vec<EventRow> = sqlx::query_as(&sql)
            .bind(after.tx_id as i64)
            .bind(after.position)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(StoredEvent::from).collect())
    }

    /// The events after `after` up to and including `to`, in feed order, from finished
    /// transactions only, as one streamed query: what a replay reads, without a round
    /// trip per batch. The stream ends early where an older transaction holds the feed
    /// back; read again from the last event it gave.
    pub fn stream_range(
        &self,
        after: Cursor,
        to: Cursor,
    ) -> BoxStream<'_, Result<StoredEvent, sqlx::Error>> {
        static RANGE: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {EVENT_COLUMNS} FROM events
                  WHERE (tx_id, position) > ($1::bigint::text::xid8, $2)
                    AND (tx_id, position) <= ($3::bigint::text::xid8, $4)
                    AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
                  ORDER BY events.tx_id, events.position"
            )
        });
        sqlx::query_as::<_, EventRow>(RANGE.as_str())
            .bind(after.tx_id as i64)
            .bind(after.position)
            .bind(to.tx_id as i64)
            .bind(to.position)
            .fetch(&self.pool)
            .map(|row| row.map(StoredEvent::from))
            .boxed()
    }

    /// The event at `position`, if it exists and has committed.
    pub async fn event_at(&self, position: i64) -> Result<Option<StoredEvent>, sqlx::Error> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE position = $1");
        let row: Option<EventRow> = sqlx::query_as(&sql)
            .bind(position)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(StoredEvent::from))
    }

    /// The feed cursor of the event at `position`, if it exists and has committed.
    pub async fn cursor_of(&self, position: i64) -> Result<Option<Cursor>, sqlx::Error> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT tx_id::text::bigint FROM events WHERE position = $1")
                .bind(position)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(tx_id,)| Cursor {
            tx_id: tx_id as u64,
            position,
        }))
    }

    /// The cursor of the last committed event: where the feed will have reached once
    /// every transaction older than it has ended. A lag is measured against this.
    pub async fn last_committed(&self) -> Result<Cursor, sqlx::Error> {
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT tx_id::text::bigint, position FROM events
              ORDER BY events.tx_id DESC, events.position DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map_or(Cursor::START, |(tx_id, position)| Cursor {
            tx_id: tx_id as u64,
            position,
        }))
    }

    /// The cursor of the last event a reader can take now (the readable head). It lags
    /// [`Self::last_committed`] while an older write transaction, in any database of the
    /// server (`xmin` is server-wide), is still open.
    pub async fn head(&self) -> Result<Cursor, sqlx::Error> {
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT tx_id::text::bigint, position FROM events
              WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot())
              ORDER BY events.tx_id DESC, events.position DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map_or(Cursor::START, |(tx_id, position)| Cursor {
            tx_id: tx_id as u64,
            position,
        }))
    }
}

/// Wakes a reader when events commit, through Postgres LISTEN/NOTIFY.
pub struct Wakeup {
    listener: PgListener,
}

impl Wakeup {
    /// Listens on [`EVENTS_CHANNEL`] with a connection of its own.
    pub async fn listen(pool: &PgPool) -> Result<Self, sqlx::Error> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(EVENTS_CHANNEL).await?;
        Ok(Self { listener })
    }

    /// Returns when events were appended, or after `fallback` (a poll: a notification can
    /// be missed while reconnecting, and rolled-back writers that held the feed back
    /// send none). Drains notifications already queued so a burst wakes once.
    pub async fn wait(&mut self, fallback: Duration) -> Result<(), sqlx::Error> {
        match tokio::time::timeout(fallback, self.listener.try_recv()).await {
            Ok(Ok(_)) | Err(_) => {}
            Ok(Err(e)) => return Err(e),
        }
        while self.listener.next_buffered().is_some() {}
        Ok(())
    }
}
