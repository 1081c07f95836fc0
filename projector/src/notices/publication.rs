//! Publishing stored notices on NATS, and knowing how far that got.
//!
//! A batch's notices are stored in its transaction and published after it commits, so no
//! socket hears of a change the views do not have. Publishing can fail (NATS is down) or
//! never happen (the projector dies between commit and publish); a connected socket would
//! then miss those notices until it reconnected. So the mark of what was published is kept
//! in `notice_publication`, advanced once NATS confirmed a batch (a round trip). Whatever follows
//! the mark is published again from `user_notices`: by a new leader when its term starts,
//! and by the same runner after a failure. A notice may so be published twice; the push
//! service drops the copy (`push/src/recovery.rs`).

use std::time::Duration;

use event_bus::{notice_subject, Addressed, Notice};
use event_store::Cursor;
use sqlx::PgPool;

/// How long a batch's publication may take, the confirming round trip included, before
/// it counts as failed.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);

/// Most stored notices read back at once while catching up.
const CATCH_UP_PAGE: i64 = 5_000;

/// A projection's publication of its notices, during one leadership term.
pub struct Publication {
    projection: &'static str,
    /// Every notice stored up to here was published.
    published: Cursor,
    /// Some stored notice after `published` may not have been: publish from the table.
    behind: bool,
}

impl Publication {
    /// At the start of a term whose checkpoint is `stored`: publishes again the notices
    /// stored after the mark, which the previous leader may not have published. A
    /// projection with no mark yet starts from `stored` (nothing before it is re-sent).
    pub async fn resume(
        pool: &PgPool,
        nats: &async_nats::Client,
        projection: &'static str,
        stored: Cursor,
    ) -> Self {
        let published = match mark(pool, projection).await {
            Ok(Some(mark)) => mark,
            Ok(None) => stored,
            Err(error) => {
                tracing::warn!(%error, projection, "publication mark not read; publishing from the checkpoint");
                stored
            }
        };
        let mut publication = Self {
            projection,
            published,
            behind: published < stored,
        };
        publication.committed(pool, nats, Vec::new(), stored).await;
        publication
    }

    /// After a batch committed up to `stored` with `notices`: publishes them, and first
    /// anything still unpublished before them. Failures are logged and retried with the
    /// next batch; the projection itself never waits for NATS.
    pub async fn committed(
        &mut self,
        pool: &PgPool,
        nats: &async_nats::Client,
        notices: Vec<Addressed>,
        stored: Cursor,
    ) {
        let before = self.published;
        let result = if self.behind {
            self.catch_up(pool, nats, stored).await
        } else if notices.is_empty() {
            Ok(())
        } else {
            send(nats, &notices).await
        };
        match result {
            Ok(()) => {
                (self.published, self.behind) = (stored, false);
                if before != stored {
                    if let Err(error) = save_mark(pool, self.projection, stored).await {
                        tracing::warn!(%error, projection = self.projection, "publication mark not saved");
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, projection = self.projection, "notices not published; retrying with the next batch");
                self.behind = true;
            }
        }
    }

    /// Publishes the stored notices after `published` up to `stored`, a page at a time,
    /// in feed order.
    async fn catch_up(
        &mut self,
        pool: &PgPool,
        nats: &async_nats::Client,
        stored: Cursor,
    ) -> Result<(), PublishError> {
        loop {
            let mut page = stored_between(pool, self.published, stored).await?;
            let full = page.len() as i64 == CATCH_UP_PAGE;
            if full {
                // The next page starts after the last cursor: leave that event's notices
                // to it whole (an event has far fewer notices than a page).
                let last = page.last().map(|a| cursor_of(&a.notice));
                let whole = page
                    .iter()
                    .rposition(|a| Some(cursor_of(&a.notice)) != last);
                page.truncate(whole.map_or(page.len(), |i| i + 1));
            }
            let Some(last) = page.last().map(|a| cursor_of(&a.notice)) else {
                return Ok(());
            };
            send(nats, &page).await?;
            tracing::info!(
                projection = self.projection,
                notices = page.len(),
                "published notices again after an interruption"
            );
            self.published = last;
            if !full {
                return Ok(());
            }
        }
    }
}

/// Why a publication failed.
#[derive(Debug, thiserror::Error)]
enum PublishError {
    #[error("reading stored notices: {0}")]
    Postgres(#[from] sqlx::Error),
    #[error("encoding a notice: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("nats: {0}")]
    Nats(String),
    #[error("nats did not confirm within {PUBLISH_TIMEOUT:?}")]
    TimedOut,
}

/// Publishes `notices` on core NATS, each on its user's subject, and waits until the
/// server has them all (a round trip: a flush only writes them to the socket).
async fn send(nats: &async_nats::Client, notices: &[Addressed]) -> Result<(), PublishError> {
    let publish = async {
        for Addressed { user_id, notice } in notices {
            let body = serde_json::to_vec(notice)?;
            nats.publish(notice_subject(user_id), body.into())
                .await
                .map_err(|e| PublishError::Nats(e.to_string()))?;
        }
        event_bus::round_trip(nats)
            .await
            .map_err(|e| PublishError::Nats(e.to_string()))
    };
    tokio::time::timeout(PUBLISH_TIMEOUT, publish)
        .await
        .map_err(|_| PublishError::TimedOut)?
}

fn cursor_of(notice: &Notice) -> Cursor {
    Cursor {
        tx_id: notice.tx_id,
        position: notice.position,
    }
}

async fn mark(pool: &PgPool, projection: &str) -> Result<Option<Cursor>, sqlx::Error> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT tx_id::text::bigint, position FROM notice_publication WHERE projection = $1",
    )
    .bind(projection)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(tx_id, position)| Cursor {
        tx_id: tx_id as u64,
        position,
    }))
}

async fn save_mark(pool: &PgPool, projection: &str, cursor: Cursor) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO notice_publication (projection, tx_id, position)
         VALUES ($1, $2::bigint::text::xid8, $3)
         ON CONFLICT (projection) DO UPDATE SET tx_id = EXCLUDED.tx_id, position = EXCLUDED.position",
    )
    .bind(projection)
    .bind(cursor.tx_id as i64)
    .bind(cursor.position)
    .execute(pool)
    .await?;
    Ok(())
}

/// The stored notices after `after` up to `upto`, in feed order, at most a page.
async fn stored_between(
    pool: &PgPool,
    after: Cursor,
    upto: Cursor,
) -> Result<Vec<Addressed>, sqlx::Error> {
    let rows: Vec<(String, i64, i64, String, serde_json::Value)> = sqlx::query_as(
        "SELECT user_id, tx_id::text::bigint, position, kind, data
           FROM user_notices
          WHERE (tx_id, position) > ($1::bigint::text::xid8, $2)
            AND (tx_id, position) <= ($3::bigint::text::xid8, $4)
          ORDER BY tx_id, position, user_id, kind
          LIMIT $5",
    )
    .bind(after.tx_id as i64)
    .bind(after.position)
    .bind(upto.tx_id as i64)
    .bind(upto.position)
    .bind(CATCH_UP_PAGE)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(user_id, tx_id, position, kind, data)| Addressed {
            user_id,
            notice: Notice {
                position,
                tx_id: tx_id as u64,
                kind,
                data,
            },
        })
        .collect())
}
