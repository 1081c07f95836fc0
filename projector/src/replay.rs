//! Replays: a projection rebuilt from the event store itself (not NATS), and the
//! comparison of a rebuilt table with the live one ("replay equals live").

use std::time::Duration;

use event_store::{Cursor, FeedReader, StoredEvent};
use sqlx::PgPool;

/// How often a rebuild looks again while the feed is held back.
const HELD_BACK_POLL: Duration = Duration::from_millis(10);

use crate::{Projection, ProjectionError};

/// Applies every event committed when it starts, in feed order, to `projection`
/// (whose tables must start empty), in transactions of up to `batch` events. While an
/// older transaction holds the feed back it waits, so the rebuild reaches everything
/// that had committed. Notices are dropped: a replay tells nobody anything. Returns the
/// number of events applied.
pub async fn rebuild(
    pool: &PgPool,
    projection: &dyn Projection,
    batch: i64,
) -> Result<u64, ProjectionError> {
    let reader = FeedReader::new(pool.clone());
    let target = reader.last_committed().await?;
    let mut cursor = Cursor::START;
    let mut applied = 0;
    while cursor < target {
        let events = reader.read_after(cursor, batch).await?;
        if events.is_empty() {
            tokio::time::sleep(HELD_BACK_POLL).await;
            continue;
        }
        let mut tx = pool.begin().await?;
        for event in events.iter().filter(|e| e.cursor() <= target) {
            projection.apply(&mut tx, event).await?;
            applied += 1;
        }
        tx.commit().await?;
        cursor = events.last().map_or(cursor, StoredEvent::cursor);
    }
    Ok(applied)
}

/// The rows that are in one of `live` and `replayed` but not in the other, as JSON
/// objects with a `"side"` key (`live` or `replayed`). Empty when they are equal.
/// Both names are table identifiers chosen by our code.
pub async fn differences(
    pool: &PgPool,
    live: &str,
    replayed: &str,
) -> Result<Vec<serde_json::Value>, sqlx::Error> {
    let sql = format!(
        "SELECT to_jsonb(d.*) FROM (
            (SELECT 'live' AS side, * FROM (SELECT * FROM {live} EXCEPT SELECT * FROM {replayed}) a)
            UNION ALL
            (SELECT 'replayed' AS side, * FROM (SELECT * FROM {replayed} EXCEPT SELECT * FROM {live}) b)
         ) d"
    );
    let rows: Vec<(serde_json::Value,)> = sqlx::query_as(&sql).fetch_all(pool).await?;
    Ok(rows.into_iter().map(|(row,)| row).collect())
}
