//! The sessions of this node, as a whole: how they are told to close and awaited.
//!
//! axum's graceful shutdown does not wait for upgraded connections, so the sessions are
//! tracked here: [`App::run`](crate::App::run) cancels them once the shutdown signal
//! fires and waits for each to have sent its Close frame. Presence (who is connected on
//! this node) will live beside this.

use std::future::Future;

use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};
use tokio_util::task::task_tracker::TaskTrackerToken;
use tokio_util::task::TaskTracker;

/// The live sessions of one push node. Cheap to clone: clones share the same sessions.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sessions {
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

impl Sessions {
    /// Counts a session as live until the returned guard is dropped. Taken before the
    /// upgrade, so a session that is still being upgraded is waited for too.
    pub(crate) fn enter(&self) -> TaskTrackerToken {
        self.tracker.token()
    }

    /// Completes when the sessions are told to close.
    pub(crate) fn closing(&self) -> WaitForCancellationFuture<'_> {
        self.shutdown.cancelled()
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
