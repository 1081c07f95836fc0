//! `bench_rebuild`: how fast a projection is rebuilt from the event store, next to how
//! fast Postgres alone reads the same rows, measured in the same run on a store of
//! `--events` user events and `--messages` chat messages in a fresh database
//! (`bench_rebuild_<hex>`) that it drops at the end. With messages, also how fast
//! Postgres alone writes the chat view's rows: the floor under the chat rebuild.
//!
//! `cargo run --release -p bench --bin bench_rebuild -- --events 1000000`
//! `cargo run --release -p bench --bin bench_rebuild -- --events 100000 --messages 1000000 --projections chat,notices,users`

mod measure;
mod report;
mod seed;

use std::time::Instant;

use clap::Parser;
use sqlx::PgPool;

use measure::Timing;

/// The benchmark's settings.
#[derive(Debug, Parser)]
struct Config {
    /// A server the benchmark may create (and drop) a database on.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// User events in the store (registrations and profile updates; see `--messages`).
    #[arg(long, default_value_t = 1_000_000)]
    events: i64,
    /// Users registered (one `user.registered` each; the rest are profile updates).
    #[arg(long, default_value_t = 10_000)]
    users: i64,
    /// Events per read (the verifier's default); also per transaction of a projection
    /// that does not fold across batches.
    #[arg(long, default_value_t = 1000)]
    batch: i64,
    /// The projections rebuilt, in order: `users`, `notices`, `chat` (other names are skipped, so
    /// `none` measures the reads alone).
    #[arg(long, value_delimiter = ',', default_value = "users,notices")]
    projections: Vec<String>,
    /// Chat messages added after the user events, into one group conversation of the
    /// first three users (rebuilt by the `chat` projection).
    #[arg(long, default_value_t = 0)]
    messages: i64,
    /// Keeps the database at the end (its name is printed), to look into a figure.
    #[arg(long)]
    keep: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    anyhow::ensure!(
        config.events > config.users && config.users > 0,
        "need --events > --users > 0"
    );
    let database_url = config.database_url.clone();
    bench::with_scratch_database(
        &database_url,
        "bench_rebuild",
        4,
        config.keep,
        |pool| async move { run(&pool, &config).await },
    )
    .await
}

async fn run(pool: &PgPool, config: &Config) -> anyhow::Result<()> {
    let started = Instant::now();
    seed::seed(pool, config.users, config.events).await?;
    if config.messages > 0 {
        anyhow::ensure!(config.users >= 3, "messages need --users of at least 3");
        seed::seed_messages(pool, config.messages).await?;
    }
    seed::analyze(pool).await?;
    let seeding = started.elapsed();
    report::machine(pool, config, seeding).await?;
    // Warm the cache once, untimed, so every timed run reads from the same place.
    measure::read_streamed(pool).await?;
    let mut timings: Vec<Timing> = vec![
        measure::read_in_batches(pool, config.batch).await?,
        measure::read_streamed(pool).await?,
        measure::count_on_server(pool).await?,
    ];
    if config.messages > 0 {
        timings.push(measure::insert_messages_on_server(pool, config.messages).await?);
    }
    let schema = audit::scratch::scratch_name();
    let projections = measure::projections(pool, &config.projections);
    let tables: Vec<&str> = projections
        .iter()
        .flat_map(|p| p.tables())
        .copied()
        .collect();
    audit::scratch::create(pool, &schema, &tables).await?;
    for projection in &projections {
        timings.push(measure::rebuild(pool, projection.as_ref(), &schema, config.batch).await?);
    }
    audit::scratch::drop_scratch(pool, &schema).await?;
    report::table(&timings)
}
