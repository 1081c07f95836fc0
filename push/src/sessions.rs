//! The sessions of this node, as a whole: how many there are (per user and in all), how
//! they are told to close, and how they are awaited.
//!
//! A socket takes a [`Seat`] before its upgrade, so a node over its limits refuses with
//! an HTTP answer rather than a socket it closes at once. axum's graceful shutdown does
//! not wait for upgraded connections, so the sessions are tracked here too:
//! [`App::run`](crate::App::run) cancels them once the shutdown signal fires and waits for
//! each to have sent its Close frame. When the node's NATS connection breaks, live
//! notices may be missed until it is back (core NATS keeps nothing for an absent
//! subscriber): every session is told ([`Sessions::broker_interrupted`]) and
//! closes with "try again", and its client reconnects with its position and recovers
//! them from the history. Presence is not tracked per node: a user's
//! presence is what they report, kept in the shared bucket (see `presence`).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};
use tokio_util::task::task_tracker::TaskTrackerToken;
use tokio_util::task::TaskTracker;

/// The live sessions of one push node. Cheap to clone: clones share the same sessions.
#[derive(Debug, Clone)]
pub(crate) struct Sessions {
    shutdown: CancellationToken,
    /// Counts the NATS reconnections of this node.
    broker: Arc<watch::Sender<u64>>,
    tracker: TaskTracker,
    seats: Arc<Seats>,
}

/// Why a socket is refused before its upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The user has `max_per_user` sockets on this node already.
    UserFull,
    /// The node has `max_per_node` sockets already.
    NodeFull,
}

impl Sessions {
    /// No sessions yet; at most `max_per_user` sockets per user and `max_per_node` in all.
    pub(crate) fn new(max_per_user: usize, max_per_node: usize) -> Self {
        Self {
            shutdown: CancellationToken::new(),
            broker: Arc::new(watch::Sender::new(0)),
            tracker: TaskTracker::new(),
            seats: Arc::new(Seats {
                max_per_user,
                max_per_node,
                taken: Mutex::default(),
            }),
        }
    }

    /// A seat for one more socket of `user_id`, held until dropped, unless a limit is
    /// reached.
    pub(crate) fn take_seat(&self, user_id: &str) -> Result<Seat, Refusal> {
        self.seats.take(user_id)?;
        Ok(Seat {
            seats: Arc::clone(&self.seats),
            user_id: user_id.to_owned(),
        })
    }

    /// Counts a session as live until the returned guard is dropped. Taken before the
    /// upgrade, so a session that is still being upgraded is waited for too.
    pub(crate) fn enter(&self) -> TaskTrackerToken {
        self.tracker.token()
    }

    /// Completes when the sessions are told to close.
    pub(crate) fn closing(&self) -> WaitForCancellationFuture<'_> {
        self.shutdown.cancelled()
    }

    /// Sees each interruption of the NATS connection from now on: `changed()` completes
    /// at the next one.
    pub(crate) fn broker_interruptions(&self) -> watch::Receiver<u64> {
        self.broker.subscribe()
    }

    /// Tells every session that the NATS connection broke, or came back after a break.
    pub(crate) fn broker_interrupted(&self) {
        self.broker.send_modify(|count| *count += 1);
    }

    /// Tells every session, present and future, to close.
    pub(crate) fn close_all(&self) {
        self.shutdown.cancel();
    }

    /// Tells every session to close and completes once all have ended.
    pub(crate) fn drain(&self) -> impl Future<Output = ()> + '_ {
        self.close_all();
        self.tracker.close();
        self.tracker.wait()
    }
}

/// One socket's place in the node's limits; given back when dropped.
#[derive(Debug)]
pub(crate) struct Seat {
    seats: Arc<Seats>,
    user_id: String,
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.seats.give_back(&self.user_id);
    }
}

#[derive(Debug)]
struct Seats {
    max_per_user: usize,
    max_per_node: usize,
    taken: Mutex<Taken>,
}

#[derive(Debug, Default)]
struct Taken {
    total: usize,
    by_user: HashMap<String, usize>,
}

impl Seats {
    fn take(&self, user_id: &str) -> Result<(), Refusal> {
        let mut taken = self.lock();
        let of_user = taken.by_user.get(user_id).copied().unwrap_or(0);
        if of_user >= self.max_per_user {
            return Err(Refusal::UserFull);
        }
        if taken.total >= self.max_per_node {
            return Err(Refusal::NodeFull);
        }
        taken.total += 1;
        taken.by_user.insert(user_id.to_owned(), of_user + 1);
        Ok(())
    }

    fn give_back(&self, user_id: &str) {
        let mut taken = self.lock();
        taken.total = taken.total.saturating_sub(1);
        if let Some(count) = taken.by_user.get_mut(user_id) {
            *count -= 1;
            if *count == 0 {
                taken.by_user.remove(user_id);
            }
        }
    }

    /// The counts stay consistent whatever panicked while holding the lock: each
    /// update is a few integer operations.
    fn lock(&self) -> MutexGuard<'_, Taken> {
        self.taken.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_at_the_limit_is_refused_until_a_seat_is_given_back() {
        let sessions = Sessions::new(2, 10);
        let first = sessions.take_seat("ann");
        let _second = sessions.take_seat("ann");

        assert_eq!(sessions.take_seat("ann").err(), Some(Refusal::UserFull));
        assert!(sessions.take_seat("bob").is_ok());
        drop(first);
        assert!(sessions.take_seat("ann").is_ok());
    }

    #[test]
    fn a_full_node_refuses_everyone() {
        let sessions = Sessions::new(10, 2);
        let _ann = sessions.take_seat("ann");
        let bob = sessions.take_seat("bob");

        assert_eq!(sessions.take_seat("cid").err(), Some(Refusal::NodeFull));
        drop(bob);
        assert!(sessions.take_seat("cid").is_ok());
    }
}
