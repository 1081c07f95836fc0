//! The relay: moves every committed event from the Postgres event store to the
//! JetStream events stream, in feed order, exactly once in the stream.
//!
//! - The events table is the outbox: commands only write Postgres, so they succeed
//!   while NATS is down, and the relay catches up when it returns.
//! - One relay is active at a time (advisory lock `relay`); others wait and take over
//!   when it dies.
//! - It reads with the commit-safe [`event_store::FeedReader`] and publishes with a
//!   window of acks in flight. Every message carries `Nats-Msg-Id` (the event id) and
//!   `Nats-Expected-Last-Sequence`: if any publish fails, every later one in the window
//!   fails too, so the stream can never hold a later event before an earlier one.
//! - On start and after any failure it resumes after the last event *in the stream*
//!   (read back from its last message), so a crash between publishing and saving its
//!   checkpoint republishes nothing. Its checkpoint row (`relay`) records progress for
//!   operators.

mod publish;

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream;
use event_bus::StreamConfig;
use event_store::checkpoint::{self, Checkpoint};
use event_store::leader::Leadership;
use event_store::reader::Wakeup;
use event_store::{Cursor, FeedReader, StoredEvent};
use sqlx::PgPool;

/// The checkpoint and lock name of the relay.
pub const ROLE: &str = "relay";

/// How the relay runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub stream: StreamConfig,
    /// Events read from Postgres per batch.
    pub batch_size: i64,
    /// Publishes awaiting their ack at once.
    pub ack_window: usize,
    /// How often to look for events when no notification arrives.
    pub poll_interval: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            stream: StreamConfig::default(),
            batch_size: 1000,
            ack_window: 512,
            poll_interval: Duration::from_millis(250),
        }
    }
}

/// Why a leadership term ended.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("postgres: {0}")]
    Postgres(#[from] sqlx::Error),
    #[error("nats: {0}")]
    Nats(String),
    #[error("the stream's last message is not an event: {0}")]
    ForeignMessage(String),
}

/// A relay process: waits for leadership, then publishes until shut down.
pub struct Relay {
    pool: PgPool,
    js: jetstream::Context,
    config: Config,
}

impl Relay {
    pub fn new(pool: PgPool, nats: async_nats::Client, config: Config) -> Self {
        Self {
            pool,
            js: jetstream::new(nats),
            config,
        }
    }

    /// Runs until `shutdown` completes. Failures (Postgres or NATS down) are logged and
    /// retried with a pause; they never end the loop.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                result = self.term() => {
                    if let Err(error) = result {
                        tracing::warn!(%error, "relay paused; retrying");
                    }
                    tokio::select! {
                        () = &mut shutdown => return,
                        () = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
            }
        }
    }

    /// One leadership term: take the lock, then publish until something fails.
    async fn term(&self) -> Result<(), RelayError> {
        let mut leadership =
            Leadership::acquire(&self.pool, ROLE, Duration::from_millis(500)).await?;
        let mut wakeup = Wakeup::listen(&self.pool).await?;
        let reader = FeedReader::new(self.pool.clone());
        let (mut cursor, mut last_sequence) = self.resume_point().await?;
        tracing::info!(
            feed.tx_id = cursor.tx_id,
            event.position = cursor.position,
            "relay resumes"
        );
        loop {
            let batch = reader.read_after(cursor, self.config.batch_size).await?;
            if batch.is_empty() {
                leadership.check().await?;
                wakeup.wait(self.config.poll_interval).await?;
                continue;
            }
            last_sequence =
                publish::in_order(&self.js, &batch, last_sequence, self.config.ack_window).await?;
            cursor = batch.last().map(StoredEvent::cursor).unwrap_or(cursor);
            self.save_progress(cursor, last_sequence).await?;
        }
    }

    /// Where to continue: after the event in the stream's last message, or from the start
    /// of the feed for an empty stream.
    async fn resume_point(&self) -> Result<(Cursor, u64), RelayError> {
        let stream = event_bus::ensure_stream(&self.js, &self.config.stream)
            .await
            .map_err(nats)?;
        let last_sequence = stream.get_info().await.map_err(nats)?.state.last_sequence;
        if last_sequence == 0 {
            return Ok((Cursor::START, 0));
        }
        let message = stream.get_raw_message(last_sequence).await.map_err(nats)?;
        let event: StoredEvent = serde_json::from_slice(&message.payload)
            .map_err(|e| RelayError::ForeignMessage(e.to_string()))?;
        Ok((event.cursor(), last_sequence))
    }

    async fn save_progress(&self, cursor: Cursor, stream_sequence: u64) -> Result<(), RelayError> {
        let mut conn = self.pool.acquire().await?;
        checkpoint::save(
            &mut conn,
            ROLE,
            Checkpoint {
                cursor,
                stream_sequence,
            },
        )
        .await?;
        Ok(())
    }
}

fn nats(error: impl std::fmt::Display) -> RelayError {
    RelayError::Nats(error.to_string())
}
