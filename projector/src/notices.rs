//! Per-user notices: decided by one projection, [`Notices`], in feed order; stored in
//! the runner's transaction, published after it commits.
//!
//! A notice is published only after its transaction committed, so no socket hears of a
//! change the views do not have. A crash between commit and publish loses the live
//! message but not the notice: it is in `user_notices`, which reconnecting sockets read.

mod projection;

use event_bus::{notice_subject, Addressed};
use sqlx::PgConnection;

pub use projection::{Notices, NAME, TABLE};

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

/// Publishes `notices` on core NATS, each on its user's subject. Failures are logged:
/// the stored notice remains for recovery.
pub async fn publish(nats: &async_nats::Client, notices: Vec<Addressed>) {
    for Addressed { user_id, notice } in notices {
        let Ok(body) = serde_json::to_vec(&notice) else {
            continue;
        };
        if let Err(error) = nats.publish(notice_subject(&user_id), body.into()).await {
            tracing::warn!(%error, notice.position = notice.position, "notice not published");
        }
    }
}
