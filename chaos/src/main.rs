//! `chaos`: see the library's documentation, and `scripts/chaos`, which starts Postgres
//! and runs this.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use tokio::signal::unix::{signal, SignalKind};

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let config = chaos::config::Config::parse();
    let mut terminate = signal(SignalKind::terminate())?;
    // On a signal the run is dropped, and with it every process and server it started.
    let report = tokio::select! {
        report = chaos::run(&config) => report?,
        _ = terminate.recv() => anyhow::bail!("terminated"),
        _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted"),
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "\n{}", report.table())?;
    for detail in report.details() {
        writeln!(out, "{detail}")?;
    }
    let failures = report.failures();
    if failures.is_empty() {
        writeln!(out, "PASS: nothing lost, nothing applied or told twice")?;
        return Ok(ExitCode::SUCCESS);
    }
    for failure in &failures {
        writeln!(out, "FAIL: {failure}")?;
    }
    Ok(ExitCode::FAILURE)
}
