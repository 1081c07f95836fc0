//! User events folded into `user_table` rows in memory, in feed order, and the changed
//! rows written back in one statement ([`row::write`]).
//!
//! A sealed value is kept sealed until its row is written: a field a later event
//! overwrites is never opened. The live projection folds one batch at a time; a rebuild
//! keeps the rows across batches, so a user's many events cost one write per window.

use async_trait::async_trait;
use domain::user::{ProfileField, ProfileUpdated, UserEvent, UserRegistered, AGGREGATE_TYPE};
use event_store::codec;
use event_store::StoredEvent;
use personal_data::Sealed;
use sqlx::PgConnection;

use super::row::{self, Text, UserRow};
use super::{fields, Users};
use crate::replay::Bulk;
use crate::window::Window;
use crate::ProjectionError;

/// Rows being folded, by user id.
pub struct Folding<'a> {
    users: &'a Users,
    rows: Window<Pending>,
}

/// A row and the sealed values still to be opened into it.
struct Pending {
    row: UserRow,
    sealed: Vec<(Text, Sealed)>,
}

impl Pending {
    /// The row a registration makes anew, its personal values sealed.
    fn registered(e: &UserRegistered, position: i64) -> Self {
        let mut pending = Self::loaded(UserRow::registered(e, position));
        pending.seal(Text::Email, &e.email);
        pending.seal(Text::FirstName, &e.first_name);
        pending.seal(Text::LastName, &e.last_name);
        pending
    }

    fn loaded(row: UserRow) -> Self {
        Self {
            row,
            sealed: Vec::new(),
        }
    }

    /// `text` becomes `sealed`, opened when the row is written.
    fn seal(&mut self, text: Text, sealed: &Sealed) {
        self.sealed.retain(|(t, _)| *t != text);
        self.sealed.push((text, sealed.clone()));
    }

    /// `text` becomes `value`: sealed, or none.
    fn set(&mut self, text: Text, value: Option<&Sealed>) {
        match value {
            Some(sealed) => self.seal(text, sealed),
            None => {
                self.sealed.retain(|(t, _)| *t != text);
                *self.row.text_mut(text) = None;
            }
        }
    }

    /// Changes what `e` changes.
    fn updated(&mut self, e: &ProfileUpdated, position: i64) {
        self.row.counted(position);
        self.row.updated_at = e.updated_at;
        if let Some(sealed) = &e.first_name {
            self.seal(Text::FirstName, sealed);
        }
        if let Some(sealed) = &e.last_name {
            self.seal(Text::LastName, sealed);
        }
        if let Some(public) = e.email_public {
            self.row.email_public = public;
        }
        for (column, field) in fields(e) {
            if let Some(ProfileField { value, public }) = field {
                let (text, flag) = self.row.field_mut(column);
                *flag = *public;
                self.set(text, value.as_ref());
            }
        }
        if let Some(description) = &e.description {
            self.set(Text::Description, description.value.as_ref());
        }
    }
}

impl<'a> Folding<'a> {
    pub fn new(users: &'a Users, budget: usize) -> Self {
        Self {
            users,
            rows: Window::new(budget),
        }
    }
}

#[async_trait]
impl Bulk for Folding<'_> {
    async fn fold(
        &mut self,
        tx: &mut PgConnection,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        let mut decoded = Vec::with_capacity(events.len());
        for event in events {
            let user_event = codec::decode_stored::<UserEvent>(
                event,
                AGGREGATE_TYPE,
                &self.users.upcasters,
                UserEvent::current_version,
            )?;
            if let Some(user_event) = user_event {
                decoded.push((event, user_event));
            }
        }
        let missing = self
            .rows
            .missing(decoded.iter().map(|(e, _)| e.aggregate_id.as_str()));
        if !missing.is_empty() {
            for (id, row) in row::load(tx, &self.users.table, &missing).await? {
                self.rows.loaded(id, Pending::loaded(row));
            }
        }
        for (event, user_event) in decoded {
            let (id, position) = (event.aggregate_id.as_str(), event.position);
            if let UserEvent::Registered(e) = &user_event {
                // A registration makes the row anew, whatever was there.
                self.rows.replace(id, Pending::registered(e, position));
                continue;
            }
            // Events of a user with no row change nothing, as an UPDATE would.
            let Some(pending) = self.rows.change(id) else {
                continue;
            };
            match &user_event {
                UserEvent::ProfileUpdated(e) => pending.updated(e, position),
                _ => pending.row.counted(position),
            }
        }
        Ok(())
    }

    fn full(&self) -> bool {
        self.rows.full()
    }

    /// Opens the sealed values of the changed rows and writes those rows.
    async fn flush(&mut self, tx: &mut PgConnection) -> Result<(), ProjectionError> {
        let keys = &self.users.keys;
        for (_, pending) in self.rows.changed_mut() {
            for (text, sealed) in pending.sealed.drain(..) {
                *pending.row.text_mut(text) = keys.open(&sealed).await?.into_text();
            }
        }
        let changed: Vec<&UserRow> = self.rows.changed().map(|(_, p)| &p.row).collect();
        row::write(tx, &self.users.table, &changed).await?;
        self.rows.written();
        Ok(())
    }
}
