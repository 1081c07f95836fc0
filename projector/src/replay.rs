//! Replays: a projection rebuilt from the event store itself (not NATS), and the
//! comparison of a rebuilt table with the live one ("replay equals live").
//!
//! A rebuild can write somewhere other than the live tables without the projection
//! knowing: [`RebuildOptions::schema`] becomes the `search_path` of each of its
//! transactions (for that transaction only), so the projection's unqualified table names
//! resolve to the copies in that schema (the verifier's scratch tables).

use std::time::Duration;

use async_trait::async_trait;
use event_store::{Cursor, FeedReader, StoredEvent};
use futures::TryStreamExt;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use tokio::sync::mpsc;

use crate::{Projection, ProjectionError};

/// How often a rebuild looks again while the feed is held back.
const HELD_BACK_POLL: Duration = Duration::from_millis(10);

/// Batches read ahead of the one being applied.
const READ_AHEAD: usize = 2;

/// How a rebuild writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildOptions {
    /// Events read, and folded, at a time; also the most events applied per transaction
    /// by a projection that writes as it goes ([`Bulk`]'s default).
    pub batch: i64,
    /// The most rows a projection that folds across batches holds in memory before it
    /// writes them and commits ([`Projection::bulk`]).
    pub rows: usize,
    /// When set, every transaction of the rebuild resolves unqualified names in this
    /// schema only (and `pg_catalog`): a table the projection writes but that the schema
    /// lacks is an error, never a write to the live table.
    pub schema: Option<String>,
}

/// The default of [`RebuildOptions::rows`]: a few tens of megabytes of rows.
pub const DEFAULT_ROWS: usize = 50_000;

impl RebuildOptions {
    /// Into the live tables (the `search_path` of the connection), `batch` events per
    /// read.
    pub fn live(batch: i64) -> Self {
        Self {
            batch,
            rows: DEFAULT_ROWS,
            schema: None,
        }
    }

    /// Into the tables of `schema`, `batch` events per read.
    pub fn into_schema(schema: &str, batch: i64) -> Self {
        Self {
            batch,
            rows: DEFAULT_ROWS,
            schema: Some(schema.to_owned()),
        }
    }
}

/// A projection as a rebuild applies it: batch after batch of events folded in, inside
/// the rebuild's transaction, and written out when [`full`](Self::full) or at the end.
///
/// A projection whose rows take many events each (a user's profile) folds them in
/// memory across batches and writes each row once per window, not once per event; a
/// rebuild's intermediate states are seen by nobody, so it may. Events must leave the
/// tables as [`Projection::apply_batch`] of each batch in turn would, which the replay
/// tests and the verifier (a rebuild compared with the live view) check.
#[async_trait]
pub trait Bulk: Send {
    /// Folds `events`, in feed order, which follow those folded before.
    async fn fold(
        &mut self,
        tx: &mut PgConnection,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError>;

    /// Whether it holds enough to write now, and the rebuild should commit. The rebuild
    /// also commits, without a flush, after any batch whose fold wrote: a transaction
    /// that has written must not stay open across batches, but what is held in memory
    /// may.
    fn full(&self) -> bool;

    /// Writes what it holds; the rebuild commits right after.
    async fn flush(&mut self, tx: &mut PgConnection) -> Result<(), ProjectionError>;
}

/// [`Bulk`] for any projection: each batch through [`Projection::apply_batch`] (its
/// notices dropped: a replay tells nobody anything), a transaction per batch.
pub struct EachBatch<'a, P: ?Sized> {
    projection: &'a P,
    applied: bool,
}

impl<'a, P: ?Sized> EachBatch<'a, P> {
    pub fn new(projection: &'a P) -> Self {
        Self {
            projection,
            applied: false,
        }
    }
}

#[async_trait]
impl<P: Projection + ?Sized> Bulk for EachBatch<'_, P> {
    async fn fold(
        &mut self,
        tx: &mut PgConnection,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        self.projection.apply_batch(tx, events).await?;
        self.applied = true;
        Ok(())
    }

    fn full(&self) -> bool {
        self.applied
    }

    async fn flush(&mut self, _tx: &mut PgConnection) -> Result<(), ProjectionError> {
        self.applied = false;
        Ok(())
    }
}

/// Applies every event committed when it starts, in feed order, to `projection`
/// (whose tables must start empty). While an older transaction holds the feed back it
/// waits, so the rebuild reaches everything that had committed. Notices are dropped: a
/// replay tells nobody anything. Returns the number of events applied.
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
    rebuild_reporting(pool, projection, from, to, options, &mut |_| {}).await
}

