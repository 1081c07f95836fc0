//! What the benchmark prints: the machine and settings, then one line per timed run
//! with its rate and its ratio to the baseline (the first run).

use std::io::Write;
use std::time::Duration;

use sqlx::PgPool;

use crate::measure::Timing;
use crate::Config;

/// The rebuild rate the issue asks for, whatever the baseline.
const TARGET_RATE: f64 = 50_000.0;

fn write(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// The machine, the server and the settings the figures were taken with.
pub async fn machine(pool: &PgPool, config: &Config, seeding: Duration) -> anyhow::Result<()> {
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
    let (size,): (String,) =
        sqlx::query_as("SELECT pg_size_pretty(pg_total_relation_size('events'))")
            .fetch_one(pool)
            .await?;
    write(&format!(
        "machine:   {cpus} CPUs (nproc), {memory} memory\n\
         postgres:  {version}\n\
         settings:  {settings}\n\
         store:     {} events ({} users, the rest user.profile_updated), events table {size}\n\
         rebuild:   batch {} events per transaction, into a scratch schema\n\
         seeding:   {:.1} s\n\n",
        config.events,
        config.users,
        config.batch,
        seeding.as_secs_f64()
    ))
}

/// One line per run; the ratio is to the first run, the baseline.
pub fn table(timings: &[Timing]) -> anyhow::Result<()> {
    let baseline = timings.first().map_or(f64::NAN, Timing::rate);
    let mut text = format!(
        "{:<48} {:>10} {:>9} {:>10} {:>9}\n",
        "what", "events", "seconds", "events/s", "ratio"
    );
    for timing in timings {
        text.push_str(&format!(
            "{:<48} {:>10} {:>9.2} {:>10.0} {:>9.3}\n",
            timing.what,
            timing.events,
            timing.elapsed.as_secs_f64(),
            timing.rate(),
            timing.rate() / baseline
        ));
    }
    text.push_str(&format!(
        "\ntarget: a rebuild at >= {:.0} events/s (half the baseline) and >= {TARGET_RATE:.0} events/s\n",
        baseline / 2.0
    ));
    write(&text)
}
