//! The `notices` projection as a rebuild applies it: the tables it keeps, without the
//! notices (a replay tells nobody anything).
//!
//! Names are folded in memory, kept sealed until written, and each changed user's names
//! are written once per window: a user renamed a hundred times costs one write. The
//! chat tables are kept as live, except that a run of messages is counted in one
//! statement. Names and chat tables are apart: no chat statement reads a name except into
//! a notice, which a rebuild drops.

use std::collections::HashMap;

use async_trait::async_trait;
use domain::chat::message::MessageSent;
use domain::user::{self, UserEvent};
use event_store::codec;
use event_store::StoredEvent;
use personal_data::{Keys, Sealed};
use sqlx::PgConnection;

use super::Notices;
use crate::chat::ChatEvent;
use crate::replay::Bulk;
use crate::window::Window;
use crate::ProjectionError;

/// The names being folded, by user id.
pub(super) struct Folding<'a> {
    notices: &'a Notices,
    names: Window<Names>,
}

/// One user's names: as read, or sealed until written.
struct Names {
    first_name: Name,
    last_name: Name,
}

enum Name {
    Opened(Option<String>),
    Sealed(Sealed),
}

impl Name {
    /// Opens a sealed name; an opened one stays.
    async fn open(&mut self, keys: &Keys) -> Result<(), ProjectionError> {
        if let Self::Sealed(sealed) = self {
            *self = Self::Opened(keys.open(sealed).await?.into_text());
        }
        Ok(())
    }

    fn text(&self) -> Option<String> {
        match self {
            Self::Opened(text) => text.clone(),
            Self::Sealed(_) => None,
        }
    }
}

impl<'a> Folding<'a> {
    pub(super) fn new(notices: &'a Notices, budget: usize) -> Self {
        Self {
            notices,
            names: Window::new(budget),
        }
    }

    /// Holds the names of those of `ids` not held yet, read from the table (users with
    /// no row stay absent).
    async fn load_missing<'i>(
        &mut self,
        tx: &mut PgConnection,
        ids: impl IntoIterator<Item = &'i str>,
    ) -> Result<(), sqlx::Error> {
        let missing = self.names.missing(ids);
        if missing.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "SELECT user_id, first_name, last_name FROM {} WHERE user_id = ANY($1)",
            self.notices.names
        );
        let rows: Vec<(String, Option<String>, Option<String>)> =
            sqlx::query_as(&sql).bind(&missing).fetch_all(tx).await?;
        for (id, first_name, last_name) in rows {
            let names = Names {
                first_name: Name::Opened(first_name),
                last_name: Name::Opened(last_name),
            };
            self.names.loaded(id, names);
        }
        Ok(())
    }

    /// Folds one user event: a registration sets both names, whatever was there; a
    /// profile update changes those it carries, of a user who has names (as an UPDATE
    /// would).
    fn user(&mut self, user_id: &str, event: UserEvent) {
        match event {
            UserEvent::Registered(e) => {
                let names = Names {
                    first_name: Name::Sealed(e.first_name),
                    last_name: Name::Sealed(e.last_name),
                };
                self.names.replace(user_id, names);
            }
            UserEvent::ProfileUpdated(e) => {
                let Some(names) = self.names.change(user_id) else {
                    return;
                };
                if let Some(sealed) = e.first_name {
                    names.first_name = Name::Sealed(sealed);
                }
                if let Some(sealed) = e.last_name {
                    names.last_name = Name::Sealed(sealed);
                }
            }
            _ => {}
        }
    }
}

