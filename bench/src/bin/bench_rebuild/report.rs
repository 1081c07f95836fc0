//! What the benchmark prints: the machine and settings, then one line per timed run
//! with its rate, its ratio to the baseline (the first run: the feed as every reader
//! reads it) and to the fastest read (one streamed query, as a rebuild reads).

use std::time::Duration;

use bench::write;
use sqlx::PgPool;

use crate::measure::Timing;
use crate::Config;

/// The rebuild rate the issue asks for, whatever the baseline.
const TARGET_RATE: f64 = 50_000.0;

/// The machine, the server and the settings the figures were taken with.
pub async fn machine(pool: &PgPool, config: &Config, seeding: Duration) -> anyhow::Result<()> {
    let (size,): (String,) =
        sqlx::query_as("SELECT pg_size_pretty(pg_total_relation_size('events'))")
            .fetch_one(pool)
            .await?;
    write(&format!(
        "{}store:     {} user events ({} users, the rest user.profile_updated) and {} messages, events table {size}\n\
         rebuild:   read {} events at a time, into a scratch schema; folded rows written every {} rows\n\
         seeding:   {:.1} s\n\n",
        bench::machine(pool).await?,
        config.events,
        config.users,
        config.messages,
        config.batch,
        projector::replay::DEFAULT_ROWS,
        seeding.as_secs_f64()
    ))
}

/// One line per run; `ratio` is to the first run (the baseline), `to stream` to the
/// second (the streamed read).
pub fn table(timings: &[Timing]) -> anyhow::Result<()> {
    let baseline = timings.first().map_or(f64::NAN, Timing::rate);
    let streamed = timings.get(1).map_or(f64::NAN, Timing::rate);
    let mut text = format!(
        "{:<48} {:>10} {:>9} {:>10} {:>9} {:>10}\n",
        "what", "events", "seconds", "events/s", "ratio", "to stream"
    );
    for timing in timings {
        text.push_str(&format!(
            "{:<48} {:>10} {:>9.2} {:>10.0} {:>9.3} {:>10.3}\n",
            timing.what,
            timing.events,
            timing.elapsed.as_secs_f64(),
            timing.rate(),
            timing.rate() / baseline,
            timing.rate() / streamed
        ));
    }
    text.push_str(&format!(
        "\ntarget: a rebuild at >= {:.0} events/s (half the baseline) and >= {TARGET_RATE:.0} events/s\n\
         (half the streamed read: {:.0} events/s)\n",
        baseline / 2.0,
        streamed / 2.0
    ));
    write(&text)
}
