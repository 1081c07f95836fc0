//! Presence on the push service: reports and heartbeats (socket frames or HTTP), the
//! friends query, live presence frames, and the sweeper that tells friends who went
//! offline.
//!
//! Records live in the presence bucket ([`presence::PresenceStore`]), never in the event
//! store. Each report that changes the page is published, already filtered by the
//! owner's sharing policy, on `presence.<friend>` for every accepted friend; each node
//! subscribes that subject for the users it holds sockets for, as it does `notices.<user>`.
//! Presence frames carry no position: they are not part of the recoverable notice
//! history, and a reconnecting client reads `GET /v1/presence/friends` instead.
//!
//! Modules: `routes` (HTTP), `sweeper` (offline notices).

pub(crate) mod routes;
pub(crate) mod sweeper;

use ::presence::{Presence, PresenceError, PresenceState, PresenceStore, Seen, StoreError};
use chrono::Utc;
use event_store::envelope::subject_token;
use sqlx::PgPool;

use crate::frame::{ClientFrame, ServerFrame};

/// The core NATS subject of the presence frames `user_id`'s sockets receive.
pub fn presence_subject(user_id: &str) -> String {
    format!("presence.{}", subject_token(user_id))
}

/// The `presence` frame a message on a presence subject becomes; a malformed message
/// is logged and gives none.
pub(crate) fn frame_of(message: &async_nats::Message) -> Option<ServerFrame> {
    serde_json::from_slice(&message.payload)
        .inspect_err(|error| {
            tracing::warn!(nats.subject = %message.subject, error.cause = %error, "malformed presence skipped");
        })
        .ok()
        .map(ServerFrame::Presence)
}

/// Why a report or a query failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    #[error(transparent)]
    Invalid(#[from] PresenceError),
    #[error("no presence to refresh: report a page first")]
    Unknown,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Reads and writes presence, and tells friends. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Presences {
    store: PresenceStore,
    pool: PgPool,
    nats: async_nats::Client,
}

impl Presences {
    pub(crate) fn new(store: PresenceStore, pool: PgPool, nats: async_nats::Client) -> Self {
        Self { store, pool, nats }
    }

    /// Records that `user_id` is on `url` titled `title`; when the page changed, tells
    /// the friends. Answers the state friends now see.
    pub(crate) async fn report(
        &self,
        user_id: &str,
        url: &str,
        title: &str,
    ) -> Result<PresenceState, Failure> {
        let mut presence = Presence::report(user_id, url, title, Utc::now())?;
        let previous = self.store.get(user_id).await?;
        let policy = ::presence::sharing_policy(&self.pool, user_id).await?;
        let moved = previous
            .as_ref()
            .is_none_or(|p| (&p.url, &p.title) != (&presence.url, &presence.title));
        let told_before = previous.as_ref().map(|p| p.told_visible);
        presence.remember_shared(previous, &policy);
        let seen = presence.seen_by_friends(&policy);
        presence.told_visible = seen.state == PresenceState::Online;
        self.store.put(&presence).await?;
        if moved || told_before != Some(presence.told_visible) {
            self.tell_friends(&seen).await?;
        }
        Ok(seen.state)
    }

    /// Writes the user's record again (its age restarts) with `at` now. Friends are told
    /// only when the owner's policy has changed what they see since they were last told
    /// (the page hidden or shown again). `Failure::Unknown` when the user has no record
    /// (it expired, or never was).
    pub(crate) async fn heartbeat(&self, user_id: &str) -> Result<PresenceState, Failure> {
        let mut presence = self.store.get(user_id).await?.ok_or(Failure::Unknown)?;
        presence.at = Utc::now();
        let policy = ::presence::sharing_policy(&self.pool, user_id).await?;
        let seen = presence.seen_by_friends(&policy);
        let visible = seen.state == PresenceState::Online;
        let changed = visible != presence.told_visible;
        if changed {
            presence.remember_shared(Some(presence.clone()), &policy);
            presence.told_visible = visible;
        }
        self.store.put(&presence).await?;
        if changed {
            self.tell_friends(&seen).await?;
        }
        Ok(seen.state)
    }

    /// Every accepted friend of `user_id`, as they may be seen.
    pub(crate) async fn friends(&self, user_id: &str) -> Result<Vec<Seen>, Failure> {
        let friends = ::presence::accepted_friends(&self.pool, user_id).await?;
        let records = self.store.get_many(&friends).await?;
        let policies = ::presence::sharing_policies(&self.pool, &friends).await?;
        let seen = friends
            .iter()
            .zip(records)
            .map(|(friend, record)| match record {
                None => Seen::offline(friend),
                Some(record) => {
                    let policy = policies.get(friend).cloned().unwrap_or_default();
                    record.seen_by_friends(&policy)
                }
            });
        Ok(seen.collect())
    }

    /// Answers a presence frame from `user_id`'s socket: `None` for a frame that is not
    /// about presence, an `error` frame when it was refused, nothing when it worked.
    pub(crate) async fn answer(&self, user_id: &str, frame: ClientFrame) -> Option<ServerFrame> {
        let done = match frame {
            ClientFrame::Presence { url, title } => self.report(user_id, &url, &title).await,
            ClientFrame::Heartbeat => self.heartbeat(user_id).await,
            ClientFrame::Ping => return None,
        };
        let failure = done.err()?;
        let (code, message) = routes::code_of(&failure);
        Some(ServerFrame::Error {
            code: code.to_owned(),
            message,
        })
    }

    /// Publishes `seen` on the presence subject of each accepted friend of its user.
    pub(crate) async fn tell_friends(&self, seen: &Seen) -> Result<(), Failure> {
        let friends = ::presence::accepted_friends(&self.pool, &seen.user_id).await?;
        let Ok(body) = serde_json::to_vec(seen) else {
            return Ok(());
        };
        for friend in friends {
            let subject = presence_subject(&friend);
            if let Err(error) = self.nats.publish(subject, body.clone().into()).await {
                tracing::warn!(error.cause = %error, "a presence could not be published");
            }
        }
        Ok(())
    }
}
