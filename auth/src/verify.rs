//! Checking a token: size, header, key, signature, then claims.

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::config::{AuthConfig, DEV_HS256_SECRET};
use crate::error::{AuthError, KeySourceError};
use crate::jwks::{Jwks, VerifyKey};

/// Tokens longer than this are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The shortest HS256 secret accepted: 256 bits, as long as the HMAC-SHA256 output.
pub const MIN_HS256_SECRET_BYTES: usize = 32;

/// How many verified tokens are remembered ([`Verifier::verify`]).
pub const REMEMBERED_TOKENS: usize = 10_000;

/// How long a verified token is remembered at most, whatever its expiry: a key dropped
/// from the JWKS at a refetch stops being accepted within this time.
pub const REMEMBERED_FOR_SECS: u64 = 60;

/// The longest `sub` accepted, in characters.
pub const MAX_SUBJECT_CHARS: usize = 128;

/// What a verified token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The user id: the token's `sub`, 1 to [`MAX_SUBJECT_CHARS`] characters.
    pub sub: String,
    /// Expiry, in seconds since the Unix epoch.
    pub exp: u64,
    /// The optional `admin` claim; `false` when absent.
    pub admin: bool,
}

/// Verifies bearer tokens against the configured keys. Cheap to clone: keep one in each
/// service's state and let [`crate::AuthUser`] find it through `FromRef`.
///
/// Accepted algorithms: HS256 with the configured secret, and RS256 or ES256 with the
/// JWKS key the token's `kid` names, whose own type decides its algorithm. Anything
/// else, `alg: none` included, is refused.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    hs256: Option<Arc<VerifyKey>>,
    jwks: Option<Jwks>,
    validation: Validation,
    /// Tokens verified already, by their text.
    verified: quick_cache::sync::Cache<String, Remembered>,
}

/// A verified token's claims, and the last second (Unix time) they may be used without
/// verifying the token again.
#[derive(Clone)]
struct Remembered {
    claims: Claims,
    until: u64,
}

/// The header fields looked at before the signature is checked.
#[derive(Deserialize)]
struct PeekedHeader {
    alg: String,
    kid: Option<String>,
    crit: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawClaims {
    sub: Option<String>,
    exp: Option<u64>,
    #[serde(default)]
    admin: bool,
}

impl Verifier {
    /// Builds a verifier, reading the JWKS file or fetching the JWKS URL once.
    ///
    /// Fails with [`AuthError::KeySource`] when no key source is configured, the secret
    /// is too short, or the JWKS cannot be loaded or holds no usable key.
    pub async fn new(config: &AuthConfig) -> Result<Self, AuthError> {
        let hs256 = hs256_key(config.hs256_secret.as_deref())?;
        let jwks = Jwks::load(config).await?;
        if hs256.is_none() && jwks.is_none() {
            return Err(KeySourceError::NothingConfigured.into());
        }
        let validation = validation(config);
        let inner = Inner {
            hs256,
            jwks,
            validation,
            verified: quick_cache::sync::Cache::new(REMEMBERED_TOKENS),
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Verifies `token` (without the `Bearer ` prefix) and returns its claims.
    ///
    /// A client sends the same token with each request until it expires, and checking a
    /// signature costs far more than looking the token up (RS256 and ES256 most of all):
    /// a verified token is remembered, up to [`REMEMBERED_TOKENS`] of them, and accepted
    /// again without checking until it expires (with the leeway, as a check would) or
    /// for [`REMEMBERED_FOR_SECS`], whichever comes first. Only a token that passed every
    /// check is remembered.
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::TokenTooLarge);
        }
        let now = jsonwebtoken::get_current_timestamp();
        if let Some(remembered) = self.inner.verified.get(token) {
            if now <= remembered.until {
                return Ok(remembered.claims);
            }
            self.inner.verified.remove(token);
        }
        let claims = self.check(token).await?;
        let until = claims
            .exp
            .saturating_add(self.inner.validation.leeway)
            .min(now.saturating_add(REMEMBERED_FOR_SECS));
        let remembered = Remembered {
            claims: claims.clone(),
            until,
        };
        self.inner.verified.insert(token.to_owned(), remembered);
        Ok(claims)
    }

