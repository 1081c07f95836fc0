//! The user profile aggregate: created at first sign-in, then edited by its owner.
//!
//! One stream per user (`user`/`<user id>`): it holds only profile changes, so it stays
//! short. Personal values arrive already [`Sealed`]; the aggregate keeps them to build
//! full field values, never to read them. The stream also holds the user's sharing
//! policy ([`policy`], [`sharing`]): which of their pages friends may see.

pub mod policy;
pub mod sharing;
mod values;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

pub use policy::{Domain, PolicyError, ShareMode, SharingPolicy};
pub use sharing::{
    DomainShared, DomainUnshared, SetShareMode, ShareDomain, ShareModeSet, SharingPolicySet,
    StopSharingDomain,
};
pub use values::{BirthDate, Description, Email, PersonName, ProfileText, UserId, ValueError};

use crate::{ErrorCode, Sealed};

/// The aggregate type name in the event store.
pub const AGGREGATE_TYPE: &str = "user";

/// What a user can ask of their profile.
#[derive(Debug, Clone, PartialEq)]
pub enum UserCommand {
    Register(RegisterUser),
    UpdateProfile(Box<UpdateProfile>),
    SetShareMode(SetShareMode),
    ShareDomain(ShareDomain),
    StopSharingDomain(StopSharingDomain),
}

/// First sign-in. Registering again changes nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterUser {
    pub user_id: UserId,
    pub email: Sealed,
    pub first_name: Sealed,
    pub last_name: Sealed,
    /// The new account's sharing policy (the configured defaults).
    pub policy: SharingPolicy,
    pub at: DateTime<Utc>,
}

/// Changes to a profile; what is not named stays as it is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpdateProfile {
    pub first_name: Option<Sealed>,
    pub last_name: Option<Sealed>,
    pub email_public: Option<bool>,
    pub birth_date: Option<FieldPatch>,
    pub gender: Option<FieldPatch>,
    pub school: Option<FieldPatch>,
    pub work: Option<FieldPatch>,
    pub location: Option<FieldPatch>,
    pub description: Option<Patch>,
    pub at: DateTime<Utc>,
}

/// A change to one value.
#[derive(Debug, Clone, PartialEq)]
pub enum Patch {
    Keep,
    Clear,
    Set(Sealed),
}

/// A change to an optional profile field: its value, its public flag, or both.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldPatch {
    pub value: Patch,
    pub public: Option<bool>,
}

/// An optional profile field as it stands: a value (or none) and whether non-friends see it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProfileField {
    pub value: Option<Sealed>,
    pub public: bool,
}

/// The free-text description as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TextValue {
    pub value: Option<Sealed>,
}

/// What happened to a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum UserEvent {
    #[serde(rename = "user.registered")]
    Registered(UserRegistered),
    #[serde(rename = "user.profile_updated")]
    ProfileUpdated(Box<ProfileUpdated>),
    #[serde(rename = "user.sharing_policy_set")]
    SharingPolicySet(SharingPolicySet),
    #[serde(rename = "user.share_mode_set")]
    ShareModeSet(ShareModeSet),
    #[serde(rename = "user.domain_shared")]
    DomainShared(DomainShared),
    #[serde(rename = "user.domain_unshared")]
    DomainUnshared(DomainUnshared),
}

/// `user.registered` v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRegistered {
    pub user_id: UserId,
    pub email: Sealed,
    pub first_name: Sealed,
    pub last_name: Sealed,
    pub registered_at: DateTime<Utc>,
}

/// `user.profile_updated` v1: the fields that changed, each with its new full value.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ProfileUpdated {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<Sealed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<Sealed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_public: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<ProfileField>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<ProfileField>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub school: Option<ProfileField>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work: Option<ProfileField>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<ProfileField>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<TextValue>,
    pub updated_at: DateTime<Utc>,
}

impl DomainEvent for UserEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Registered(_) => "user.registered",
            Self::ProfileUpdated(_) => "user.profile_updated",
            Self::SharingPolicySet(_) => "user.sharing_policy_set",
            Self::ShareModeSet(_) => "user.share_mode_set",
            Self::DomainShared(_) => "user.domain_shared",
            Self::DomainUnshared(_) => "user.domain_unshared",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl UserEvent {
    /// The version each event type is read at (older versions are upcast to it).
    pub fn current_version(event_type: &str) -> Option<String> {
        matches!(
            event_type,
            "user.registered"
                | "user.profile_updated"
                | "user.sharing_policy_set"
                | "user.share_mode_set"
                | "user.domain_shared"
                | "user.domain_unshared"
        )
        .then(|| "1".to_owned())
    }
}

/// Why a profile command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("this user has not signed in yet")]
    NotRegistered,
    #[error("the update changes nothing")]
    EmptyUpdate,
    #[error("a domain list holds at most 500 domains")]
    TooManyDomains,
}

