//! Postgres failures as a client sees them.

use http_api::ApiError;

pub use event_store::availability::ping;

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
        event_store::availability::is_unavailable(&self.0)
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
