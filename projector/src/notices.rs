//! Per-user notices: decided by one projection, [`Notices`], in feed order; stored in
//! the runner's transaction, published after it commits.
//!
//! A notice is published only after its transaction committed, so no socket hears of a
//! change the views do not have; [`Publication`] keeps how far publishing got, so that
//! what a crash or a NATS outage left unpublished is published later, not lost.

mod projection;
mod publication;

use event_bus::Addressed;
use sqlx::PgConnection;

pub use projection::{Notices, NAME, TABLE};
pub use publication::Publication;

/// Stores `notices` in the caller's transaction, in one statement.
pub async fn store(tx: &mut PgConnection, notices: &[Addressed]) -> Result<(), sqlx::Error> {
    if notices.is_empty() {
        return Ok(());
    }
    let column = |f: fn(&Addressed) -> String| notices.iter().map(f).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO user_notices (user_id, tx_id, position, kind, data)
         SELECT user_id, tx_id::text::xid8, position, kind, data
           FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::jsonb[])
                AS n(user_id, tx_id, position, kind, data)
         ON CONFLICT DO NOTHING",
    )
    .bind(column(|a| a.user_id.clone()))
    .bind(
        notices
            .iter()
            .map(|a| a.notice.tx_id as i64)
            .collect::<Vec<_>>(),
    )
    .bind(
        notices
            .iter()
            .map(|a| a.notice.position)
            .collect::<Vec<_>>(),
    )
    .bind(column(|a| a.notice.kind.clone()))
    .bind(
        notices
            .iter()
            .map(|a| a.notice.data.clone())
            .collect::<Vec<_>>(),
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}
