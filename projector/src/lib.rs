//! The projector: JetStream events into view tables, exactly once, in order; and, from
//! one projection of its own, a notice to each user an event concerns, in feed order.
//!
//! - [`Projection`]: what one view does with one event, inside the runner's transaction.
//! - [`runner`]: one durable JetStream consumer per projection. Each batch of view
//!   changes, its notices and the projection's checkpoint commit in one transaction, and
//!   events at or below the checkpoint are skipped, so a redelivered event changes
//!   nothing. The consumer is recreated from the checkpoint at every start, so what the
//!   consumer had delivered before a crash never decides what is applied.
//! - [`notices`]: per-user notices, stored with the checkpoint (the push service's
//!   recovery history) and then published on core NATS. Only the [`notices::Notices`]
//!   projection returns any (the view projections return none), so a user's notices
//!   are told in feed order and a socket's `since` recovery has no gap.
//! - [`replay`]: a projection rebuilt from the store, compared with the live view.
//! - [`users`]: the `user_table` view.
//! - [`friendships`]: the `friendship_table` view.
//! - [`policies`]: the `sharing_policy` view.
//! - [`shares`]: the `share_notifications` and `shares_sent` views.
//! - [`popular`]: the popular pages views (`popular_domains`, `popular_pages`,
//!   `sharer_stats`).
//! - [`chat`]: the chat views (`chat_conversations`, `chat_participants`,
//!   `chat_messages`); its live notices are the [`notices::Notices`] projection's.
//!
//! Boundaries: reads NATS and writes view tables; never writes the event store.

pub mod chat;
pub mod friendships;
pub mod notices;
pub mod policies;
pub mod popular;
pub mod replay;
pub mod runner;
pub mod shares;
pub mod users;
mod window;

use std::sync::Arc;

use async_trait::async_trait;
use event_bus::Addressed;
use event_store::StoredEvent;
use personal_data::Keys;
use sqlx::PgConnection;

pub use runner::{Config, Runner};

/// Why a projection could not apply an event. The batch is rolled back and retried.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("postgres: {0}")]
    Postgres(#[from] sqlx::Error),
    #[error(transparent)]
    Codec(#[from] event_store::codec::CodecError),
    #[error(transparent)]
    PersonalData(#[from] personal_data::PersonalDataError),
}

/// One view kept from the feed.
#[async_trait]
pub trait Projection: Send + Sync {
    /// The projection's name: its checkpoint row, its lock and its consumer.
    fn name(&self) -> &'static str;

    /// The tables the projection writes, unqualified (as its SQL names them). The verifier
    /// rebuilds these into scratch copies and compares them with the live ones; a
    /// projection that declares none cannot be verified.
    fn tables(&self) -> &'static [&'static str] {
        &[]
    }

    /// Whether the projection tells users about events (returns notices): the runner
    /// then publishes them and keeps how far it got ([`notices::Publication`]).
    fn tells(&self) -> bool {
        false
    }

    /// Applies `event` to the view inside `tx` and returns the notices it leads to.
    /// Events of aggregates the view does not follow return no notices and change nothing.
    async fn apply(
        &self,
        tx: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<Vec<Addressed>, ProjectionError>;

    /// Applies `events`, in feed order, inside `tx`, and returns their notices: what
    /// [`apply`](Self::apply) of each in turn does. A projection that can apply a batch in
    /// fewer statements (folding each row's events in memory, then one write per table)
    /// overrides this; its result must be the same, which its replay tests check.
    async fn apply_batch(
        &self,
        tx: &mut PgConnection,
        events: &[StoredEvent],
    ) -> Result<Vec<Addressed>, ProjectionError> {
        let mut notices = Vec::new();
        for event in events {
            notices.extend(self.apply(tx, event).await?);
        }
        Ok(notices)
    }

    /// How a rebuild applies this projection ([`replay::Bulk`]): by default each batch
    /// through [`apply_batch`](Self::apply_batch), in a transaction of its own.
    fn bulk<'a>(&'a self, _options: &replay::RebuildOptions) -> Box<dyn replay::Bulk + 'a> {
        Box::new(replay::EachBatch::new(self))
    }
}

/// Every projection of the system, live: `pagenow projector` runs one runner for each.
/// A projection added here is built from the whole history on its first start.
pub fn all(keys: Keys) -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(users::Users::new(keys.clone())),
        Arc::new(notices::Notices::new(keys.clone())),
        Arc::new(policies::Policies::new()),
        Arc::new(popular::Popular::new(keys.clone())),
        Arc::new(shares::Shares::new(keys.clone())),
        Arc::new(friendships::Friendships::new()),
        Arc::new(chat::Chat::new(keys)),
    ]
}
