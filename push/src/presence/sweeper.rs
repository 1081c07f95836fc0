//! Telling friends who went offline. A record expires by itself (the bucket's
//! `max_age`) and NATS says nothing when it does, so one node at a time (the holder of
//! an advisory lock, as for the relay and the projectors) lists the bucket's keys every
//! sweep interval and publishes `offline` for each user whose key disappeared since the
//! last sweep. A new leader starts from what it lists first, so a user who expired while
//! no node led is not announced; their friends read it from the friends query.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use ::presence::{PresenceStore, Seen};
use event_store::leader::Leadership;
use sqlx::PgPool;

use super::Presences;

/// The advisory lock role of the sweeper.
const ROLE: &str = "push:presence-sweeper";

/// Sweeps every `interval` while this node leads, until `stop` completes.
pub(crate) async fn run(
    pool: PgPool,
    store: PresenceStore,
    presences: Presences,
    interval: Duration,
    stop: impl Future<Output = ()>,
) {
    tokio::select! {
        () = stop => {}
        () = lead_forever(&pool, &store, &presences, interval) => {}
    }
}

async fn lead_forever(
    pool: &PgPool,
    store: &PresenceStore,
    presences: &Presences,
    interval: Duration,
) {
    loop {
        match Leadership::acquire(pool, ROLE, interval).await {
            Ok(leadership) => sweep_while_leading(leadership, store, presences, interval).await,
            Err(error) => tracing::warn!(error.cause = %error, "presence sweeper: no leadership"),
        }
        tokio::time::sleep(interval).await;
    }
}

/// Returns when leadership is lost.
async fn sweep_while_leading(
    mut leadership: Leadership,
    store: &PresenceStore,
    presences: &Presences,
    interval: Duration,
) {
    let mut online: Option<HashSet<String>> = None;
    let mut ticks = tokio::time::interval(interval);
    loop {
        ticks.tick().await;
        if let Err(error) = leadership.check().await {
            tracing::warn!(error.cause = %error, "presence sweeper lost leadership");
            return;
        }
        let now = match store.users().await {
            Ok(users) => users,
            Err(error) => {
                tracing::warn!(error.cause = %error, "presence sweep failed");
                continue;
            }
        };
        for gone in online.iter().flatten().filter(|user| !now.contains(*user)) {
            tracing::debug!(user.id = %gone, "went offline");
            if let Err(error) = presences.tell_friends(&Seen::offline(gone)).await {
                tracing::warn!(error.cause = %error, "offline notice not sent");
            }
        }
        online = Some(now);
    }
}
