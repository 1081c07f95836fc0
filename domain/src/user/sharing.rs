//! The sharing-policy commands and events of the user aggregate, and their decisions.
//!
//! A registration records the account's first policy (`user.sharing_policy_set`, after
//! `user.registered`); then the owner switches the mode or moves one domain at a time
//! from list to list. A command that would change nothing decides no event.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::policy::{Domain, ShareMode, SharingPolicy, MAX_DOMAINS};
use super::{User, UserError, UserEvent};

/// Switches between `default_all` and `default_none`.
#[derive(Debug, Clone, PartialEq)]
pub struct SetShareMode {
    pub mode: ShareMode,
    pub at: DateTime<Utc>,
}

/// "Share this domain": allows it (and takes it off the deny list).
#[derive(Debug, Clone, PartialEq)]
pub struct ShareDomain {
    pub domain: Domain,
    pub at: DateTime<Utc>,
}

/// "Stop sharing this domain": denies it (and takes it off the allow list).
#[derive(Debug, Clone, PartialEq)]
pub struct StopSharingDomain {
    pub domain: Domain,
    pub at: DateTime<Utc>,
}

/// `user.sharing_policy_set` v1: the whole policy (at registration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharingPolicySet {
    pub mode: ShareMode,
    pub allow: Vec<Domain>,
    pub deny: Vec<Domain>,
    pub changed_at: DateTime<Utc>,
}

/// `user.share_mode_set` v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShareModeSet {
    pub mode: ShareMode,
    pub changed_at: DateTime<Utc>,
}

/// `user.domain_shared` v1: the domain is allowed and no longer denied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainShared {
    pub domain: Domain,
    pub changed_at: DateTime<Utc>,
}

/// `user.domain_unshared` v1: the domain is denied and no longer allowed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainUnshared {
    pub domain: Domain,
    pub changed_at: DateTime<Utc>,
}

impl SharingPolicySet {
    /// The event recording `policy` as the whole policy.
    pub fn of(policy: &SharingPolicy, at: DateTime<Utc>) -> Self {
        Self {
            mode: policy.mode(),
            allow: policy.allow().iter().cloned().collect(),
            deny: policy.deny().iter().cloned().collect(),
            changed_at: at,
        }
    }

    /// The policy this event records. Events are facts: limits are not checked again.
    pub fn policy(&self) -> SharingPolicy {
        SharingPolicy::from_parts(self.mode, &self.allow, &self.deny)
    }
}

impl User {
    pub(super) fn set_share_mode(&self, cmd: SetShareMode) -> Result<Vec<UserEvent>, UserError> {
        self.ensure_registered()?;
        if self.policy.mode() == cmd.mode {
            return Ok(vec![]);
        }
        Ok(vec![UserEvent::ShareModeSet(ShareModeSet {
            mode: cmd.mode,
            changed_at: cmd.at,
        })])
    }

    pub(super) fn share_domain(&self, cmd: ShareDomain) -> Result<Vec<UserEvent>, UserError> {
        self.ensure_registered()?;
        if self.policy.shares(&cmd.domain) {
            return Ok(vec![]);
        }
        if self.policy.allow().len() >= MAX_DOMAINS {
            return Err(UserError::TooManyDomains);
        }
        Ok(vec![UserEvent::DomainShared(DomainShared {
            domain: cmd.domain,
            changed_at: cmd.at,
        })])
    }

    pub(super) fn stop_sharing_domain(
        &self,
        cmd: StopSharingDomain,
    ) -> Result<Vec<UserEvent>, UserError> {
        self.ensure_registered()?;
        if self.policy.denies(&cmd.domain) {
            return Ok(vec![]);
        }
        if self.policy.deny().len() >= MAX_DOMAINS {
            return Err(UserError::TooManyDomains);
        }
        Ok(vec![UserEvent::DomainUnshared(DomainUnshared {
            domain: cmd.domain,
            changed_at: cmd.at,
        })])
    }

    /// Folds a sharing-policy event into the state.
    pub(super) fn evolve_policy(&mut self, event: &UserEvent) {
        match event {
            UserEvent::SharingPolicySet(e) => self.policy = e.policy(),
            UserEvent::ShareModeSet(e) => self.policy.set_mode(e.mode),
            UserEvent::DomainShared(e) => self.policy.share(&e.domain),
            UserEvent::DomainUnshared(e) => self.policy.unshare(&e.domain),
            UserEvent::Registered(_) | UserEvent::ProfileUpdated(_) => {}
        }
    }

    fn ensure_registered(&self) -> Result<(), UserError> {
        if self.registered {
            Ok(())
        } else {
            Err(UserError::NotRegistered)
        }
    }
}

#[cfg(test)]
mod tests;
