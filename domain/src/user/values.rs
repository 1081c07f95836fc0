//! The user's values, validated at the edge: an invalid one cannot be built.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Why a value was refused, with a stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("a user id is 1 to 128 printable characters")]
    UserId,
    #[error("not a valid e-mail address")]
    Email,
    #[error("a name is 1 to 100 characters")]
    Name,
    #[error("a profile field is at most 100 characters")]
    ProfileText,
    #[error("a description is at most 1000 characters")]
    Description,
    #[error("a birth date is YYYY-MM-DD, after 1900-01-01 and not in the future")]
    BirthDate,
}

impl crate::ErrorCode for ValueError {
    fn code(&self) -> &'static str {
        match self {
            Self::UserId => "user.invalid_id",
            Self::Email => "user.invalid_email",
            Self::Name => "user.invalid_name",
            Self::ProfileText => "user.invalid_profile_field",
            Self::Description => "user.invalid_description",
            Self::BirthDate => "user.invalid_birth_date",
        }
    }
}

/// A user's id: the `sub` claim of their identity provider's token.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let ok = (1..=128).contains(&raw.chars().count())
            && !raw.chars().any(|c| c.is_control() || c.is_whitespace());
        ok.then(|| Self(raw.to_owned())).ok_or(ValueError::UserId)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An e-mail address, trimmed and with its domain in lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let raw = raw.trim();
        let (local, domain) = raw.rsplit_once('@').ok_or(ValueError::Email)?;
        let ok = !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && raw.len() <= 254
            && !raw.chars().any(|c| c.is_whitespace() || c.is_control());
        ok.then(|| Self(format!("{local}@{}", domain.to_lowercase())))
            .ok_or(ValueError::Email)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A first or last name: 1 to 100 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        bounded_text(raw, 1, 100).map(Self).ok_or(ValueError::Name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Gender, school, work or location: at most 100 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileText(String);

impl ProfileText {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        bounded_text(raw, 0, 100)
            .map(Self)
            .ok_or(ValueError::ProfileText)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The free-text description: at most 1,000 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(String);

impl Description {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        bounded_text(raw, 0, 1000)
            .map(Self)
            .ok_or(ValueError::Description)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A date of birth, between 1900-01-01 and `today`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BirthDate(NaiveDate);

impl BirthDate {
    /// `today` comes from the caller: the domain reads no clock.
    pub fn parse(raw: &str, today: NaiveDate) -> Result<Self, ValueError> {
        let date =
            NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| ValueError::BirthDate)?;
        let earliest = NaiveDate::from_ymd_opt(1900, 1, 1).ok_or(ValueError::BirthDate)?;
        (earliest..=today)
            .contains(&date)
            .then_some(Self(date))
            .ok_or(ValueError::BirthDate)
    }

    pub fn to_iso(self) -> String {
        self.0.format("%Y-%m-%d").to_string()
    }
}

fn bounded_text(raw: &str, min: usize, max: usize) -> Option<String> {
    let text = raw.trim();
    let len = text.chars().count();
    ((min..=max).contains(&len) && !text.chars().any(|c| c.is_control() && c != '\n'))
        .then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_an_email_and_lowercases_its_domain() {
        assert_eq!(
            Email::parse(" Ann@Example.COM ").map(|e| e.0),
            Ok("Ann@example.com".into())
        );
    }

    #[test]
    fn rejects_emails_without_a_dotted_domain_or_with_spaces() {
        for bad in [
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a nn@example.com",
            "ann@.com",
        ] {
            assert_eq!(Email::parse(bad), Err(ValueError::Email), "{bad}");
        }
    }

    #[test]
    fn rejects_empty_and_overlong_names() {
        assert_eq!(PersonName::parse("  "), Err(ValueError::Name));
        assert_eq!(PersonName::parse(&"x".repeat(101)), Err(ValueError::Name));
        assert_eq!(PersonName::parse(" Ann ").map(|n| n.0), Ok("Ann".into()));
    }

    #[test]
    fn rejects_user_ids_with_spaces_or_too_long() {
        assert_eq!(UserId::parse("a b"), Err(ValueError::UserId));
        assert_eq!(UserId::parse(""), Err(ValueError::UserId));
        assert_eq!(UserId::parse(&"u".repeat(129)), Err(ValueError::UserId));
        assert!(UserId::parse("auth0|123.abc").is_ok());
    }

    #[test]
    fn rejects_birth_dates_in_the_future_or_before_1900() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default();
        assert!(BirthDate::parse("2000-02-29", today).is_ok());
        assert_eq!(
            BirthDate::parse("2026-11-24", today),
            Err(ValueError::BirthDate)
        );
        assert_eq!(
            BirthDate::parse("1899-12-31", today),
            Err(ValueError::BirthDate)
        );
        assert_eq!(
            BirthDate::parse("23/11/2000", today),
            Err(ValueError::BirthDate)
        );
    }
}
