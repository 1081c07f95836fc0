//! The driver's settings, from flags or the environment.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// `chaos`: runs PageNow under load and faults for a set time, then checks that nothing
/// was lost, applied twice or told twice, and prints a report.
#[derive(Debug, Clone, Parser)]
#[command(name = "chaos", version)]
pub struct Config {
    /// How long the load and the faults last (`90s`, `5m`, or seconds).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub duration: Duration,

    /// The `pagenow` binary whose services are run.
    #[arg(long, env = "PAGENOW_BIN", default_value = "target/debug/pagenow")]
    pub pagenow: PathBuf,

    /// A Postgres database of the run's own: it is migrated, loaded and checked.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,

    /// A shell command that restarts that Postgres (run once, mid-run). Without it,
    /// Postgres is not restarted and the report says so.
    #[arg(long)]
    pub pg_restart: Option<String>,

    /// How long NATS stays down; by default 30 s, or a sixth of a run shorter than 3 min.
    #[arg(long, value_parser = parse_duration)]
    pub nats_outage: Option<Duration>,

    /// The mean time between two `kill -9` of a service (each gap is 0.5 to 1.5 times it).
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub kill_every: Duration,

    /// Users with a socket each, who send the load.
    #[arg(long, default_value_t = 6)]
    pub users: usize,

    /// Concurrent senders of commands.
    #[arg(long, default_value_t = 4)]
    pub workers: usize,

    /// Where each service's log goes (`<role>.log`, appended across restarts).
    #[arg(long, default_value = "chaos-logs")]
    pub log_dir: PathBuf,
}

impl Config {
    /// The NATS outage: as asked, else 30 s, but at most a sixth of the run.
    pub fn nats_outage(&self) -> Duration {
        self.nats_outage
            .unwrap_or_else(|| Duration::from_secs(30).min(self.duration / 6))
    }
}

/// `90s`, `5m`, `1h`, `250ms` or a number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 90s or 5m"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(number)),
        "ms" => Ok(Duration::from_millis(number)),
        "m" => Ok(Duration::from_secs(number * 60)),
        "h" => Ok(Duration::from_secs(number * 3600)),
        _ => Err(format!("unknown unit {unit:?} in {text:?} (ms, s, m or h)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_seconds_minutes_and_bare_numbers() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("12"), Ok(Duration::from_secs(12)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5 parsecs").is_err());
    }
}
