//! The SQL of user search: one statement per kind of search and scope, over
//! `user_table` and `friendship_table`.
//!
//! Ranking, in order: the caller's relationship (friends, then pending either way, then
//! none), the number of friends in common (more first), the match (exact, prefix, then
//! contains), the user id. Mutual friend counts come from the caller's friends' friends,
//! so their cost is bounded by the caller's circle, not by how many users match.
//!
//! Parameters of every statement: `$1` the caller, `$2` the search text, `$3` the text
//! as a literal `LIKE` pattern, `$4` the limit, `$5` the offset.

use serde::Serialize;
use sqlx::{FromRow, PgPool};

use super::query::{like_literal, SearchQuery};
use crate::database::DatabaseError;
use crate::page::{Page, Paged};
use crate::users::relationship::{FriendshipRow, Relationship};

/// Whom a search looks among.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every user but the caller.
    Everyone,
    /// The caller's friends.
    Friends,
}

/// One user found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Found {
    pub user_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub relationship: Relationship,
    pub mutual_friend_count: i64,
}

/// One row of a result: the number of matches, and one user of the page (none when the
/// page is empty).
#[derive(Debug, FromRow)]
struct Row {
    total: i64,
    user_id: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    status: Option<String>,
    requested_by: Option<String>,
    mutual_friend_count: Option<i64>,
}

/// A search statement: `$scope` joins the caller's row about each user as `r`,
/// `$matches` keeps the users found, `$quality` ranks a match 0 (exact), 1 (prefix) or
/// 2 (contains).
macro_rules! search_sql {
    (scope: $scope:expr, matches: $matches:expr, quality: $quality:expr $(,)?) => {
        concat!(
            "WITH mutuals AS (
                SELECT f.other_id AS user_id, count(*) AS n
                  FROM friendship_table mine
                  JOIN friendship_table f
                    ON f.user_id = mine.other_id AND f.status = 'accepted'
                 WHERE mine.user_id = $1 AND mine.status = 'accepted'
                 GROUP BY f.other_id
            ),
            matches AS (
                SELECT u.user_id, u.first_name, u.last_name, r.status, r.requested_by, ",
            $quality,
            " AS quality
                  FROM user_table u ",
            $scope,
            " WHERE u.user_id <> $1 AND ",
            $matches,
            "),
            listed AS (
                SELECT m.user_id, m.first_name, m.last_name, m.status, m.requested_by,
                       coalesce(mu.n, 0) AS mutual_friend_count,
                       row_number() OVER (
                           ORDER BY CASE m.status WHEN 'accepted' THEN 0
                                                  WHEN 'pending' THEN 1 ELSE 2 END,
                                    coalesce(mu.n, 0) DESC, m.quality, m.user_id
                       ) AS n
                  FROM matches m
                  LEFT JOIN mutuals mu ON mu.user_id = m.user_id
            )
            SELECT total.n AS total, l.user_id, l.first_name, l.last_name,
                   l.status, l.requested_by, l.mutual_friend_count
              FROM (SELECT count(*) AS n FROM listed) total
              LEFT JOIN listed l ON l.n - $5 BETWEEN 1 AND $4
             ORDER BY l.n"
        )
    };
}

macro_rules! everyone {
    () => {
        "LEFT JOIN friendship_table r ON r.user_id = $1 AND r.other_id = u.user_id"
    };
}

macro_rules! friends {
    () => {
        "JOIN friendship_table r
           ON r.user_id = $1 AND r.other_id = u.user_id AND r.status = 'accepted'"
    };
}

/// "first last", lower case: the expression `user_name_search` indexes. Any match on a
/// first or a last name is also a match on it.
macro_rules! name_matches {
    () => {
        r"lower(coalesce(u.first_name, '') || ' ' || coalesce(u.last_name, ''))
            LIKE '%' || lower($3) || '%' ESCAPE '\'"
    };
}

macro_rules! name_quality {
    () => {
        r"CASE WHEN lower(u.first_name) = lower($2) OR lower(u.last_name) = lower($2)
                    OR lower(u.first_name || ' ' || u.last_name) = lower($2) THEN 0
               WHEN lower(u.first_name) LIKE lower($3) || '%' ESCAPE '\'
                    OR lower(u.last_name) LIKE lower($3) || '%' ESCAPE '\'
                    OR lower(u.first_name || ' ' || u.last_name) LIKE lower($3) || '%' ESCAPE '\'
                    THEN 1
               ELSE 2 END"
    };
}

/// Private e-mail addresses are searched only among the caller's friends, who may see
/// them: a match must not reveal an address its owner keeps private.
macro_rules! email_matches {
    () => {
        r"lower(u.email) LIKE lower($3) || '%' ESCAPE '\'
            AND (u.email_public OR r.status = 'accepted')"
    };
}

macro_rules! email_quality {
    () => {
        "CASE WHEN lower(u.email) = lower($2) THEN 0 ELSE 1 END"
    };
}

const NAME_EVERYONE: &str = search_sql!(
    scope: everyone!(), matches: name_matches!(), quality: name_quality!());
const NAME_FRIENDS: &str = search_sql!(
    scope: friends!(), matches: name_matches!(), quality: name_quality!());
const EMAIL_EVERYONE: &str = search_sql!(
    scope: everyone!(), matches: email_matches!(), quality: email_quality!());
const EMAIL_FRIENDS: &str = search_sql!(
    scope: friends!(), matches: email_matches!(), quality: email_quality!());

/// A page of the users `caller` finds with `query` among `scope`, ranked.
pub async fn search(
    pool: &PgPool,
    caller: &str,
    query: &SearchQuery,
    scope: Scope,
    page: Page,
) -> Result<Paged<Found>, DatabaseError> {
    let sql = match (query, scope) {
        (SearchQuery::Name(_), Scope::Everyone) => NAME_EVERYONE,
        (SearchQuery::Name(_), Scope::Friends) => NAME_FRIENDS,
        (SearchQuery::Email(_), Scope::Everyone) => EMAIL_EVERYONE,
        (SearchQuery::Email(_), Scope::Friends) => EMAIL_FRIENDS,
    };
    let rows: Vec<Row> = sqlx::query_as(sql)
        .bind(caller)
        .bind(query.text())
        .bind(like_literal(query.text()))
        .bind(page.limit)
        .bind(page.offset)
        .fetch_all(pool)
        .await?;
    let total = rows.first().map_or(0, |row| row.total);
    let items = rows
        .into_iter()
        .filter_map(|row| found(caller, row))
        .collect();
    Ok(Paged { items, total })
}

/// The user of `row`, if it has one.
fn found(caller: &str, row: Row) -> Option<Found> {
    let user_id = row.user_id?;
    let friendship = FriendshipRow {
        status: row.status.as_deref(),
        requested_by: row.requested_by.as_deref(),
    };
    Some(Found {
        relationship: Relationship::of(caller, &user_id, friendship),
        user_id,
        first_name: row.first_name,
        last_name: row.last_name,
        mutual_friend_count: row.mutual_friend_count.unwrap_or(0),
    })
}
