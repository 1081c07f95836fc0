//! The SQL of the users directory.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool};

use crate::database::DatabaseError;
use crate::page::Page;

/// The most users one directory answer lists.
pub const CAP: i64 = 1_000;

/// A user in the directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromRow, utoipa::ToSchema)]
pub struct Listed {
    pub user_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    #[serde(serialize_with = "http_api::time::rfc3339")]
    pub registered_at: DateTime<Utc>,
}

/// A page of the directory, as JSON: `{"items": [...]}`.
///
/// No `total`: counting every user on each request costs a scan of the table, and a
/// page shorter than its `limit` already tells the client it is the last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Directory {
    pub items: Vec<Listed>,
}

/// A page of registered users, the most recently registered first, then by user id;
/// the order `user_directory` indexes.
pub async fn newest_first(pool: &PgPool, page: Page) -> Result<Directory, DatabaseError> {
    let items = sqlx::query_as(
        "SELECT user_id, first_name, last_name, registered_at
           FROM user_table
          ORDER BY registered_at DESC, user_id
          LIMIT $1 OFFSET $2",
    )
    .bind(page.limit)
    .bind(page.offset)
    .fetch_all(pool)
    .await?;
    Ok(Directory { items })
}