/// Counts a run of messages (no conversation event among them) in their conversations,
/// as the live projection counts them one by one: a message counts unless it is the one
/// counted last (applied again right after).
async fn count_run(tx: &mut PgConnection, run: &[MessageSent]) -> Result<(), sqlx::Error> {
    /// Per conversation: the first and last message, and how many count before the first
    /// is compared with the one counted last.
    struct Counted<'a> {
        first: &'a str,
        last: &'a str,
        counted: i64,
    }
    let mut conversations: HashMap<&str, Counted> = HashMap::new();
    for e in run {
        let message_id = e.message_id.as_str();
        conversations
            .entry(e.conversation_id.as_str())
            .and_modify(|c| {
                if c.last != message_id {
                    c.counted += 1;
                    c.last = message_id;
                }
            })
            .or_insert(Counted {
                first: message_id,
                last: message_id,
                counted: 1,
            });
    }
    if conversations.is_empty() {
        return Ok(());
    }
    let (ids, counted): (Vec<&str>, Vec<&Counted>) = conversations.iter().unzip();
    sqlx::query(
        "UPDATE notice_conversations AS c
            SET last_seq = c.last_seq + r.counted
                         - CASE WHEN c.last_message_id = r.first THEN 1 ELSE 0 END,
                last_message_id = r.last
           FROM UNNEST($1::text[]::uuid[], $2::text[]::uuid[], $3::text[]::uuid[], $4::bigint[])
                AS r(conversation_id, first, last, counted)
          WHERE c.conversation_id = r.conversation_id",
    )
    .bind(&ids)
    .bind(counted.iter().map(|c| c.first).collect::<Vec<_>>())
    .bind(counted.iter().map(|c| c.last).collect::<Vec<_>>())
    .bind(counted.iter().map(|c| c.counted).collect::<Vec<_>>())
    .execute(tx)
    .await?;
    Ok(())
}

/// Whether `event` renames: a registration, or an update carrying a name.
fn renames(event: &UserEvent) -> bool {
    match event {
        UserEvent::Registered(_) => true,
        UserEvent::ProfileUpdated(e) => e.first_name.is_some() || e.last_name.is_some(),
        _ => false,
    }
}

#[async_trait]
impl Bulk for Folding<'_> {
    async fn fold(
        &mut self,
        tx: &mut PgConnection,
        events: &[StoredEvent],
    ) -> Result<(), ProjectionError> {
        let up = &self.notices.upcasters;
        let mut users = Vec::new();
        for event in events {
            let decoded =
                codec::decode_stored(event, user::AGGREGATE_TYPE, up, UserEvent::current_version)?;
            if let Some(decoded) = decoded.filter(renames) {
                users.push((event.aggregate_id.as_str(), decoded));
            }
        }
        self.load_missing(tx, users.iter().map(|(id, _)| *id))
            .await?;
        for (user_id, event) in users {
            self.user(user_id, event);
        }
        // The chat tables: each conversation event as live, each run of messages between
        // two of them counted in one statement.
        let mut run = Vec::new();
        for event in events {
            match ChatEvent::decode(event, up)? {
                Some(ChatEvent::Conversation(decoded)) => {
                    count_run(tx, &run).await?;
                    run.clear();
                    self.notices.conversation(tx, event, &decoded).await?;
                }
                Some(ChatEvent::Message(e)) => run.push(e),
                None => {}
            }
        }
        count_run(tx, &run).await?;
        Ok(())
    }

    fn full(&self) -> bool {
        self.names.full()
    }

    /// Opens the changed names and writes them in one statement.
    async fn flush(&mut self, tx: &mut PgConnection) -> Result<(), ProjectionError> {
        let keys = &self.notices.keys;
        for (_, names) in self.names.changed_mut() {
            names.first_name.open(keys).await?;
            names.last_name.open(keys).await?;
        }
        let (mut ids, mut firsts, mut lasts) = (Vec::new(), Vec::new(), Vec::new());
        for (id, names) in self.names.changed() {
            ids.push(id);
            firsts.push(names.first_name.text());
            lasts.push(names.last_name.text());
        }
        if !ids.is_empty() {
            let sql = format!(
                "INSERT INTO {} (user_id, first_name, last_name)
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[])
                 ON CONFLICT (user_id) DO UPDATE
                    SET first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name",
                self.notices.names
            );
            sqlx::query(&sql)
                .bind(&ids)
                .bind(&firsts)
                .bind(&lasts)
                .execute(&mut *tx)
                .await?;
        }
        self.names.written();
        Ok(())
    }
}
