//! The sharing policy: which of a user's pages their friends may see.
//!
//! A [`SharingPolicy`] is a [`ShareMode`] and two lists of [`Domain`]s. Under
//! `default_all` friends see every page whose domain is not denied; under `default_none`
//! (a new account's mode) only pages whose domain is allowed. A listed domain covers its
//! subdomains (`wikipedia.org` covers `en.wikipedia.org`), and the most specific listed
//! domain decides (`mail.google.com` denied wins over `google.com` allowed). The lists
//! stay disjoint: sharing a domain takes it off the deny list, and stopping takes it off
//! the allow list.
//! Domains are not personal data in DESIGN's sense (they name sites, not people), so
//! they travel in clear.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The most domains one list may hold.
pub const MAX_DOMAINS: usize = 500;

/// Why a policy value was refused, with a stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("not a valid domain name")]
    InvalidDomain,
    #[error("the share mode is default_all or default_none")]
    InvalidMode,
    #[error("a domain list holds at most 500 domains")]
    TooManyDomains,
    #[error("a domain cannot be both allowed and denied")]
    DomainInBothLists,
}

impl crate::ErrorCode for PolicyError {
    fn code(&self) -> &'static str {
        match self {
            Self::InvalidDomain => "policy.invalid_domain",
            Self::InvalidMode => "policy.invalid_mode",
            Self::TooManyDomains => "policy.too_many_domains",
            Self::DomainInBothLists => "policy.domain_in_both_lists",
        }
    }
}

/// A site's host name, normalised: lower case, no scheme, port, path or leading `www.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Domain(String);

