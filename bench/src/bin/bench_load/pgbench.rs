//! pgbench, the baseline: custom scripts at the same concurrency as our clients, each
//! transaction's latency read from its log (`-l`), its rate from its own `tps = …` line.
//! Inserts go to a database of their own on the same server (same migrations, so the
//! same `events` table), so that the relay and projectors never see them; queries read
//! the services' own database, the same rows the services read.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use bench::Latencies;
use sqlx::PgPool;

use crate::load::Figures;
use crate::Config;

/// pgbench, pointed at the two databases.
pub struct Pgbench {
    bin: PathBuf,
    /// Where the inserts go.
    inserts: String,
    /// The services' database, whose views the queries read.
    views: String,
    dir: PathBuf,
    warm_up: Duration,
    timed: Duration,
}

/// One kind of event row, as our commands appended it, and how many of it they did.
pub struct EventRow {
    aggregate_type: String,
    event_type: String,
    event_version: String,
    payload: String,
    metadata: String,
    count: i64,
}

impl EventRow {
    /// The latest row of each event type appended after `mark`, weighted by how many of
    /// that type were.
    pub async fn sample(pool: &PgPool, mark: i64) -> anyhow::Result<Vec<Self>> {
        let rows: Vec<(String, String, String, String, String, i64)> = sqlx::query_as(
            "SELECT DISTINCT ON (event_type) aggregate_type, event_type, event_version,
                    payload::text, metadata::text, count(*) OVER (PARTITION BY event_type)
               FROM events WHERE position > $1
              ORDER BY event_type, position DESC",
        )
        .bind(mark)
        .fetch_all(pool)
        .await?;
        anyhow::ensure!(!rows.is_empty(), "no events to copy");
        Ok(rows
            .into_iter()
            .map(
                |(aggregate_type, event_type, event_version, payload, metadata, count)| Self {
                    aggregate_type,
                    event_type,
                    event_version,
                    payload,
                    metadata,
                    count,
                },
            )
            .collect())
    }

    /// The row's `INSERT`, as the event store's append writes it (a new stream each).
    fn insert(&self) -> String {
        format!(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
             VALUES ({}, gen_random_uuid()::text, 1, {}, {}, {}::json, {}::json) RETURNING position;\n",
            literal(&self.aggregate_type),
            literal(&self.event_type),
            literal(&self.event_version),
            literal(&self.payload),
            literal(&self.metadata),
        )
    }
}

/// One SQL statement of a query script: `$n` parameters, each a value passed to
/// pgbench with `-D` (bound as a parameter, as `-M prepared` does), or `None` for NULL.
pub struct Statement<'a> {
    pub sql: &'a str,
    pub params: Vec<Option<String>>,
}

impl Pgbench {
    /// Inserts into `baseline`'s database, queries `services`'.
    pub fn new(config: &Config, baseline: &PgPool, services: &PgPool) -> anyhow::Result<Self> {
        let url_of = |pool: &PgPool| -> anyhow::Result<String> {
            let database = pool
                .connect_options()
                .get_database()
                .context("a scratch database's name")?
                .to_owned();
            let mut url = reqwest::Url::parse(&config.database_url).context("DATABASE_URL")?;
            url.set_path(&database);
            Ok(url.to_string())
        };
        let dir = std::env::temp_dir().join(format!("bench_load_{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            bin: config.pgbench_bin.clone(),
            inserts: url_of(baseline)?,
            views: url_of(services)?,
            dir,
            warm_up: config.warm_up(),
            timed: config.timed(),
        })
    }

    /// `pgbench --version`.
    pub fn version(&self) -> anyhow::Result<String> {
        let out = Command::new(&self.bin).arg("--version").output()?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// `rows` inserted, one per transaction, in the proportions they came in.
    pub async fn inserts(&self, rows: &[EventRow], clients: usize) -> anyhow::Result<Figures> {
        let mut scripts = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            let path = self.dir.join(format!("insert_{i}.sql"));
            std::fs::write(&path, row.insert())?;
            scripts.push(format!("{}@{}", path.display(), row.count.max(1)));
        }
        self.run(&self.inserts, scripts, Vec::new(), clients).await
    }

