//! The SQL of the popular pages views: `popular_domains`, `popular_pages` and
//! `sharer_stats`, with sharers' names from `user_table` (NULL when that view has no
//! row, or the person was erased).

use chrono::{DateTime, Utc};
use domain::user::Domain;
use serde::Serialize;
use sqlx::{FromRow, PgPool};

use crate::database::DatabaseError;
use crate::page::Page;

/// A domain and how many shares it has had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromRow, utoipa::ToSchema)]
pub struct PopularDomain {
    pub domain: String,
    pub share_count: i64,
}

/// A shared page of a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromRow, utoipa::ToSchema)]
pub struct PopularPage {
    pub url: String,
    /// The latest title it was shared with.
    pub title: Option<String>,
    pub share_count: i64,
    #[serde(serialize_with = "http_api::time::rfc3339")]
    pub last_shared_at: DateTime<Utc>,
}

/// A sharer on the leaderboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromRow, utoipa::ToSchema)]
pub struct Sharer {
    pub user_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub share_count: i64,
}

/// A list answer, as JSON: `{"items": [...]}`. A page shorter than its `limit` is the
/// last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

/// A page of domains, the most shared first, then by name.
pub async fn domains(pool: &PgPool, page: Page) -> Result<Items<PopularDomain>, DatabaseError> {
    let items = sqlx::query_as(
        "SELECT domain, share_count FROM popular_domains
          ORDER BY share_count DESC, domain
          LIMIT $1 OFFSET $2",
    )
    .bind(page.limit)
    .bind(page.offset)
    .fetch_all(pool)
    .await?;
    Ok(Items { items })
}

/// A page of `domain`'s pages, the most shared first, then the latest shared, then by URL.
pub async fn pages(
    pool: &PgPool,
    domain: &Domain,
    page: Page,
) -> Result<Items<PopularPage>, DatabaseError> {
    let items = sqlx::query_as(
        "SELECT url, title, share_count, last_shared_at FROM popular_pages
          WHERE domain = $1
          ORDER BY share_count DESC, last_shared_at DESC, url
          LIMIT $2 OFFSET $3",
    )
    .bind(domain.as_str())
    .bind(page.limit)
    .bind(page.offset)
    .fetch_all(pool)
    .await?;
    Ok(Items { items })
}

/// A page of sharers, the most active first, then by user id.
pub async fn leaderboard(pool: &PgPool, page: Page) -> Result<Items<Sharer>, DatabaseError> {
    let items = sqlx::query_as(
        "SELECT s.user_id, u.first_name, u.last_name, s.share_count
           FROM sharer_stats s
           LEFT JOIN user_table u ON u.user_id = s.user_id
          ORDER BY s.share_count DESC, s.user_id
          LIMIT $1 OFFSET $2",
    )
    .bind(page.limit)
    .bind(page.offset)
    .fetch_all(pool)
    .await?;
    Ok(Items { items })
}
