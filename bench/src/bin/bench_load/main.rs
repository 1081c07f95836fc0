//! `bench_load`: issue 7's benchmark, each figure beside its baseline from the same run,
//! on a fresh database (`bench_load_<hex>`) for the services and another
//! (`bench_load_pgbench_<hex>`, same server, same migrations) for pgbench, both dropped
//! at the end, and a nats-server of its own.
//!
//! 1. Commands: a mixed workload (`send-message`, `share-url`, `send-friend-request` /
//!    `cancel-friend-request` in turn) from 1, 8 and 32 clients (`--clients`), each on
//!    its own kept-alive connection, closed loop; next to pgbench inserting the same event
//!    rows (copied from this run's events, in the same proportions) at the same
//!    concurrency. The relay, projectors and push node are not running yet: both sides
//!    only write events.
//! 2. End to end: the pipeline starts (relay, projectors, push node); `send-message` from
//!    `--e2e-clients` senders, each answer followed at once by a read-your-writes query
//!    of the recipient's conversation list (the view updated) while the recipient's
//!    socket records the `chat.message` notice; beside it, a bare core NATS round trip.
//! 3. Queries: the conversation list, the friends' presence and the notifications over
//!    HTTP at the same concurrency levels, next to the bare SQL behind each run through
//!    pgbench.
//!
//! `cargo build --release -p bench --bin bench_load &&
//!  DATABASE_URL=… NATS_SERVER_BIN=/usr/sbin/nats-server ./target/release/bench_load`

mod breakdown;
mod commands;
mod end_to_end;
mod load;
mod pgbench;
mod queries;
mod world;

/// The relay, projectors and push node in this process, as `bench_push_latency` starts
/// them (one copy of that code for both programs).
#[path = "../bench_push_latency/pipeline.rs"]
mod pipeline;

use std::path::PathBuf;
use std::time::Duration;

use bench::services::Apis;
use clap::Parser;
use sqlx::PgPool;

/// The benchmark's settings.
#[derive(Debug, Parser)]
pub struct Config {
    /// A server the benchmark may create (and drop) two databases on.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// The concurrency levels: clients, each with a connection of its own.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    clients: Vec<usize>,
    /// How long each round of a level is timed, for us and for pgbench.
    #[arg(long, default_value_t = 3)]
    seconds: u64,
    /// Rounds per level: ours and pgbench's in turn, taken together.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// How long each level runs untimed first (connections, caches, plans).
    #[arg(long, default_value_t = 1)]
    warm_up_seconds: u64,
    /// Senders in the end-to-end phase, each one message at a time.
    #[arg(long, default_value_t = 8)]
    e2e_clients: usize,
    /// Friends of each user (the next ones in a ring of users), and direct conversations.
    #[arg(long, default_value_t = 4)]
    friends: usize,
    /// Requests of each kind in the one-client breakdown of a query's time.
    #[arg(long, default_value_t = 1000)]
    breakdown_samples: usize,
    /// `synchronous_commit` for both scratch databases (`off`: commits do not wait for
    /// the disk flush, so what is left is the work of each side); the server's when absent.
    #[arg(long)]
    synchronous_commit: Option<String>,
    /// The pgbench program.
    #[arg(long, env = "PGBENCH_BIN", default_value = "/usr/bin/pgbench")]
    pgbench_bin: PathBuf,
    /// Keeps the databases at the end (their names are printed), to look into a figure.
    #[arg(long)]
    keep: bool,
}

impl Config {
    fn timed(&self) -> Duration {
        Duration::from_secs(self.seconds)
    }

    fn warm_up(&self) -> Duration {
        Duration::from_secs(self.warm_up_seconds)
    }

