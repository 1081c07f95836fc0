//! How far a reader of the feed has got.

use sqlx::PgConnection;

use crate::Cursor;

/// A reader's progress: the last event it took, and the JetStream stream sequence of
/// that event's message (0 when it reads Postgres directly or has taken nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Checkpoint {
    pub cursor: Cursor,
    pub stream_sequence: u64,
}

/// The checkpoint stored under `name`, or the start of the feed.
pub async fn load(conn: &mut PgConnection, name: &str) -> Result<Checkpoint, sqlx::Error> {
    let row: Option<(i64, i64, i64)> = sqlx::query_as(
        "SELECT tx_id::text::bigint, position, stream_sequence FROM checkpoints WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(conn)
    .await?;
    Ok(
        row.map_or_else(Checkpoint::default, |(tx_id, position, stream_sequence)| {
            Checkpoint {
                cursor: Cursor {
                    tx_id: tx_id as u64,
                    position,
                },
                stream_sequence: stream_sequence as u64,
            }
        }),
    )
}

/// Stores `checkpoint` under `name`; inside the caller's transaction when it has one.
pub async fn save(
    conn: &mut PgConnection,
    name: &str,
    checkpoint: Checkpoint,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO checkpoints (name, tx_id, position, stream_sequence, updated_at)
         VALUES ($1, $2::bigint::text::xid8, $3, $4, now())
         ON CONFLICT (name) DO UPDATE
            SET tx_id = EXCLUDED.tx_id, position = EXCLUDED.position,
                stream_sequence = EXCLUDED.stream_sequence, updated_at = now()",
    )
    .bind(name)
    .bind(checkpoint.cursor.tx_id as i64)
    .bind(checkpoint.cursor.position)
    .bind(checkpoint.stream_sequence as i64)
    .execute(conn)
    .await?;
    Ok(())
}

/// Locks the checkpoint row `name` until the caller's transaction ends, creating it at the
/// start of the feed if absent, and returns what it holds.
///
/// A writer that keeps a view with its checkpoint calls this first in each transaction and
/// compares the answer with what it believes: a previous leader's commit still in flight
/// when leadership changed hands lands before this returns, and shows up as a difference
/// instead of being applied a second time.
pub async fn lock(conn: &mut PgConnection, name: &str) -> Result<Checkpoint, sqlx::Error> {
    sqlx::query("INSERT INTO checkpoints (name, tx_id, position) VALUES ($1, '0', 0) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .execute(&mut *conn)
        .await?;
    let (tx_id, position, stream_sequence): (i64, i64, i64) = sqlx::query_as(
        "SELECT tx_id::text::bigint, position, stream_sequence FROM checkpoints WHERE name = $1 FOR UPDATE",
    )
    .bind(name)
    .fetch_one(conn)
    .await?;
    Ok(Checkpoint {
        cursor: Cursor {
            tx_id: tx_id as u64,
            position,
        },
        stream_sequence: stream_sequence as u64,
    })
}
