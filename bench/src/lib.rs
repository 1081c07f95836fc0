//! What PageNow's benchmark programs share: a database of their own on the server they
//! are pointed at, the description of the machine a run was taken on, latency summaries,
//! and the in-process services they drive.
//!
//! The programs (`src/bin/`): `bench_rebuild` (issue 6: rebuild rate next to Postgres'
//! own read rate), `bench_chat` (issue 4: `SendMessage` in a long conversation next to a
//! new one; the chat queries next to the bare SQL behind them), `bench_push_latency` and
//! `bench_fanout` (issue 5: command-to-socket latency next to a bare NATS hop; notices
//! delivered to 10,000 sockets next to a bare NATS subscriber), `bench_load` (issue 7: a
//! mixed command workload at 1, 8 and 32 clients next to pgbench inserting the same event
//! rows; command to view to socket; the main views next to their SQL through pgbench).
//! Each prints its figures beside a baseline measured in the same run: these machines
//! are shared and noisy, so an absolute figure means little.

pub mod services;

/// The allocator the services run with (`pagenow`'s), so the figures are theirs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::future::Future;
use std::io::Write;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

/// A development token for `user`, valid for an hour (longer than any run).
pub fn dev_token(user: &str) -> anyhow::Result<String> {
    let ttl = std::time::Duration::from_secs(3600);
    Ok(auth::mint_dev_token(
        auth::DEV_HS256_SECRET,
        user,
        ttl,
        false,
    )?)
}

/// A verifier that trusts the development tokens of [`dev_token`].
pub async fn dev_verifier() -> anyhow::Result<auth::Verifier> {
    let config = auth::AuthConfig {
        hs256_secret: Some(auth::DEV_HS256_SECRET.into()),
        ..Default::default()
    };
    Ok(auth::Verifier::new(&config).await?)
}

/// Writes `text` to standard output at once (figures appear as they are taken).
pub fn write(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Runs `body` on a new, migrated database `<prefix>_<random>` on the server of
/// `database_url`, with a pool of `connections`, and drops the database afterwards
/// (unless `keep`, when its name is printed to look into a figure).
pub async fn with_scratch_database<F, Fut>(
    database_url: &str,
    prefix: &str,
    connections: u32,
    keep: bool,
    body: F,
) -> anyhow::Result<()>
where
    F: FnOnce(PgPool) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let server = PgConnectOptions::from_str(database_url).context("DATABASE_URL")?;
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(server.clone())
        .await?;
    let name = format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await?;
    let pool = PgPoolOptions::new()
        .max_connections(connections)
        .test_before_acquire(false)
        .connect_with(server.database(&name))
        .await;
    let outcome = match pool {
        Ok(pool) => {
            let outcome = match migrations::MIGRATOR.run(&pool).await {
                Ok(()) => body(pool.clone()).await,
                Err(error) => Err(error.into()),
            };
            pool.close().await;
            outcome
        }
        Err(error) => Err(error.into()),
    };
    if keep {
        eprintln!("kept database {name}");
    } else {
        sqlx::raw_sql(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(&admin)
            .await?;
    }
    outcome
}

/// The machine, the Postgres server and its settings, as lines to print before figures.
pub async fn machine(pool: &PgPool) -> anyhow::Result<String> {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_else(|| "unknown".into());
    let (version,): (String,) = sqlx::query_as("SELECT version()").fetch_one(pool).await?;
    let (settings,): (String,) = sqlx::query_as(
        "SELECT string_agg(name || '=' || setting || coalesce(unit, ''), ' ' ORDER BY name)
           FROM pg_settings
          WHERE name IN ('shared_buffers', 'work_mem', 'synchronous_commit', 'fsync', 'wal_level')",
    )
    .fetch_one(pool)
    .await?;
    Ok(format!(
        "date:      {}\n\
         machine:   {cpus} CPUs (nproc), {memory} memory\n\
         postgres:  {version}\n\
         settings:  {settings}\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    ))
}

/// Latencies of one kind of request, summarised.
#[derive(Debug, Clone)]
pub struct Latencies {
    sorted: Vec<Duration>,
}

impl Latencies {
    pub fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Self { sorted: samples }
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// The samples, shortest first.
    pub fn samples(&self) -> &[Duration] {
        &self.sorted
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The `q` quantile (0.5: the median), nearest rank; zero when there are no samples.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = (q * self.sorted.len() as f64).ceil() as usize;
        self.sorted[rank.clamp(1, self.sorted.len()) - 1]
    }

    pub fn median(&self) -> Duration {
        self.quantile(0.5)
    }

    pub fn p99(&self) -> Duration {
        self.quantile(0.99)
    }
}

/// `d` in milliseconds, for tables.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_take_the_nearest_rank() {
        let latencies = Latencies::new((1..=100).rev().map(Duration::from_millis).collect());
        assert_eq!(latencies.median(), Duration::from_millis(50));
        assert_eq!(latencies.p99(), Duration::from_millis(99));
        assert_eq!(latencies.quantile(1.0), Duration::from_millis(100));
        assert_eq!(Latencies::new(vec![]).median(), Duration::ZERO);
    }
}
