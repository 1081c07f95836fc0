//! Where the verifier finds its keys and what it demands of a token.

use std::fmt;
use std::path::PathBuf;

/// The HS256 secret for local development and tests.
///
/// It is public, in this repository: **never configure it in production**. A
/// [`crate::Verifier`] built with it logs a warning at start-up.
pub const DEV_HS256_SECRET: &str = "pagenow-development-secret-not-for-production";

/// How tokens are verified. Parsed once at start-up by each service's `Config`.
///
/// At least one key source is needed: an HS256 secret, a JWKS file or a JWKS URL (not
/// both JWKS sources). `Debug` redacts the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Shared secret for HS256 tokens, at least [`crate::MIN_HS256_SECRET_BYTES`] long.
    /// Without it HS256 tokens are refused.
    pub hs256_secret: Option<String>,
    /// A JWKS document on disk, read once at start-up, holding RS256/ES256 public keys.
    pub jwks_file: Option<PathBuf>,
    /// A JWKS URL, fetched at start-up and again when a token names an unknown `kid`
    /// (at most once per [`crate::JWKS_REFETCH_INTERVAL`]).
    pub jwks_url: Option<String>,
    /// When set, tokens must carry this `iss`; when unset, `iss` is not checked.
    pub issuer: Option<String>,
    /// When set, tokens must carry this `aud` (alone or in a list). When unset, `aud`
    /// is not checked: set it whenever the issuer serves more than one audience.
    pub audience: Option<String>,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
}

impl Default for AuthConfig {
    /// No key source and a 30 s leeway.
    fn default() -> Self {
        Self {
            hs256_secret: None,
            jwks_file: None,
            jwks_url: None,
            issuer: None,
            audience: None,
            leeway_secs: 30,
        }
    }
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field(
                "hs256_secret",
                &self.hs256_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("jwks_file", &self.jwks_file)
            .field("jwks_url", &self.jwks_url)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway_secs", &self.leeway_secs)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_secret() {
        let config = AuthConfig {
            hs256_secret: Some("a-very-secret-value-of-enough-length".into()),
            ..AuthConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("a-very-secret-value"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }

    #[test]
    fn the_default_leeway_is_thirty_seconds() {
        assert_eq!(AuthConfig::default().leeway_secs, 30);
    }
}
