//! `bench_push_latency`: issue 5's first figure, on a fresh database
//! (`bench_push_<hex>`) that it drops at the end, and a nats-server of its own.
//!
//! End-to-end latency from a command's HTTP response to the notice arriving on its
//! recipient's socket (relay, JetStream, projector, core NATS, push), median and 99th
//! percentile, at each `--rates` (notices a second) for `--seconds`. The command is
//! `update-profile`: one notice (`user.profile_updated`) to its own user, who holds a
//! socket; with `--fanout N`, `share-url` to each of the sender's N friends (groups of
//! N + 1 friends): one `share.received` on each friend's socket. Beside it, the bus alone: core NATS messages from one connection to a subscriber on another, at the
//! same rates, in the same run.
//!
//! `DATABASE_URL=… NATS_SERVER_BIN=/usr/sbin/nats-server cargo run --release -p bench --bin bench_push_latency`

mod load;
mod pipeline;

use std::time::Duration;

use bench::{ms, services::Apis, write};
use clap::Parser;
use sqlx::PgPool;

/// The benchmark's settings.
#[derive(Debug, Parser)]
struct Config {
    /// A server the benchmark may create (and drop) a database on.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// Target rates, notices a second.
    #[arg(long, value_delimiter = ',', default_value = "100,1000,5000")]
    rates: Vec<u32>,
    /// Notices per command: 1 sends profile updates (one notice, to its own user); more
    /// makes groups of `fanout + 1` friends and shares pages with every friend (one
    /// notice to each), at `rate / fanout` commands a second.
    #[arg(long, default_value_t = 1)]
    fanout: usize,
    /// How long each rate is held.
    #[arg(long, default_value_t = 3)]
    seconds: u64,
    /// Recipients, each with a socket; commands go round robin over them.
    #[arg(long, default_value_t = 500)]
    recipients: usize,
    /// Most commands in flight at once (the client's connections).
    #[arg(long, default_value_t = 128)]
    clients: usize,
    /// Keeps the database at the end (its name is printed), to look into a figure.
    #[arg(long)]
    keep: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    anyhow::ensure!(
        config.recipients >= 1 && config.clients >= 1 && config.seconds >= 1 && config.fanout >= 1,
        "need --recipients, --clients, --seconds and --fanout of at least 1"
    );
    anyhow::ensure!(config.rates.iter().all(|r| *r >= 1), "rates must be >= 1");
    let nats = testkit::TestNats::start()?;
    let database_url = config.database_url.clone();
    bench::with_scratch_database(&database_url, "bench_push", 4, config.keep, |pool| {
        run(config, pool, nats.url())
    })
    .await
}

async fn run(config: Config, pool: PgPool, nats_url: String) -> anyhow::Result<()> {
    write(&bench::machine(&pool).await?)?;
    let apis = Apis::start(&pool).await?;
    let push = pipeline::start(&pool, nats_url.clone()).await?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(config.clients)
        .build()?;
    let recipients = load::Recipients::open(
        &http,
        &apis.commands,
        push,
        config.recipients,
        config.fanout,
    )
    .await?;
    pipeline::caught_up(&pool, Duration::from_secs(60)).await?;
    let workload = match config.fanout {
        1 => "update-profile (one notice, to its own user)".to_owned(),
        n => format!(
            "share-url to all friends in groups of {} (one notice to each of {n})",
            n + 1
        ),
    };
    write(&format!(
        "workload:  {workload}, round robin over {} users, one socket each; {} s per rate, \
         at most {} requests in flight\n\n",
        config.recipients, config.seconds, config.clients
    ))?;
    write(&format!(
        "{:>8} {:>9} {:>15} {:>7} {:>9} {:>9}   {:>12} {:>12}\n",
        "target/s",
        "achieved",
        "notices rcvd",
        "failed",
        "median",
        "p99",
        "NATS median",
        "NATS p99"
    ))?;
    let duration = Duration::from_secs(config.seconds);
    let settle = Duration::from_secs(10);
    for (i, rate) in config.rates.iter().copied().enumerate() {
        let subject = format!("bench.baseline.{i}");
        let bus = load::baseline(&nats_url, &subject, rate, duration, settle).await?;
        let end = recipients
            .phase(
                &http,
                &apis.commands,
                rate,
                duration,
                config.clients,
                settle,
            )
            .await?;
        pipeline::caught_up(&pool, Duration::from_secs(120)).await?;
        write(&row(rate, &end, &bus))?;
    }
    write(
        "\nlatency: notice on the socket minus the command's HTTP response (ms); NATS: \
         receipt minus publish on core NATS, same rate.\n\
         achieved: notices a second (answered commands a second, from the first send to the \
         last answer, times the notices each owes); notices rcvd: of those the answered \
         commands owe; failed: commands not answered 200.\n",
    )?;
    Ok(())
}

/// One table row: the pipeline's figures and, beside them, the bus's.
fn row(rate: u32, end: &load::Phase, bus: &load::Phase) -> String {
    format!(
        "{:>8} {:>9.0} {:>15} {:>7} {:>9.1} {:>9.1}   {:>12.2} {:>12.2}{}\n",
        rate,
        end.achieved,
        format!("{}/{}", end.received, end.expected),
        end.sent - end.answered,
        ms(end.latencies.median()),
        ms(end.latencies.p99()),
        ms(bus.latencies.median()),
        ms(bus.latencies.p99()),
        if end.achieved < f64::from(rate) * 0.95 {
            "   (target not held)"
        } else {
            ""
        }
    )
}
