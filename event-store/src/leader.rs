//! One active instance of a worker, chosen by a Postgres advisory lock.
//!
//! The lock is held by a connection of its own: when the process dies, Postgres closes
//! the session and releases the lock, and a waiting instance takes over.

use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};

/// The advisory lock key of a named role (`relay`, `projection:users`): a stable hash
/// (FNV-1a), so every build and instance agrees.
pub fn lock_key(role: &str) -> i64 {
    let hash = role.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    hash as i64
}

/// Holds the lock of one role while alive.
pub struct Leadership {
    conn: PoolConnection<Postgres>,
    key: i64,
}

impl Leadership {
    /// Tries to take the lock once; `None` when another instance holds it.
    pub async fn try_acquire(pool: &PgPool, role: &str) -> Result<Option<Self>, sqlx::Error> {
        let key = lock_key(role);
        let mut conn = pool.acquire().await?;
        let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut *conn)
            .await?;
        Ok(got.then_some(Self { conn, key }))
    }

    /// Waits until the lock is ours, trying every `interval`.
    pub async fn acquire(
        pool: &PgPool,
        role: &str,
        interval: Duration,
    ) -> Result<Self, sqlx::Error> {
        loop {
            if let Some(leadership) = Self::try_acquire(pool, role).await? {
                tracing::info!(leader.role = role, "took leadership");
                return Ok(leadership);
            }
            tokio::time::sleep(interval).await;
        }
    }

    /// Whether the session holding the lock still answers: if not, leadership is lost.
    pub async fn check(&mut self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&mut *self.conn)
            .await
            .map(drop)
    }

    /// Gives the lock back (dropping does too, when the connection closes).
    pub async fn release(mut self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(self.key)
            .execute(&mut *self.conn)
            .await?;
        Ok(())
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        // Returned to the pool, the connection would keep the session lock: close it.
        self.conn.close_on_drop();
    }
}
