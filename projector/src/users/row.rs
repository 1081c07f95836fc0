//! A `user_table` row in memory, read and written many at a time ([`super::fold`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::user::UserRegistered;
use sqlx::{FromRow, PgConnection};

/// Every column of `user_table`.
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
    pub last_position: i64,
    pub version: i64,
}

const COLUMNS: &str = "user_id, email, email_public, first_name, last_name, birth_date, \
     birth_date_public, gender, gender_public, school, school_public, work, work_public, \
     location, location_public, description, registered_at, updated_at, last_position, version";

/// The rows of `ids` in `table`, by user id (users with no row yet are absent).
pub async fn load(
    tx: &mut PgConnection,
    table: &str,
    ids: &[&str],
) -> Result<HashMap<String, UserRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM {table} WHERE user_id = ANY($1)");
    let rows: Vec<UserRow> = sqlx::query_as(&sql).bind(ids).fetch_all(tx).await?;
    Ok(rows.into_iter().map(|r| (r.user_id.clone(), r)).collect())
}

/// Inserts or replaces `rows` in `table`, in one statement.
pub async fn write(
    tx: &mut PgConnection,
    table: &str,
    rows: &[&UserRow],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let text = |f: fn(&UserRow) -> &Option<String>| -> Vec<Option<String>> {
        rows.iter().map(|r| f(r).clone()).collect()
    };
    let flag = |f: fn(&UserRow) -> bool| -> Vec<bool> { rows.iter().map(|r| f(r)).collect() };
    let updates = COLUMNS
        .split(", ")
        .skip(1)
        .map(|c| format!("{c} = EXCLUDED.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO {table} ({COLUMNS})
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::bool[], $4::text[], $5::text[],
                              $6::text[], $7::bool[], $8::text[], $9::bool[], $10::text[],
                              $11::bool[], $12::text[], $13::bool[], $14::text[], $15::bool[],
                              $16::text[], $17::timestamptz[], $18::timestamptz[],
                              $19::bigint[], $20::bigint[])
         ON CONFLICT (user_id) DO UPDATE SET {updates}"
    );
    sqlx::query(&sql)
        .bind(rows.iter().map(|r| r.user_id.clone()).collect::<Vec<_>>())
        .bind(text(|r| &r.email))
        .bind(flag(|r| r.email_public))
        .bind(text(|r| &r.first_name))
        .bind(text(|r| &r.last_name))
        .bind(text(|r| &r.birth_date))
        .bind(flag(|r| r.birth_date_public))
        .bind(text(|r| &r.gender))
        .bind(flag(|r| r.gender_public))
        .bind(text(|r| &r.school))
        .bind(flag(|r| r.school_public))
        .bind(text(|r| &r.work))
        .bind(flag(|r| r.work_public))
        .bind(text(|r| &r.location))
        .bind(flag(|r| r.location_public))
        .bind(text(|r| &r.description))
        .bind(rows.iter().map(|r| r.registered_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.updated_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.last_position).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.version).collect::<Vec<_>>())
        .execute(tx)
        .await?;
    Ok(())
}

/// The personal text columns of a row: each is opened from a sealed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    Email,
    FirstName,
    LastName,
    BirthDate,
    Gender,
    School,
    Work,
    Location,
    Description,
}

impl UserRow {
    /// The row a registration makes, its personal values still to be opened: the
    /// caller seals in [`Text::Email`], [`Text::FirstName`] and [`Text::LastName`].
    pub fn registered(e: &UserRegistered, position: i64) -> Self {
        Self {
            user_id: e.user_id.to_string(),
            email: None,
            email_public: false,
            first_name: None,
            last_name: None,
            birth_date: None,
            birth_date_public: false,
            gender: None,
            gender_public: false,
            school: None,
            school_public: false,
            work: None,
            work_public: false,
            location: None,
            location_public: false,
            description: None,
            registered_at: e.registered_at,
            updated_at: e.registered_at,
            last_position: position,
            version: 1,
        }
    }

    /// Counts an event the row shows nothing of.
    pub fn counted(&mut self, position: i64) {
        self.version += 1;
        self.last_position = position;
    }

    /// The column `text` names.
    pub fn text_mut(&mut self, text: Text) -> &mut Option<String> {
        match text {
            Text::Email => &mut self.email,
            Text::FirstName => &mut self.first_name,
            Text::LastName => &mut self.last_name,
            Text::BirthDate => &mut self.birth_date,
            Text::Gender => &mut self.gender,
            Text::School => &mut self.school,
            Text::Work => &mut self.work,
            Text::Location => &mut self.location,
            Text::Description => &mut self.description,
        }
    }

    /// The public flag of the profile field `column` names (see [`super::fields`]), and
    /// its text column.
    pub fn field_mut(&mut self, column: &str) -> (Text, &mut bool) {
        match column {
            "birth_date" => (Text::BirthDate, &mut self.birth_date_public),
            "gender" => (Text::Gender, &mut self.gender_public),
            "school" => (Text::School, &mut self.school_public),
            "work" => (Text::Work, &mut self.work_public),
            _ => (Text::Location, &mut self.location_public),
        }
    }
}