/// [`rebuild_range`], calling `progress` with the number of events applied so far after
/// every batch.
///
/// The feed is read by a task of its own, one streamed query, [`READ_AHEAD`] batches
/// ahead, while the projection applies the batch before. Transactions commit
/// asynchronously (`synchronous_commit = off`): until a rebuild's tables are switched in
/// (a transaction of its own) or compared, nothing depends on them, and a crash leaves
/// them to be dropped.
pub async fn rebuild_reporting(
    pool: &PgPool,
    projection: &dyn Projection,
    from: Cursor,
    to: Cursor,
    options: &RebuildOptions,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<u64, ProjectionError> {
    if from >= to {
        return Ok(0);
    }
    let batch = usize::try_from(options.batch.max(1)).unwrap_or(usize::MAX);
    let mut batches = read_ahead(pool.clone(), from, to, batch);
    let mut bulk = projection.bulk(options);
    let mut tx = begin(pool, options).await?;
    let mut applied = 0;
    while let Some(events) = batches.recv().await {
        let events = events?;
        bulk.fold(&mut tx, &events).await?;
        applied += events.len() as u64;
        let full = bulk.full();
        if full {
            bulk.flush(&mut tx).await?;
        }
        if full || holds_back_the_feed(&mut tx).await? {
            tx.commit().await?;
            tx = begin(pool, options).await?;
        }
        progress(applied);
    }
    bulk.flush(&mut tx).await?;
    tx.commit().await?;
    Ok(applied)
}

/// Whether `tx` has written (has a transaction id). An open transaction that has written
/// holds back the feed of every reader on the server ([`FeedReader`]): the relay would
/// stop publishing while a rebuild folds. A rebuild therefore commits after any batch
/// whose folding wrote, and keeps only reads open across batches.
async fn holds_back_the_feed(tx: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_current_xact_id_if_assigned() IS NOT NULL")
        .fetch_one(tx)
        .await
}

/// A rebuild's transaction: asynchronous commit, names resolved in its schema (one
/// statement).
async fn begin(
    pool: &PgPool,
    options: &RebuildOptions,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let search_path = options.schema.as_deref().map(quote_identifier);
    sqlx::query(
        "SELECT set_config('synchronous_commit', 'off', true),
                set_config('search_path', coalesce($1, current_setting('search_path')), true)",
    )
    .bind(search_path)
    .execute(&mut *tx)
    .await?;
    Ok(tx)
}

/// The feed after `from` up to `to`, read by a task of its own in batches of `batch`, a
/// few ahead of the receiver. The task stops when the receiver is dropped.
fn read_ahead(
    pool: PgPool,
    from: Cursor,
    to: Cursor,
    batch: usize,
) -> mpsc::Receiver<Result<Vec<StoredEvent>, sqlx::Error>> {
    let (sender, batches) = mpsc::channel(READ_AHEAD);
    tokio::spawn(async move {
        if let Err(error) = read_range(&pool, from, to, batch, &sender).await {
            let _ = sender.send(Err(error)).await;
        }
    });
    batches
}

/// Sends the events after `from` up to `to`, in batches of up to `batch`; returns early,
/// without error, once nobody listens.
async fn read_range(
    pool: &PgPool,
    from: Cursor,
    to: Cursor,
    batch: usize,
    sender: &mpsc::Sender<Result<Vec<StoredEvent>, sqlx::Error>>,
) -> Result<(), sqlx::Error> {
    let reader = FeedReader::new(pool.clone());
    let mut cursor = from;
    while cursor < to {
        let mut events = reader.stream_range(cursor, to);
        let mut read = Vec::with_capacity(batch);
        let before = cursor;
        while let Some(event) = events.try_next().await? {
            cursor = event.cursor();
            read.push(event);
            if read.len() == batch {
                let full = std::mem::replace(&mut read, Vec::with_capacity(batch));
                if sender.send(Ok(full)).await.is_err() {
                    return Ok(());
                }
            }
        }
        if !read.is_empty() && sender.send(Ok(read)).await.is_err() {
            return Ok(());
        }
        if cursor == before {
            // Held back by an older transaction somewhere on the server: wait for it.
            tokio::time::sleep(HELD_BACK_POLL).await;
        }
    }
    Ok(())
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
