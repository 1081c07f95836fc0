//! The presence record, and what friends see of it.

use chrono::{DateTime, Utc};
use domain::share::{ShareTitle, SharedUrl};
use domain::user::SharingPolicy;
use serde::{Deserialize, Serialize};

/// Where a user was last seen, as stored in the bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    pub user_id: String,
    /// The page, normalised by [`SharedUrl`].
    pub url: String,
    pub title: String,
    /// The page's site, which the sharing policy decides on.
    pub domain: String,
    /// When the user last reported a page or a heartbeat.
    pub at: DateTime<Utc>,
    /// The last page friends could see, kept while the user stays online: a friend on
    /// a hidden page is shown browsing privately, with this page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<SharedPage>,
    /// Whether friends were last told this page (`true`) or "browsing privately": when the
    /// owner's policy has changed that since, the next report or heartbeat tells them again.
    #[serde(default)]
    pub told_visible: bool,
}

/// A page as friends were shown it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedPage {
    pub url: String,
    pub title: String,
    /// Checked again when read: the policy may have hidden it since.
    pub domain: String,
}

/// Why a reported page was refused, with a stable code each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PresenceError {
    #[error(
        "the URL must be an http or https address of at most 2048 characters, on a named host"
    )]
    InvalidUrl,
    #[error("a title is at most 300 characters, without control characters")]
    InvalidTitle,
}

impl PresenceError {
    /// The stable code clients read.
    pub fn code(self) -> &'static str {
        match self {
            Self::InvalidUrl => "presence.invalid_url",
            Self::InvalidTitle => "presence.invalid_title",
        }
    }
}

impl Presence {
    /// `user_id` on the page `url` titled `title` at `at`, both validated as a share's.
    pub fn report(
        user_id: &str,
        url: &str,
        title: &str,
        at: DateTime<Utc>,
    ) -> Result<Self, PresenceError> {
        let url = SharedUrl::parse(url).map_err(|_| PresenceError::InvalidUrl)?;
        let title = ShareTitle::parse(title).map_err(|_| PresenceError::InvalidTitle)?;
        Ok(Self {
            user_id: user_id.to_owned(),
            domain: url.domain().as_str().to_owned(),
            url: url.as_str().to_owned(),
            title: title.as_str().to_owned(),
            at,
            shared: None,
            told_visible: false,
        })
    }

    /// Remembers this page as the last one shared when `policy` shows it, otherwise
    /// keeps the one `previous` (the record this one replaces) remembered.
    pub fn remember_shared(&mut self, previous: Option<Presence>, policy: &SharingPolicy) {
        self.shared = if visible(policy, &self.domain) {
            Some(SharedPage {
                url: self.url.clone(),
                title: self.title.clone(),
                domain: self.domain.clone(),
            })
        } else {
            previous.and_then(|previous| previous.shared)
        };
    }

    /// What friends see under the owner's `policy`: the page when its domain is
    /// visible, otherwise "browsing privately" (online, no URL, no title). A domain that
    /// no longer parses is treated as hidden.
    pub fn seen_by_friends(&self, policy: &SharingPolicy) -> Seen {
        let mut seen = Seen {
            user_id: self.user_id.clone(),
            state: PresenceState::Private,
            url: None,
            title: None,
            at: Some(self.at),
            last_shared: None,
        };
        if visible(policy, &self.domain) {
            seen.state = PresenceState::Online;
            seen.url = Some(self.url.clone());
            seen.title = Some(self.title.clone());
        } else {
            let still_shown = self.shared.as_ref().filter(|p| visible(policy, &p.domain));
            seen.last_shared = still_shown.map(|page| LastShared {
                url: page.url.clone(),
                title: page.title.clone(),
            });
        }
        seen
    }
}

/// Whether `policy` shows pages of `domain`; a domain that no longer parses is hidden.
fn visible(policy: &SharingPolicy, domain: &str) -> bool {
    domain::user::Domain::parse(domain)
        .map(|domain| policy.visible(&domain))
        .unwrap_or(false)
}

/// `{"url","title"}`: the last page a user browsing privately did share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastShared {
    pub url: String,
    pub title: String,
}

