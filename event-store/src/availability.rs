//! Whether Postgres can be reached: for readiness probes and for telling a client
//! "try again later" (503) apart from a bug (500).

use std::time::Duration;

use sqlx::PgPool;

/// How long a readiness probe waits for Postgres: a pool that cannot connect would
/// otherwise hold the probe for its whole acquire timeout.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether `error` means Postgres could not be reached at all, rather than that it
/// refused a query.
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
    )
}

/// Whether Postgres answers `SELECT 1` within two seconds.
pub async fn ping(pool: &PgPool) -> bool {
    let probe = sqlx::query("SELECT 1").execute(pool);
    matches!(tokio::time::timeout(PING_TIMEOUT, probe).await, Ok(Ok(_)))
}
