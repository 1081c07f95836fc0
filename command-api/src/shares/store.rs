//! What the sharing commands look up in the views before deciding: the sharer's friends,
//! and the caller's notifications.

use std::collections::BTreeSet;

use domain::share::inbox::Notification;
use domain::share::ShareId;
use domain::user::UserId;
use sqlx::PgPool;

/// `user`'s friends now, as the `friendships` view holds them.
pub async fn friends_of(pool: &PgPool, user: &UserId) -> Result<BTreeSet<UserId>, sqlx::Error> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT other_id FROM friendship_table WHERE user_id = $1 AND status = 'accepted'",
    )
    .bind(user.as_str())
    .fetch_all(pool)
    .await?;
    // Ids in the view were valid user ids when their events were decided.
    Ok(rows
        .into_iter()
        .filter_map(|(id,)| UserId::parse(&id).ok())
        .collect())
}

/// The notification of `share_id` for `recipient`, as the `shares` view holds it.
pub async fn notification(
    pool: &PgPool,
    share_id: &ShareId,
    recipient: &UserId,
) -> Result<Notification, sqlx::Error> {
    let row: Option<(bool,)> = sqlx::query_as(
        "SELECT seen_at IS NOT NULL FROM share_notifications
          WHERE share_id = $1::uuid AND recipient_id = $2",
    )
    .bind(share_id.as_str())
    .bind(recipient.as_str())
    .fetch_optional(pool)
    .await?;
    Ok(match row {
        None => Notification::NotReceived,
        Some((false,)) => Notification::Unseen,
        Some((true,)) => Notification::Seen,
    })
}

/// How many of `recipient`'s notifications the `shares` view shows unseen.
pub async fn unread(pool: &PgPool, recipient: &UserId) -> Result<u64, sqlx::Error> {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM share_notifications WHERE recipient_id = $1 AND seen_at IS NULL",
    )
    .bind(recipient.as_str())
    .fetch_one(pool)
    .await?;
    Ok(u64::try_from(count).unwrap_or(0))
}
