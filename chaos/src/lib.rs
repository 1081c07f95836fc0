//! The chaos harness of issue 7: PageNow's services run as separate `pagenow` processes on
//! loopback under a steady command load and open WebSockets, while services are killed
//! with `kill -9` every few seconds, NATS is stopped for a while and Postgres is restarted
//! once. Then the load stops, everything runs again, and the run is checked: no accepted
//! command's event lost, no event applied twice, every view equal to a replay, every
//! socket told every notice owed to it exactly once.
//!
//! Modules:
//! - [`config`]: the flags;
//! - [`services`]: the service processes and their supervisor;
//! - [`client`]: users, commands over HTTP and the tally of their outcomes;
//! - [`load`]: the users' world and the command load;
//! - [`sockets`]: one WebSocket per user, reconnected with `since`;
//! - [`faults`]: the timeline of kills and outages;
//! - [`checks`]: what is checked afterwards;
//! - [`report`]: the figures.
//!
//! Boundaries: Postgres is started (and given a restart command) by `scripts/chaos`; the
//! driver starts NATS (with `testkit`) and the services, and stops everything it started.
//! It only talks to the services as clients do, and reads the store and views to check.

pub mod checks;
pub mod client;
pub mod config;
pub mod faults;
pub mod load;
pub mod report;
pub mod services;
pub mod sockets;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use testkit::TestNats;
use tokio_util::sync::CancellationToken;

use client::{lock, CommandApi, Tally};
use config::Config;
use faults::{FaultLog, Plan};
use report::{Commands, Report};
use services::{Addresses, Services};
use sockets::Watch;

/// How long the services may take to answer `/healthz` after a start.
const START_LIMIT: Duration = Duration::from_secs(60);
/// How long the views may take to catch up once the faults are over.
const CATCH_UP_LIMIT: Duration = Duration::from_secs(180);
/// How long the sockets may take to receive what they are owed once the views caught up
/// (the verifier waited for them): a missed notice makes the check wait this long.
const NOTICE_LIMIT: Duration = Duration::from_secs(20);

/// Runs the whole thing: set-up, load under faults, checks.
pub async fn run(config: &Config) -> anyhow::Result<Report> {
    let mut nats = TestNats::start()?;
    services::migrate(&config.pagenow, &config.database_url)?;
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(&config.database_url)
        .await?;
    let addresses = Addresses::new(config.database_url.clone(), nats.url());
    let mut services = Services::start(&config.pagenow, addresses.clone(), &config.log_dir)?;
    for addr in [addresses.command_api, addresses.query_api, addresses.push] {
        wait_healthy(addr).await?;
    }
    eprintln!("[chaos] services up; setting up {} users", config.users);

    let api = CommandApi::new(addresses.command_api)?;
    let tally = Arc::new(Tally::default());
    let sockets = CancellationToken::new();
    let (watches, world) =
        set_up(&pool, &api, &tally, config.users, addresses.push, &sockets).await?;
    let world = Arc::new(world);

    eprintln!("[chaos] load and faults for {}s", config.duration.as_secs());
    let stop = CancellationToken::new();
    let load = tokio::spawn(load::run(
        api,
        tally.clone(),
        world,
        config.workers,
        stop.clone(),
    ));
    let faults = faults::run(&plan(config), &mut services, &mut nats).await;
    stop.cancel();
    let _ = load.await;
    let faults = faults?;

    eprintln!("[chaos] load stopped; every service runs again; checking");
    let report = check(&pool, config, &tally, &watches, faults).await;
    sockets.cancel();
    services.stop_all();
    report
}

/// Registers the users, opens their sockets, makes them friends and starts their
/// conversations; each step waits for the views the next one reads.
async fn set_up(
    pool: &PgPool,
    api: &CommandApi,
    tally: &Tally,
    users: usize,
    push: SocketAddr,
    sockets: &CancellationToken,
) -> anyhow::Result<(Vec<Watch>, load::World)> {
    let registered = load::register(api, tally, users).await?;
    // The extension opens its socket with the position of views it has read. A `since`
    // the notices have not reached yet would also be told the registration's own notice,
    // which comes before it (docs/RELIABILITY.md, "What it found", 3).
    let last = registered
        .iter()
        .map(|(_, at)| *at)
        .max()
        .unwrap_or_default();
    until(
        START_LIMIT,
        "the notices to reach the registrations",
        || checks::projection_reached(pool, "notices", last),
    )
    .await?;
    let watches = registered
        .iter()
        .map(|(user, since)| Watch::open(push, user, *since, sockets.clone()))
        .collect();
    let users: Vec<_> = registered.into_iter().map(|(user, _)| user).collect();
    let accepted = load::befriend(api, tally, &users).await?;
    // The chat commands read who is a friend from the `friendships` view.
    until(
        START_LIMIT,
        "the friendships view to reach the friendships",
        || checks::projection_reached(pool, "friendships", accepted),
    )
    .await?;
    let world = load::start_conversations(api, tally, users).await?;
    Ok((watches, world))
}

fn plan(config: &Config) -> Plan {
    Plan {
        duration: config.duration,
        kill_every: config.kill_every,
        nats_outage: config.nats_outage(),
        pg_restart: config.pg_restart.clone(),
    }
}

async fn check(
    pool: &PgPool,
    config: &Config,
    tally: &Tally,
    watches: &[Watch],
    faults: FaultLog,
) -> anyhow::Result<Report> {
    let positions = lock(&tally.positions).clone();
    let events_lost = checks::events_lost(pool, &positions).await?;
    let replay = checks::replay(pool, CATCH_UP_LIMIT)
        .await
        .map(|report| report.difference_count())
        .map_err(|error| error.to_string());
    let versions = checks::user_versions(pool).await?;
    let known = checks::KnownLosses {
        projector_kills: faults.projector_kills.clone(),
        nats_outage: faults.nats_outage,
    };
    let notices = checks::notices(pool, watches, NOTICE_LIMIT, &known).await?;
    Ok(Report {
        duration: config.duration,
        commands: commands(tally),
        faults,
        events_lost,
        versions,
        replay,
        notices,
    })
}

fn commands(tally: &Tally) -> Commands {
    Commands {
        sent: tally.sent.load(Ordering::Relaxed),
        accepted: tally.accepted.load(Ordering::Relaxed),
        unavailable: tally.unavailable.load(Ordering::Relaxed),
        no_answer: tally.no_answer.load(Ordering::Relaxed),
        rejected: lock(&tally.rejected).clone(),
    }
}

/// Waits until `GET http://addr/healthz` answers 200.
async fn wait_healthy(addr: SocketAddr) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let url = format!("http://{addr}/healthz");
    until(START_LIMIT, &url, || async {
        let answer = http.get(&url).send().await.ok()?;
        answer.status().is_success().then_some(())
    })
    .await
}

/// Polls `check` every 50 ms until it returns `Some`, for at most `limit`; an error (not
/// a panic: this is a program, not a test) names `what` was awaited.
async fn until<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            bail!("timed out after {limit:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
