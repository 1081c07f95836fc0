//! Starting services, alone or together, and stopping them on a signal.

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use auth::Verifier;
use personal_data::Keys;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::cli::{Database, Services, DEFAULT_ADMIN_API_ADDR};

/// One service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    CommandApi,
    QueryApi,
    Push,
    Relay,
    Projector,
    AdminApi,
}

impl Role {
    /// The services every deployment runs; `pagenow all` adds the admin API when it has
    /// an address (an operator's tool, listening only where asked).
    pub const ALL: [Role; 5] = [
        Role::CommandApi,
        Role::QueryApi,
        Role::Push,
        Role::Relay,
        Role::Projector,
    ];
}

/// A pool that does not test connections as they leave it (a round trip per query,
/// DESIGN.md); broken connections are found by the queries themselves.
pub async fn connect_postgres(database: &Database) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(database.db_pool)
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&database.database_url)
        .await
        .context("connecting to Postgres (DATABASE_URL)")
}

/// A NATS client that keeps reconnecting, from the first attempt on: services start
/// (and commands are accepted) while NATS is down; with the losses of its connection.
async fn connect_nats(url: &str) -> anyhow::Result<(async_nats::Client, event_bus::Losses)> {
    let options = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .name("pagenow");
    event_bus::Losses::connect(url, options)
        .await
        .context("connecting to NATS (NATS_URL)")
}

/// Tells every service to stop, once.
#[derive(Clone)]
struct Shutdown(watch::Sender<bool>);

impl Shutdown {
    fn new() -> Self {
        Self(watch::channel(false).0)
    }

    fn trigger(&self) {
        self.0.send_replace(true);
    }

    fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.0.subscribe();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    }
}

/// `pagenow all`: applies the migrations, then runs every service of [`Role::ALL`], and
/// the admin API when `ADMIN_API_ADDR` is set, as [`run`] does.
pub async fn run_all(config: &Services) -> anyhow::Result<()> {
    let mut roles = Role::ALL.to_vec();
    if config.admin_api_addr.is_some() {
        roles.push(Role::AdminApi);
    }
    serve(config, &roles, true).await
}

/// Runs `roles` until SIGINT or SIGTERM (or until one fails), then shuts all down.
pub async fn run(config: &Services, roles: &[Role]) -> anyhow::Result<()> {
    serve(config, roles, false).await
}

async fn serve(config: &Services, roles: &[Role], migrate: bool) -> anyhow::Result<()> {
    if let Err(installed) = config.http.limits().install() {
        anyhow::bail!("HTTP limits already set to {installed:?}");
    }
    let pool = connect_postgres(&config.database).await?;
    if migrate {
        migrations::run(&pool)
            .await
            .context("applying migrations")?;
    }
    let shutdown = Shutdown::new();
    let mut tasks = JoinSet::new();
    let needs_nats = roles
        .iter()
        .any(|r| matches!(r, Role::Push | Role::Relay | Role::Projector));
    let broker = match needs_nats {
        true => Some(connect_nats(&config.nats_url).await?),
        false => None,
    };
    for &role in roles {
        start(role, config, &pool, broker.clone(), &shutdown, &mut tasks).await?;
    }
    if let Some(addr) = config.health_addr {
        tasks.spawn(crate::health::serve(
            addr,
            pool.clone(),
            broker.map(|(nats, _)| nats),
            shutdown.wait(),
        ));
    }
    tokio::spawn(on_signal(shutdown.clone()));
    let mut outcome = Ok(());
    while let Some(joined) = tasks.join_next().await {
        if let Err(error) = joined.context("a service panicked").and_then(|r| r) {
            tracing::error!(
                error = format!("{error:#}"),
                "a service failed; stopping the others"
            );
            shutdown.trigger();
            outcome = Err(error);
        }
    }
    outcome
}

async fn start(
    role: Role,
    config: &Services,
    pool: &PgPool,
    broker: Option<(async_nats::Client, event_bus::Losses)>,
    shutdown: &Shutdown,
    tasks: &mut JoinSet<anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let stop = shutdown.wait();
    let broker = || broker.clone().context("no NATS connection");
    let nats = || broker().map(|(nats, _)| nats);
    match role {
        Role::CommandApi => {
            let app = command_api::build_with_sharing_defaults(
                command_api::Config {
                    addr: config.command_api_addr,
                },
                config.sharing_defaults()?,
                pool.clone(),
                verifier(config).await?,
            )
            .await?;
            tracing::info!(url = %format!("http://{}", app.local_addr()), "command API listening");
            tasks.spawn(async move { app.run(stop).await.context("command API") });
        }
        Role::QueryApi => {
            let query_config = query_api::Config {
                addr: config.query_api_addr,
                consistency_timeout: config.consistency_timeout(),
            };
            let app = query_api::build(query_config, pool.clone(), verifier(config).await?).await?;
            tracing::info!(url = %format!("http://{}", app.local_addr()), "query API listening");
            tasks.spawn(async move { app.run(stop).await.context("query API") });
        }
        Role::AdminApi => {
            let addr = config.admin_api_addr.unwrap_or(DEFAULT_ADMIN_API_ADDR);
            let admin_config = admin_api::Config::new(addr);
            let app = admin_api::build(admin_config, pool.clone(), verifier(config).await?).await?;
            tracing::info!(url = %format!("http://{}", app.local_addr()), "admin API listening");
            tasks.spawn(async move { app.run(stop).await.context("admin API") });
        }
        Role::Push => {
            let push_config = config.push.config(config.push_addr);
            let (nats, losses) = broker()?;
            let app = push::build(
                push_config,
                pool.clone(),
                nats,
                losses,
                verifier(config).await?,
            )
            .await?;
            tracing::info!(url = %format!("ws://{}/v1/ws", app.local_addr()), "push listening");
            tasks.spawn(async move { app.run(stop).await.context("push") });
        }
        Role::Relay => {
            let relay = relay::Relay::new(pool.clone(), nats()?, relay::Config::default());
            tasks.spawn(async move {
                relay.run(stop).await;
                Ok(())
            });
        }
        Role::Projector => {
            for projection in projector::all(Keys::new(pool.clone())) {
                let runner = projector::Runner::new(
                    pool.clone(),
                    nats()?,
                    projection,
                    projector::Config::default(),
                );
                let stop = shutdown.wait();
                tasks.spawn(async move {
                    runner.run(stop).await;
                    Ok(())
                });
            }
        }
    }
    Ok(())
}

async fn verifier(config: &Services) -> anyhow::Result<Verifier> {
    Verifier::new(&config.auth.config())
        .await
        .context("loading token keys")
}

async fn on_signal(shutdown: Shutdown) {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("signal received; shutting down");
    shutdown.trigger();
}
