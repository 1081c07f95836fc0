//! The operator's audit commands: `events` (and `tail`), `aggregate`, `verify`, `status`.
//! The `audit` crate does the work; this module parses the arguments, prints, and turns
//! the outcome into an exit code (listed in docs/OPERATIONS.md).

mod output;
mod progress;

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use personal_data::Keys;
use sqlx::PgPool;

use crate::cli::Database;
use crate::services::connect_postgres;

/// `verify` found rows that differ between the live views and their replay.
pub const EXIT_DIFFERENCES: u8 = 3;
/// `verify` could not compare: a projection had not caught up with the store.
pub const EXIT_NOT_CAUGHT_UP: u8 = 4;
/// `verify` found no difference, but some projection declares no tables to compare.
pub const EXIT_INCOMPLETE: u8 = 5;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// JSON for scripts (`events`: one event per line).
    Json,
}

/// `pagenow events`: the history, filtered.
#[derive(Debug, Args)]
pub struct EventsArgs {
    #[command(flatten)]
    pub database: Database,
    /// Only events of this aggregate type (`user`, `friendship`, …).
    #[arg(long)]
    pub aggregate_type: Option<String>,
    /// Only events of this aggregate id.
    #[arg(long)]
    pub aggregate_id: Option<String>,
    /// Only events this user caused (the `user_id` of their metadata).
    #[arg(long = "user")]
    pub user_id: Option<String>,
    /// Only events of this type (`user.profile_updated`).
    #[arg(long = "type")]
    pub event_type: Option<String>,
    /// Only events recorded at or after this instant (RFC 3339).
    #[arg(long)]
    pub since: Option<DateTime<Utc>>,
    /// Only events recorded before this instant (RFC 3339).
    #[arg(long)]
    pub until: Option<DateTime<Utc>>,
    /// Only events at this position or after.
    #[arg(long)]
    pub from_position: Option<i64>,
    /// Only events at this position or before.
    #[arg(long)]
    pub to_position: Option<i64>,
    /// Only events of one request (the `correlation_id` of their metadata).
    #[arg(long)]
    pub correlation: Option<String>,
    /// Most events printed: 100 by default; with --follow, no limit by default.
    #[arg(long)]
    pub limit: Option<u64>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Keep printing events as they commit, until Ctrl-C (or --limit events).
    #[arg(long, short = 'f')]
    pub follow: bool,
}

impl EventsArgs {
    fn filter(&self) -> audit::EventFilter {
        audit::EventFilter {
            aggregate_type: self.aggregate_type.clone(),
            aggregate_id: self.aggregate_id.clone(),
            user_id: self.user_id.clone(),
            event_type: self.event_type.clone(),
            since: self.since,
            until: self.until,
            from_position: self.from_position,
            to_position: self.to_position,
            correlation_id: self.correlation.clone(),
        }
    }
}

/// `pagenow aggregate`: an aggregate's state at a version, or what one event changed.
#[derive(Debug, Args)]
pub struct AggregateArgs {
    #[command(flatten)]
    pub database: Database,
    /// The aggregate type (`user`).
    pub aggregate_type: String,
    /// The aggregate id.
    pub aggregate_id: String,
    /// The state after this event's sequence number (default: the latest).
    #[arg(long, conflicts_with = "diff")]
    pub version: Option<i64>,
    /// The event at this sequence number, with the state before and after it.
    #[arg(long)]
    pub diff: Option<i64>,
}

/// `pagenow verify`: replay equals live.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub database: Database,
    /// How long to wait for every projection to reach the store's last event (seconds).
    #[arg(long, default_value_t = 60)]
    pub wait_secs: u64,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `pagenow rebuild`: one projection rebuilt beside the live tables and switched in.
