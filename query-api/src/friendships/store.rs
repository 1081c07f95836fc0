//! The SQL of the `friendship_table` view, from the caller's side: their rows only.
//!
//! Lists put the newest first (acceptance or request time), then order by user id, so
//! pages are stable. Each is one statement that counts the whole list for `total`, and
//! answers one row with no person when the page is empty.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool};

use crate::database::DatabaseError;
use crate::page::{Page, Paged};

/// Which of the caller's lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    /// Accepted friendships, `at` the acceptance.
    Friends,
    /// Pending requests others sent the caller, `at` the request.
    Incoming,
    /// Pending requests the caller sent, `at` the request.
    Outgoing,
}

/// One person of a list, and the time that put them there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub user_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub at: DateTime<Utc>,
}

/// The caller's row about one other user.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Related {
    pub status: String,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
}

/// One row of a list statement: the list's size, and one person of the page (none
/// when the page is empty).
#[derive(Debug, FromRow)]
struct Row {
    total: i64,
    user_id: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    at: Option<DateTime<Utc>>,
}

/// `$1` the caller, `$2` the limit, `$3` the offset.
const FRIENDS: &str = "
    WITH listed AS (
        SELECT f.other_id AS user_id, u.first_name, u.last_name,
               COALESCE(f.accepted_at, f.requested_at) AS at,
               row_number() OVER (ORDER BY f.accepted_at DESC NULLS LAST, f.other_id) AS n
          FROM friendship_table f
          LEFT JOIN user_table u ON u.user_id = f.other_id
         WHERE f.user_id = $1 AND f.status = 'accepted'
    )
    SELECT (SELECT count(*) FROM listed) AS total, l.user_id, l.first_name, l.last_name, l.at
      FROM (VALUES (1)) AS one (x)
      LEFT JOIN listed l ON l.n - $3 BETWEEN 1 AND $2
     ORDER BY l.n";

/// As [`FRIENDS`], for pending requests sent to the caller.
const INCOMING: &str = "
    WITH listed AS (
        SELECT f.other_id AS user_id, u.first_name, u.last_name, f.requested_at AS at,
               row_number() OVER (ORDER BY f.requested_at DESC, f.other_id) AS n
          FROM friendship_table f
          LEFT JOIN user_table u ON u.user_id = f.other_id
         WHERE f.user_id = $1 AND f.status = 'pending' AND f.requested_by = f.other_id
    )
    SELECT (SELECT count(*) FROM listed) AS total, l.user_id, l.first_name, l.last_name, l.at
      FROM (VALUES (1)) AS one (x)
      LEFT JOIN listed l ON l.n - $3 BETWEEN 1 AND $2
     ORDER BY l.n";

/// As [`FRIENDS`], for pending requests the caller sent.
const OUTGOING: &str = "
    WITH listed AS (
        SELECT f.other_id AS user_id, u.first_name, u.last_name, f.requested_at AS at,
               row_number() OVER (ORDER BY f.requested_at DESC, f.other_id) AS n
          FROM friendship_table f
          LEFT JOIN user_table u ON u.user_id = f.other_id
         WHERE f.user_id = $1 AND f.status = 'pending' AND f.requested_by = f.user_id
    )
    SELECT (SELECT count(*) FROM listed) AS total, l.user_id, l.first_name, l.last_name, l.at
      FROM (VALUES (1)) AS one (x)
      LEFT JOIN listed l ON l.n - $3 BETWEEN 1 AND $2
     ORDER BY l.n";

/// A page of `caller`'s `list`.
pub async fn list(
    pool: &PgPool,
    list: List,
    caller: &str,
    page: Page,
) -> Result<Paged<Listed>, DatabaseError> {
    let sql = match list {
        List::Friends => FRIENDS,
        List::Incoming => INCOMING,
        List::Outgoing => OUTGOING,
    };
    let rows: Vec<Row> = sqlx::query_as(sql)
        .bind(caller)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(pool)
        .await?;
    let total = rows.first().map_or(0, |row| row.total);
    let items = rows
        .into_iter()
        .filter_map(|row| {
            Some(Listed {
                user_id: row.user_id?,
                first_name: row.first_name,
                last_name: row.last_name,
                at: row.at?,
            })
        })
        .collect();
    Ok(Paged { items, total })
}

/// `caller`'s row about `other`, if they are related.
pub async fn find(
    pool: &PgPool,
    caller: &str,
    other: &str,
) -> Result<Option<Related>, DatabaseError> {
    let row = sqlx::query_as(
        "SELECT status, requested_by, requested_at, accepted_at
           FROM friendship_table
          WHERE user_id = $1 AND other_id = $2",
    )
    .bind(caller)
    .bind(other)
    .fetch_optional(pool)
    .await?;
    Ok(row)
}
