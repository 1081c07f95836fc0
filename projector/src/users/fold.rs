//! User events folded into `user_table` rows in memory, in feed order, and the changed
//! rows written back in one statement ([`row::write`]).
//!
//! A sealed value is kept sealed until its row is written: a field a later event
//! overwrites is never opened. The live projection folds one batch at a time; a rebuild
//! keeps the rows across batches, so a user's many events cost one write per window.

use std::collections::HashMap;

use async_trait::async_trait;
use domain::user::{ProfileField, ProfileUpdated, UserEvent, AGGREGATE_TYPE};
use event_store::codec;
use event_store::StoredEvent;
use personal_data::Sealed;
use sqlx::PgConnection;

use super::row::{self, Text, UserRow};
use super::{fields, Users};
use crate::replay::Bulk;
use crate::ProjectionError;

/// Rows being folded, by user id.
pub struct Folding<'a> {
    users: &'a Users,
    rows: HashMap<String, Held>,
    /// Rows changed since the last write.
    changed: usize,
    /// Changed rows to hold before [`Bulk::full`]; also the most rows kept after a write.
    budget: usize,
}

/// A row, the sealed values still to be opened into it, and whether it changed.
struct Held {
    row: UserRow,
    sealed: Vec<(Text, Sealed)>,
    changed: bool,
}

impl Held {
    fn loaded(row: UserRow) -> Self {
        Self {
            row,
            sealed: Vec::new(),
            changed: false,
        }
    }

    /// `text` becomes `sealed`, opened when the row is written.
    fn seal(&mut self, text: Text, sealed: &Sealed) {
        self.sealed.retain(|(t, _)| *t != text);
        self.sealed.push((text, sealed.clone()));
    }

    /// `text` becomes `value`, which needs no opening.
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
            rows: HashMap::new(),
            changed: 0,
            budget,
        }
    }

    /// The rows of `ids` not held yet, read from the table (users with no row stay
    /// absent).
    async fn load_missing(
        &mut self,
        tx: &mut PgConnection,
        ids: &mut Vec<&str>,
    ) -> Result<(), sqlx::Error> {
        ids.retain(|id| !self.rows.contains_key(*id));
        if ids.is_empty() {
            return Ok(());
        }
        ids.sort_unstable();
        ids.dedup();
        for (id, row) in row::load(tx, &self.users.table, ids).await? {
            self.rows.insert(id, Held::loaded(row));
        }
        Ok(())
    }

    /// The held row of `user_id`, counted as changed.
    fn change(&mut self, user_id: &str) -> Option<&mut Held> {
        let held = self.rows.get_mut(user_id)?;
        if !held.changed {
            held.changed = true;
            self.changed += 1;
        }
        Some(held)
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
        let mut ids: Vec<&str> = decoded
            .iter()
            .map(|(e, _)| e.aggregate_id.as_str())
            .collect();
        self.load_missing(tx, &mut ids).await?;
        for (event, user_event) in decoded {
            let position = event.position;
            if let UserEvent::Registered(e) = &user_event {
                // A registration makes the row anew, whatever was there.
                let mut held = Held::loaded(UserRow::registered(e, position));
                held.seal(Text::Email, &e.email);
                held.seal(Text::FirstName, &e.first_name);
                held.seal(Text::LastName, &e.last_name);
                self.rows.insert(event.aggregate_id.clone(), held);
                self.change(&event.aggregate_id);
                continue;
            }
            // Events of a user with no row change nothing, as an UPDATE would.
            let Some(held) = self.change(&event.aggregate_id) else {
                continue;
            };
            match &user_event {
                UserEvent::ProfileUpdated(e) => held.updated(e, position),
                _ => held.row.counted(position),
            }
        }
        Ok(())
    }

    fn full(&self) -> bool {
        self.changed >= self.budget
    }

    /// Opens the sealed values of the changed rows and writes those rows; then forgets
    /// every row if it holds more than its budget.
    async fn flush(&mut self, tx: &mut PgConnection) -> Result<(), ProjectionError> {
        let keys = &self.users.keys;
        for held in self.rows.values_mut().filter(|h| h.changed) {
            for (text, sealed) in held.sealed.drain(..) {
                *held.row.text_mut(text) = keys.open(&sealed).await?.into_text();
            }
        }
        let changed: Vec<&UserRow> = self
            .rows
            .values()
            .filter(|h| h.changed)
            .map(|h| &h.row)
            .collect();
        row::write(tx, &self.users.table, &changed).await?;
        for held in self.rows.values_mut() {
            held.changed = false;
        }
        self.changed = 0;
        if self.rows.len() > self.budget {
            self.rows.clear();
        }
        Ok(())
    }
}
