//! What is checked once the faults are over and every service runs again:
//! - every accepted command's last event is in the store ([`events_lost`]);
//! - every view equals a fresh replay of the store (the operator's verifier, [`replay`]),
//!   and each user's row applied exactly as many events as the store holds for that user
//!   ([`user_versions`]: an event applied twice shows as one too many);
//! - every socket received every notice the notices view holds for its user after its
//!   first `since`, each exactly once ([`notices`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::sockets::{NoticeId, SocketLog, Watch};

/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(200);

/// Accepted commands (by their position) whose event is not in the store.
pub async fn events_lost(pool: &PgPool, positions: &[i64]) -> Result<u64, sqlx::Error> {
    let wanted: BTreeSet<i64> = positions.iter().copied().collect();
    let wanted: Vec<i64> = wanted.into_iter().collect();
    let (found,): (i64,) = sqlx::query_as("SELECT count(*) FROM events WHERE position = ANY($1)")
        .bind(&wanted)
        .fetch_one(pool)
        .await?;
    Ok(wanted.len() as u64 - found as u64)
}

/// Events the users view applied more than once, and events it never applied: each user
/// row's version against the number of that user's events in the store.
#[derive(Debug, Default, Clone, Copy)]
pub struct Versions {
    pub applied_twice: u64,
    pub not_applied: u64,
}

pub async fn user_versions(pool: &PgPool) -> Result<Versions, sqlx::Error> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT u.version,
                (SELECT count(*) FROM events e
                  WHERE e.aggregate_type = 'user' AND e.aggregate_id = u.user_id)
           FROM user_table u",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .fold(Versions::default(), |mut v, (applied, stored)| {
            v.applied_twice += applied.saturating_sub(*stored).max(0) as u64;
            v.not_applied += stored.saturating_sub(*applied).max(0) as u64;
            v
        }))
}

/// Runs the verifier (every projection rebuilt and compared row by row); it first waits,
/// up to `wait`, for every projection to reach the store's last event.
pub async fn replay(pool: &PgPool, wait: Duration) -> Result<audit::Report, audit::VerifyError> {
    let keys = personal_data::Keys::new(pool.clone());
    audit::verify(pool, keys, &audit::VerifyOptions::new(wait)).await
}

/// What the sockets received against what they were owed.
#[derive(Debug, Default, Clone)]
pub struct NoticeCheck {
    pub sockets: usize,
    /// Connections that reached `ready`, over every socket (the first ones included).
    pub connections: u32,
    pub owed: usize,
    pub received: usize,
    /// Missed, and not explained by [`NoticeCheck::live_copy_lost`].
    pub missed: usize,
    /// Missed notices stored by the projector in the seconds before it was killed, or
    /// around the NATS outage: the faults that lost live copies until they were fixed
    /// (docs/RELIABILITY.md, "What it found"). Counted apart to tell where to look.
    pub live_copy_lost: usize,
    pub duplicated: usize,
    /// Received, but not in the notices view (told of something that is not there).
    pub unexpected: usize,
    pub retried_unavailable: u32,
    pub resyncs: usize,
    /// A few of the missed notices, to start looking: `user (tx_id, position, kind)` and
    /// when their event was recorded.
    pub missed_examples: Vec<String>,
    /// A few of those: when they were stored, and the fault that lost them.
    pub live_copy_lost_examples: Vec<String>,
    /// A few of the unexpected ones, with the `since` of the socket's first connection.
    pub unexpected_examples: Vec<String>,
}

/// `Some` once the projection `name` has applied the event at `position`.
pub async fn projection_reached(pool: &PgPool, name: &str, position: i64) -> Option<()> {
    let reached: Option<(bool,)> = sqlx::query_as(
        "SELECT (c.tx_id, c.position) >= (e.tx_id, e.position)
           FROM checkpoints c, events e
          WHERE c.name = $1 AND e.position = $2",
    )
    .bind(name)
    .bind(position)
    .fetch_optional(pool)
    .await
    .ok()?;
    reached.and_then(|(yes,)| yes.then_some(()))
}

/// How long before a projector kill a missed notice must have been stored for the kill to
/// explain it: a batch commits, then publishes its notices within milliseconds.
const BEFORE_KILL: f64 = 2.0;
/// How long after NATS is back a missed notice may have been stored for the outage to
/// explain it: the services' NATS clients reconnect with a backoff of a few seconds.
const AFTER_NATS: f64 = 15.0;

/// The faults known to lose the live copy of a notice, with their times (seconds since the
/// Unix epoch).
#[derive(Debug, Default, Clone)]
pub struct KnownLosses {
    pub projector_kills: Vec<f64>,
    pub nats_outage: Option<(f64, f64)>,
}

impl KnownLosses {
    /// The fault that explains a notice stored at `stored` going missing, if one does.
    fn explain(&self, stored: f64) -> Option<String> {
        let kill = self
            .projector_kills
            .iter()
            .map(|kill| kill - stored)
            .find(|gap| (0.0..=BEFORE_KILL).contains(gap));
        if let Some(gap) = kill {
            return Some(format!("projector killed {gap:.3}s later"));
        }
        let (down, back) = self.nats_outage?;
        (down - 1.0..=back + AFTER_NATS).contains(&stored).then(|| {
            format!(
                "NATS down {:+.1}s, back {:+.1}s",
                down - stored,
                back - stored
            )
        })
    }
}

