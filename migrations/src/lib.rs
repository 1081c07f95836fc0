//! The database schema: every table of the event store and of the views, as SQL
//! migrations in `migrations/sql`, and the command that applies them.
//!
//! No other crate creates or alters a table; services and tests apply [`MIGRATOR`].

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::PgPool;

/// Every migration, embedded at build time.
pub static MIGRATOR: Migrator = sqlx::migrate!("./sql");

/// Applies the migrations that `pool`'s database has not seen yet.
pub async fn run(pool: &PgPool) -> Result<(), MigrateError> {
    MIGRATOR.run(pool).await
}
