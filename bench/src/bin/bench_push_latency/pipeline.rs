//! The rest of the pipeline behind the command API, in this process on loopback: the
//! relay, every projector runner and a push node, on a runtime and pool of their own
//! (as [`bench::services::Apis`] does for the APIs), so their work is not timed as the
//! client's and the client's not as theirs.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::postgres::PgConnectOptions;
use sqlx::PgPool;

/// Starts the relay, the projectors and a push node against `pool`'s database and the
/// NATS server at `nats_url`; the push node's address.
pub async fn start(pool: &PgPool, nats_url: String) -> anyhow::Result<SocketAddr> {
    let options = pool.connect_options().as_ref().clone();
    bench::services::on_own_runtime("pipeline", move || async move {
        serve(options, &nats_url).await
    })
    .await
}

/// Spawns the relay, the projector runners and the push node on this runtime.
async fn serve(options: PgConnectOptions, nats_url: &str) -> anyhow::Result<SocketAddr> {
    let pool = bench::services::service_pool(options).await?;
    let (nats, losses) = event_bus::Losses::connect(nats_url, Default::default())
        .await
        .context("NATS")?;
    let relay = relay::Relay::new(pool.clone(), nats.clone(), relay::Config::default());
    tokio::spawn(relay.run(std::future::pending()));
    for projection in projector::all(personal_data::Keys::new(pool.clone())) {
        let runner = projector::Runner::new(
            pool.clone(),
            nats.clone(),
            projection,
            projector::Config::default(),
        );
        tokio::spawn(runner.run(std::future::pending()));
    }
    let verifier = bench::dev_verifier().await?;
    let push = push::build(
        push::Config::new("127.0.0.1:0".parse()?),
        pool,
        nats,
        losses,
        verifier,
    )
    .await?;
    let addr = push.local_addr();
    tokio::spawn(push.run(std::future::pending()));
    Ok(addr)
}

/// Waits, polling for at most `limit`, until every projection has applied every event
/// committed so far, so that a timed phase does not start behind a backlog.
pub async fn caught_up(pool: &PgPool, limit: Duration) -> anyhow::Result<()> {
    let target = event_store::FeedReader::new(pool.clone())
        .last_committed()
        .await?;
    let deadline = Instant::now() + limit;
    for projection in projector::all(personal_data::Keys::new(pool.clone())) {
        loop {
            let mut conn = pool.acquire().await?;
            let checkpoint = event_store::checkpoint::load(&mut conn, projection.name()).await?;
            if checkpoint.cursor >= target {
                break;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "projection {} still behind after {limit:?}",
                projection.name()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}
