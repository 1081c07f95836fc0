//! The notification and sent-shares handlers, and the shapes of their answers.

use std::collections::HashMap;

use auth::AuthUser;
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use domain::user::UserId;
use http_api::{ApiError, Json, Query};
use serde::Serialize;
use sqlx::PgPool;

use super::store::{self, NotificationRow, RecipientRow, SentRow};
use super::{Cursor, CursorParams, VIEW};
use crate::consistency::ReadAfter;
use crate::AppState;

/// A user as a share shows them: `{"user_id", "first_name", "last_name"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Person {
    pub user_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// One notification: a page shared with the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Notification {
    pub share_id: String,
    pub sharer: Person,
    pub url: Option<String>,
    pub title: Option<String>,
    #[serde(serialize_with = "http_api::time::rfc3339")]
    pub shared_at: DateTime<Utc>,
    #[serde(serialize_with = "http_api::time::rfc3339_opt")]
    pub seen_at: Option<DateTime<Utc>>,
}

/// `GET /v1/notifications`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Notifications {
    pub items: Vec<Notification>,
    pub unread_count: i64,
    /// `?before=` of the next page; `null` on the last one.
    pub next_before: Option<i64>,
}

/// One share the caller sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SentShare {
    pub share_id: String,
    pub url: Option<String>,
    pub title: Option<String>,
    pub domain: Option<String>,
    #[serde(serialize_with = "http_api::time::rfc3339")]
    pub shared_at: DateTime<Utc>,
    pub recipients: Vec<Person>,
    /// How many recipients have not seen it yet.
    pub unread_count: usize,
}

/// `GET /v1/shares/sent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SentShares {
    pub items: Vec<SentShare>,
    pub next_before: Option<i64>,
}

impl From<NotificationRow> for Notification {
    fn from(row: NotificationRow) -> Self {
        Self {
            share_id: row.share_id,
            sharer: Person {
                user_id: row.sharer_id,
                first_name: row.first_name,
                last_name: row.last_name,
            },
            url: row.url,
            title: row.title,
            shared_at: row.shared_at,
            seen_at: row.seen_at,
        }
    }
}

/// `GET /v1/notifications`: pages shared with the caller, newest first.
#[utoipa::path(
    get,
    path = "/v1/notifications",
    tag = "shares",
    params(super::CursorParams, crate::consistency::ReadAfter),
    responses(
        (status = OK, description = "The answer; `x-pagenow-stale: true` when the view was behind `min_position`", body = Notifications),
    )
)]
pub(super) async fn notifications(
    State(state): State<AppState>,
    caller: AuthUser,
    Query(cursor): Query<CursorParams>,
    Query(read_after): Query<ReadAfter>,
) -> Result<Response, ApiError> {
    let cursor = cursor.checked()?;
    let freshness = state.wait_for(VIEW, read_after).await?;
    let answer = match UserId::parse(&caller.user_id) {
        Ok(user) => notifications_of(&state.pool, &user, cursor).await?,
        // Authentic, but no valid user id: nobody can have shared anything with it.
        Err(_) => Notifications {
            items: vec![],
            unread_count: 0,
            next_before: None,
        },
    };
    Ok(freshness.attach(Json(answer)))
}

async fn notifications_of(
    pool: &PgPool,
    user: &UserId,
    cursor: Cursor,
) -> Result<Notifications, ApiError> {
    let rows = store::notifications(pool, user, cursor).await?;
    let positions: Vec<i64> = rows.iter().map(|r| r.position).collect();
    Ok(Notifications {
        items: rows.into_iter().map(Notification::from).collect(),
        unread_count: store::unread_count(pool, user).await?,
        next_before: cursor.next(&positions),
    })
}

/// `GET /v1/shares/sent`: the caller's shares, newest first, with their recipients.
#[utoipa::path(
    get,
    path = "/v1/shares/sent",
    tag = "shares",
    params(super::CursorParams, crate::consistency::ReadAfter),
    responses(
        (status = OK, description = "The answer; `x-pagenow-stale: true` when the view was behind `min_position`", body = SentShares),
    )
)]
pub(super) async fn sent(
    State(state): State<AppState>,
    caller: AuthUser,
    Query(cursor): Query<CursorParams>,
    Query(read_after): Query<ReadAfter>,
) -> Result<Response, ApiError> {
    let cursor = cursor.checked()?;
    let freshness = state.wait_for(VIEW, read_after).await?;
    let answer = match UserId::parse(&caller.user_id) {
        Ok(user) => sent_by(&state.pool, &user, cursor).await?,
        Err(_) => SentShares {
            items: vec![],
            next_before: None,
        },
    };
    Ok(freshness.attach(Json(answer)))
}

async fn sent_by(pool: &PgPool, user: &UserId, cursor: Cursor) -> Result<SentShares, ApiError> {
    let rows = store::sent(pool, user, cursor).await?;
    let ids: Vec<String> = rows.iter().map(|r| r.share_id.clone()).collect();
    let mut by_share: HashMap<String, Vec<RecipientRow>> = HashMap::new();
    for recipient in store::recipients(pool, &ids).await? {
        by_share
            .entry(recipient.share_id.clone())
            .or_default()
            .push(recipient);
    }
    let positions: Vec<i64> = rows.iter().map(|r| r.position).collect();
    Ok(SentShares {
        items: rows
            .into_iter()
            .map(|row| {
                let recipients = by_share.remove(&row.share_id).unwrap_or_default();
                with_recipients(row, recipients)
            })
            .collect(),
        next_before: cursor.next(&positions),
    })
}

fn with_recipients(row: SentRow, recipients: Vec<RecipientRow>) -> SentShare {
    SentShare {
        unread_count: recipients.iter().filter(|r| !r.seen).count(),
        recipients: recipients
            .into_iter()
            .map(|r| Person {
                user_id: r.user_id,
                first_name: r.first_name,
                last_name: r.last_name,
            })
            .collect(),
        share_id: row.share_id,
        url: row.url,
        title: row.title,
        domain: row.domain,
        shared_at: row.shared_at,
    }
}
