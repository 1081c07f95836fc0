//! The SQL of the `user_table` view.

use chrono::{DateTime, Utc};
use domain::user::UserId;
use sqlx::{FromRow, PgPool};

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
