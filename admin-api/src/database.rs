//! Postgres failures as a client sees them.

use http_api::ApiError;

pub use event_store::availability::ping;

/// A database that cannot be reached is a `503` the client may retry
/// (`service.unavailable`); any other failure is a bug, a logged `500` (`internal`).
pub fn error(error: sqlx::Error) -> ApiError {
    if event_store::availability::is_unavailable(&error) {
        ApiError::unavailable("the database", &error)
    } else {
        ApiError::internal(&error)
    }
}