    /// `statements` in one script (one transaction each run), named `name`.
    pub async fn queries(
        &self,
        name: &str,
        statements: &[Statement<'_>],
        clients: usize,
    ) -> anyhow::Result<Figures> {
        let mut script = String::new();
        let mut defines = Vec::new();
        for (s, statement) in statements.iter().enumerate() {
            let mut sql = statement.sql.trim().to_owned();
            // Highest first, so that `$1` does not eat the start of `$10`.
            for (p, value) in statement.params.iter().enumerate().rev() {
                let placeholder = format!("${}", p + 1);
                let replacement = match value {
                    Some(value) => {
                        defines.push(format!("s{s}p{p}={value}"));
                        format!(":s{s}p{p}")
                    }
                    None => "NULL".to_owned(),
                };
                sql = sql.replace(&placeholder, &replacement);
            }
            script.push_str(&sql.split_whitespace().collect::<Vec<_>>().join(" "));
            script.push_str(";\n");
        }
        let path = self.dir.join(format!("{name}.sql"));
        std::fs::write(&path, script)?;
        let scripts = vec![path.display().to_string()];
        self.run(&self.views, scripts, defines, clients).await
    }

    /// A warm-up run, then a timed one with each transaction logged.
    async fn run(
        &self,
        url: &str,
        scripts: Vec<String>,
        defines: Vec<String>,
        clients: usize,
    ) -> anyhow::Result<Figures> {
        let mut args = vec!["-n".to_owned(), "-M".into(), "prepared".into()];
        args.extend(
            ["-c", "-j"]
                .iter()
                .flat_map(|f| [f.to_string(), clients.to_string()]),
        );
        for script in &scripts {
            args.extend(["-f".to_owned(), script.clone()]);
        }
        for define in &defines {
            args.extend(["-D".to_owned(), define.clone()]);
        }
        args.push(url.to_owned());
        if !self.warm_up.is_zero() {
            self.pgbench(&args, self.warm_up, None).await?;
        }
        let logs = self.dir.join("log");
        let _ = std::fs::remove_dir_all(&logs);
        std::fs::create_dir_all(&logs)?;
        let out = self.pgbench(&args, self.timed, Some(&logs)).await?;
        let tps = tps_of(&out)?;
        let latencies = logged_latencies(&logs)?;
        Ok(Figures {
            done: latencies.len(),
            failed: 0,
            seconds: latencies.len() as f64 / tps,
            latencies,
            failure: None,
        })
    }

    /// Runs pgbench for `duration`, logging into `logs` if given, with `args` (options,
    /// then the database); its output.
    async fn pgbench(
        &self,
        args: &[String],
        duration: Duration,
        logs: Option<&Path>,
    ) -> anyhow::Result<String> {
        let mut command = Command::new(&self.bin);
        command.args(["-T", &duration.as_secs().max(1).to_string()]);
        if let Some(logs) = logs {
            let prefix = logs.join("pgbench_log");
            command.args(["-l", "--log-prefix", &prefix.display().to_string()]);
        }
        command.args(args);
        let out = tokio::task::spawn_blocking(move || command.output()).await??;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        anyhow::ensure!(
            out.status.success(),
            "pgbench failed: {}{}",
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(stdout)
    }
}

impl Drop for Pgbench {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `'text'`, quoted for SQL.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The rate of pgbench's `tps = 1234.5 (without initial connection time)` line.
fn tps_of(out: &str) -> anyhow::Result<f64> {
    out.lines()
        .find_map(|line| line.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|tps| tps.parse().ok())
        .with_context(|| format!("no tps in pgbench's output: {out}"))
}

/// Each transaction's latency from the logs in `dir` (the third field, microseconds).
fn logged_latencies(dir: &Path) -> anyhow::Result<Latencies> {
    let mut samples = Vec::new();
    for file in std::fs::read_dir(dir)? {
        let text = std::fs::read_to_string(file?.path())?;
        samples.extend(
            text.lines()
                .filter_map(|line| line.split_whitespace().nth(2)?.parse::<u64>().ok())
                .map(Duration::from_micros),
        );
    }
    Ok(Latencies::new(samples))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_rate_from_pgbench_output() {
        let out = "latency average = 1.2 ms\ntps = 812.345678 (without initial connection time)\n";
        assert!((tps_of(out).unwrap_or_default() - 812.345678).abs() < 1e-9);
        assert!(tps_of("nothing here").is_err());
    }

    #[test]
    fn quotes_single_quotes_in_literals() {
        assert_eq!(literal("it's"), "'it''s'");
    }
}
