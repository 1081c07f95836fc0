//! Postgres failures as a client sees them, and the readiness probe.

use std::time::Duration;

use http_api::ApiError;
use sqlx::PgPool;

/// How long `/readyz` waits for Postgres: a pool that cannot connect would otherwise
/// hold the probe for its whole acquire timeout.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// A read-model query failed.
///
/// As an [`ApiError`]: a database that cannot be reached is a `503` the client may
/// retry (`service.unavailable`); anything else is a bug, a logged `500` (`internal`).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct DatabaseError(#[from] sqlx::Error);

impl DatabaseError {
    /// Whether Postgres could not be reached at all, rather than refusing a query.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self.0,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
        )
    }
}

impl From<DatabaseError> for ApiError {
    fn from(err: DatabaseError) -> Self {
        if err.is_unavailable() {
            ApiError::unavailable("the database", &err)
        } else {
            ApiError::internal(&err)
        }
    }
}

/// Whether Postgres answers `SELECT 1` within [`PING_TIMEOUT`].
pub async fn ping(pool: &PgPool) -> bool {
    let select = sqlx::query("SELECT 1").execute(pool);
    matches!(tokio::time::timeout(PING_TIMEOUT, select).await, Ok(Ok(_)))
}
