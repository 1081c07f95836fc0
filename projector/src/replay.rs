//! Replays: a projection rebuilt from the event store itself (not NATS), and the
//! comparison of a rebuilt table with the live one ("replay equals live").

use event_store::{Cursor, FeedReader, StoredEvent};
use sqlx::PgPool;

use crate::{Projection, ProjectionError};

/// Applies every event of the store, in feed order, to `projection` (whose tables must
/// start empty), in transactions of up to `batch` events. Notices are dropped: a replay
/// tells nobody anything. Returns the number of events read.
pub async fn rebuild(
    pool: &PgPool,
    projection: &dyn Projection,
    batch: i64,
) -> Result<u64, ProjectionError> {
    let reader = FeedReader::new(pool.clone());
    let head = reader.head().await?;
    let mut cursor = Cursor::START;
    let mut read = 0;
    while cursor < head {
        let events = reader.read_after(cursor, batch).await?;
        let Some(last) = events.last().map(StoredEvent::cursor) else {
            break;
        };
        let mut tx = pool.begin().await?;
        for event in events.iter().filter(|e| e.cursor() <= head) {
            projection.apply(&mut tx, event).await?;
            read += 1;
        }
        tx.commit().await?;
        cursor = last;
    }
    Ok(read)
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
