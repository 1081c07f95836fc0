//! The sharing policy a new account starts with: mode `default_none`, a short allow list
//! of harmless sites and a deny list of sensitive ones (mail, payments, banks, health).
//!
//! Operators replace either list with `PAGENOW_DEFAULT_ALLOW` / `PAGENOW_DEFAULT_DENY`
//! (comma-separated domains), parsed once at start-up by [`parse`]: an invalid domain
//! stops the service from starting rather than reaching an account.

use domain::user::{Domain, PolicyError, ShareMode, SharingPolicy};

/// The built-in allow list, comma-separated.
pub const DEFAULT_ALLOW: &str = "wikipedia.org,github.com,stackoverflow.com,\
developer.mozilla.org,news.ycombinator.com,docs.rs";

/// The built-in deny list, comma-separated.
pub const DEFAULT_DENY: &str = "mail.google.com,accounts.google.com,outlook.live.com,\
outlook.office.com,mail.yahoo.com,paypal.com,chase.com,bankofamerica.com,wellsfargo.com,\
citi.com,webmd.com,mayoclinic.org,healthcare.gov";

/// Why configured default lists were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefaultsError {
    #[error("{0:?} is not a valid domain")]
    InvalidDomain(String),
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

/// A new account's policy with the given lists (comma-separated domains; blanks ignored).
pub fn parse(allow: &str, deny: &str) -> Result<SharingPolicy, DefaultsError> {
    Ok(SharingPolicy::new(
        ShareMode::default(),
        domains(allow)?,
        domains(deny)?,
    )?)
}

/// A new account's policy with the built-in lists.
pub fn built_in() -> SharingPolicy {
    // The built-in lists are valid: a test below says so.
    parse(DEFAULT_ALLOW, DEFAULT_DENY).unwrap_or_default()
}

fn domains(list: &str) -> Result<Vec<Domain>, DefaultsError> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| Domain::parse(item).map_err(|_| DefaultsError::InvalidDomain(item.into())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_lists_are_valid_and_start_with_default_none() {
        let policy = parse(DEFAULT_ALLOW, DEFAULT_DENY).expect("valid built-in lists");
        assert_eq!(policy.mode(), ShareMode::DefaultNone);
        assert_eq!(policy.allow().len(), 6);
        assert_eq!(policy.deny().len(), 13);
        assert_eq!(built_in(), policy);
    }

    #[test]
    fn configured_lists_are_normalised_and_may_be_empty() {
        let policy = parse(" https://www.Example.com/ , ,", "").expect("valid");
        let allowed: Vec<&str> = policy.allow().iter().map(Domain::as_str).collect();
        assert_eq!(allowed, ["example.com"]);
        assert!(policy.deny().is_empty());
    }

    #[test]
    fn an_invalid_or_doubly_listed_domain_is_refused() {
        assert_eq!(
            parse("example.com,not a domain", ""),
            Err(DefaultsError::InvalidDomain("not a domain".into()))
        );
        assert_eq!(
            parse("example.com", "www.example.com"),
            Err(DefaultsError::Policy(PolicyError::DomainInBothLists))
        );
    }
}
