//! The `shares` projection: `share_notifications` (one row per share and recipient) and
//! `shares_sent` (one row per share). The `share.received` notices are the `notices`
//! projection's.
//!
//! URL, title and domain are opened with the sharer's key; once the sharer is erased
//! they are NULL, in the live view and in every replay. Seen marks come from the
//! recipients' inbox streams: "mark all" marks the notifications the view holds at that
//! point of the feed, which a replay reaches in the same order, so it marks the same.
//!
//! A share applied a second time inserts nothing; seen marks only ever fill an empty
//! `seen_at`, wherever the share was seen. Inbox events are read through the domain's
//! [`InboxEvent::UPCASTS`], so a version 1 `inbox.share_seen` marks its share as a
//! version 2 one does.

use async_trait::async_trait;
use domain::share::inbox::{self, InboxEvent};
use domain::share::{self as share, ShareCreated, ShareEvent};
use event_bus::Addressed;
use event_store::codec::{self, Upcasters};
use event_store::StoredEvent;
use personal_data::Keys;
use sqlx::{PgConnection, Postgres, QueryBuilder};

use crate::{Projection, ProjectionError};

/// The projection's name (its checkpoint row, and the view `?min_position=` waits for).
pub const NAME: &str = "shares";

/// The live notifications table.
pub const NOTIFICATIONS: &str = "share_notifications";

/// The live table of shares sent.
pub const SENT: &str = "shares_sent";

/// Keeps `share_notifications` and `shares_sent`, or tables of the same shapes.
pub struct Shares {
    keys: Keys,
    /// Of every event type it reads: only inbox events have older versions yet.
    upcasters: Upcasters,
    notifications: String,
    sent: String,
}

/// A share's texts, opened (`None` when erased).
struct Opened {
    url: Option<String>,
    title: Option<String>,
    domain: Option<String>,
}

impl Shares {
    /// The live projection, into [`NOTIFICATIONS`] and [`SENT`].
    pub fn new(keys: Keys) -> Self {
        Self::into_tables(keys, NOTIFICATIONS, SENT)
    }

    /// The projection into `notifications` and `sent`, which have the live tables'
    /// columns. Both are identifiers chosen by our code, never by a client.
    pub fn into_tables(keys: Keys, notifications: &str, sent: &str) -> Self {
        Self {
            keys,
            upcasters: Upcasters::of(InboxEvent::UPCASTS),
            notifications: notifications.to_owned(),
            sent: sent.to_owned(),
        }
    }

    async fn open(&self, e: &ShareCreated) -> Result<Opened, ProjectionError> {
        Ok(Opened {
            url: self.keys.open(&e.url).await?.into_text(),
            title: self.keys.open(&e.title).await?.into_text(),
            domain: self.keys.open(&e.domain).await?.into_text(),
        })
    }

    /// Inserts the share's rows (none when it was applied before).
    async fn created(
        &self,
        tx: &mut PgConnection,
        e: &ShareCreated,
        event: &StoredEvent,
    ) -> Result<(), ProjectionError> {
        let texts = self.open(e).await?;
        let sql = format!(
            "INSERT INTO {} (share_id, sharer_id, url, title, domain, shared_at, recipient_count, position)
             VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (share_id) DO NOTHING",
            self.sent
        );
        sqlx::query(&sql)
            .bind(e.share_id.as_str())
            .bind(e.sharer.as_str())
            .bind(&texts.url)
            .bind(&texts.title)
            .bind(&texts.domain)
            .bind(e.shared_at)
            .bind(i32::try_from(e.recipients.len()).unwrap_or(i32::MAX))
            .bind(event.position)
            .execute(&mut *tx)
            .await?;
        self.notify_rows(tx, e, &texts, event.position).await?;
        Ok(())
    }

    async fn notify_rows(
        &self,
        tx: &mut PgConnection,
        e: &ShareCreated,
        texts: &Opened,
        position: i64,
    ) -> Result<(), sqlx::Error> {
        let sql = format!(
            "INSERT INTO {} (share_id, recipient_id, sharer_id, url, title, domain, shared_at, position)
             SELECT $1::uuid, recipient, $2, $3, $4, $5, $6, $7 FROM unnest($8::text[]) AS recipient
             ON CONFLICT (share_id, recipient_id) DO NOTHING",
            self.notifications
        );
        let recipients: Vec<&str> = e.recipients.iter().map(|r| r.as_str()).collect();
        sqlx::query(&sql)
            .bind(e.share_id.as_str())
            .bind(e.sharer.as_str())
            .bind(&texts.url)
            .bind(&texts.title)
            .bind(&texts.domain)
            .bind(e.shared_at)
            .bind(position)
            .bind(recipients)
            .execute(tx)
            .await?;
        Ok(())
    }

    /// Fills `seen_at` of one recipient's notifications (of one share, or all), where empty.
    async fn seen(
        &self,
        tx: &mut PgConnection,
        recipient: &str,
        event: &InboxEvent,
    ) -> Result<(), sqlx::Error> {
        let seen_at = match event {
            InboxEvent::ShareSeen(e) => e.seen_at,
            InboxEvent::AllSharesSeen(e) => e.seen_at,
        };
        let mut sql: QueryBuilder<Postgres> =
            QueryBuilder::new(format!("UPDATE {} SET seen_at = ", self.notifications));
        sql.push_bind(seen_at)
            .push(" WHERE seen_at IS NULL AND recipient_id = ")
            .push_bind(recipient);
        if let InboxEvent::ShareSeen(e) = event {
            sql.push(" AND share_id = ")
                .push_bind(e.share_id.as_str())
                .push("::uuid");
        }
        sql.build().execute(tx).await?;
        Ok(())
    }
}

#[async_trait]
impl Projection for Shares {
    fn name(&self) -> &'static str {
        NAME
    }

    fn tables(&self) -> &'static [&'static str] {
        &[NOTIFICATIONS, SENT]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<Vec<Addressed>, ProjectionError> {
        let (kind, version, payload) = (&event.event_type, &event.event_version, &event.payload);
        match event.aggregate_type.as_str() {
            share::AGGREGATE_TYPE => {
                let decoded: ShareEvent = codec::decode_ref(
                    kind,
                    version,
                    payload,
                    &self.upcasters,
                    ShareEvent::current_version,
                )?;
                let ShareEvent::Created(e) = &decoded;
                self.created(tx, e, event).await?;
                Ok(vec![])
            }
            inbox::AGGREGATE_TYPE => {
                let decoded: InboxEvent = codec::decode_ref(
                    kind,
                    version,
                    payload,
                    &self.upcasters,
                    InboxEvent::current_version,
                )?;
                self.seen(tx, &event.aggregate_id, &decoded).await?;
                Ok(vec![])
            }
            _ => Ok(vec![]),
        }
    }
}
