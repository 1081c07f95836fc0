//! A profile as one caller may see it.
//!
//! The owner sees every field and their visibility flags. A friend sees every field, the
//! flags aside. Anyone else (a pending request either way included) sees the id, the
//! names, the description and the registration time, and each optional field only when
//! its owner made it public.
//!
//! [`ProfilePage`] is `GET /v1/users/{id}`'s answer: the profile plus what the profile
//! page shows of the owner's friendships.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::relationship::Relationship;
use super::store::UserRow;

/// A profile, as JSON.
///
/// The fields a caller may not see are left out of the JSON. A guarded field is
/// `Option<Option<_>>`: `None` when hidden from this caller (left out), `Some(None)` when
/// shown but not filled in (`null`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
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
    #[serde(serialize_with = "http_api::time::rfc3339")]
    pub registered_at: DateTime<Utc>,
    /// Owner only: when a profile last changed says when its owner was last active.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(serialize_with = "http_api::time::rfc3339_opt")]
    pub updated_at: Option<DateTime<Utc>>,
    /// Owner only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Visibility>,
}

/// Which optional fields everyone may see (`true`) or only the owner (`false`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Visibility {
    pub email: bool,
    pub birth_date: bool,
    pub gender: bool,
    pub school: bool,
    pub work: bool,
    pub location: bool,
}

/// A profile page: the profile as the caller may see it, the caller's relationship with
/// its owner, the owner's friend count and the number of friends the two have in common
/// (0 on one's own page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ProfilePage {
    #[serde(flatten)]
    pub profile: Profile,
    pub relationship: Relationship,
    pub friend_count: i64,
    pub mutual_friend_count: i64,
}

impl Profile {
    /// `row` as a caller with `relationship` to its owner may see it.
    pub fn seen_as(row: UserRow, relationship: Relationship) -> Self {
        match relationship {
            Relationship::Oneself => Self::for_owner(row),
            Relationship::Friends => Self::for_friends(row),
            Relationship::Unrelated
            | Relationship::PendingOutgoing
            | Relationship::PendingIncoming => Self::for_others(row),
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

    /// Every field, whatever its flag; the flags and the last change stay the owner's.
    fn for_friends(row: UserRow) -> Self {
        Self {
            updated_at: None,
            visibility: None,
            ..Self::for_owner(row)
        }
    }

    /// What a caller who is neither the owner nor a friend may see.
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
        let profile = Profile::seen_as(row(), Relationship::Unrelated);
        assert_eq!(profile.email, None);
        assert_eq!(profile.birth_date, Some(Some("1815-12-10".into())));
        assert_eq!(profile.gender, Some(None));
        assert_eq!(profile.updated_at, None);
        assert_eq!(profile.visibility, None);
    }

    #[test]
    fn the_owner_sees_private_fields_and_the_flags() {
        let profile = Profile::seen_as(row(), Relationship::Oneself);
        assert_eq!(profile.email, Some(Some("ada@example.com".into())));
        assert_eq!(profile.visibility.map(|v| v.birth_date), Some(true));
        assert_eq!(profile.visibility.map(|v| v.email), Some(false));
    }

    #[test]
    fn a_friend_sees_private_fields_but_not_the_flags() {
        let profile = Profile::seen_as(row(), Relationship::Friends);
        assert_eq!(profile.email, Some(Some("ada@example.com".into())));
        assert_eq!(profile.work, Some(Some("Analyst".into())));
        assert_eq!(profile.updated_at, None);
        assert_eq!(profile.visibility, None);
    }

    #[test]
    fn a_pending_request_either_way_shows_only_public_fields() {
        for relationship in [Relationship::PendingIncoming, Relationship::PendingOutgoing] {
            let profile = Profile::seen_as(row(), relationship);
            assert_eq!(profile.email, None, "{relationship:?}");
            assert_eq!(profile.work, None, "{relationship:?}");
        }
    }
}
