//! A share's values, validated at the edge: an invalid one cannot be built.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::user::Domain;

/// The longest URL that may be shared, in characters.
pub const MAX_URL_CHARS: usize = 2048;
/// The longest title, in characters, after trimming.
pub const MAX_TITLE_CHARS: usize = 300;

/// Why a share's value was refused, with a stable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareValueError {
    #[error("the URL must be an http or https address of at most 2048 characters, on a named host, without user or password")]
    InvalidUrl,
    #[error("a title is at most 300 characters, without control characters")]
    InvalidTitle,
    #[error("a share id is a UUID")]
    InvalidId,
}

impl crate::ErrorCode for ShareValueError {
    fn code(&self) -> &'static str {
        match self {
            Self::InvalidUrl => "share.invalid_url",
            Self::InvalidTitle => "share.invalid_title",
            Self::InvalidId => "share.invalid_id",
        }
    }
}

/// A share's id: a UUID (made by the command handler), in its lower-case hyphenated form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ShareId(String);

impl ShareId {
    pub fn parse(raw: &str) -> Result<Self, ShareValueError> {
        let id = raw.trim().to_ascii_lowercase();
        let well_formed = id.len() == 36
            && id.char_indices().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => c == '-',
                _ => c.is_ascii_hexdigit(),
            });
        well_formed
            .then_some(Self(id))
            .ok_or(ShareValueError::InvalidId)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ShareId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A page's address: http or https, on a host that is a valid [`Domain`], with no user
/// name or password (they would be shown to every recipient), at most
/// [`MAX_URL_CHARS`] characters as given and once normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedUrl {
    url: String,
    domain: Domain,
}

impl SharedUrl {
    pub fn parse(raw: &str) -> Result<Self, ShareValueError> {
        let raw = raw.trim();
        if raw.chars().count() > MAX_URL_CHARS {
            return Err(ShareValueError::InvalidUrl);
        }
        let url = url::Url::parse(raw).map_err(|_| ShareValueError::InvalidUrl)?;
        let acceptable = matches!(url.scheme(), "http" | "https")
            && url.username().is_empty()
            && url.password().is_none();
        if !acceptable {
            return Err(ShareValueError::InvalidUrl);
        }
        let host = url.host_str().ok_or(ShareValueError::InvalidUrl)?;
        let domain = Domain::parse(host).map_err(|_| ShareValueError::InvalidUrl)?;
        let url = String::from(url);
        if url.chars().count() > MAX_URL_CHARS {
            return Err(ShareValueError::InvalidUrl);
        }
        Ok(Self { url, domain })
    }

    /// The address, normalised (scheme and host in lower case, IDN hosts in ASCII).
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The site, as sharing policies and the popular-pages views name it.
    pub fn domain(&self) -> &Domain {
        &self.domain
    }
}

/// A page's title: at most [`MAX_TITLE_CHARS`] characters after trimming, possibly empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareTitle(String);

impl ShareTitle {
    pub fn parse(raw: &str) -> Result<Self, ShareValueError> {
        let title = raw.trim();
        let ok = title.chars().count() <= MAX_TITLE_CHARS && !title.chars().any(char::is_control);
        ok.then(|| Self(title.to_owned()))
            .ok_or(ShareValueError::InvalidTitle)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_http_and_https_urls_and_names_their_domain() {
        let url = SharedUrl::parse(" HTTPS://www.Example.com/a?b=c#d ");
        assert_eq!(
            url.as_ref().map(|u| (u.as_str(), u.domain().as_str())),
            Ok(("https://www.example.com/a?b=c#d", "example.com"))
        );
        assert!(SharedUrl::parse("http://news.ycombinator.com:8080/item?id=1").is_ok());
    }

    #[test]
    fn rejects_other_schemes_credentials_unnamed_hosts_and_garbage() {
        for bad in [
            "javascript:alert(1)",
            "ftp://x",
            "ftp://example.com/file",
            "data:text/html,<b>hi</b>",
            "file:///etc/passwd",
            "mailto:ann@example.com",
            "https://user:secret@example.com/",
            "http://localhost:8080/",
            "http://[::1]/",
            "example.com/no-scheme",
            "",
            "https://",
        ] {
            assert_eq!(
                SharedUrl::parse(bad),
                Err(ShareValueError::InvalidUrl),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_url_may_be_2048_characters_but_not_2049() {
        let prefix = "https://example.com/";
        let longest = format!("{prefix}{}", "a".repeat(MAX_URL_CHARS - prefix.len()));
        assert!(SharedUrl::parse(&longest).is_ok());
        let too_long = format!("{longest}a");
        assert_eq!(
            SharedUrl::parse(&too_long),
            Err(ShareValueError::InvalidUrl)
        );
    }

    #[test]
    fn a_url_that_grows_past_the_limit_when_normalised_is_refused() {
        let prefix = "https://example.com/";
        let spaces = " ".repeat(MAX_URL_CHARS - prefix.len() - 1);
        let raw = format!("{prefix}{spaces}x");
        assert_eq!(SharedUrl::parse(&raw), Err(ShareValueError::InvalidUrl));
    }

    #[test]
    fn a_title_is_trimmed_and_at_most_300_characters() {
        assert_eq!(
            ShareTitle::parse("  Rust  ").map(|t| t.0),
            Ok("Rust".into())
        );
        assert!(ShareTitle::parse("").is_ok());
        assert!(ShareTitle::parse(&"é".repeat(300)).is_ok());
        assert_eq!(
            ShareTitle::parse(&"é".repeat(301)),
            Err(ShareValueError::InvalidTitle)
        );
        assert_eq!(
            ShareTitle::parse("a\u{0}b"),
            Err(ShareValueError::InvalidTitle)
        );
    }

    #[test]
    fn a_share_id_is_a_uuid_in_lower_case() {
        assert_eq!(
            ShareId::parse("0F8FAD5B-D9CB-469F-A165-70867728950E").map(|i| i.0),
            Ok("0f8fad5b-d9cb-469f-a165-70867728950e".into())
        );
        for bad in [
            "",
            "nope",
            "0f8fad5b-d9cb-469f-a165-70867728950",
            "0f8fad5bxd9cb-469f-a165-70867728950e",
        ] {
            assert_eq!(
                ShareId::parse(bad),
                Err(ShareValueError::InvalidId),
                "{bad}"
            );
        }
    }
}
