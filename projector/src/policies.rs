//! The `policies` projection: `sharing_policy`, one row per user with their share mode
//! and their allow and deny lists (sorted, in clear).
//!
//! The registration's `user.sharing_policy_set` writes the whole row; the one-step
//! changes move one domain between the lists. An account registered before sharing
//! policies existed has no such event: its first change starts from the default (mode
//! `default_none`, empty lists). Every write is guarded by the row's `last_position`
//! (one user's positions only grow), so an event applied twice changes nothing.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::user::{Domain, SharingPolicySet, UserEvent, AGGREGATE_TYPE};
use event_bus::Addressed;
use event_store::codec::{self, Upcasters};
use event_store::StoredEvent;
use sqlx::PgConnection;

use crate::{Projection, ProjectionError};

/// The projection's name (its checkpoint row, and the view `?min_position=` waits for).
pub const NAME: &str = "policies";

/// The live view's table.
pub const TABLE: &str = "sharing_policy";

/// Keeps `sharing_policy`, or a table of the same shape (a replay's scratch copy).
pub struct Policies {
    upcasters: Upcasters,
    table: String,
}

impl Default for Policies {
    fn default() -> Self {
        Self::new()
    }
}

/// A one-step change to a policy row, as SQL assignments over its columns and `$1`.
/// Lists stay sorted in byte order (`COLLATE "C"`), as the domain sorts them.
enum Change<'a> {
    Mode(&'a str),
    Share(&'a Domain),
    Unshare(&'a Domain),
}

impl Change<'_> {
    fn assignments(&self) -> &'static str {
        match self {
            Self::Mode(_) => "mode = $1",
            Self::Share(_) => {
                "allow = ARRAY(SELECT DISTINCT d COLLATE \"C\" FROM unnest(allow || $1::text) d ORDER BY 1),
                 deny = array_remove(deny, $1::text)"
            }
            Self::Unshare(_) => {
                "deny = ARRAY(SELECT DISTINCT d COLLATE \"C\" FROM unnest(deny || $1::text) d ORDER BY 1),
                 allow = array_remove(allow, $1::text)"
            }
        }
    }

    fn value(&self) -> &str {
        match self {
            Self::Mode(mode) => mode,
            Self::Share(domain) | Self::Unshare(domain) => domain.as_str(),
        }
    }
}

impl Policies {
    /// The live projection, into [`TABLE`].
    pub fn new() -> Self {
        Self::into_table(TABLE)
    }

    /// The projection into `table`, which has `sharing_policy`'s columns. `table` is an
    /// identifier chosen by our code, never by a client.
    pub fn into_table(table: &str) -> Self {
        Self {
            upcasters: Upcasters::default(),
            table: table.to_owned(),
        }
    }

    /// Writes the whole policy.
    async fn set(
        &self,
        tx: &mut PgConnection,
        e: &SharingPolicySet,
        event: &StoredEvent,
    ) -> Result<(), sqlx::Error> {
        let sql = format!(
            "INSERT INTO {table} AS p (user_id, mode, allow, deny, updated_at, last_position, version)
             VALUES ($1, $2, $3, $4, $5, $6, 1)
             ON CONFLICT (user_id) DO UPDATE
                SET mode = EXCLUDED.mode, allow = EXCLUDED.allow, deny = EXCLUDED.deny,
                    updated_at = EXCLUDED.updated_at, last_position = EXCLUDED.last_position,
                    version = p.version + 1
              WHERE p.last_position < EXCLUDED.last_position",
            table = self.table
        );
        sqlx::query(&sql)
            .bind(&event.aggregate_id)
            .bind(e.mode.as_str())
            .bind(names(&e.allow))
            .bind(names(&e.deny))
            .bind(e.changed_at)
            .bind(event.position)
            .execute(tx)
            .await?;
        Ok(())
    }

    /// Applies a one-step change, starting from the default policy if the row is missing.
    async fn change(
        &self,
        tx: &mut PgConnection,
        change: Change<'_>,
        at: DateTime<Utc>,
        event: &StoredEvent,
    ) -> Result<(), sqlx::Error> {
        let table = &self.table;
        let start = format!(
            "INSERT INTO {table} (user_id, mode, allow, deny, updated_at, last_position, version)
             VALUES ($1, 'default_none', '{{}}', '{{}}', $2, 0, 0)
             ON CONFLICT (user_id) DO NOTHING"
        );
        sqlx::query(&start)
            .bind(&event.aggregate_id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        let update = format!(
            "UPDATE {table}
                SET {}, updated_at = $2, last_position = $3, version = version + 1
              WHERE user_id = $4 AND last_position < $3",
            change.assignments()
        );
        sqlx::query(&update)
            .bind(change.value())
            .bind(at)
            .bind(event.position)
            .bind(&event.aggregate_id)
            .execute(tx)
            .await?;
        Ok(())
    }
}

fn names(domains: &[Domain]) -> Vec<String> {
    domains.iter().map(|d| d.as_str().to_owned()).collect()
}

#[async_trait]
impl Projection for Policies {
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
        let decoded = codec::decode_stored::<UserEvent>(
            event,
            AGGREGATE_TYPE,
            &self.upcasters,
            UserEvent::current_version,
        )?;
        let Some(decoded) = decoded else {
            return Ok(vec![]);
        };
        match &decoded {
            UserEvent::SharingPolicySet(e) => self.set(tx, e, event).await?,
            UserEvent::ShareModeSet(e) => {
                let change = Change::Mode(e.mode.as_str());
                self.change(tx, change, e.changed_at, event).await?
            }
            UserEvent::DomainShared(e) => {
                let change = Change::Share(&e.domain);
                self.change(tx, change, e.changed_at, event).await?
            }
            UserEvent::DomainUnshared(e) => {
                let change = Change::Unshare(&e.domain);
                self.change(tx, change, e.changed_at, event).await?
            }
            UserEvent::Registered(_) | UserEvent::ProfileUpdated(_) => {}
        }
        Ok(vec![])
    }
}