impl Domain {
    /// Accepts `example.com`, `https://www.Example.com:8443/a?b` (→ `example.com`) and
    /// the like; refuses anything whose host is not dotted, valid DNS labels.
    pub fn parse(raw: &str) -> Result<Self, PolicyError> {
        let text = raw.trim().to_lowercase();
        let host = host_part(&text);
        let host = if host.is_ascii() {
            host.to_owned()
        } else {
            idna_host(host).ok_or(PolicyError::InvalidDomain)?
        };
        let host = host.strip_suffix('.').unwrap_or(&host);
        let host = match host.strip_prefix("www.") {
            Some(rest) if rest.contains('.') => rest,
            _ => host,
        };
        let valid = host.len() <= 253 && host.contains('.') && host.split('.').all(valid_label);
        valid
            .then(|| Self(host.to_owned()))
            .ok_or(PolicyError::InvalidDomain)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The host of `text`: without a scheme, user info, port, path, query or fragment.
fn host_part(text: &str) -> &str {
    let text = text.split_once("://").map_or(text, |(_, rest)| rest);
    let end = text.find(['/', '?', '#']).unwrap_or(text.len());
    let authority = &text[..end];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    host.split_once(':').map_or(host, |(h, _)| h)
}

/// An internationalised host name in its ASCII (punycode) form.
fn idna_host(host: &str) -> Option<String> {
    let url = url::Url::parse(&format!("http://{host}/")).ok()?;
    url.host_str().map(str::to_owned)
}

fn valid_label(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Whether friends see pages by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShareMode {
    /// Every page, except on denied domains.
    DefaultAll,
    /// Only pages on allowed domains: a new account's mode.
    #[default]
    DefaultNone,
}

impl ShareMode {
    /// `default_all` or `default_none`.
    pub fn parse(raw: &str) -> Result<Self, PolicyError> {
        match raw.trim() {
            "default_all" => Ok(Self::DefaultAll),
            "default_none" => Ok(Self::DefaultNone),
            _ => Err(PolicyError::InvalidMode),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::DefaultAll => "default_all",
            Self::DefaultNone => "default_none",
        }
    }
}

/// A mode and two disjoint lists of at most [`MAX_DOMAINS`] domains each.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SharingPolicy {
    mode: ShareMode,
    allow: BTreeSet<Domain>,
    deny: BTreeSet<Domain>,
}

impl SharingPolicy {
    /// A policy, or why it cannot be one (a list too long, a domain in both lists).
    pub fn new(
        mode: ShareMode,
        allow: impl IntoIterator<Item = Domain>,
        deny: impl IntoIterator<Item = Domain>,
    ) -> Result<Self, PolicyError> {
        let policy = Self {
            mode,
            allow: allow.into_iter().collect(),
            deny: deny.into_iter().collect(),
        };
        if policy.allow.len() > MAX_DOMAINS || policy.deny.len() > MAX_DOMAINS {
            return Err(PolicyError::TooManyDomains);
        }
        if !policy.allow.is_disjoint(&policy.deny) {
            return Err(PolicyError::DomainInBothLists);
        }
        Ok(policy)
    }

    /// The policy as an event recorded it, without checking it again (events are facts).
    pub(super) fn from_parts(mode: ShareMode, allow: &[Domain], deny: &[Domain]) -> Self {
        Self {
            mode,
            allow: allow.iter().cloned().collect(),
            deny: deny.iter().cloned().collect(),
        }
    }

    pub fn mode(&self) -> ShareMode {
        self.mode
    }

    /// The allowed domains, in order.
    pub fn allow(&self) -> &BTreeSet<Domain> {
        &self.allow
    }

    /// The denied domains, in order.
    pub fn deny(&self) -> &BTreeSet<Domain> {
        &self.deny
    }

    /// Whether friends may see a page on `domain` (DOMAIN.md, "Sharing policy"): the
    /// list holding the most specific of `domain` and its parent domains decides; when
    /// neither list holds any of them, the mode does.
    pub fn visible(&self, domain: &Domain) -> bool {
        let host = domain.as_str();
        let candidates = host
            .match_indices('.')
            .map(|(dot, _)| &host[dot + 1..])
            .filter(|parent| parent.contains('.'));
        for candidate in std::iter::once(host).chain(candidates) {
            let candidate = Domain(candidate.to_owned());
            if self.allow.contains(&candidate) {
                return true;
            }
            if self.deny.contains(&candidate) {
                return false;
            }
        }
        self.mode == ShareMode::DefaultAll
    }

    pub(super) fn set_mode(&mut self, mode: ShareMode) {
        self.mode = mode;
    }

    pub(super) fn share(&mut self, domain: &Domain) {
        self.deny.remove(domain);
        self.allow.insert(domain.clone());
    }

    pub(super) fn unshare(&mut self, domain: &Domain) {
        self.allow.remove(domain);
        self.deny.insert(domain.clone());
    }

    /// Whether sharing `domain` would change the policy.
    pub(super) fn shares(&self, domain: &Domain) -> bool {
        self.allow.contains(domain) && !self.deny.contains(domain)
    }

    /// Whether stopping to share `domain` would change the policy.
    pub(super) fn denies(&self, domain: &Domain) -> bool {
        self.deny.contains(domain) && !self.allow.contains(domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(raw: &str) -> Result<String, PolicyError> {
        Domain::parse(raw).map(|d| d.0)
    }

    #[test]
    fn a_domain_is_trimmed_lower_cased_and_stripped_of_scheme_port_path_and_www() {
        for raw in [
            "example.com",
            "  Example.COM ",
            "https://www.example.com/a/b?c=d#e",
            "http://user:pw@WWW.example.com:8080",
            "www.example.com.",
            "example.com?x",
        ] {
            assert_eq!(parsed(raw), Ok("example.com".into()), "{raw}");
        }
        assert_eq!(parsed("mail.google.com"), Ok("mail.google.com".into()));
        assert_eq!(parsed("www.com"), Ok("www.com".into()));
    }

    #[test]
    fn an_internationalised_domain_becomes_its_ascii_form() {
        assert_eq!(parsed("Bücher.de"), Ok("xn--bcher-kva.de".into()));
    }

    #[test]
    fn rejects_domains_without_a_dot_or_with_invalid_labels() {
        for bad in [
            "",
            "localhost",
            "https://",
            "-bad.com",
            "bad-.com",
            "a..com",
            "under_score.com",
            "spa ce.com",
            "javascript:alert(1)",
            &format!("{}.com", "a".repeat(64)),
            &format!("{}com", "abcdefghi.".repeat(26)),
        ] {
            assert_eq!(parsed(bad), Err(PolicyError::InvalidDomain), "{bad}");
        }
        assert!(Domain::parse(&format!("{}.com", "a".repeat(63))).is_ok());
    }

    #[test]
    fn a_share_mode_is_one_of_two_names() {
        assert_eq!(ShareMode::parse("default_all"), Ok(ShareMode::DefaultAll));
        assert_eq!(ShareMode::parse("default_none"), Ok(ShareMode::DefaultNone));
        assert_eq!(ShareMode::parse("all"), Err(PolicyError::InvalidMode));
        assert_eq!(ShareMode::default(), ShareMode::DefaultNone);
    }

    fn domain(raw: &str) -> Domain {
        Domain::parse(raw).unwrap_or_else(|_| unreachable!("{raw} is valid"))
    }

    #[test]
    fn default_all_shows_every_domain_except_the_denied_ones() {
        let policy = SharingPolicy::new(
            ShareMode::DefaultAll,
            [domain("github.com")],
            [domain("paypal.com")],
        )
        .unwrap_or_default();
        assert!(policy.visible(&domain("github.com")));
        assert!(policy.visible(&domain("example.org")));
        assert!(!policy.visible(&domain("paypal.com")));
    }

    #[test]
    fn default_none_shows_only_the_allowed_domains() {
        let policy = SharingPolicy::new(
            ShareMode::DefaultNone,
            [domain("github.com")],
            [domain("paypal.com")],
        )
        .unwrap_or_default();
        assert!(policy.visible(&domain("github.com")));
        assert!(!policy.visible(&domain("example.org")));
        assert!(!policy.visible(&domain("paypal.com")));
    }

    #[test]
    fn a_listed_domain_covers_its_subdomains_and_the_most_specific_one_decides() {
        let policy = SharingPolicy::new(
            ShareMode::DefaultNone,
            [domain("wikipedia.org"), domain("google.com")],
            [domain("mail.google.com")],
        )
        .unwrap_or_default();
        assert!(policy.visible(&domain("en.wikipedia.org")));
        assert!(policy.visible(&domain("docs.google.com")));
        assert!(!policy.visible(&domain("mail.google.com")));
        assert!(!policy.visible(&domain("inbox.mail.google.com")));
        assert!(!policy.visible(&domain("notwikipedia.org")));
        assert!(!policy.visible(&domain("org.example")));
    }

    #[test]
    fn a_policy_refuses_overlapping_or_overlong_lists() {
        let both = SharingPolicy::new(ShareMode::DefaultNone, [domain("a.com")], [domain("a.com")]);
        assert_eq!(both, Err(PolicyError::DomainInBothLists));
        let many = (0..=MAX_DOMAINS).map(|n| domain(&format!("site{n}.com")));
        let long = SharingPolicy::new(ShareMode::DefaultNone, many, []);
        assert_eq!(long, Err(PolicyError::TooManyDomains));
    }
}
