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
    /// When each `kill -9` of the projector happened, in seconds since the Unix epoch
    /// (to set beside the times Postgres records).
    pub projector_kills: Vec<f64>,
    /// When NATS was stopped and when it was back, in the same clock.
    pub nats_outage: Option<(f64, f64)>,
}

/// Runs the plan against `services` and `nats`; on return both are running again.
pub async fn run(
    plan: &Plan,
    services: &mut Services,
    nats: &mut TestNats,
) -> anyhow::Result<FaultLog> {
    let mut timeline = Timeline::new(plan);
    while timeline.started.elapsed() < plan.duration {
        tokio::time::sleep(TICK).await;
        timeline.step(services, nats).await?;
    }
    if let Some(stopped) = timeline.nats_stopped.take() {
        timeline.log.nats_down = resume_nats(nats, stopped)?;
        timeline.log.nats_outage = timeline
            .log
            .nats_outage
            .map(|(down, _)| (down, epoch_now()));
    }
    services.restart_exited()?;
    timeline.log.kills = services.kills.clone();
    timeline.log.exits = services.exits.clone();
    Ok(timeline.log)
}

/// Where the run is on the plan.
struct Timeline<'a> {
    plan: &'a Plan,
    started: Instant,
    rng: StdRng,
    next_kill: Duration,
    /// When NATS was stopped, while it is down.
    nats_stopped: Option<Instant>,
    log: FaultLog,
}

impl<'a> Timeline<'a> {
    fn new(plan: &'a Plan) -> Self {
        let mut rng = StdRng::from_entropy();
        Self {
            next_kill: gap(&mut rng, plan.kill_every),
            plan,
            started: Instant::now(),
            rng,
            nats_stopped: None,
            log: FaultLog::default(),
        }
    }

    /// Does whatever is due now.
    async fn step(&mut self, services: &mut Services, nats: &mut TestNats) -> anyhow::Result<()> {
        for role in services.restart_exited()? {
            self.note(&format!("{} exited by itself; restarted", role.name()));
        }
        let now = self.started.elapsed();
        if now >= self.next_kill {
            let role = *Role::KILLABLE.choose(&mut self.rng).context("a role")?;
            self.note(&format!("kill -9 {}", role.name()));
            services.kill(role)?;
            if role == Role::Projector {
                self.log.projector_kills.push(epoch_now());
            }
            self.next_kill = now + gap(&mut self.rng, self.plan.kill_every);
        }
        let nats_due = self.plan.nats_outage > Duration::ZERO && now >= self.plan.nats_down_at();
        if nats_due && self.log.nats_down.is_zero() && self.nats_stopped.is_none() {
            self.note("NATS stopped");
            nats.stop();
            self.nats_stopped = Some(Instant::now());
            self.log.nats_outage = Some((epoch_now(), 0.0));
        }
        if let Some(stopped) = self
            .nats_stopped
            .filter(|s| s.elapsed() >= self.plan.nats_outage)
        {
            self.log.nats_down = resume_nats(nats, stopped)?;
            self.nats_stopped = None;
            self.log.nats_outage = self.log.nats_outage.map(|(down, _)| (down, epoch_now()));
            self.note(&format!("NATS back after {:.1}s", secs(self.log.nats_down)));
        }
        let pg_due = self.log.pg_restart.is_none() && now >= self.plan.pg_restart_at();
        if let Some(command) = self.plan.pg_restart.as_deref().filter(|_| pg_due) {
            self.note("Postgres restarting");
            let took = restart_postgres(command).await?;
            self.note(&format!("Postgres back after {:.1}s", secs(took)));
            self.log.pg_restart = Some(took);
        }
        Ok(())
    }

    /// One line of the timeline: the wall clock (to match the services' logs) and the
    /// time into the run.
    fn note(&self, what: &str) {
        let now = chrono::Utc::now().format("%H:%M:%S%.3f");
        eprintln!(
            "[chaos] {now} {:>5.1}s {what}",
            secs(self.started.elapsed())
        );
    }
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

/// Seconds since the Unix epoch, to set beside the times Postgres records.
fn epoch_now() -> f64 {
    chrono::Utc::now().timestamp_micros() as f64 / 1e6
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}
