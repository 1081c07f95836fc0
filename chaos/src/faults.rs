//! The faults, on a timeline: a `kill -9` of a random service every few seconds from start
//! to end, NATS stopped once (from a quarter of the run), Postgres restarted once (at 60%
//! of the run, after NATS is back). A service that exits by itself meanwhile is restarted.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use testkit::TestNats;

use crate::services::{Role, Services};

/// How often the timeline looks at the clock and at the processes.
const TICK: Duration = Duration::from_millis(100);

/// When each fault happens.
#[derive(Debug, Clone)]
pub struct Plan {
    pub duration: Duration,
    pub kill_every: Duration,
    pub nats_outage: Duration,
    /// A shell command that restarts Postgres; `None`: not restarted.
    pub pg_restart: Option<String>,
}

impl Plan {
    fn nats_down_at(&self) -> Duration {
        self.duration / 4
    }

    fn pg_restart_at(&self) -> Duration {
        (self.duration * 3 / 5).max(self.nats_down_at() + self.nats_outage)
    }
}

/// What was done.
#[derive(Debug, Default, Clone)]
pub struct FaultLog {
    pub kills: BTreeMap<Role, u32>,
    pub exits: BTreeMap<Role, u32>,
    /// How long NATS was down.
    pub nats_down: Duration,
    /// How long `pg_restart` took, when it ran.
    pub pg_restart: Option<Duration>,
}

/// Runs the plan against `services` and `nats`; on return both are running again.
pub async fn run(
    plan: &Plan,
    services: &mut Services,
    nats: &mut TestNats,
) -> anyhow::Result<FaultLog> {
    let mut rng = StdRng::from_entropy();
    let started = Instant::now();
    let mut next_kill = gap(&mut rng, plan.kill_every);
    let mut nats_stopped: Option<Instant> = None;
    let mut nats_down = Duration::ZERO;
    let mut pg_restart = None;
    while started.elapsed() < plan.duration {
        tokio::time::sleep(TICK).await;
        let now = started.elapsed();
        for role in services.restart_exited()? {
            eprintln!(
                "[chaos] {:>5.1}s {} exited by itself; restarted",
                secs(now),
                role.name()
            );
        }
        if now >= next_kill {
            let role = *Role::KILLABLE.choose(&mut rng).context("a role")?;
            eprintln!("[chaos] {:>5.1}s kill -9 {}", secs(now), role.name());
            services.kill(role)?;
            next_kill = now + gap(&mut rng, plan.kill_every);
        }
        if nats_down.is_zero() && nats_stopped.is_none() && now >= plan.nats_down_at() {
            eprintln!("[chaos] {:>5.1}s NATS stopped", secs(now));
            nats.stop();
            nats_stopped = Some(Instant::now());
        }
        if let Some(since) = nats_stopped.filter(|s| s.elapsed() >= plan.nats_outage) {
            nats_down = resume_nats(nats, since)?;
            nats_stopped = None;
            eprintln!(
                "[chaos] {:>5.1}s NATS back after {:.1}s",
                secs(started.elapsed()),
                secs(nats_down)
            );
        }
        if let Some(command) = plan
            .pg_restart
            .as_deref()
            .filter(|_| pg_restart.is_none() && now >= plan.pg_restart_at())
        {
            eprintln!("[chaos] {:>5.1}s Postgres restarting", secs(now));
            let took = restart_postgres(command).await?;
            eprintln!(
                "[chaos] {:>5.1}s Postgres back after {:.1}s",
                secs(started.elapsed()),
                secs(took)
            );
            pg_restart = Some(took);
        }
    }
    if let Some(since) = nats_stopped {
        nats_down = resume_nats(nats, since)?;
    }
    services.restart_exited()?;
    Ok(FaultLog {
        kills: services.kills.clone(),
        exits: services.exits.clone(),
        nats_down,
        pg_restart,
    })
}

/// The time to the next kill: 0.5 to 1.5 times the mean.
fn gap(rng: &mut StdRng, mean: Duration) -> Duration {
    mean.mul_f64(rng.gen_range(0.5..1.5))
}

fn resume_nats(nats: &mut TestNats, stopped: Instant) -> anyhow::Result<Duration> {
    nats.resume()?;
    Ok(stopped.elapsed())
}

/// Runs the restart command; it returns once Postgres accepts connections again.
async fn restart_postgres(command: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let status = tokio::process::Command::new("sh")
        .args(["-c", command])
        .stdout(std::process::Stdio::null())
        .status()
        .await
        .context("running the Postgres restart command")?;
    anyhow::ensure!(
        status.success(),
        "the Postgres restart command failed: {status}"
    );
    Ok(started.elapsed())
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}
