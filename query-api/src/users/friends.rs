//! The SQL of a profile page's friend lists: a user's friends, and the friends they
//! have in common with the caller.
//!
//! Both lists put the newest friendships first (the owner's `accepted_at`), then order
//! by user id, so pages are stable. Each is one statement that also tells an unknown
//! owner (no row at all) from an owner without friends (one row, no person), and counts
//! the whole list for `total`.

use domain::user::UserId;
use serde::Serialize;
use sqlx::{FromRow, PgPool};

use super::relationship::{FriendshipRow, Relationship};
use crate::database::DatabaseError;
use crate::page::{Page, Paged};

/// One of a user's friends, with the caller's relationship with them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = UserFriend)]
pub struct Friend {
    pub user_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub relationship: Relationship,
}

/// A friend of both the caller and the user whose page it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MutualFriend {
    pub user_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// One row of a list: the list's size, and one person of the page (none when the page
/// is empty). `status` and `requested_by` are the caller's row about that person.
#[derive(Debug, FromRow)]
struct Listed {
    total: i64,
    user_id: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    status: Option<String>,
    requested_by: Option<String>,
}

/// `$1` the owner, `$2` the caller, `$3` the limit, `$4` the offset.
const FRIENDS: &str = "
    WITH listed AS (
        SELECT f.other_id AS user_id, p.first_name, p.last_name, c.status, c.requested_by,
               row_number() OVER (ORDER BY f.accepted_at DESC NULLS LAST, f.other_id) AS n
          FROM friendship_table f
          LEFT JOIN user_table p ON p.user_id = f.other_id
          LEFT JOIN friendship_table c ON c.user_id = $2 AND c.other_id = f.other_id
         WHERE f.user_id = $1 AND f.status = 'accepted'
    )
    SELECT (SELECT count(*) FROM listed) AS total,
           l.user_id, l.first_name, l.last_name, l.status, l.requested_by
      FROM user_table owner
      LEFT JOIN listed l ON l.n - $4 BETWEEN 1 AND $3
     WHERE owner.user_id = $1
     ORDER BY l.n";

/// As [`FRIENDS`], keeping the caller's friends only; empty on one's own page.
const MUTUAL_FRIENDS: &str = "
    WITH listed AS (
        SELECT f.other_id AS user_id, p.first_name, p.last_name, c.status, c.requested_by,
               row_number() OVER (ORDER BY f.accepted_at DESC NULLS LAST, f.other_id) AS n
          FROM friendship_table f
          JOIN friendship_table c
            ON c.user_id = $2 AND c.other_id = f.other_id AND c.status = 'accepted'
          LEFT JOIN user_table p ON p.user_id = f.other_id
         WHERE f.user_id = $1 AND f.status = 'accepted' AND f.user_id <> $2
    )
    SELECT (SELECT count(*) FROM listed) AS total,
           l.user_id, l.first_name, l.last_name, l.status, l.requested_by
      FROM user_table owner
      LEFT JOIN listed l ON l.n - $4 BETWEEN 1 AND $3
     WHERE owner.user_id = $1
     ORDER BY l.n";

/// A page of `owner`'s friends, each with `caller`'s relationship with them; `None`
/// if `owner` is unknown.
pub async fn friends_of(
    pool: &PgPool,
    owner: &UserId,
    caller: &str,
    page: Page,
) -> Result<Option<Paged<Friend>>, DatabaseError> {
    let rows = list(pool, FRIENDS, owner, caller, page).await?;
    Ok(paged(rows, |row, user_id| Friend {
        relationship: Relationship::of(
            caller,
            &user_id,
            FriendshipRow {
                status: row.status.as_deref(),
                requested_by: row.requested_by.as_deref(),
            },
        ),
        user_id,
        first_name: row.first_name,
        last_name: row.last_name,
    }))
}

/// A page of the friends `owner` and `caller` have in common; `None` if `owner` is
/// unknown.
pub async fn mutual_friends(
    pool: &PgPool,
    owner: &UserId,
    caller: &str,
    page: Page,
) -> Result<Option<Paged<MutualFriend>>, DatabaseError> {
    let rows = list(pool, MUTUAL_FRIENDS, owner, caller, page).await?;
    Ok(paged(rows, |row, user_id| MutualFriend {
        user_id,
        first_name: row.first_name,
        last_name: row.last_name,
    }))
}

async fn list(
    pool: &PgPool,
    sql: &'static str,
    owner: &UserId,
    caller: &str,
    page: Page,
) -> Result<Vec<Listed>, DatabaseError> {
    let rows = sqlx::query_as(sql)
        .bind(owner.as_str())
        .bind(caller)
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(pool)
        .await?;
    Ok(rows)
}

/// The rows as a page of items; `None` when there is no row: the owner is unknown.
fn paged<T>(rows: Vec<Listed>, item: impl Fn(Listed, String) -> T) -> Option<Paged<T>> {
    let total = rows.first()?.total;
    let items = rows
        .into_iter()
        .filter_map(|mut row| row.user_id.take().map(|user_id| item(row, user_id)))
        .collect();
    Some(Paged { items, total })
}

/// Whether `a` and `b` are friends (an accepted relationship).
pub async fn are_friends(pool: &PgPool, a: &str, b: &str) -> Result<bool, DatabaseError> {
    let (friends,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM friendship_table WHERE user_id = $1 AND other_id = $2 AND status = 'accepted')",
    )
    .bind(a)
    .bind(b)
    .fetch_one(pool)
    .await?;
    Ok(friends)
}
