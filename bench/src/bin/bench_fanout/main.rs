//! `bench_fanout`: the fan-out figures of issue 5, beside a bare NATS subscriber from the
//! same run, on a fresh database (`bench_fanout_<hex>`) that it drops at the end.
//!
//! 1. Starts nats-server and a push node as a process of its own (`pagenow push`), so
//!    that its resident memory (`VmRSS`) is the node's alone.
//! 2. Baseline: publishes `--notices` notices on core NATS, round-robin over the users'
//!    subjects, as fast as NATS takes them, to a bare subscriber on `notices.>` alone
//!    (the node holds no subscription yet).
//! 3. Opens `--sockets` WebSockets, one per user, and waits for each `ready`. Memory per
//!    idle socket: the node's RSS after, less before, over the sockets.
//! 4. Publishes the same notices the same way again, now received both by the sockets
//!    (counted by their readers) and by the bare subscriber beside them.
//!
//! Each rate is notices received over the time from the first publish to the last
//! receipt.
//!
//! The bench holds one socket per user and the node one per client: both need an
//! open-files limit above `--sockets` (the node inherits the bench's).
//!
//! `cargo build --release -p bench --bin bench_fanout && cargo build --release -p pagenow &&
//!  DATABASE_URL=… NATS_SERVER_BIN=/usr/sbin/nats-server ./target/release/bench_fanout`
//! (two builds: `--bin` applies to every package named, so one command would not build
//! `pagenow`).

mod node;
mod publish;
mod sockets;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use sqlx::PgPool;

/// The benchmark's settings.
#[derive(Debug, Parser)]
pub struct Config {
    /// A server the benchmark may create (and drop) a database on.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// The `pagenow` binary run as the push node.
    #[arg(long, env = "PAGENOW_BIN", default_value = "target/release/pagenow")]
    pagenow_bin: PathBuf,
    /// Sockets opened, one per user.
    #[arg(long, default_value_t = 10_000)]
    sockets: usize,
    /// Notices published in each of the two rounds.
    #[arg(long, default_value_t = 200_000)]
    notices: usize,
    /// Sockets being opened at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// How long a round may go without a notice arriving before it is called over (ms).
    #[arg(long, default_value_t = 3_000)]
    quiet_ms: u64,
    /// Keeps the database at the end (its name is printed), to look into a figure.
    #[arg(long)]
    keep: bool,
}

impl Config {
    fn quiet(&self) -> Duration {
        Duration::from_millis(self.quiet_ms)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    anyhow::ensure!(
        config.sockets >= 1 && config.notices >= 1 && config.concurrency >= 1,
        "need --sockets, --notices and --concurrency of at least 1"
    );
    let database_url = config.database_url.clone();
    bench::with_scratch_database(
        &database_url,
        "bench_fanout",
        4,
        config.keep,
        |pool| async move { run(&pool, &config).await },
    )
    .await
}

async fn run(pool: &PgPool, config: &Config) -> anyhow::Result<()> {
    bench::write(&bench::machine(pool).await?)?;
    let nats = testkit::TestNats::start()?;
    let node = node::Node::start(config, &database_of(pool, config)?, &nats.url()).await?;
    let users: Vec<String> = (1..=config.sockets).map(user).collect();
    let (alone, _) = publish::round(&nats.url(), &users, None, config).await?;
    let before = node.rss_kib()?;
    // Every opened socket has had its `ready` frame: the node holds all it keeps for it.
    let opened = sockets::open(&node.ws_url(), config).await;
    let after = node.rss_kib()?;
    bench::write(&memory(&opened, config.sockets, before, after))?;
    anyhow::ensure!(opened.count() > 0, "no socket could be opened");
    let (beside, push) = publish::round(&nats.url(), &opened.users, Some(&opened), config).await?;
    let push = push.context("the socket round counts the sockets' frames")?;
    bench::write(&rates(&alone, &beside, &push, config.notices))?;
    let ended = opened
        .counts
        .ended
        .load(std::sync::atomic::Ordering::Relaxed);
    bench::write(&format!("sockets that ended during the run: {ended}\n"))?;
    node.stop();
    Ok(())
}

/// The user of the `n`th socket: `u00001`, `u00002`, …
fn user(n: usize) -> String {
    format!("u{n:05}")
}

/// The URL of `pool`'s database on the server of `--database-url`, for the node.
fn database_of(pool: &PgPool, config: &Config) -> anyhow::Result<String> {
    let options = pool.connect_options();
    let name = options.get_database().unwrap_or("postgres");
    let (server, _) = config
        .database_url
        .rsplit_once('/')
        .ok_or_else(|| anyhow::anyhow!("DATABASE_URL must end in /<database>"))?;
    Ok(format!("{server}/{name}"))
}

fn memory(opened: &sockets::Opened, wanted: usize, before: u64, after: u64) -> String {
    let mut text = format!(
        "\nsockets:   {} of {wanted} opened, each up to its ready frame\n",
        opened.count()
    );
    if let Some(why) = opened.stopped_by() {
        text += &format!("stopped:   {why}\n");
    }
    let per_socket = after.saturating_sub(before) as f64 / opened.count().max(1) as f64;
    text += &format!(
        "push RSS:  {before} KiB before, {after} KiB after: {per_socket:.1} KiB per idle socket\n"
    );
    text
}

fn rates(
    bare: &publish::Round,
    beside: &publish::Round,
    push: &publish::Round,
    notices: usize,
) -> String {
    let header = format!(
        "\n{notices} notices published round-robin on core NATS in each of two rounds:\n\
         before the sockets opened (bare subscriber alone), then with them\n\
         {:<52} {:>9} {:>9} {:>12} {:>7}\n",
        "what", "received", "seconds", "notices/s", "ratio"
    );
    let row = |what: &str, round: &publish::Round| {
        format!(
            "{what:<52} {:>9} {:>9.3} {:>12.0} {:>7.3}\n",
            round.received,
            round.elapsed.as_secs_f64(),
            round.rate(),
            round.rate() / bare.rate()
        )
    };
    header
        + &row("bare subscriber on notices.>, alone (baseline)", bare)
        + &row("bare subscriber on notices.>, beside the sockets", beside)
        + &row("push: notice frames received across the sockets", push)
}
