//! The history: events chosen by aggregate, user, type, time, position or request, in
//! feed order; and following the store live as events commit.

use std::time::Duration;

use chrono::{DateTime, Utc};
use event_store::reader::Wakeup;
use event_store::{Cursor, FeedReader, StoredEvent};
use sqlx::{PgPool, Postgres, QueryBuilder};

use crate::rows::{bind_cursor, EventRow, EVENT_COLUMNS};

/// Events a follower reads per query.
const FOLLOW_BATCH: i64 = 500;
/// How long a follower sleeps without a notification before it looks anyway.
const FOLLOW_POLL: Duration = Duration::from_millis(500);

/// Which events to list. Every filter that is set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub aggregate_type: Option<String>,
    pub aggregate_id: Option<String>,
    /// The user who caused the event (`metadata.user_id`).
    pub user_id: Option<String>,
    /// The event type, e.g. `user.registered`.
    pub event_type: Option<String>,
    /// Recorded at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Recorded strictly before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Position at least this.
    pub from_position: Option<i64>,
    /// Position at most this.
    pub to_position: Option<i64>,
    /// The request that caused the event (`metadata.correlation_id`).
    pub correlation_id: Option<String>,
}

impl EventFilter {
    /// Whether the filter starts somewhere in the history rather than at its beginning.
    pub fn has_lower_bound(&self) -> bool {
        self.since.is_some() || self.from_position.is_some()
    }

    /// Appends ` AND <condition>` for every filter that is set.
    fn push_conditions(&self, sql: &mut QueryBuilder<'_, Postgres>) {
        let texts = [
            ("aggregate_type", &self.aggregate_type),
            ("aggregate_id", &self.aggregate_id),
            // `->>` on the `json` column, as the index of migration 0008 has it.
            ("metadata->>'user_id'", &self.user_id),
            ("event_type", &self.event_type),
            ("metadata->>'correlation_id'", &self.correlation_id),
        ];
        for (column, value) in texts {
            if let Some(value) = value {
                sql.push(format!(" AND {column} = "))
                    .push_bind(value.clone());
            }
        }
        if let Some(since) = self.since {
            sql.push(" AND recorded_at >= ").push_bind(since);
        }
        if let Some(until) = self.until {
            sql.push(" AND recorded_at < ").push_bind(until);
        }
        if let Some(from) = self.from_position {
            sql.push(" AND position >= ").push_bind(from);
        }
        if let Some(to) = self.to_position {
            sql.push(" AND position <= ").push_bind(to);
        }
    }
}

/// Up to `limit` committed events that `filter` selects, in feed order.
pub async fn list_events(
    pool: &PgPool,
    filter: &EventFilter,
    limit: i64,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    select(pool, filter, None, None, limit).await
}

/// A page of the history: up to `limit` events that `filter` selects after `after` (from
/// the start when `None`), in feed order, at or before the readable head. Every event there
/// has its transaction finished, so the next page, started after this one's last event,
/// misses none that commits late.
pub async fn page_after(
    pool: &PgPool,
    filter: &EventFilter,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    let head = FeedReader::new(pool.clone()).head().await?;
    select(pool, filter, after, Some(head), limit).await
}

/// Up to `limit` events that `filter` selects, in feed order, after the cursor `after`
/// and at or before `upto` where given.
async fn select(
    pool: &PgPool,
    filter: &EventFilter,
    after: Option<Cursor>,
    upto: Option<Cursor>,
    limit: i64,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    let mut sql = QueryBuilder::new(format!("SELECT {EVENT_COLUMNS} FROM events WHERE true"));
    for (bound, operator) in [(after, ">"), (upto, "<=")] {
        if let Some(cursor) = bound {
            let (tx_id, position) = bind_cursor(cursor);
            sql.push(format!(" AND (tx_id, position) {operator} ("))
                .push_bind(tx_id)
                .push("::bigint::text::xid8, ")
                .push_bind(position)
                .push(")");
        }
    }
    filter.push_conditions(&mut sql);
    sql.push(" ORDER BY events.tx_id, events.position LIMIT ")
        .push_bind(limit);
    let rows: Vec<EventRow> = sql.build_query_as().fetch_all(pool).await?;
    Ok(rows.into_iter().map(StoredEvent::from).collect())
}

/// Follows the store: hands out the events `filter` selects as they commit, in feed
/// order, each once, never skipping one that commits late.
///
/// It reads only up to the readable head (the commit-safe reader's bound): every event
/// at or before it has its transaction finished, so nothing can still appear behind it.
pub struct Follower {
    pool: PgPool,
    reader: FeedReader,
    filter: EventFilter,
    cursor: Cursor,
    wakeup: Wakeup,
}

impl Follower {
    /// A follower from the start of the feed when `filter` has a lower bound (`since`,
    /// `from_position`): the history first, then what commits. Otherwise from the
    /// readable head: only what commits from now on.
    pub async fn start(pool: &PgPool, filter: EventFilter) -> Result<Self, sqlx::Error> {
        let reader = FeedReader::new(pool.clone());
        let cursor = match filter.has_lower_bound() {
            true => Cursor::START,
            false => reader.head().await?,
        };
        Self::after(pool, filter, cursor).await
    }

    /// A follower of the events after `cursor`.
    pub async fn after(
        pool: &PgPool,
        filter: EventFilter,
        cursor: Cursor,
    ) -> Result<Self, sqlx::Error> {
        Ok(Self {
            pool: pool.clone(),
            reader: FeedReader::new(pool.clone()),
            filter,
            cursor,
            // Listening first: an event that commits after this cannot go unnoticed.
            wakeup: Wakeup::listen(pool).await?,
        })
    }

    /// Where the follower has got: every selected event up to here was handed out.
    pub fn cursor(&self) -> Cursor {
        self.cursor
    }

    /// The next selected events, waiting (on LISTEN, with a poll) until there are some.
    pub async fn next(&mut self) -> Result<Vec<StoredEvent>, sqlx::Error> {
        loop {
            let head = self.reader.head().await?;
            if head > self.cursor {
                let events = select(
                    &self.pool,
                    &self.filter,
                    Some(self.cursor),
                    Some(head),
                    FOLLOW_BATCH,
                )
                .await?;
                self.cursor = match events.last() {
                    Some(last) if events.len() as i64 == FOLLOW_BATCH => last.cursor(),
                    _ => head,
                };
                if !events.is_empty() {
                    return Ok(events);
                }
            }
            self.wakeup.wait(FOLLOW_POLL).await?;
        }
    }
}
