//! The rows a fold holds in memory between writes ([`crate::replay::Bulk`]): by id, each
//! with whether it changed since it was last written, read from its table the first time
//! an event needs it. The users and notices projections fold into one each.

use std::collections::HashMap;

/// Rows by id, with how many changed since the last write.
pub(crate) struct Window<T> {
    rows: HashMap<String, Held<T>>,
    changed: usize,
    /// Changed rows to hold before the window is [`full`](Self::full); also the most
    /// rows kept after a write.
    budget: usize,
}

struct Held<T> {
    row: T,
    changed: bool,
}

impl<T> Window<T> {
    pub(crate) fn new(budget: usize) -> Self {
        Self {
            rows: HashMap::new(),
            changed: 0,
            budget,
        }
    }

    /// Of `ids`, those not held, each once, sorted: the rows to read from the table.
    pub(crate) fn missing<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
        let mut missing: Vec<&str> = ids
            .into_iter()
            .filter(|id| !self.rows.contains_key(*id))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        missing
    }

    /// Holds `row` as read from the table: unchanged.
    pub(crate) fn loaded(&mut self, id: String, row: T) {
        self.rows.insert(
            id,
            Held {
                row,
                changed: false,
            },
        );
    }

    /// Holds `row` for `id` in place of what was held, changed.
    pub(crate) fn replace(&mut self, id: &str, row: T) {
        match self.rows.get_mut(id) {
            Some(held) => held.row = row,
            None => self.loaded(id.to_owned(), row),
        }
        self.change(id);
    }

    /// The row held for `id`, counted as changed; `None` when there is none (no row in
    /// the table either, once [`missing`](Self::missing) rows were loaded).
    pub(crate) fn change(&mut self, id: &str) -> Option<&mut T> {
        let held = self.rows.get_mut(id)?;
        if !held.changed {
            held.changed = true;
            self.changed += 1;
        }
        Some(&mut held.row)
    }

    /// Whether enough rows changed to write them now.
    pub(crate) fn full(&self) -> bool {
        self.changed >= self.budget
    }

    /// The changed rows, to make ready for writing.
    pub(crate) fn changed_mut(&mut self) -> impl Iterator<Item = (&str, &mut T)> {
        self.rows
            .iter_mut()
            .filter(|(_, held)| held.changed)
            .map(|(id, held)| (id.as_str(), &mut held.row))
    }

    /// The changed rows, to write.
    pub(crate) fn changed(&self) -> impl Iterator<Item = (&str, &T)> {
        self.rows
            .iter()
            .filter(|(_, held)| held.changed)
            .map(|(id, held)| (id.as_str(), &held.row))
    }

    /// After the changed rows were written: none counts as changed, and every row is
    /// forgotten when more than the budget are held.
    pub(crate) fn written(&mut self) {
        if self.rows.len() > self.budget {
            self.rows.clear();
        } else {
            self.rows.values_mut().for_each(|held| held.changed = false);
        }
        self.changed = 0;
    }
}
