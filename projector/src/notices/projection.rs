//! The `notices` projection: every notice a user is told, in feed order.
//!
//! One projection tells everything, so the notices of a user are stored and published in
//! the order of their events in the feed, whatever kind of view those events change. A
//! socket that reconnects with the position of the last notice it saw therefore misses
//! nothing: no notice can still be on its way from a projection that lags behind another.
//!
//! The names a notice carries (who sent a friend request, who shared a page) come from
//! `notice_names`, which this projection keeps from the user events, not from another
//! view: a notice carries the names as of its event's place in the feed, live and in
//! every replay. Names, URLs and titles are opened with their owner's key; once the owner
//! is erased they are `null`.
//!
//! The chat notices (`chat.*`, in the `chat` submodule) go to the participants of a
//! conversation as this projection records them from the conversation events, and carry
//! a message's `seq` as this projection counts it: the same as the `chat` view's, from
//! the same events in the same order, without reading that view.
//!
//! Once-only is the runner's: it applies each event once, after its checkpoint, and
//! `user_notices` ignores a notice it already holds.

mod chat;
mod fold;

use async_trait::async_trait;
use domain::friendship::{self, FriendshipEvent};
use domain::share::{self, ShareCreated, ShareEvent};
use domain::user::{self, ProfileUpdated, UserEvent, UserId};
use event_bus::{Addressed, Notice};
use event_store::codec::{self, Upcasters};
use event_store::StoredEvent;
use personal_data::{Keys, Sealed};
use serde_json::{json, Value};
use sqlx::PgConnection;

use crate::chat::ChatEvent;
use crate::replay::{Bulk, RebuildOptions};
use crate::{users, Projection, ProjectionError};

/// The projection's name (its checkpoint row).
pub const NAME: &str = "notices";

/// The live table of names.
pub const TABLE: &str = "notice_names";

/// Tells every notice, keeping `notice_names` (or a table of the same shape: a replay's
/// scratch copy) and the chat membership tables (unqualified: a replay into a scratch
/// schema resolves them there).
pub struct Notices {
    keys: Keys,
    upcasters: Upcasters,
    names: String,
}

/// A user's names as this projection has them (`None` when unknown or erased).
#[derive(Debug)]
struct Names {
    first_name: Option<String>,
    last_name: Option<String>,
}

impl Notices {
    /// The live projection, into [`TABLE`].
    pub fn new(keys: Keys) -> Self {
        Self::into_table(keys, TABLE)
    }

    /// The projection into `names`, which has `notice_names`' columns. `names` is an
    /// identifier chosen by our code, never by a client.
    pub fn into_table(keys: Keys, names: &str) -> Self {
        Self {
            keys,
            upcasters: Upcasters::default(),
            names: names.to_owned(),
        }
    }

    async fn open(&self, sealed: Option<&Sealed>) -> Result<Option<String>, ProjectionError> {
        Ok(self.keys.open_optional(sealed).await?)
    }

    async fn user(
        &self,
        tx: &mut PgConnection,
        event: &StoredEvent,
        decoded: &UserEvent,
    ) -> Result<Vec<Addressed>, ProjectionError> {
        let user_id = event.aggregate_id.as_str();
        let (kind, data) = match decoded {
            UserEvent::Registered(e) => {
                let names = Names {
                    first_name: self.open(Some(&e.first_name)).await?,
                    last_name: self.open(Some(&e.last_name)).await?,
                };
                self.registered(tx, user_id, &names).await?;
                ("user.registered", json!({ "user_id": user_id }))
            }
            UserEvent::ProfileUpdated(e) => {
                self.renamed(tx, user_id, e).await?;
                let fields = changed_fields(e);
                (
                    "user.profile_updated",
                    json!({ "user_id": user_id, "fields": fields }),
                )
            }
            _ => return Ok(vec![]),
        };
        Ok(vec![notice(event, user_id, kind, data)])
    }

    /// Sets `user_id`'s names (again, when the event is applied a second time).
    async fn registered(
        &self,
        tx: &mut PgConnection,
        user_id: &str,
        names: &Names,
    ) -> Result<(), sqlx::Error> {
        let sql = format!(
            "INSERT INTO {} (user_id, first_name, last_name) VALUES ($1, $2, $3)
             ON CONFLICT (user_id) DO UPDATE
                SET first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name",
            self.names
        );
        sqlx::query(&sql)
            .bind(user_id)
            .bind(&names.first_name)
            .bind(&names.last_name)
            .execute(tx)
            .await?;
        Ok(())
    }

    /// Changes the names `e` changes; leaves the others.
    async fn renamed(
        &self,
        tx: &mut PgConnection,
        user_id: &str,
        e: &ProfileUpdated,
    ) -> Result<(), ProjectionError> {
        if e.first_name.is_none() && e.last_name.is_none() {
            return Ok(());
        }
        let sql = format!(
            "UPDATE {} SET first_name = CASE WHEN $2 THEN $3 ELSE first_name END,
                           last_name = CASE WHEN $4 THEN $5 ELSE last_name END
              WHERE user_id = $1",
            self.names
        );
        sqlx::query(&sql)
            .bind(user_id)
            .bind(e.first_name.is_some())
            .bind(self.open(e.first_name.as_ref()).await?)
            .bind(e.last_name.is_some())
            .bind(self.open(e.last_name.as_ref()).await?)
            .execute(tx)
            .await?;
        Ok(())
    }