/// Waits, up to `wait`, until every socket has received every notice owed to it, then
/// compares.
pub async fn notices(
    pool: &PgPool,
    watches: &[Watch],
    wait: Duration,
    known: &KnownLosses,
) -> Result<NoticeCheck, sqlx::Error> {
    let deadline = Instant::now() + wait;
    loop {
        let mut owed = BTreeMap::new();
        for watch in watches {
            owed.insert(
                watch.user.clone(),
                owed_notices(pool, &watch.user, watch.start).await?,
            );
        }
        let logs: Vec<SocketLog> = watches.iter().map(Watch::snapshot).collect();
        let (mut check, missed) = compare(watches, &logs, &owed);
        if check.missed == 0 || Instant::now() >= deadline {
            let (lost, unexplained) = split_known(pool, missed, known).await?;
            check.live_copy_lost = lost.len();
            check.live_copy_lost_examples = lost.into_iter().take(5).collect();
            check.missed = unexplained.len();
            check.missed_examples =
                when_recorded(pool, &unexplained[..unexplained.len().min(5)]).await?;
            return Ok(check);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The notices the view holds for `user` after the event at `since`, in feed order.
async fn owed_notices(pool: &PgPool, user: &str, since: i64) -> Result<Vec<NoticeId>, sqlx::Error> {
    let rows: Vec<(i64, i64, String)> = sqlx::query_as(
        "SELECT n.tx_id::text::bigint, n.position, n.kind
           FROM user_notices n, events e
          WHERE e.position = $2 AND n.user_id = $1 AND (n.tx_id, n.position) > (e.tx_id, e.position)
          ORDER BY n.tx_id, n.position, n.kind",
    )
    .bind(user)
    .bind(since)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(tx, position, kind)| (tx as u64, position, kind))
        .collect())
}

/// Splits the missed notices into those a known fault explains (described, for the
/// report) and the others.
async fn split_known(
    pool: &PgPool,
    missed: Vec<(String, NoticeId)>,
    known: &KnownLosses,
) -> Result<(Vec<String>, Vec<(String, NoticeId)>), sqlx::Error> {
    let (mut lost, mut unexplained) = (Vec::new(), Vec::new());
    for (user, notice) in missed {
        let (stored, at): (f64, String) = sqlx::query_as(
            "SELECT extract(epoch FROM created_at)::float8,
                    to_char(created_at AT TIME ZONE 'UTC', 'HH24:MI:SS.MS')
               FROM user_notices
              WHERE user_id = $1 AND tx_id = $2::text::xid8 AND position = $3 AND kind = $4",
        )
        .bind(&user)
        .bind(notice.0.to_string())
        .bind(notice.1)
        .bind(&notice.2)
        .fetch_one(pool)
        .await?;
        match known.explain(stored) {
            Some(cause) => lost.push(format!("{user} {notice:?} stored {at}, {cause}")),
            None => unexplained.push((user, notice)),
        }
    }
    Ok((lost, unexplained))
}

/// Adds to each missed notice when its event was recorded, to set beside the faults'
/// timeline.
async fn when_recorded(
    pool: &PgPool,
    missed: &[(String, NoticeId)],
) -> Result<Vec<String>, sqlx::Error> {
    let mut examples = Vec::new();
    for (user, notice) in missed {
        let recorded: Option<(String,)> = sqlx::query_as(
            "SELECT to_char(recorded_at AT TIME ZONE 'UTC', 'HH24:MI:SS.MS')
               FROM events WHERE position = $1",
        )
        .bind(notice.1)
        .fetch_optional(pool)
        .await?;
        let at = recorded.map_or_else(|| "?".to_owned(), |(at,)| at);
        examples.push(format!("{user} {notice:?} recorded {at}"));
    }
    Ok(examples)
}

fn compare(
    watches: &[Watch],
    logs: &[SocketLog],
    owed: &BTreeMap<String, Vec<NoticeId>>,
) -> (NoticeCheck, Vec<(String, NoticeId)>) {
    let mut missed = Vec::new();
    let mut check = NoticeCheck {
        sockets: watches.len(),
        ..Default::default()
    };
    for (watch, log) in watches.iter().zip(logs) {
        let owed: BTreeSet<&NoticeId> = owed[&watch.user].iter().collect();
        let received: BTreeSet<&NoticeId> = log.received.iter().collect();
        check.connections += log.connections;
        check.owed += owed.len();
        check.received += log.received.len();
        check.duplicated += log.received.len() - received.len();
        for unexpected in received.difference(&owed) {
            check.unexpected += 1;
            if check.unexpected_examples.len() < 5 {
                let since = watch.start;
                check
                    .unexpected_examples
                    .push(format!("{} {unexpected:?} (since {since})", watch.user));
            }
        }
        check.retried_unavailable += log.retried_unavailable;
        check.resyncs += log.resyncs.len();
        for notice in owed.difference(&received) {
            check.missed += 1;
            missed.push((watch.user.clone(), (*notice).clone()));
        }
    }
    (check, missed)
}
