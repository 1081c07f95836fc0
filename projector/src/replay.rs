//! Replays: a projection rebuilt from the event store itself (not NATS), and the
//! comparison of a rebuilt table with the live one ("replay equals live").
//!
//! A rebuild can write somewhere other than the live tables without the projection
//! knowing: [`RebuildOptions::schema`] starts each of its transactions with
//! `SET LOCAL search_path`, so the projection's unqualified table names resolve to the
//! copies in that schema (the verifier's scratch tables).

use std::time::Duration;

use event_store::{Cursor, FeedReader};
use sqlx::{PgConnection, PgPool};

use crate::{Projection, ProjectionError};

/// How often a rebuild looks again while the feed is held back.
const HELD_BACK_POLL: Duration = Duration::from_millis(10);

/// How a rebuild writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildOptions {
    /// Events applied per transaction.
    pub batch: i64,
    /// When set, every transaction of the rebuild resolves unqualified names in this
    /// schema only (and `pg_catalog`): a table the projection writes but that the schema
    /// lacks is an error, never a write to the live table.
    pub schema: Option<String>,
}

impl RebuildOptions {
    /// Into the live tables (the `search_path` of the connection), `batch` events per
    /// transaction.
    pub fn live(batch: i64) -> Self {
        Self {
            batch,
            schema: None,
        }
    }

    /// Into the tables of `schema`, `batch` events per transaction.
    pub fn into_schema(schema: &str, batch: i64) -> Self {
        Self {
            batch,
            schema: Some(schema.to_owned()),
        }
    }
}

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
    let target = FeedReader::new(pool.clone()).last_committed().await?;
    let options = RebuildOptions::live(batch);
    rebuild_range(pool, projection, Cursor::START, target, &options).await
}

/// Applies the events after `from` up to and including `to`, in feed order, to
/// `projection`, as [`RebuildOptions`] says; waits while the feed is held back before
/// `to`. Called again with `from` set to the previous `to`, it carries a rebuild on
/// exactly where it stopped. Notices are dropped. Returns the number of events applied.
pub async fn rebuild_range(
    pool: &PgPool,
    projection: &dyn Projection,
    from: Cursor,
    to: Cursor,
    options: &RebuildOptions,
) -> Result<u64, ProjectionError> {
    let mut cursor = from;
    let mut applied = 0;
    while cursor < to {
        let (count, next) = rebuild_step(pool, projection, cursor, to, options).await?;
        applied += count;
        cursor = next;
    }
    Ok(applied)
}

/// One transaction of [`rebuild_range`]: applies up to `options.batch` events after
/// `cursor` and at or before `to`. Returns how many it applied and the cursor to carry
/// on from (`to` once it is reached). While the feed is held back it waits a moment and
/// applies nothing.
pub async fn rebuild_step(
    pool: &PgPool,
    projection: &dyn Projection,
    cursor: Cursor,
    to: Cursor,
    options: &RebuildOptions,
) -> Result<(u64, Cursor), ProjectionError> {
    let events = FeedReader::new(pool.clone())
        .read_after(cursor, options.batch)
        .await?;
    let Some(last) = events.last().map(|e| e.cursor()) else {
        tokio::time::sleep(HELD_BACK_POLL).await;
        return Ok((0, cursor));
    };
    let mut tx = pool.begin().await?;
    if let Some(schema) = &options.schema {
        set_search_path(&mut tx, schema).await?;
    }
    let within = events.iter().take_while(|e| e.cursor() <= to).count();
    projection.apply_batch(&mut tx, &events[..within]).await?;
    tx.commit().await?;
    Ok((within as u64, last.min(to)))
}

/// Makes `schema` the only schema unqualified names resolve in (with `pg_catalog`), until
/// the transaction ends.
pub async fn set_search_path(tx: &mut PgConnection, schema: &str) -> Result<(), sqlx::Error> {
    let sql = format!("SET LOCAL search_path TO {}", quote_identifier(schema));
    sqlx::query(&sql).execute(tx).await?;
    Ok(())
}

/// `name` as a quoted SQL identifier: safe whatever it holds.
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The rows that are in one of `live` and `replayed` but not in the other, as JSON
/// objects with a `"side"` key (`live` or `replayed`). Empty when they are equal.
/// Both names are table identifiers chosen by our code (schema-qualified or not).
pub async fn differences(
    pool: &PgPool,
    live: &str,
    replayed: &str,
) -> Result<Vec<serde_json::Value>, sqlx::Error> {
    differences_in(&mut *pool.acquire().await?, live, replayed).await
}

/// [`differences`] on one connection: inside the caller's transaction (and snapshot)
/// when it has one.
pub async fn differences_in(
    conn: &mut PgConnection,
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
    let rows: Vec<(serde_json::Value,)> = sqlx::query_as(&sql).fetch_all(conn).await?;
    Ok(rows.into_iter().map(|(row,)| row).collect())
}