    async fn names(&self, tx: &mut PgConnection, user_id: &str) -> Result<Names, sqlx::Error> {
        let sql = format!(
            "SELECT first_name, last_name FROM {} WHERE user_id = $1",
            self.names
        );
        let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(&sql)
            .bind(user_id)
            .fetch_optional(tx)
            .await?;
        let (first_name, last_name) = row.unwrap_or_default();
        Ok(Names {
            first_name,
            last_name,
        })
    }

    /// The notice to the user who did not act, with the actor's names.
    async fn friendship(
        &self,
        tx: &mut PgConnection,
        event: &StoredEvent,
        decoded: &FriendshipEvent,
    ) -> Result<Vec<Addressed>, ProjectionError> {
        let (kind, to, actor) = tell(decoded);
        let names = self.names(tx, actor.as_str()).await?;
        let data = json!({
            "user_id": actor,
            "first_name": names.first_name,
            "last_name": names.last_name,
        });
        Ok(vec![notice(event, to.as_str(), kind, data)])
    }

    /// A `share.received` notice to each recipient: enough to show the share without a
    /// request.
    async fn share(
        &self,
        tx: &mut PgConnection,
        event: &StoredEvent,
        e: &ShareCreated,
    ) -> Result<Vec<Addressed>, ProjectionError> {
        let sharer = self.names(tx, e.sharer.as_str()).await?;
        let data = json!({
            "share_id": e.share_id,
            "sharer": {
                "user_id": e.sharer,
                "first_name": sharer.first_name,
                "last_name": sharer.last_name,
            },
            "url": self.keys.open(&e.url).await?.into_text(),
            "title": self.keys.open(&e.title).await?.into_text(),
            "shared_at": e.shared_at,
        });
        Ok(e.recipients
            .iter()
            .map(|recipient| notice(event, recipient.as_str(), "share.received", data.clone()))
            .collect())
    }
}

/// The names of the profile fields `e` changes, in the order `user.profile_updated` lists them.
fn changed_fields(e: &ProfileUpdated) -> Vec<&'static str> {
    let names = [
        ("first_name", e.first_name.is_some()),
        ("last_name", e.last_name.is_some()),
        ("email_public", e.email_public.is_some()),
    ];
    let profile = users::fields(e).map(|(name, field)| (name, field.is_some()));
    names
        .into_iter()
        .chain(profile)
        .chain([("description", e.description.is_some())])
        .filter_map(|(name, changed)| changed.then_some(name))
        .collect()
}

/// Whom a friendship event is told to, and about whom: `(kind, to, actor)`.
fn tell(event: &FriendshipEvent) -> (&'static str, &UserId, &UserId) {
    use FriendshipEvent as E;
    match event {
        E::Requested(e) => ("friendship.request_received", &e.recipient, &e.requester),
        E::Accepted(e) => ("friendship.request_accepted", &e.requester, &e.recipient),
        E::Declined(e) => ("friendship.request_declined", &e.requester, &e.recipient),
        E::Cancelled(e) => ("friendship.request_cancelled", &e.recipient, &e.requester),
        E::Removed(e) => ("friendship.removed", &e.other, &e.by),
    }
}

fn notice(event: &StoredEvent, user_id: &str, kind: &str, data: Value) -> Addressed {
    Addressed {
        user_id: user_id.to_owned(),
        notice: Notice {
            position: event.position,
            tx_id: event.tx_id,
            kind: kind.to_owned(),
            data,
        },
    }
}

#[async_trait]
impl Projection for Notices {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tells(&self) -> bool {
        true
    }

    fn tables(&self) -> &'static [&'static str] {
        &[TABLE, chat::MEMBERS, chat::CONVERSATIONS]
    }

    /// Names folded across batches and written once per window; chat tables as live; no
    /// notices made ([`fold`]).
    fn bulk<'a>(&'a self, options: &RebuildOptions) -> Box<dyn Bulk + 'a> {
        Box::new(fold::Folding::new(self, options.rows))
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<Vec<Addressed>, ProjectionError> {
        let up = &self.upcasters;
        if let Some(decoded) =
            codec::decode_stored(event, user::AGGREGATE_TYPE, up, UserEvent::current_version)?
        {
            return self.user(tx, event, &decoded).await;
        }
        if let Some(decoded) = codec::decode_stored(
            event,
            friendship::AGGREGATE_TYPE,
            up,
            FriendshipEvent::current_version,
        )? {
            return self.friendship(tx, event, &decoded).await;
        }
        if let Some(ShareEvent::Created(e)) = codec::decode_stored(
            event,
            share::AGGREGATE_TYPE,
            up,
            ShareEvent::current_version,
        )? {
            return self.share(tx, event, &e).await;
        }
        match ChatEvent::decode(event, up)? {
            Some(ChatEvent::Conversation(decoded)) => self.conversation(tx, event, &decoded).await,
            Some(ChatEvent::Message(e)) => self.message(tx, event, &e).await,
            None => Ok(vec![]),
        }
    }
}
