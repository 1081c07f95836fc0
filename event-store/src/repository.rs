//! Running a command against an aggregate: load, decide, append, retry on conflict.
//!
//! The state of recently used aggregates is cached with its sequence number, so the
//! common case is one round trip (the append). A stale cache (another instance wrote
//! since) shows up as a conflict on append and is reloaded. A command that fails or
//! changes nothing on cached state is decided again on fresh state before we answer, so
//! a stale cache never produces a wrong refusal.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use rand::Rng;
use sqlx::PgPool;

use crate::append::{append, AppendError, AppendSignal};
use crate::codec::{self, CodecError, Upcasters};
use crate::Metadata;

/// Appends attempted before a command gives up with [`ExecuteError::Conflict`].
const MAX_ATTEMPTS: usize = 6;
/// Aggregates kept in memory; the cache is emptied when it grows past this.
const CACHE_LIMIT: usize = 100_000;

/// What a command changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The positions of the events it appended (empty when it changed nothing).
    pub positions: Vec<i64>,
    /// The position of the aggregate's latest event after the command: the one to wait
    /// for to read your writes. `None` for an aggregate with no events.
    pub last_position: Option<i64>,
}

/// Why a command was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError<E: std::error::Error> {
    /// The aggregate refused the command.
    #[error(transparent)]
    Domain(E),
    /// Other commands kept changing the aggregate first, [`MAX_ATTEMPTS`] times.
    #[error("the aggregate kept changing under this command")]
    Conflict,
    #[error("event store: {0}")]
    Store(#[from] sqlx::Error),
    #[error(transparent)]
    Codec(#[from] CodecError),
}

#[derive(Clone)]
struct Loaded<A> {
    state: A,
    sequence: i64,
    last_position: Option<i64>,
}

impl<A: Default> Loaded<A> {
    fn empty() -> Self {
        Self {
            state: A::default(),
            sequence: 0,
            last_position: None,
        }
    }
}

/// Loads, caches and changes aggregates of type `A`.
pub struct AggregateRepository<A: Aggregate> {
    pool: PgPool,
    /// Wakes the relay once appends have committed.
    signal: AppendSignal,
    upcasters: Upcasters,
    current_version: fn(&str) -> Option<String>,
    cache: Mutex<HashMap<String, Loaded<A>>>,
}

impl<A> AggregateRepository<A>
where
    A: Aggregate + Clone,
    A::Command: Clone,
{
    /// `current_version` names the version each event type is decoded at.
    pub fn new(
        pool: PgPool,
        upcasters: Upcasters,
        current_version: fn(&str) -> Option<String>,
    ) -> Self {
        Self {
            signal: AppendSignal::new(pool.clone()),
            pool,
            upcasters,
            current_version,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Runs `command` on aggregate `id` and appends what it decides.
    pub async fn execute(
        &self,
        id: &str,
        command: A::Command,
        services: &A::Services,
        metadata: &Metadata,
    ) -> Result<Committed, ExecuteError<A::Error>> {
        for attempt in 0..MAX_ATTEMPTS {
            let (mut loaded, cached) = self.current(id).await?;
            let events = match decide(&mut loaded.state, command.clone(), services).await {
                Ok(events) if !events.is_empty() => events,
                outcome if cached => {
                    // Refusals and no-ops are rare: confirm them on fresh state.
                    self.forget(id);
                    drop(outcome);
                    continue;
                }
                Ok(_) => {
                    return Ok(Committed {
                        positions: vec![],
                        last_position: loaded.last_position,
                    })
                }
                Err(e) => return Err(ExecuteError::Domain(e)),
            };
            match self.persist(id, &loaded, &events, metadata).await {
                Ok(positions) => {
                    self.remember(id, loaded, &positions);
                    let last_position = positions.last().copied();
                    return Ok(Committed {
                        positions,
                        last_position,
                    });
                }
                Err(AppendError::Conflict) => {
                    self.forget(id);
                    backoff(attempt).await;
                }
                Err(AppendError::Store(e)) => {
                    self.forget(id);
                    return Err(e.into());
                }
            }
        }
        Err(ExecuteError::Conflict)
    }

    /// The aggregate's state and whether it came from the cache.
    async fn current(&self, id: &str) -> Result<(Loaded<A>, bool), ExecuteError<A::Error>> {
        if let Some(hit) = self.lock().get(id).cloned() {
            return Ok((hit, true));
        }
        Ok((self.load(id).await?, false))
    }

    /// The aggregate rebuilt from its stream.
    pub async fn load_state(&self, id: &str) -> Result<A, ExecuteError<A::Error>> {
        Ok(self.load(id).await?.state)
    }

    async fn load(&self, id: &str) -> Result<Loaded<A>, ExecuteError<A::Error>> {
        self.load_after(id, Loaded::empty()).await
    }

    /// The state of aggregate `id` now, in one round trip: the cached state with the
    /// events appended since (by any instance) folded in, or the whole stream when
    /// nothing is cached. For deciding about one aggregate from another's handler (may
    /// this user send to this conversation?) without reading its whole stream each time.
    pub async fn state(&self, id: &str) -> Result<A, ExecuteError<A::Error>> {
        let cached = self.lock().get(id).cloned();
        let loaded = self
            .load_after(id, cached.unwrap_or_else(Loaded::empty))
            .await?;
        let state = loaded.state.clone();
        self.remember(id, loaded, &[]);
        Ok(state)
    }

    /// Runs `command` on an aggregate that, in the common case, does not exist yet (a
    /// stream per message, say): decides on the empty state and appends without reading
    /// the stream first, so a new aggregate costs one round trip and nothing is cached.
    /// When the stream exists after all (a retried command), the append conflicts and
    /// the command is run as [`execute`](Self::execute) runs it, on the stored state.
    pub async fn execute_new(
        &self,
        id: &str,
        command: A::Command,
        services: &A::Services,
        metadata: &Metadata,
    ) -> Result<Committed, ExecuteError<A::Error>> {
        let empty = Loaded::<A>::empty();
        let mut state = empty.state.clone();
        let events = decide(&mut state, command.clone(), services)
            .await
            .unwrap_or_default();
        if !events.is_empty() {
            match self.persist(id, &empty, &events, metadata).await {
                Ok(positions) => {
                    let last_position = positions.last().copied();
                    return Ok(Committed {
                        positions,
                        last_position,
                    });
                }
                Err(AppendError::Conflict) => {}
                Err(AppendError::Store(e)) => return Err(e.into()),
            }
        }
        // Refused or changing nothing on the empty state, or the stream exists: decide
        // on what is stored.
        self.execute(id, command, services, metadata).await
    }

    /// `loaded` with the events of `id` after its sequence folded in.
    async fn load_after(
        &self,
        id: &str,
        mut loaded: Loaded<A>,
    ) -> Result<Loaded<A>, ExecuteError<A::Error>> {
        let rows: Vec<(
            i64,
            i64,
            String,
            String,
            sqlx::types::Json<serde_json::Value>,
        )> = sqlx::query_as(
            "SELECT sequence, position, event_type, event_version, payload FROM events
              WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence > $3
              ORDER BY sequence",
        )
        .bind(A::TYPE)
        .bind(id)
        .bind(loaded.sequence)
        .fetch_all(&self.pool)
        .await?;
        for (sequence, position, event_type, version, payload) in rows {
            let event: A::Event = codec::decode(
                &event_type,
                &version,
                payload.0,
                &self.upcasters,
                self.current_version,
            )?;
            loaded.state.apply(event);
            loaded.sequence = sequence;
            loaded.last_position = Some(position);
        }
        Ok(loaded)
    }

    async fn persist(
        &self,
        id: &str,
        loaded: &Loaded<A>,
        events: &[A::Event],
        metadata: &Metadata,
    ) -> Result<Vec<i64>, AppendError> {
        let encoded = events
            .iter()
            .map(codec::encode)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AppendError::Store(sqlx::Error::Encode(Box::new(e))))?;
        let appended = append(
            &self.pool,
            A::TYPE,
            id,
            loaded.sequence + 1,
            &encoded,
            metadata,
        )
        .await?;
        self.signal.appended();
        Ok(appended.iter().map(|a| a.position).collect())
    }

    fn remember(&self, id: &str, mut loaded: Loaded<A>, positions: &[i64]) {
        loaded.sequence += positions.len() as i64;
        loaded.last_position = positions.last().copied().or(loaded.last_position);
        let mut cache = self.lock();
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(id.to_owned(), loaded);
    }

    fn forget(&self, id: &str) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Loaded<A>>> {
        // A panic while holding the lock leaves a map that is still consistent.
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Runs the aggregate's `handle`, which applies each decided event to `state`.
async fn decide<A: Aggregate>(
    state: &mut A,
    command: A::Command,
    services: &A::Services,
) -> Result<Vec<A::Event>, A::Error> {
    let sink = EventSink::default();
    state.handle(command, services, &sink).await?;
    Ok(sink.collect().await)
}

async fn backoff(attempt: usize) {
    let ceiling_ms = 2u64 << attempt.min(6);
    let jitter = rand::thread_rng().gen_range(0..=ceiling_ms);
    tokio::time::sleep(Duration::from_millis(jitter)).await;
}

/// The event type names `E` can decode, for building `current_version` tables.
pub fn type_of<E: DomainEvent>(event: &E) -> (String, String) {
    (event.event_type(), event.event_version())
}
