//! Work that outlives the request that started it (a rebuild), or that must not be
//! abandoned half done when its client goes away (a verification): spawned here, and
//! stopped cleanly when the admin API shuts down.

use std::future::Future;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The admin API's background tasks. Cheap to clone.
#[derive(Clone, Default)]
pub struct Background {
    tracker: TaskTracker,
    stop: CancellationToken,
}

impl Background {
    /// Runs `work` in a task of its own; its outcome, or `None` when the admin API shut
    /// down first. Then `work` is dropped (its open transactions roll back) and
    /// `on_stop` runs, to drop what `work` had made.
    pub fn spawn<T, W, C>(&self, work: W, on_stop: C) -> JoinHandle<Option<T>>
    where
        T: Send + 'static,
        W: Future<Output = T> + Send + 'static,
        C: Future<Output = ()> + Send + 'static,
    {
        let stop = self.stop.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                outcome = work => Some(outcome),
                () = stop.cancelled() => {
                    on_stop.await;
                    None
                }
            }
        })
    }

    /// Tells every task to stop.
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Returns once every task has ended (after [`Self::stop`], promptly).
    pub async fn finished(&self) {
        self.tracker.close();
        self.tracker.wait().await;
    }
}
