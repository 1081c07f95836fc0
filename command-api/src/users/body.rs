//! Request bodies, and their parsing into domain values and commands.

use chrono::{DateTime, Utc};
use domain::user::{
    BirthDate, Description, Email, FieldPatch, Patch, PersonName, ProfileText, UpdateProfile,
    UserId,
};
use personal_data::Keys;
use serde::{Deserialize, Deserializer};

use crate::error::CommandError;

/// `POST /v1/commands/register-user`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

/// A registration's values, validated.
pub struct Registration {
    pub email: Email,
    pub first_name: PersonName,
    pub last_name: PersonName,
}

impl RegisterBody {
    pub fn parse(&self) -> Result<Registration, CommandError> {
        Ok(Registration {
            email: Email::parse(&self.email)?,
            first_name: PersonName::parse(&self.first_name)?,
            last_name: PersonName::parse(&self.last_name)?,
        })
    }
}

/// `POST /v1/commands/update-profile`: every field optional; absent means unchanged.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email_public: Option<bool>,
    #[serde(default, deserialize_with = "http_api::extract::object")]
    pub birth_date: Option<FieldBody>,
    #[serde(default, deserialize_with = "http_api::extract::object")]
    pub gender: Option<FieldBody>,
    #[serde(default, deserialize_with = "http_api::extract::object")]
    pub school: Option<FieldBody>,
    #[serde(default, deserialize_with = "http_api::extract::object")]
    pub work: Option<FieldBody>,
    #[serde(default, deserialize_with = "http_api::extract::object")]
    pub location: Option<FieldBody>,
    /// `null` clears the description.
    #[serde(default, deserialize_with = "present")]
    pub description: Option<Option<String>>,
}

/// One optional field: `value` (a string, or `null` to clear it) and/or `public`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldBody {
    #[serde(default, deserialize_with = "present")]
    pub value: Option<Option<String>>,
    pub public: Option<bool>,
}

/// Tells `"field": null` (clear) from an absent field (keep).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl UpdateBody {
    /// Validates every value, then seals the personal ones with `user_id`'s key.
    pub async fn into_command(
        self,
        user_id: &UserId,
        keys: &Keys,
        now: DateTime<Utc>,
    ) -> Result<UpdateProfile, CommandError> {
        let owner = user_id.as_str();
        let today = now.date_naive();
        let first_name = self
            .first_name
            .as_deref()
            .map(PersonName::parse)
            .transpose()?;
        let last_name = self
            .last_name
            .as_deref()
            .map(PersonName::parse)
            .transpose()?;
        let birth_date = validate(self.birth_date, |v| {
            BirthDate::parse(v, today).map(BirthDate::to_iso)
        })?;
        let gender = validate(self.gender, |v| {
            ProfileText::parse(v).map(|t| t.as_str().to_owned())
        })?;
        let school = validate(self.school, |v| {
            ProfileText::parse(v).map(|t| t.as_str().to_owned())
        })?;
        let work = validate(self.work, |v| {
            ProfileText::parse(v).map(|t| t.as_str().to_owned())
        })?;
        let location = validate(self.location, |v| {
            ProfileText::parse(v).map(|t| t.as_str().to_owned())
        })?;
        let description = match self.description {
            Some(Some(text)) => Some(Some(Description::parse(&text)?.as_str().to_owned())),
            other => other,
        };
        Ok(UpdateProfile {
            first_name: seal_opt(keys, owner, first_name.as_ref().map(PersonName::as_str)).await?,
            last_name: seal_opt(keys, owner, last_name.as_ref().map(PersonName::as_str)).await?,
            email_public: self.email_public,
            birth_date: seal_field(keys, owner, birth_date).await?,
            gender: seal_field(keys, owner, gender).await?,
            school: seal_field(keys, owner, school).await?,
            work: seal_field(keys, owner, work).await?,
            location: seal_field(keys, owner, location).await?,
            description: match description {
                None => None,
                Some(value) => Some(seal_patch(keys, owner, value).await?),
            },
            at: now,
        })
    }
}

/// The field with its value validated and normalised by `parse`; empty text clears it.
fn validate(
    field: Option<FieldBody>,
    parse: impl Fn(&str) -> Result<String, domain::user::ValueError>,
) -> Result<Option<FieldBody>, CommandError> {
    let Some(field) = field else { return Ok(None) };
    let value = match field.value {
        Some(Some(raw)) if raw.trim().is_empty() => Some(None),
        Some(Some(raw)) => Some(Some(parse(&raw)?)),
        other => other,
    };
    Ok(Some(FieldBody {
        value,
        public: field.public,
    }))
}

async fn seal_opt(
    keys: &Keys,
    owner: &str,
    text: Option<&str>,
) -> Result<Option<personal_data::Sealed>, CommandError> {
    match text {
        Some(text) => Ok(Some(keys.seal(owner, text).await?)),
        None => Ok(None),
    }
}

async fn seal_patch(
    keys: &Keys,
    owner: &str,
    value: Option<String>,
) -> Result<Patch, CommandError> {
    match value {
        Some(text) => Ok(Patch::Set(keys.seal(owner, &text).await?)),
        None => Ok(Patch::Clear),
    }
}

async fn seal_field(
    keys: &Keys,
    owner: &str,
    field: Option<FieldBody>,
) -> Result<Option<FieldPatch>, CommandError> {
    let Some(FieldBody { value, public }) = field else {
        return Ok(None);
    };
    let value = match value {
        None => Patch::Keep,
        Some(value) => seal_patch(keys, owner, value).await?,
    };
    Ok(Some(FieldPatch { value, public }))
}
