//! The recovery history in Postgres: the notices the projector stored in `user_notices`,
//! read back for a reconnecting socket, and deleted once older than the retention.
//!
//! Why an event's age can stand for its notices' age: a notice after `since` in the feed
//! was stored by a projection transaction that began after that notice's event
//! committed, so after `since`'s own transaction began (`recorded_at`, `now()` of the
//! event's transaction). Both times come from the database's clock. So when `since`'s
//! event is younger than the retention, no notice after it can have been deleted.

use std::future::Future;
use std::time::Duration;

use event_bus::Notice;
use event_store::Cursor;
use sqlx::PgPool;
use tokio::time::{self, MissedTickBehavior};

/// How many rows one cleanup statement deletes: short transactions, which never hold
/// the event feed back for long (`xmin` is server-wide).
const PRUNE_BATCH: i64 = 5_000;

/// Where `since` is in the feed, and whether it is older than the retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Since {
    pub(crate) cursor: Cursor,
    pub(crate) expired: bool,
}

/// The notices of each user, as stored by the projector. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct History {
    pool: PgPool,
}

impl History {
    pub(crate) fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The feed cursor of the event at `position` (as [`event_store::FeedReader::cursor_of`]
    /// resolves it), and whether that event is older than `retention`; `None` when no
    /// event has that position.
    pub(crate) async fn resolve(
        &self,
        position: i64,
        retention: Duration,
    ) -> Result<Option<Since>, sqlx::Error> {
        let row: Option<(i64, bool)> = sqlx::query_as(
            "SELECT tx_id::text::bigint, recorded_at < now() - make_interval(secs => $2)
               FROM events WHERE position = $1",
        )
        .bind(position)
        .bind(retention.as_secs_f64())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(tx_id, expired)| Since {
            cursor: Cursor {
                tx_id: tx_id as u64,
                position,
            },
            expired,
        }))
    }

    /// At most `limit` notices of `user_id` after `after`, in feed order.
    pub(crate) async fn after(
        &self,
        user_id: &str,
        after: Cursor,
        limit: usize,
    ) -> Result<Vec<Notice>, sqlx::Error> {
        // Qualified: the selected `tx_id::text::bigint` is named `tx_id` too, and ordering by
        // that bigint would sort every row instead of walking the primary key.
        let rows: Vec<(i64, i64, String, serde_json::Value)> = sqlx::query_as(
            "SELECT tx_id::text::bigint, position, kind, data FROM user_notices
              WHERE user_id = $1 AND (tx_id, position) > ($2::bigint::text::xid8, $3)
              ORDER BY user_notices.tx_id, user_notices.position, user_notices.kind
              LIMIT $4",
        )
        .bind(user_id)
        .bind(after.tx_id as i64)
        .bind(after.position)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        let notices = rows
            .into_iter()
            .map(|(tx_id, position, kind, data)| Notice {
                position,
                tx_id: tx_id as u64,
                kind,
                data,
            });
        Ok(notices.collect())
    }

    /// Deletes every notice stored more than `retention` ago, a batch at a time.
    /// Returns how many were deleted.
    pub(crate) async fn prune(&self, retention: Duration) -> Result<u64, sqlx::Error> {
        let mut deleted = 0;
        loop {
            let batch = sqlx::query(
                "DELETE FROM user_notices WHERE ctid = ANY(ARRAY(
                     SELECT ctid FROM user_notices
                      WHERE created_at < now() - make_interval(secs => $1)
                      LIMIT $2))",
            )
            .bind(retention.as_secs_f64())
            .bind(PRUNE_BATCH)
            .execute(&self.pool)
            .await?
            .rows_affected();
            deleted += batch;
            if batch < PRUNE_BATCH as u64 {
                return Ok(deleted);
            }
        }
    }

    /// [`History::prune`], its outcome logged; a failure is tried again at the next tick.
    async fn prune_logged(&self, retention: Duration) {
        match self.prune(retention).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(notices.deleted = deleted, "expired notices deleted"),
            Err(error) => tracing::warn!(error.cause = %error, "expired notices not deleted"),
        }
    }

    /// Whether Postgres answers.
    pub(crate) async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

/// Deletes the notices older than `retention` now and every `every`, until `stop`
/// completes (which interrupts a cleanup under way: each batch is its own statement).
/// Every node does it: deleting what another node deleted already is harmless.
pub(crate) async fn prune_every(
    history: History,
    retention: Duration,
    every: Duration,
    stop: impl Future<Output = ()>,
) {
    let mut ticks = time::interval(every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = ticks.tick() => {}
        }
        tokio::select! {
            () = &mut stop => return,
            () = history.prune_logged(retention) => {}
        }
    }
}