    /// Every check of `token` after its size: header, key, signature, then claims.
    async fn check(&self, token: &str) -> Result<Claims, AuthError> {
        let header = peek_header(token)?;
        let key = self.key_for(&header).await?;
        let mut validation = self.inner.validation.clone();
        validation.algorithms = vec![key.alg];
        let data = jsonwebtoken::decode::<RawClaims>(token, &key.key, &validation)
            .map_err(|err| AuthError::from_jwt(&err))?;
        data.claims.into_claims()
    }

    /// The key for the token's `alg` and `kid`; the algorithm must be the key's own.
    async fn key_for(&self, header: &PeekedHeader) -> Result<Arc<VerifyKey>, AuthError> {
        let alg = match header.alg.as_str() {
            "HS256" => return self.hs256_key(),
            "RS256" => Algorithm::RS256,
            "ES256" => Algorithm::ES256,
            _ => return Err(AuthError::UnsupportedAlgorithm),
        };
        let jwks = self
            .inner
            .jwks
            .as_ref()
            .ok_or(AuthError::UnsupportedAlgorithm)?;
        let kid = header.kid.as_deref().ok_or(AuthError::UnknownKey)?;
        let key = jwks.find(kid).await?;
        if key.alg != alg {
            return Err(AuthError::UnsupportedAlgorithm);
        }
        Ok(key)
    }

    fn hs256_key(&self) -> Result<Arc<VerifyKey>, AuthError> {
        self.inner
            .hs256
            .clone()
            .ok_or(AuthError::UnsupportedAlgorithm)
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("hs256", &self.inner.hs256.as_ref().map(|_| "[redacted]"))
            .field("jwks", &self.inner.jwks)
            .finish()
    }
}

fn hs256_key(secret: Option<&str>) -> Result<Option<Arc<VerifyKey>>, KeySourceError> {
    let Some(secret) = secret else {
        return Ok(None);
    };
    if secret.len() < MIN_HS256_SECRET_BYTES {
        return Err(KeySourceError::WeakSecret);
    }
    if secret == DEV_HS256_SECRET {
        tracing::warn!("HS256 tokens are verified with the public development secret");
    }
    let key = DecodingKey::from_secret(secret.as_bytes());
    Ok(Some(Arc::new(VerifyKey {
        alg: Algorithm::HS256,
        key,
    })))
}

/// The claim checks shared by every algorithm; `algorithms` is set per token.
fn validation(config: &AuthConfig) -> Validation {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = config.leeway_secs;
    validation.validate_nbf = true;
    let mut required = vec!["exp", "sub"];
    if let Some(issuer) = &config.issuer {
        validation.set_issuer(&[issuer]);
        required.push("iss");
    }
    validation.validate_aud = config.audience.is_some();
    if let Some(audience) = &config.audience {
        validation.set_audience(&[audience]);
        required.push("aud");
    }
    validation.set_required_spec_claims(&required);
    validation
}

/// Reads the header without trusting it, so `alg: none` and unknown algorithms are
/// told apart from garbage, and refused before any key is chosen.
fn peek_header(token: &str) -> Result<PeekedHeader, AuthError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::MalformedToken);
    };
    let json = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| AuthError::MalformedToken)?;
    let header: PeekedHeader =
        serde_json::from_slice(&json).map_err(|_| AuthError::MalformedToken)?;
    // RFC 7515: a recipient must refuse critical extensions it does not understand.
    match header.crit {
        Some(_) => Err(AuthError::MalformedToken),
        None => Ok(header),
    }
}

impl RawClaims {
    fn into_claims(self) -> Result<Claims, AuthError> {
        let sub = self
            .sub
            .ok_or(AuthError::InvalidClaims("`sub` is required"))?;
        check_subject(&sub)?;
        let exp = self
            .exp
            .ok_or(AuthError::InvalidClaims("`exp` is required"))?;
        Ok(Claims {
            sub,
            exp,
            admin: self.admin,
        })
    }
}

/// `sub` becomes a user id: it must be non-empty and reasonably short.
pub(crate) fn check_subject(sub: &str) -> Result<(), AuthError> {
    match sub.chars().count() {
        0 => Err(AuthError::InvalidClaims("`sub` must not be empty")),
        n if n > MAX_SUBJECT_CHARS => Err(AuthError::InvalidClaims(
            "`sub` must be at most 128 characters",
        )),
        _ => Ok(()),
    }
}
