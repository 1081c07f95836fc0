//! The `friendships` projection: `friendship_table`, two rows per related pair (one from
//! each side). The notices of friendship events are the `notices` projection's.
//!
//! A request inserts both rows as `pending`, an acceptance marks them `accepted`, and a
//! decline, cancellation or removal deletes them. Each write sets the rows to what the
//! event says, so an event applied twice in a row leaves the same rows. Order and
//! once-only are the runner's: it applies each event once, in feed order, after its
//! checkpoint. (A guard on `last_position` could not stand in for it: a deleted pair
//! leaves no row to compare an old request with.)

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::friendship::{FriendshipEvent, AGGREGATE_TYPE};
use domain::user::UserId;
use event_bus::Addressed;
use event_store::codec::{self, Upcasters};
use event_store::StoredEvent;
use sqlx::PgConnection;

use crate::{Projection, ProjectionError};

/// The projection's name (its checkpoint row, and the view `?min_position=` waits for).
pub const NAME: &str = "friendships";

/// The live view's table.
pub const TABLE: &str = "friendship_table";

/// Keeps `friendship_table`, or a table of the same shape (a replay's scratch copy).
pub struct Friendships {
    upcasters: Upcasters,
    table: String,
}

impl Default for Friendships {
    fn default() -> Self {
        Self::new()
    }
}

impl Friendships {
    /// The live projection, into [`TABLE`].
    pub fn new() -> Self {
        Self::into_table(TABLE)
    }

    /// The projection into `table`, which has `friendship_table`'s columns. `table` is an
    /// identifier chosen by our code, never by a client.
    pub fn into_table(table: &str) -> Self {
        Self {
            upcasters: Upcasters::default(),
            table: table.to_owned(),
        }
    }

    /// Applies `event` to the rows of its pair.
    async fn change(
        &self,
        tx: &mut PgConnection,
        event: &FriendshipEvent,
        position: i64,
    ) -> Result<(), sqlx::Error> {
        use FriendshipEvent as E;
        match event {
            E::Requested(e) => {
                self.requested(tx, &e.requester, &e.recipient, e.requested_at, position)
                    .await
            }
            E::Accepted(e) => {
                self.accepted(tx, &e.requester, &e.recipient, e.accepted_at, position)
                    .await
            }
            E::Declined(e) => self.ended(tx, &e.requester, &e.recipient).await,
            E::Cancelled(e) => self.ended(tx, &e.requester, &e.recipient).await,
            E::Removed(e) => self.ended(tx, &e.by, &e.other).await,
        }
    }

    /// Both rows, `pending`, requested by `requester`.
    async fn requested(
        &self,
        tx: &mut PgConnection,
        requester: &UserId,
        recipient: &UserId,
        at: DateTime<Utc>,
        position: i64,
    ) -> Result<(), sqlx::Error> {
        let sql = format!(
            "INSERT INTO {t}
                    (user_id, other_id, status, requested_by, requested_at, accepted_at, last_position)
             VALUES ($1, $2, 'pending', $1, $3, NULL, $4), ($2, $1, 'pending', $1, $3, NULL, $4)
             ON CONFLICT (user_id, other_id) DO UPDATE
                SET status = 'pending', requested_by = EXCLUDED.requested_by,
                    requested_at = EXCLUDED.requested_at, accepted_at = NULL,
                    last_position = EXCLUDED.last_position",
            t = self.table
        );
        sqlx::query(&sql)
            .bind(requester.as_str())
            .bind(recipient.as_str())
            .bind(at)
            .bind(position)
            .execute(tx)
            .await?;
        Ok(())
    }

    /// Both rows of the pair, `accepted` at `at`.
    async fn accepted(
        &self,
        tx: &mut PgConnection,
        a: &UserId,
        b: &UserId,
        at: DateTime<Utc>,
        position: i64,
    ) -> Result<(), sqlx::Error> {
        let sql = format!(
            "UPDATE {} SET status = 'accepted', accepted_at = $3, last_position = $4
              WHERE (user_id = $1 AND other_id = $2) OR (user_id = $2 AND other_id = $1)",
            self.table
        );
        sqlx::query(&sql)
            .bind(a.as_str())
            .bind(b.as_str())
            .bind(at)
            .bind(position)
            .execute(tx)
            .await?;
        Ok(())
    }

    /// No rows for the pair any more.
    async fn ended(
        &self,
        tx: &mut PgConnection,
        a: &UserId,
        b: &UserId,
    ) -> Result<(), sqlx::Error> {
        let sql = format!(
            "DELETE FROM {}
              WHERE (user_id = $1 AND other_id = $2) OR (user_id = $2 AND other_id = $1)",
            self.table
        );
        sqlx::query(&sql)
            .bind(a.as_str())
            .bind(b.as_str())
            .execute(tx)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl Projection for Friendships {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self) -> &'static [&'static str] {
        &[TABLE]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<Vec<Addressed>, ProjectionError> {
        let decoded = codec::decode_stored::<FriendshipEvent>(
            event,
            AGGREGATE_TYPE,
            &self.upcasters,
            FriendshipEvent::current_version,
        )?;
        let Some(decoded) = decoded else {
            return Ok(vec![]);
        };
        self.change(tx, &decoded, event.position).await?;
        Ok(vec![])
    }
}
