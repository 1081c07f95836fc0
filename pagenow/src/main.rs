//! `pagenow`: every PageNow service, one subcommand each, plus `all` for development.

use clap::Parser;
use pagenow::cli::Cli;

/// mimalloc, not the system allocator: events, rows and messages are allocated on one
/// worker thread and freed on another, which glibc's allocator does slowly (a rebuild spent
/// more time freeing the events it had read than applying them).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    pagenow::telemetry::init(&cli.log_format);
    match pagenow::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "pagenow stopped");
            std::process::ExitCode::FAILURE
        }
    }
}
