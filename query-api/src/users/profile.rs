//! A profile as one caller may see it.
//!
//! The owner sees every field and their visibility flags. Anyone else sees the id, the
//! names, the description and the registration time, and each optional field only when
//! its owner made it public. Friends see exactly what strangers see for now: seeing more
//! as a friend comes with the friendship views (a later issue), when [`Profile::seen_by`]
//! will take the caller's relationship to the owner.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::store::UserRow;

/// A profile, as JSON.
///
/// The fields a caller may not see are left out of the JSON. A guarded field is
/// `Option<Option<_>>`: `None` when hidden from this caller (left out), `Some(None)` when
/// shown but not filled in (`null`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    pub user_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<Option<String>>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub school: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub work: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Option<String>>,
    pub description: Option<String>,
    pub registered_at: DateTime<Utc>,
    /// Owner only: when a profile last changed says when its owner was last active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    /// Owner only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Visibility>,
}

/// Which optional fields everyone may see (`true`) or only the owner (`false`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Visibility {
    pub email: bool,
    pub birth_date: bool,
    pub gender: bool,
    pub school: bool,
    pub work: bool,
    pub location: bool,
}

impl Profile {
    /// `row` as the user with id `viewer` may see it.
    pub fn seen_by(row: UserRow, viewer: &str) -> Self {
        if row.user_id == viewer {
            Self::for_owner(row)
        } else {
            Self::for_others(row)
        }
    }

    /// Everything, the visibility flags included.
    pub fn for_owner(row: UserRow) -> Self {
        let visibility = Visibility::of(&row);
        Self {
            user_id: row.user_id,
            email: Some(row.email),
            first_name: row.first_name,
            last_name: row.last_name,
            birth_date: Some(row.birth_date),
            gender: Some(row.gender),
            school: Some(row.school),
            work: Some(row.work),
            location: Some(row.location),
            description: row.description,
            registered_at: row.registered_at,
            updated_at: Some(row.updated_at),
            visibility: Some(visibility),
        }
    }

    /// What a caller who is not the owner may see.
    fn for_others(row: UserRow) -> Self {
        Self {
            user_id: row.user_id,
            email: row.email_public.then_some(row.email),
            first_name: row.first_name,
            last_name: row.last_name,
            birth_date: row.birth_date_public.then_some(row.birth_date),
            gender: row.gender_public.then_some(row.gender),
            school: row.school_public.then_some(row.school),
            work: row.work_public.then_some(row.work),
            location: row.location_public.then_some(row.location),
            description: row.description,
            registered_at: row.registered_at,
            updated_at: None,
            visibility: None,
        }
    }
}

impl Visibility {
    fn of(row: &UserRow) -> Self {
        Self {
            email: row.email_public,
            birth_date: row.birth_date_public,
            gender: row.gender_public,
            school: row.school_public,
            work: row.work_public,
            location: row.location_public,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> UserRow {
        UserRow {
            user_id: "ada".into(),
            email: Some("ada@example.com".into()),
            email_public: false,
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
            birth_date: Some("1815-12-10".into()),
            birth_date_public: true,
            gender: None,
            gender_public: true,
            school: Some("Home".into()),
            school_public: false,
            work: Some("Analyst".into()),
            work_public: false,
            location: Some("London".into()),
            location_public: false,
            description: Some("Notes".into()),
            registered_at: DateTime::UNIX_EPOCH,
            updated_at: DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_stranger_sees_public_fields_and_null_for_public_empty_ones() {
        let profile = Profile::seen_by(row(), "bob");
        assert_eq!(profile.email, None);
        assert_eq!(profile.birth_date, Some(Some("1815-12-10".into())));
        assert_eq!(profile.gender, Some(None));
        assert_eq!(profile.updated_at, None);
        assert_eq!(profile.visibility, None);
    }

    #[test]
    fn the_owner_sees_private_fields_and_the_flags() {
        let profile = Profile::seen_by(row(), "ada");
        assert_eq!(profile.email, Some(Some("ada@example.com".into())));
        assert_eq!(profile.visibility.map(|v| v.birth_date), Some(true));
        assert_eq!(profile.visibility.map(|v| v.email), Some(false));
    }
}
