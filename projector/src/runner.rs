//! Runs one projection: leadership, a durable consumer reset from the checkpoint,
//! batches applied in one transaction each.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::{self, stream::Stream, Message};
use event_bus::StreamConfig;
use event_store::checkpoint::{self, Checkpoint};
use event_store::leader::Leadership;
use event_store::StoredEvent;
use futures::{FutureExt, StreamExt};
use sqlx::PgPool;

use crate::notices::{self, Publication};
use crate::{Projection, ProjectionError};

/// How a projection runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub stream: StreamConfig,
    /// Most events applied in one transaction.
    pub batch_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            stream: StreamConfig::default(),
            batch_size: 500,
        }
    }
}

/// Why a leadership term ended; the runner pauses and starts again from its checkpoint.
#[derive(Debug, thiserror::Error)]
enum TermError {
    #[error("postgres: {0}")]
    Postgres(#[from] sqlx::Error),
    #[error("nats: {0}")]
    Nats(String),
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    /// Another runner moved the checkpoint (a previous leader's last commit landed late).
    #[error("checkpoint moved under this runner: {0:?}")]
    Superseded(Checkpoint),
}

fn nats(error: impl std::fmt::Display) -> TermError {
    TermError::Nats(error.to_string())
}

/// Runs `projection` until shut down.
pub struct Runner {
    pool: PgPool,
    nats: async_nats::Client,
    js: jetstream::Context,
    projection: Arc<dyn Projection>,
    config: Config,
}

impl Runner {
    pub fn new(
        pool: PgPool,
        nats: async_nats::Client,
        projection: Arc<dyn Projection>,
        config: Config,
    ) -> Self {
        let js = jetstream::new(nats.clone());
        Self {
            pool,
            nats,
            js,
            projection,
            config,
        }
    }

    /// Runs until `shutdown` completes. Stopping between or inside a batch is safe: a
    /// batch commits whole or not at all, and is taken again from the checkpoint.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                Err(error) = self.term() => {
                    tracing::warn!(%error, projection = self.projection.name(), "projection paused; retrying");
                    tokio::select! {
                        () = &mut shutdown => return,
                        () = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
            }
        }
    }

    async fn term(&self) -> Result<(), TermError> {
        let name = self.projection.name();
        let _leadership = Leadership::acquire(
            &self.pool,
            &format!("projection:{name}"),
            Duration::from_millis(500),
        )
        .await?;
        let mut checkpoint = checkpoint::load(&mut *self.pool.acquire().await?, name).await?;
        let stream = event_bus::ensure_stream(&self.js, &self.config.stream)
            .await
            .map_err(nats)?;
        let start = start_sequence(&stream, checkpoint).await;
        tracing::info!(
            projection = name,
            stream.sequence = start,
            "projection resumes"
        );
        let consumer = recreate_consumer(&stream, name, start).await?;
        let mut messages = consumer.messages().await.map_err(nats)?;
        let mut publication = if self.projection.tells() {
            Some(Publication::resume(&self.pool, &self.nats, name, checkpoint.cursor).await)
        } else {
            None
        };
        loop {
            let batch = next_batch(&mut messages, self.config.batch_size).await?;
            checkpoint = self
                .apply_batch(&batch, checkpoint, publication.as_mut())
                .await?;
        }
    }

    /// Applies `batch` after `checkpoint` in one transaction, acks it, then publishes
    /// its notices. Returns the new checkpoint.
    async fn apply_batch(
        &self,
        batch: &[Message],
        mut checkpoint: Checkpoint,
        publication: Option<&mut Publication>,
    ) -> Result<Checkpoint, TermError> {
        let mut tx = self.pool.begin().await?;
        let stored = checkpoint::lock(&mut tx, self.projection.name()).await?;
        if stored != checkpoint {
            return Err(TermError::Superseded(stored));
        }
        let mut events = Vec::with_capacity(batch.len());
        for message in batch {
            let stream_sequence = message.info().map_err(nats)?.stream_sequence;
            match serde_json::from_slice::<StoredEvent>(&message.payload) {
                Ok(event) if event.cursor() > checkpoint.cursor => {
                    checkpoint.cursor = event.cursor();
                    events.push(event);
                }
                Ok(_) => {} // applied before: a redelivery
                Err(error) => {
                    tracing::error!(%error, stream.sequence = stream_sequence, "not an event; skipped")
                }
            }
            checkpoint.stream_sequence = stream_sequence;
        }
        let addressed = self.projection.apply_batch(&mut tx, &events).await?;
        notices::store(&mut tx, &addressed).await?;
        checkpoint::save(&mut tx, self.projection.name(), checkpoint).await?;
        tx.commit().await?;
        if let Some(last) = batch.last() {
            // AckPolicy::All: the last ack covers the batch. A lost ack is harmless.
            if let Err(error) = last.ack().await {
                tracing::debug!(%error, "ack not sent");
            }
        }
        if let Some(publication) = publication {
            publication
                .committed(&self.pool, &self.nats, addressed, checkpoint.cursor)
                .await;
        }
        Ok(checkpoint)
    }
}

/// The stream sequence to consume from: right after the checkpoint's message if the
/// stream still holds that event there; otherwise from the start of the stream (the
/// stream was recreated), relying on the checkpoint to skip what was applied.
async fn start_sequence(stream: &Stream, checkpoint: Checkpoint) -> u64 {
    if checkpoint.stream_sequence == 0 {
        return 1;
    }
    let matches = match stream.get_raw_message(checkpoint.stream_sequence).await {
        Ok(message) => serde_json::from_slice::<StoredEvent>(&message.payload)
            .is_ok_and(|event| event.cursor() == checkpoint.cursor),
        Err(_) => false,
    };
    if matches {
        checkpoint.stream_sequence + 1
    } else {
        tracing::warn!(
            stream.sequence = checkpoint.stream_sequence,
            "stream differs from checkpoint; rescanning it"
        );
        1
    }
}

/// Deletes and creates the projection's durable consumer, starting at `start`.
async fn recreate_consumer(
    stream: &Stream,
    name: &str,
    start: u64,
) -> Result<jetstream::consumer::Consumer<pull::Config>, TermError> {
    let durable = format!("projection-{name}");
    // Absent on first start; any other failure shows up in the create below.
    let _ = stream.delete_consumer(&durable).await;
    stream
        .create_consumer(pull::Config {
            durable_name: Some(durable),
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: start,
            },
            ack_policy: AckPolicy::All,
            ack_wait: Duration::from_secs(60),
            max_ack_pending: 20_000,
            ..Default::default()
        })
        .await
        .map_err(nats)
}

/// Waits for one message, then takes those already buffered, up to `max`.
async fn next_batch(messages: &mut pull::Stream, max: usize) -> Result<Vec<Message>, TermError> {
    let first = messages
        .next()
        .await
        .ok_or_else(|| nats("consumer stream ended"))?;
    let mut batch = vec![first.map_err(nats)?];
    while batch.len() < max {
        match messages.next().now_or_never() {
            Some(Some(message)) => batch.push(message.map_err(nats)?),
            _ => break,
        }
    }
    Ok(batch)
}
