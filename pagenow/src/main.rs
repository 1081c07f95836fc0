//! `pagenow`: every PageNow service, one subcommand each, plus `all` for development.

use clap::Parser;
use pagenow::cli::Cli;

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