#[derive(Debug, Args)]
pub struct RebuildArgs {
    #[command(flatten)]
    pub database: Database,
    /// The projection to rebuild (`users`, `policies`, …).
    pub projection: String,
    /// Events read at a time (and applied per transaction by projections that do not
    /// fold across batches).
    #[arg(long, default_value_t = 1000)]
    pub batch: i64,
    /// Keep the replaced tables (in the schema printed at the end) instead of dropping them.
    #[arg(long)]
    pub keep_old: bool,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `pagenow status`: checkpoints and lag.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub database: Database,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Ends the process with `code` when it is not 0 (after flushing what was printed):
/// `main` reports every error as 1, and these commands have codes of their own.
pub fn exit_with(code: u8) -> anyhow::Result<()> {
    if code != 0 {
        let _ = std::io::stdout().flush();
        std::process::exit(code.into());
    }
    Ok(())
}

async fn connect(database: &Database) -> anyhow::Result<PgPool> {
    connect_postgres(database).await
}

/// `work`'s outcome, or `None` (with `work` dropped) when Ctrl-C came first.
async fn until_ctrl_c<T>(work: impl std::future::Future<Output = T>) -> Option<T> {
    tokio::select! {
        outcome = work => Some(outcome),
        _ = tokio::signal::ctrl_c() => None,
    }
}

/// Prints the events the arguments select; with `follow`, then those that commit.
pub async fn events(args: EventsArgs) -> anyhow::Result<u8> {
    let pool = connect(&args.database).await?;
    let mut printer = output::EventPrinter::new(args.format);
    if !args.follow {
        let limit = args.limit.unwrap_or(100).min(i64::MAX as u64) as i64;
        let events = audit::list_events(&pool, &args.filter(), limit)
            .await
            .context("reading events")?;
        printer.print(&events)?;
        return Ok(0);
    }
    let mut follower = audit::Follower::start(&pool, args.filter()).await?;
    let mut left = args.limit.unwrap_or(u64::MAX);
    while left > 0 {
        let mut batch = tokio::select! {
            batch = follower.next() => batch.context("following events")?,
            _ = tokio::signal::ctrl_c() => break,
        };
        batch.truncate(left.min(batch.len() as u64) as usize);
        left -= batch.len() as u64;
        printer.print(&batch)?;
    }
    Ok(0)
}

/// Prints an aggregate's state, or one event's difference, as JSON.
pub async fn aggregate(args: AggregateArgs) -> anyhow::Result<u8> {
    let pool = connect(&args.database).await?;
    let (kind, id) = (&args.aggregate_type, &args.aggregate_id);
    let json = match args.diff {
        Some(version) => {
            serde_json::to_string_pretty(&audit::aggregate_diff(&pool, kind, id, version).await?)
        }
        None => serde_json::to_string_pretty(
            &audit::aggregate_state(&pool, kind, id, args.version).await?,
        ),
    }?;
    output::write_stdout(&format!("{json}\n"))?;
    Ok(0)
}

/// Verifies every projection; the exit code says how it went.
pub async fn verify(args: VerifyArgs) -> anyhow::Result<u8> {
    let pool = connect(&args.database).await?;
    let options = audit::VerifyOptions::new(Duration::from_secs(args.wait_secs));
    let verifying = audit::verify(&pool, Keys::new(pool.clone()), &options);
    // The work is dropped (its transactions rolled back) before its schema is.
    let Some(outcome) = until_ctrl_c(verifying).await else {
        audit::scratch::drop_scratch(&pool, &options.schema).await?;
        anyhow::bail!("interrupted; scratch schema {} dropped", options.schema);
    };
    match outcome {
        Ok(report) => {
            output::print_report(&report, args.format)?;
            Ok(match (report.is_consistent(), report.is_complete()) {
                (false, _) => EXIT_DIFFERENCES,
                (true, false) => EXIT_INCOMPLETE,
                (true, true) => 0,
            })
        }
        Err(error) if error.is_not_caught_up() => {
            output::print_not_caught_up(&error, args.format)?;
            Ok(EXIT_NOT_CAUGHT_UP)
        }
        Err(error) => Err(error).context("verifying the views"),
    }
}

/// Prints every reader's checkpoint and lag.
pub async fn status(args: StatusArgs) -> anyhow::Result<u8> {
    let pool = connect(&args.database).await?;
    let status = audit::status(&pool).await.context("reading checkpoints")?;
    output::print_status(&status, args.format)?;
    Ok(0)
}

/// Rebuilds one projection with a progress bar on stderr, then prints what it did.
pub async fn rebuild(args: RebuildArgs) -> anyhow::Result<u8> {
    let pool = connect(&args.database).await?;
    let projections = projector::all(Keys::new(pool.clone()));
    let options = audit::shadow::ShadowOptions {
        batch: args.batch,
        keep_old: args.keep_old,
        ..Default::default()
    };
    let mut bar = progress::ProgressBar::new(&args.projection);
    let mut report = |p| bar.update(p);
    let rebuilt =
        audit::shadow::rebuild(&pool, &projections, &args.projection, &options, &mut report);
    let Some(outcome) = until_ctrl_c(rebuilt).await else {
        // The retired schema exists only if the switch committed (it is made inside it).
        audit::scratch::drop_scratch(&pool, &options.schema).await?;
        if !options.keep_old {
            audit::scratch::drop_scratch(&pool, &options.retired).await?;
        }
        anyhow::bail!("interrupted; shadow schema {} dropped", options.schema);
    };
    bar.finish();
    output::print_rebuild(&outcome.context("rebuilding")?, args.format)?;
    Ok(0)
}
