//! Closed-loop load: each client sends a request, waits for its answer, sends the next,
//! on a connection of its own, first untimed (warm-up), then timed. All clients start the
//! timed window at the same instant; what finishes inside it counts.
//!
//! Each level runs in rounds, ours and the baseline in turn (which goes first alternates),
//! so that both sides see the same moments of a shared, noisy machine.

use std::future::Future;
use std::time::{Duration, Instant};

use bench::Latencies;

/// One client of a closed loop.
pub trait Worker: Send + 'static {
    /// Sends request number `n` and reads its answer; an error is a failed request, and
    /// the loop goes on.
    fn step(&mut self, n: u64) -> impl Future<Output = anyhow::Result<Duration>> + Send;
}

/// What one side of one level measured.
#[derive(Debug, Clone)]
pub struct Figures {
    pub done: usize,
    pub failed: usize,
    pub seconds: f64,
    pub latencies: Latencies,
    /// The first failure's message, if any failed.
    pub failure: Option<String>,
}

impl Figures {
    /// Answered requests (or transactions) a second.
    pub fn rate(&self) -> f64 {
        self.done as f64 / self.seconds
    }

    /// The figures of `parts` (rounds of the same level) taken together.
    pub fn merged(parts: &[Figures]) -> Figures {
        let samples = parts
            .iter()
            .flat_map(|p| p.latencies.samples().iter().copied())
            .collect();
        Figures {
            done: parts.iter().map(|p| p.done).sum(),
            failed: parts.iter().map(|p| p.failed).sum(),
            seconds: parts.iter().map(|p| p.seconds).sum(),
            latencies: Latencies::new(samples),
            failure: parts.iter().find_map(|p| p.failure.clone()),
        }
    }
}

/// Runs `workers` at once for `warm_up`, then for `timed`; the timed window's figures,
/// and the workers (with their connections and state) for another round.
pub async fn closed_loop<W: Worker>(
    workers: Vec<W>,
    warm_up: Duration,
    timed: Duration,
) -> anyhow::Result<(Figures, Vec<W>)> {
    let start = Instant::now() + warm_up;
    let end = start + timed;
    let mut tasks = tokio::task::JoinSet::new();
    for mut worker in workers {
        tasks.spawn(async move {
            let (mut took, mut failed, mut failure) = (Vec::new(), 0, None);
            let mut n = 0;
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let outcome = worker.step(n).await;
                n += 1;
                if sent < start || Instant::now() > end {
                    continue;
                }
                match outcome {
                    Ok(latency) => took.push(latency),
                    Err(error) => {
                        failed += 1;
                        failure.get_or_insert_with(|| format!("{error:#}"));
                    }
                }
            }
            (worker, took, failed, failure)
        });
    }
    let (mut took, mut failed, mut failure) = (Vec::new(), 0, None);
    let mut workers = Vec::new();
    while let Some(outcome) = tasks.join_next().await {
        let (worker, latencies, failures, first) = outcome?;
        workers.push(worker);
        took.extend(latencies);
        failed += failures;
        failure = failure.or(first);
    }
    let figures = Figures {
        done: took.len(),
        failed,
        seconds: timed.as_secs_f64(),
        latencies: Latencies::new(took),
        failure,
    };
    Ok((figures, workers))
}
