//! The SQL of the sharing views: `share_notifications`, `shares_sent` and
//! `sharing_policy`, with names from `user_table` (NULL when that view has no row, or the
//! person was erased).

use chrono::{DateTime, Utc};
use domain::user::UserId;
use sqlx::{FromRow, PgPool};

use super::Cursor;
use crate::database::DatabaseError;

/// One notification, with its sharer's names.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct NotificationRow {
    pub share_id: String,
    pub sharer_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub url: Option<String>,
    pub title: Option<String>,
    pub shared_at: DateTime<Utc>,
    pub seen_at: Option<DateTime<Utc>>,
    pub position: i64,
}

/// One share its sharer sent.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct SentRow {
    pub share_id: String,
    pub url: Option<String>,
    pub title: Option<String>,
    pub domain: Option<String>,
    pub shared_at: DateTime<Utc>,
    pub position: i64,
}

/// One recipient of a share, with their names and whether they have seen it.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct RecipientRow {
    pub share_id: String,
    pub user_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub seen: bool,
}

/// One user's sharing policy.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct PolicyRow {
    pub mode: String,
    pub allow: Vec<String>,
    pub deny: Vec<String>,
}

/// A page of `recipient`'s notifications, newest first.
pub async fn notifications(
    pool: &PgPool,
    recipient: &UserId,
    page: Cursor,
) -> Result<Vec<NotificationRow>, DatabaseError> {
    let rows = sqlx::query_as(
        "SELECT n.share_id::text AS share_id, n.sharer_id, u.first_name, u.last_name,
                n.url, n.title, n.shared_at, n.seen_at, n.position
           FROM share_notifications n
           LEFT JOIN user_table u ON u.user_id = n.sharer_id
          WHERE n.recipient_id = $1 AND ($2::bigint IS NULL OR n.position < $2)
          ORDER BY n.position DESC
          LIMIT $3",
    )
    .bind(recipient.as_str())
    .bind(page.before)
    .bind(page.limit)
    .fetch_all(pool)
    .await?;
    Ok(rows)
}

/// How many of `recipient`'s notifications are unseen.
pub async fn unread_count(pool: &PgPool, recipient: &UserId) -> Result<i64, DatabaseError> {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM share_notifications WHERE recipient_id = $1 AND seen_at IS NULL",
    )
    .bind(recipient.as_str())
    .fetch_one(pool)
    .await?;
    Ok(count)
}

/// A page of the shares `sharer` sent, newest first.
pub async fn sent(
    pool: &PgPool,
    sharer: &UserId,
    page: Cursor,
) -> Result<Vec<SentRow>, DatabaseError> {
    let rows = sqlx::query_as(
        "SELECT share_id::text AS share_id, url, title, domain, shared_at, position
           FROM shares_sent
          WHERE sharer_id = $1 AND ($2::bigint IS NULL OR position < $2)
          ORDER BY position DESC
          LIMIT $3",
    )
    .bind(sharer.as_str())
    .bind(page.before)
    .bind(page.limit)
    .fetch_all(pool)
    .await?;
    Ok(rows)
}

/// The recipients of `shares`, ordered by share, then user id.
pub async fn recipients(
    pool: &PgPool,
    shares: &[String],
) -> Result<Vec<RecipientRow>, DatabaseError> {
    let rows = sqlx::query_as(
        "SELECT n.share_id::text AS share_id, n.recipient_id AS user_id,
                u.first_name, u.last_name, n.seen_at IS NOT NULL AS seen
           FROM share_notifications n
           LEFT JOIN user_table u ON u.user_id = n.recipient_id
          WHERE n.share_id = ANY($1::uuid[])
          ORDER BY n.share_id, n.recipient_id",
    )
    .bind(shares)
    .fetch_all(pool)
    .await?;
    Ok(rows)
}

/// `user`'s sharing policy, if the view has one.
pub async fn policy(pool: &PgPool, user: &UserId) -> Result<Option<PolicyRow>, DatabaseError> {
    let row = sqlx::query_as("SELECT mode, allow, deny FROM sharing_policy WHERE user_id = $1")
        .bind(user.as_str())
        .fetch_optional(pool)
        .await?;
    Ok(row)
}

/// Whether `user` has a profile in `user_table`.
pub async fn registered(pool: &PgPool, user: &UserId) -> Result<bool, DatabaseError> {
    let (exists,): (bool,) =
        sqlx::query_as("SELECT EXISTS (SELECT 1 FROM user_table WHERE user_id = $1)")
            .bind(user.as_str())
            .fetch_one(pool)
            .await?;
    Ok(exists)
}