impl ErrorCode for UserError {
    fn code(&self) -> &'static str {
        match self {
            Self::NotRegistered => "user.not_registered",
            Self::EmptyUpdate => "user.empty_update",
            Self::TooManyDomains => "policy.too_many_domains",
        }
    }
}

/// A user's profile as far as decisions need it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct User {
    registered: bool,
    email_public: bool,
    birth_date: ProfileField,
    gender: ProfileField,
    school: ProfileField,
    work: ProfileField,
    location: ProfileField,
    policy: SharingPolicy,
}

impl User {
    /// The events `command` leads to, or why it is refused.
    pub fn decide(&self, command: UserCommand) -> Result<Vec<UserEvent>, UserError> {
        match command {
            UserCommand::Register(cmd) => Ok(self.register(cmd)),
            UserCommand::UpdateProfile(cmd) => self.update(*cmd).map(|e| vec![e]),
            UserCommand::SetShareMode(cmd) => self.set_share_mode(cmd),
            UserCommand::ShareDomain(cmd) => self.share_domain(cmd),
            UserCommand::StopSharingDomain(cmd) => self.stop_sharing_domain(cmd),
        }
    }

    fn register(&self, cmd: RegisterUser) -> Vec<UserEvent> {
        if self.registered {
            return vec![];
        }
        let policy = SharingPolicySet::of(&cmd.policy, cmd.at);
        vec![
            UserEvent::Registered(UserRegistered {
                user_id: cmd.user_id,
                email: cmd.email,
                first_name: cmd.first_name,
                last_name: cmd.last_name,
                registered_at: cmd.at,
            }),
            UserEvent::SharingPolicySet(policy),
        ]
    }

    fn update(&self, cmd: UpdateProfile) -> Result<UserEvent, UserError> {
        if !self.registered {
            return Err(UserError::NotRegistered);
        }
        let change = ProfileUpdated {
            first_name: cmd.first_name,
            last_name: cmd.last_name,
            email_public: cmd.email_public.filter(|&p| p != self.email_public),
            birth_date: patched(&self.birth_date, cmd.birth_date),
            gender: patched(&self.gender, cmd.gender),
            school: patched(&self.school, cmd.school),
            work: patched(&self.work, cmd.work),
            location: patched(&self.location, cmd.location),
            description: cmd.description.and_then(text_patched),
            updated_at: cmd.at,
        };
        let unchanged = ProfileUpdated {
            updated_at: cmd.at,
            ..Default::default()
        };
        if change == unchanged {
            return Err(UserError::EmptyUpdate);
        }
        Ok(UserEvent::ProfileUpdated(Box::new(change)))
    }

    /// Folds one event into the state. Never fails: events are facts.
    pub fn evolve(&mut self, event: &UserEvent) {
        match event {
            UserEvent::Registered(_) => self.registered = true,
            UserEvent::ProfileUpdated(e) => {
                self.email_public = e.email_public.unwrap_or(self.email_public);
                let fields = [
                    (&mut self.birth_date, &e.birth_date),
                    (&mut self.gender, &e.gender),
                    (&mut self.school, &e.school),
                    (&mut self.work, &e.work),
                    (&mut self.location, &e.location),
                ];
                for (field, change) in fields {
                    if let Some(new) = change {
                        *field = new.clone();
                    }
                }
            }
            other => self.evolve_policy(other),
        }
    }

    pub fn is_registered(&self) -> bool {
        self.registered
    }

    /// The user's sharing policy as it stands.
    pub fn sharing_policy(&self) -> &SharingPolicy {
        &self.policy
    }
}

/// The field's new full value, or `None` when the patch changes nothing.
fn patched(current: &ProfileField, patch: Option<FieldPatch>) -> Option<ProfileField> {
    let patch = patch?;
    let public = patch.public.unwrap_or(current.public);
    let value = match patch.value {
        Patch::Keep => current.value.clone(),
        Patch::Clear => None,
        Patch::Set(sealed) => Some(sealed),
    };
    let next = ProfileField { value, public };
    (next != *current).then_some(next)
}

fn text_patched(patch: Patch) -> Option<TextValue> {
    match patch {
        Patch::Keep => None,
        Patch::Clear => Some(TextValue { value: None }),
        Patch::Set(sealed) => Some(TextValue {
            value: Some(sealed),
        }),
    }
}

impl Aggregate for User {
    const TYPE: &'static str = AGGREGATE_TYPE;
    type Command = UserCommand;
    type Event = UserEvent;
    type Error = UserError;
    type Services = ();

    async fn handle(
        &mut self,
        command: UserCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), UserError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: UserEvent) {
        self.evolve(&event);
    }
}

#[cfg(test)]
mod tests;
