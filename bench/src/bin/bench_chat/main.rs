//! `bench_chat`: the chat figures of issue 4, each beside its baseline from the same run,
//! on a fresh database (`bench_chat_<hex>`) that it drops at the end.
//!
//! 1. `send-message` over HTTP into a conversation that already holds `--messages`
//!    messages, next to the same command into a new conversation (sends alternate
//!    between the two, so both see the same machine). Also printed: one bare `INSERT` of
//!    the same event row, the floor of any append.
//! 2. The conversation list and a page of messages over HTTP, next to the bare SQL behind
//!    each, with `--conversations` conversations and `--view-messages` messages in the
//!    views.
//!
//! `cargo run --release -p bench --bin bench_chat`

mod queries;
mod seed;
mod sends;

use clap::Parser;
use sqlx::PgPool;

/// The benchmark's settings.
#[derive(Debug, Parser)]
pub struct Config {
    /// A server the benchmark may create (and drop) a database on.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// Messages already in the long conversation before sends are timed.
    #[arg(long, default_value_t = 100_000)]
    messages: i64,
    /// Timed sends into each conversation.
    #[arg(long, default_value_t = 1000)]
    samples: usize,
    /// Conversations of the user whose list is read.
    #[arg(long, default_value_t = 1000)]
    conversations: i64,
    /// Messages in the views, spread evenly over those conversations.
    #[arg(long, default_value_t = 1_000_000)]
    view_messages: i64,
    /// Timed requests (and bare queries) per query figure.
    #[arg(long, default_value_t = 1000)]
    queries: usize,
    /// Keeps the database at the end (its name is printed), to look into a figure.
    #[arg(long)]
    keep: bool,
}

/// The client side (requests, bare queries) runs on one thread: it sends one request at
/// a time, and the services run on a runtime of their own ([`bench::services`]).
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    anyhow::ensure!(
        config.messages >= 1 && config.samples >= 1 && config.queries >= 1,
        "need --messages, --samples and --queries of at least 1"
    );
    anyhow::ensure!(
        config.conversations >= 1 && config.view_messages >= config.conversations,
        "need --view-messages >= --conversations >= 1"
    );
    let database_url = config.database_url.clone();
    bench::with_scratch_database(
        &database_url,
        "bench_chat",
        16,
        config.keep,
        |pool| async move { run(&pool, &config).await },
    )
    .await
}

async fn run(pool: &PgPool, config: &Config) -> anyhow::Result<()> {
    bench::write(&bench::machine(pool).await?)?;
    let apis = bench::services::Apis::start(pool).await?;
    sends::run(pool, &apis, config).await?;
    queries::run(pool, &apis, config).await
}

/// One line of a figures table: a name, its latencies, and the ratio of its median to
/// the baseline's.
fn row(what: &str, latencies: &bench::Latencies, baseline: &bench::Latencies) -> String {
    format!(
        "{what:<58} {:>6} {:>10.3} {:>10.3} {:>8.2}\n",
        latencies.len(),
        bench::ms(latencies.median()),
        bench::ms(latencies.p99()),
        latencies.median().as_secs_f64() / baseline.median().as_secs_f64()
    )
}

fn header(title: &str) -> String {
    format!(
        "\n{title}\n{:<58} {:>6} {:>10} {:>10} {:>8}\n",
        "what", "n", "median ms", "p99 ms", "ratio"
    )
}
