//! One active instance of a worker, chosen by a Postgres advisory lock.
//!
//! The lock is held by a connection of its own: when the process dies, Postgres closes
//! the session and releases the lock, and a waiting instance takes over.

use std::time::Duration;

use sqlx::{Connection, PgConnection, PgPool};

/// The advisory lock key of a named role (`relay`, `projection:users`): a stable hash
/// (FNV-1a), so every build and instance agrees.
pub fn lock_key(role: &str) -> i64 {
    let hash = role.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    hash as i64
}

/// Holds the lock of one role while alive, on a connection of its own: the lock lives
/// exactly as long as that session, and it takes no connection from the service's pool
/// (a process runs one leader per projection and one for the relay).
pub struct Leadership {
    conn: PgConnection,
    key: i64,
}

impl Leadership {
    /// Tries to take the lock once; `None` when another instance holds it.
    pub async fn try_acquire(pool: &PgPool, role: &str) -> Result<Option<Self>, sqlx::Error> {
        let mut conn = PgConnection::connect_with(&pool.connect_options()).await?;
        let key = lock_key(role);
        if try_lock(&mut conn, key).await? {
            return Ok(Some(Self { conn, key }));
        }
        conn.close().await?;
        Ok(None)
    }

    /// Waits until the lock is ours, trying every `interval` on one session.
    pub async fn acquire(
        pool: &PgPool,
        role: &str,
        interval: Duration,
    ) -> Result<Self, sqlx::Error> {
        let mut conn = PgConnection::connect_with(&pool.connect_options()).await?;
        let key = lock_key(role);
        while !try_lock(&mut conn, key).await? {
            tokio::time::sleep(interval).await;
        }
        tracing::info!(leader.role = role, "took leadership");
        Ok(Self { conn, key })
    }

    /// Whether the session holding the lock still answers: if not, leadership is lost.
    pub async fn check(&mut self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&mut self.conn)
            .await
            .map(drop)
    }

    /// Gives the lock back and closes its session (dropping closes the session too).
    pub async fn release(mut self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(self.key)
            .execute(&mut self.conn)
            .await?;
        self.conn.close().await
    }
}

async fn try_lock(conn: &mut PgConnection, key: i64) -> Result<bool, sqlx::Error> {
    let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
        .bind(key)
        .fetch_one(conn)
        .await?;
    Ok(got)
}