/// A user's presence as a friend sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceState {
    /// On a page the friend may see.
    Online,
    /// Online, on a page the owner's policy hides: "browsing privately".
    Private,
    /// No report or heartbeat within the presence timeout.
    Offline,
}

/// `{"user_id","state","url","title","at"}`: one user's presence as a friend sees it;
/// `url` and `title` only when `online`, `at` (the last activity) unless `offline`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub user_id: String,
    pub state: PresenceState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    /// When `private`: the last page the user did share while online, if the policy
    /// still shows its domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_shared: Option<LastShared>,
}

impl Seen {
    /// `user_id` with no record: offline.
    pub fn offline(user_id: &str) -> Self {
        Self {
            user_id: user_id.to_owned(),
            state: PresenceState::Offline,
            url: None,
            title: None,
            at: None,
            last_shared: None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test may fail by panicking")]

    use super::*;
    use domain::user::{Domain, ShareMode};

    fn policy(mode: ShareMode, allow: &[&str], deny: &[&str]) -> SharingPolicy {
        let domains = |list: &[&str]| -> Vec<Domain> {
            list.iter().map(|d| Domain::parse(d).unwrap()).collect()
        };
        SharingPolicy::new(mode, domains(allow), domains(deny)).unwrap()
    }

    fn on(url: &str) -> Presence {
        Presence::report("ann", url, "A page", Utc::now()).unwrap()
    }

    #[test]
    fn a_visible_page_is_seen_online_with_its_url_and_title() {
        let seen = on("https://www.Example.com/a").seen_by_friends(&policy(
            ShareMode::DefaultAll,
            &[],
            &[],
        ));
        assert_eq!(seen.state, PresenceState::Online);
        assert_eq!(seen.url.as_deref(), Some("https://www.example.com/a"));
        assert_eq!(seen.title.as_deref(), Some("A page"));
    }

    #[test]
    fn a_denied_domain_is_seen_as_browsing_privately_without_url_or_title() {
        let all_but_bank = policy(ShareMode::DefaultAll, &[], &["bank.com"]);
        let seen = on("https://my.bank.com/login").seen_by_friends(&all_but_bank);
        assert_eq!(seen.state, PresenceState::Private);
        assert_eq!((seen.url, seen.title), (None, None));
        assert!(seen.at.is_some());
    }

    #[test]
    fn browsing_privately_shows_the_last_page_shared_while_online() {
        let all_but_bank = policy(ShareMode::DefaultAll, &[], &["bank.com"]);
        let mut news = on("https://news.org/x");
        news.remember_shared(None, &all_but_bank);
        let mut bank = on("https://bank.com/login");
        bank.remember_shared(Some(news), &all_but_bank);

        let seen = bank.seen_by_friends(&all_but_bank);

        assert_eq!(seen.state, PresenceState::Private);
        let last = seen.last_shared.map(|page| page.url);
        assert_eq!(last.as_deref(), Some("https://news.org/x"));
        let now_hidden = policy(ShareMode::DefaultNone, &[], &[]);
        assert_eq!(bank.seen_by_friends(&now_hidden).last_shared, None);
    }

    #[test]
    fn under_default_none_only_allowed_domains_are_seen() {
        let only_news = policy(ShareMode::DefaultNone, &["news.org"], &[]);
        let news = on("https://news.org/x").seen_by_friends(&only_news);
        let other = on("https://example.com/").seen_by_friends(&only_news);
        assert_eq!(news.state, PresenceState::Online);
        assert_eq!(other.state, PresenceState::Private);
    }

    #[test]
    fn rejects_a_bad_url_and_a_bad_title_with_their_codes() {
        let bad_url = Presence::report("ann", "javascript:alert(1)", "", Utc::now());
        let bad_title = Presence::report("ann", "https://a.com/", &"t".repeat(301), Utc::now());
        assert_eq!(bad_url.map_err(|e| e.code()), Err("presence.invalid_url"));
        assert_eq!(
            bad_title.map_err(|e| e.code()),
            Err("presence.invalid_title")
        );
    }

    #[test]
    fn offline_is_serialised_without_page_or_time() {
        let json = serde_json::to_string(&Seen::offline("ann")).unwrap();
        assert_eq!(json, r#"{"user_id":"ann","state":"offline"}"#);
    }
}
