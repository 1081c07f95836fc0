//! The `users` projection: `user_table`, one row per registered user, with personal
//! values opened (an erased value becomes NULL). Sharing-policy events have their own
//! view (`policies`); here they only count, so `version` stays the user's event count.
//! The notices of user events are the `notices` projection's.
//!
//! A batch of events is applied in two statements ([`fold`], [`row`]): the rows of the
//! users it touches are read, each event is folded into its row in memory, in feed order,
//! and the rows are written back with one `INSERT … SELECT FROM UNNEST … ON CONFLICT`.
//! Personal values are opened when the row is written, so a value overwritten within the
//! batch is never decrypted. A rebuild keeps the rows across batches and writes each
//! changed row once per window of [`RebuildOptions::rows`] rows.

use async_trait::async_trait;
use domain::user::{ProfileField, ProfileUpdated};
use event_bus::Addressed;
use event_store::codec::Upcasters;
use event_store::StoredEvent;
use personal_data::Keys;
use sqlx::PgConnection;

use self::fold::Folding;

use crate::replay::{Bulk, RebuildOptions};
use crate::{Projection, ProjectionError};

mod fold;
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
        let mut folding = Folding::new(self, usize::MAX);
        folding.fold(tx, events).await?;
        folding.flush(tx).await?;
        Ok(vec![])
    }

    /// Folds events into rows held across batches, writing them once `options.rows` of
    /// them have changed: a user's many profile updates cost one row write per window.
    fn bulk<'a>(&'a self, options: &RebuildOptions) -> Box<dyn Bulk + 'a> {
        Box::new(Folding::new(self, options.rows))
    }
}
