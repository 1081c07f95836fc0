//! The SQL of the `user_table` view, alone and, for a profile page, with the owner's
//! friendships from `friendship_table`.

use chrono::{DateTime, Utc};
use domain::user::UserId;
use sqlx::{FromRow, PgPool};

use super::relationship::{FriendshipRow, Relationship};
use crate::database::DatabaseError;

/// One row of `user_table`, as stored.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct UserRow {
    pub user_id: String,
    pub email: Option<String>,
    pub email_public: bool,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub birth_date: Option<String>,
    pub birth_date_public: bool,
    pub gender: Option<String>,
    pub gender_public: bool,
    pub school: Option<String>,
    pub school_public: bool,
    pub work: Option<String>,
    pub work_public: bool,
    pub location: Option<String>,
    pub location_public: bool,
    pub description: Option<String>,
    pub registered_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The row of `user_id`, if the user has registered (and the view has seen it).
pub async fn find(pool: &PgPool, user_id: &UserId) -> Result<Option<UserRow>, DatabaseError> {
    let row = sqlx::query_as(
        "SELECT user_id, email, email_public, first_name, last_name,
                birth_date, birth_date_public, gender, gender_public,
                school, school_public, work, work_public, location, location_public,
                description, registered_at, updated_at
           FROM user_table
          WHERE user_id = $1",
    )
    .bind(user_id.as_str())
    .fetch_optional(pool)
    .await?;
    Ok(row)
}

/// A profile with what its page shows of the owner's friendships, from one caller's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRow {
    pub user: UserRow,
    pub relationship: Relationship,
    pub friend_count: i64,
    /// 0 when the caller is the owner.
    pub mutual_friend_count: i64,
}

#[derive(FromRow)]
struct PageColumns {
    #[sqlx(flatten)]
    user: UserRow,
    status: Option<String>,
    requested_by: Option<String>,
    friend_count: i64,
    mutual_friend_count: i64,
}

/// The profile of `user_id` with its friend count, and `caller`'s relationship with its
/// owner and their number of friends in common; `None` if the user is unknown.
pub async fn find_page(
    pool: &PgPool,
    user_id: &UserId,
    caller: &str,
) -> Result<Option<PageRow>, DatabaseError> {
    let columns: Option<PageColumns> = sqlx::query_as(
        "SELECT u.user_id, u.email, u.email_public, u.first_name, u.last_name,
                u.birth_date, u.birth_date_public, u.gender, u.gender_public,
                u.school, u.school_public, u.work, u.work_public,
                u.location, u.location_public,
                u.description, u.registered_at, u.updated_at,
                r.status, r.requested_by,
                (SELECT count(*) FROM friendship_table f
                  WHERE f.user_id = u.user_id AND f.status = 'accepted') AS friend_count,
                (SELECT count(*) FROM friendship_table f
                   JOIN friendship_table c
                     ON c.user_id = $2 AND c.other_id = f.other_id AND c.status = 'accepted'
                  WHERE f.user_id = u.user_id AND f.status = 'accepted'
                    AND u.user_id <> $2) AS mutual_friend_count
           FROM user_table u
           LEFT JOIN friendship_table r ON r.user_id = $2 AND r.other_id = u.user_id
          WHERE u.user_id = $1",
    )
    .bind(user_id.as_str())
    .bind(caller)
    .fetch_optional(pool)
    .await?;
    Ok(columns.map(|c| {
        let row = FriendshipRow {
            status: c.status.as_deref(),
            requested_by: c.requested_by.as_deref(),
        };
        PageRow {
            relationship: Relationship::of(caller, &c.user.user_id, row),
            user: c.user,
            friend_count: c.friend_count,
            mutual_friend_count: c.mutual_friend_count,
        }
    }))
}
