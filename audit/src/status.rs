//! How far each reader of the feed (every projection, and the relay) has got, and how
//! far behind it is, in events and in seconds.

use event_store::checkpoint::{self, Checkpoint};
use event_store::{Cursor, FeedReader};
use personal_data::Keys;
use serde::Serialize;
use sqlx::PgPool;

use crate::rows::bind_cursor;

/// The store's end of the feed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StoreStatus {
    /// The last committed event: where every reader will be once caught up.
    pub last_committed: Cursor,
    /// The last event a reader can take now. Behind `last_committed` while an older
    /// write transaction is still open (the feed is held back).
    pub head: Cursor,
    /// Committed events past the readable head: what the held-back feed is holding.
    pub held_back_events: i64,
}

/// What kind of reader a checkpoint belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReaderKind {
    Projection,
    Relay,
}

/// One reader's progress.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReaderStatus {
    /// The checkpoint's name: the projection's name, or `relay`.
    pub name: String,
    pub kind: ReaderKind,
    /// The last event it applied (or published); the start of the feed when none.
    pub checkpoint: Cursor,
    /// Committed events after its checkpoint.
    pub lag_events: i64,
    /// Seconds since the oldest of those was recorded; 0 when there are none.
    pub lag_seconds: f64,
}

/// The store and every reader.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    pub store: StoreStatus,
    pub readers: Vec<ReaderStatus>,
}

impl Status {
    /// The most events any reader is behind.
    pub fn max_lag_events(&self) -> i64 {
        self.readers.iter().map(|r| r.lag_events).max().unwrap_or(0)
    }
}

/// The store's head and every projection of [`projector::all`] and the relay, in that
/// order (the relay first).
pub async fn status(pool: &PgPool) -> Result<Status, sqlx::Error> {
    let reader = FeedReader::new(pool.clone());
    let head = reader.head().await?;
    let store = StoreStatus {
        last_committed: reader.last_committed().await?,
        head,
        held_back_events: lag(pool, head).await?.0,
    };
    let mut readers = vec![reader_status(pool, relay::ROLE, ReaderKind::Relay).await?];
    for projection in projector::all(Keys::new(pool.clone())) {
        readers.push(reader_status(pool, projection.name(), ReaderKind::Projection).await?);
    }
    Ok(Status { store, readers })
}

/// The progress of the reader whose checkpoint is `name`.
pub async fn reader_status(
    pool: &PgPool,
    name: &str,
    kind: ReaderKind,
) -> Result<ReaderStatus, sqlx::Error> {
    let Checkpoint { cursor, .. } = checkpoint::load(&mut *pool.acquire().await?, name).await?;
    let (lag_events, lag_seconds) = lag(pool, cursor).await?;
    Ok(ReaderStatus {
        name: name.to_owned(),
        kind,
        checkpoint: cursor,
        lag_events,
        lag_seconds,
    })
}

/// The number of committed events after `after`, and the age in seconds of the oldest.
async fn lag(pool: &PgPool, after: Cursor) -> Result<(i64, f64), sqlx::Error> {
    let (tx_id, position) = bind_cursor(after);
    sqlx::query_as(
        "SELECT count(*),
                coalesce(extract(epoch FROM clock_timestamp() - min(recorded_at))::float8, 0)
           FROM events WHERE (tx_id, position) > ($1::bigint::text::xid8, $2)",
    )
    .bind(tx_id)
    .bind(position)
    .fetch_one(pool)
    .await
}
