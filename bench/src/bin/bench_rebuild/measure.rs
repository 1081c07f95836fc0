//! The timed runs: Postgres reading the feed alone (the baseline), and rebuilds of
//! projections from it into a scratch schema, as the verifier does them.

use std::time::{Duration, Instant};

use event_store::reader::{EventRow, EVENT_COLUMNS};
use event_store::{Cursor, FeedReader, StoredEvent};
use futures::TryStreamExt;
use personal_data::Keys;
use projector::replay::{self, RebuildOptions};
use projector::Projection;
use sqlx::PgPool;

/// One timed run: what, how many events, how long.
pub struct Timing {
    pub what: String,
    pub events: u64,
    pub elapsed: Duration,
}

impl Timing {
    pub fn rate(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }
}

/// The feed read as its readers read it: [`FeedReader::read_after`] in batches of `batch`,
/// every row made a [`StoredEvent`], nothing applied.
pub async fn read_in_batches(pool: &PgPool, batch: i64) -> anyhow::Result<Timing> {
    let reader = FeedReader::new(pool.clone());
    let started = Instant::now();
    let (mut cursor, mut events) = (Cursor::START, 0);
    loop {
        let read = reader.read_after(cursor, batch).await?;
        let Some(last) = read.last() else { break };
        cursor = last.cursor();
        events += read.len() as u64;
    }
    Ok(Timing {
        what: format!("read: feed in batches of {batch} (the baseline)"),
        events,
        elapsed: started.elapsed(),
    })
}

/// The same rows, in the same order, in one streamed query: no per-batch round trip.
pub async fn read_streamed(pool: &PgPool) -> anyhow::Result<Timing> {
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events ORDER BY events.tx_id, events.position");
    let started = Instant::now();
    let mut rows = sqlx::query_as::<_, EventRow>(&sql).fetch(pool);
    let mut events = 0;
    while let Some(row) = rows.try_next().await? {
        std::hint::black_box(StoredEvent::from(row));
        events += 1;
    }
    Ok(Timing {
        what: "read: one streamed query".into(),
        events,
        elapsed: started.elapsed(),
    })
}

/// The server's own scan of the same rows (payloads read, nothing sent): the floor.
pub async fn count_on_server(pool: &PgPool) -> anyhow::Result<Timing> {
    let started = Instant::now();
    let (events,): (i64,) = sqlx::query_as("SELECT count(*) FROM events WHERE payload::text <> ''")
        .fetch_one(pool)
        .await?;
    Ok(Timing {
        what: "read: count(*) on the server (no order)".into(),
        events: events as u64,
        elapsed: started.elapsed(),
    })
}

/// Postgres writing `count` rows of `chat_messages` into a fresh copy of the table, in
/// one `INSERT … SELECT` (no client, no decoding, nothing read): the floor under a
/// rebuild of the chat view, which must write a row per message into the same indexes.
pub async fn insert_messages_on_server(pool: &PgPool, count: i64) -> anyhow::Result<Timing> {
    let schema = audit::scratch::scratch_name();
    audit::scratch::create(pool, &schema, &["chat_messages"]).await?;
    let started = Instant::now();
    let inserted = sqlx::query(&format!(
        "INSERT INTO {schema}.chat_messages
                (conversation_id, seq, message_id, sender_id, text, sent_at, position)
         SELECT '5f0c0f7e-6a43-4a8e-9d7e-2b1f6f0d3c11', g, gen_random_uuid(),
                $2, 'A message of about the usual length, sent.', now(), g
           FROM generate_series(1, $1) AS g"
    ))
    .bind(count)
    .bind(crate::seed::user_id(0))
    .execute(pool)
    .await;
    let elapsed = started.elapsed();
    audit::scratch::drop_scratch(pool, &schema).await?;
    Ok(Timing {
        what: "write: chat_messages rows on the server".into(),
        events: inserted?.rows_affected(),
        elapsed,
    })
}

/// `projection` rebuilt from the whole feed into the scratch `schema`, `batch` events
/// per transaction, with fresh keys (an empty key cache, as in a new verifier).
pub async fn rebuild(
    pool: &PgPool,
    projection: &dyn Projection,
    schema: &str,
    batch: i64,
) -> anyhow::Result<Timing> {
    let to = FeedReader::new(pool.clone()).last_committed().await?;
    let options = RebuildOptions::into_schema(schema, batch);
    let started = Instant::now();
    let events = replay::rebuild_range(pool, projection, Cursor::START, to, &options).await?;
    Ok(Timing {
        what: format!("rebuild: {} (batch {batch})", projection.name()),
        events,
        elapsed: started.elapsed(),
    })
}

/// The projections benchmarked, each with keys of its own.
pub fn projections(pool: &PgPool, names: &[String]) -> Vec<Box<dyn Projection>> {
    names
        .iter()
        .filter_map(|name| -> Option<Box<dyn Projection>> {
            let keys = Keys::new(pool.clone());
            match name.as_str() {
                "users" => Some(Box::new(projector::users::Users::new(keys))),
                "notices" => Some(Box::new(projector::notices::Notices::new(keys))),
                "chat" => Some(Box::new(projector::chat::Chat::new(keys))),
                _ => None,
            }
        })
        .collect()
}
