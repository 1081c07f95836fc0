//! The `users` projection: `user_table`, one row per registered user, with personal
//! values opened (an erased value becomes NULL). Sharing-policy events have their own
//! view (`policies`); here they only count, so `version` stays the user's event count.
//! The notices of user events are the `notices` projection's.
//!
//! A batch of events is applied in two statements ([`row`]): the rows of the users it
//! touches are read, each event is folded into its row in memory, in feed order, and the
//! rows are written back with one `INSERT … SELECT FROM UNNEST … ON CONFLICT`. A rebuild
//! then costs two round trips per thousand events instead of one per event.

use async_trait::async_trait;
use domain::user::{ProfileField, ProfileUpdated, UserEvent, AGGREGATE_TYPE};
use event_bus::Addressed;
use event_store::codec::{self, Upcasters};
use event_store::StoredEvent;
use personal_data::Keys;
use sqlx::PgConnection;

use self::row::UserRow;

use crate::{Projection, ProjectionError};

mod row;

/// The projection's name (its checkpoint row).
pub const NAME: &str = "users";

/// The live view's table.
pub const TABLE: &str = "user_table";

/// Keeps `user_table`, or a table of the same shape (a replay's scratch copy).
pub struct Users {
    keys: Keys,
    upcasters: Upcasters,
    table: String,
}

impl Users {
    /// The live projection, into [`TABLE`].
    pub fn new(keys: Keys) -> Self {
        Self::into_table(keys, TABLE)
    }

    /// The projection into `table`, which has `user_table`'s columns. `table` is an
    /// identifier chosen by our code, never by a client.
    pub fn into_table(keys: Keys, table: &str) -> Self {
        Self {
            keys,
            upcasters: Upcasters::default(),
            table: table.to_owned(),
        }
    }
}

/// The profile fields with a visibility of their own, by column name.
pub(crate) fn fields(e: &ProfileUpdated) -> [(&'static str, &Option<ProfileField>); 5] {
    [
        ("birth_date", &e.birth_date),
        ("gender", &e.gender),
        ("school", &e.school),
        ("work", &e.work),
        ("location", &e.location),
    ]
}

#[async_trait]
impl Projection for Users {
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
        self.apply_batch(tx, std::slice::from_ref(event)).await
    }

    /// Loads the rows of the users the batch touches, folds each event into its row in
    /// feed order, and writes the rows back: two statements, however many events.
    async fn apply_batch(
        &self,
        tx: &mut PgConnection,
        events: &[StoredEvent],
    ) -> Result<Vec<Addressed>, ProjectionError> {
        let mut decoded = Vec::with_capacity(events.len());
        for event in events {
            let user_event = codec::decode_stored::<UserEvent>(
                event,
                AGGREGATE_TYPE,
                &self.upcasters,
                UserEvent::current_version,
            )?;
            if let Some(user_event) = user_event {
                decoded.push((event, user_event));
            }
        }
        if decoded.is_empty() {
            return Ok(vec![]);
        }
        let mut ids: Vec<&str> = decoded
            .iter()
            .map(|(e, _)| e.aggregate_id.as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mut rows = row::load(tx, &self.table, &ids).await?;
        for (event, user_event) in decoded {
            let position = event.position;
            if let UserEvent::Registered(e) = &user_event {
                let registered = UserRow::registered(&self.keys, e, position).await?;
                rows.insert(event.aggregate_id.clone(), registered);
                continue;
            }
            // Events of a user with no row change nothing, as an UPDATE would.
            let Some(row) = rows.get_mut(&event.aggregate_id) else {
                continue;
            };
            match &user_event {
                UserEvent::ProfileUpdated(e) => row.updated(&self.keys, e, position).await?,
                _ => row.counted(position),
            }
        }
        let rows: Vec<UserRow> = rows.into_values().collect();
        row::write(tx, &self.table, &rows).await?;
        Ok(vec![])
    }
}
