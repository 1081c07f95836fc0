//! The `pagenow` binary's library: parses the configuration, wires each service to its
//! dependencies, runs the chosen ones until a signal, and shuts them down gracefully.
//!
//! - [`cli`]: the typed configuration (flags and environment).
//! - [`audit_cli`]: the operator's audit commands (`events`, `tail`, `aggregate`,
//!   `verify`, `status`, `rebuild`) over the `audit` crate.
//! - [`services`]: starting services, alone or all in one process.
//! - [`health`]: health endpoints for the workers.
//! - [`telemetry`]: how logs are written.

pub mod audit_cli;
pub mod cli;
pub mod health;
pub mod services;
pub mod telemetry;

use std::time::Duration;

use anyhow::Context;
use cli::{Cli, Command};
use services::Role;

/// Runs the command line's subcommand to completion.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Migrate(database) => {
            let pool = services::connect_postgres(&database).await?;
            migrations::run(&pool)
                .await
                .context("applying migrations")?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::DevToken(args) => {
            let ttl = Duration::from_secs(args.ttl_hours * 3600);
            let token = auth::mint_dev_token(&args.jwt_secret, &args.user_id, ttl, args.admin)?;
            #[allow(clippy::print_stdout, reason = "the token is this command's output")]
            {
                println!("{token}");
            }
            Ok(())
        }
        Command::All(config) => services::run_all(&config).await,
        Command::CommandApi(config) => services::run(&config, &[Role::CommandApi]).await,
        Command::QueryApi(config) => services::run(&config, &[Role::QueryApi]).await,
        Command::Push(config) => services::run(&config, &[Role::Push]).await,
        Command::Relay(config) => services::run(&config, &[Role::Relay]).await,
        Command::Projector(config) => services::run(&config, &[Role::Projector]).await,
        Command::AdminApi(config) => services::run(&config, &[Role::AdminApi]).await,
        Command::Events(args) => audit_cli::exit_with(audit_cli::events(args).await?),
        Command::Tail(mut args) => {
            args.follow = true;
            audit_cli::exit_with(audit_cli::events(args).await?)
        }
        Command::Aggregate(args) => audit_cli::exit_with(audit_cli::aggregate(args).await?),
        Command::Verify(args) => audit_cli::exit_with(audit_cli::verify(args).await?),
        Command::Status(args) => audit_cli::exit_with(audit_cli::status(args).await?),
        Command::Rebuild(args) => audit_cli::exit_with(audit_cli::rebuild(args).await?),
    }
}