    /// Users: one per client of the highest level, at least enough for the friend ring.
    fn users(&self) -> usize {
        let most = self.clients.iter().copied().max().unwrap_or(1);
        most.max(self.e2e_clients).max(self.friends * 2 + 1)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    anyhow::ensure!(
        !config.clients.is_empty() && config.clients.iter().all(|c| *c >= 1),
        "--clients: levels of at least 1"
    );
    anyhow::ensure!(
        config.seconds >= 1 && config.rounds >= 1 && config.e2e_clients >= 1 && config.friends >= 1,
        "need --seconds, --rounds, --e2e-clients and --friends of at least 1"
    );
    let nats = testkit::TestNats::start()?;
    let url = config.database_url.clone();
    let connections = 8;
    bench::with_scratch_database(&url, "bench_load", connections, config.keep, |pool| {
        let url = url.clone();
        async move {
            bench::with_scratch_database(
                &url,
                "bench_load_pgbench",
                2,
                config.keep,
                |baseline| async move { run(&config, &pool, &baseline, nats.url()).await },
            )
            .await
        }
    })
    .await
}

async fn run(
    config: &Config,
    pool: &PgPool,
    baseline: &PgPool,
    nats_url: String,
) -> anyhow::Result<()> {
    if let Some(setting) = &config.synchronous_commit {
        for database in [pool, baseline] {
            set_synchronous_commit(database, setting).await?;
        }
    }
    bench::write(&bench::machine(pool).await?)?;
    bench::write(&settings(config, pool).await?)?;
    let pgbench = pgbench::Pgbench::new(config, baseline, pool)?;
    bench::write(&format!("pgbench:   {}\n", pgbench.version()?))?;
    let apis = Apis::start(pool).await?;
    let world = world::World::build(pool, &apis, config).await?;
    commands::run(config, pool, &apis, &world, &pgbench).await?;

    let push = pipeline::start(pool, nats_url.clone()).await?;
    let push = format!("http://{push}");
    pipeline::caught_up(pool, Duration::from_secs(600)).await?;
    end_to_end::run(config, pool, &apis, &world, &push, &nats_url).await?;
    queries::run(config, pool, &apis, &world, &push, &nats_url, &pgbench).await
}

/// Sets `synchronous_commit` for every later session on `pool`'s database (the
/// services' pools and pgbench connect after this).
async fn set_synchronous_commit(pool: &PgPool, setting: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        ["on", "off", "local", "remote_write", "remote_apply"].contains(&setting),
        "--synchronous-commit: on, off, local, remote_write or remote_apply"
    );
    let database = pool
        .connect_options()
        .get_database()
        .unwrap_or_default()
        .to_owned();
    sqlx::raw_sql(&format!(
        "ALTER DATABASE {database} SET synchronous_commit = {setting}"
    ))
    .execute(pool)
    .await?;
    Ok(())
}

/// `nats-server --version` of the server [`testkit::TestNats`] starts.
fn nats_version() -> String {
    let bin = std::env::var("NATS_SERVER_BIN").unwrap_or_else(|_| "nats-server".into());
    std::process::Command::new(&bin)
        .arg("--version")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_else(|error| format!("{bin}: {error}"))
}

/// The settings of this run, beside the machine's.
async fn settings(config: &Config, pool: &PgPool) -> anyhow::Result<String> {
    let (max_connections,): (String,) =
        sqlx::query_as("SELECT setting FROM pg_settings WHERE name = 'max_connections'")
            .fetch_one(pool)
            .await?;
    Ok(format!(
        "versions:  pagenow {}, {}\n\
         run:       levels {:?} clients; per level {} rounds of ours then pgbench's (in turn), \
         each {} s timed after {} s warm-up; \
         {} users, {} friends each; e2e {} senders\n\
         commit:    synchronous_commit {} in both scratch databases\n\
         services:  command and query APIs in this process, a runtime and a 16-connection \
         pool of their own; Postgres max_connections={max_connections}\n",
        env!("CARGO_PKG_VERSION"),
        nats_version(),
        config.clients,
        config.rounds,
        config.seconds,
        config.warm_up_seconds,
        config.users(),
        config.friends,
        config.e2e_clients,
        config
            .synchronous_commit
            .as_deref()
            .unwrap_or("the server's (see settings)"),
    ))
}
