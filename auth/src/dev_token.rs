//! HS256 tokens for local development and tests.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use crate::error::AuthError;
use crate::verify::check_subject;

#[derive(Serialize)]
struct DevClaims<'a> {
    sub: &'a str,
    iat: u64,
    exp: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    admin: bool,
}

/// Signs an HS256 token for `sub`, valid for `ttl` from now, with `admin: true` when
/// `admin` is set. For development and tests only: production tokens come from the
/// identity provider. Pair it with [`crate::DEV_HS256_SECRET`] locally.
///
/// Fails with [`AuthError::InvalidClaims`] when `sub` is empty or longer than
/// [`crate::MAX_SUBJECT_CHARS`], since [`crate::Verifier`] would refuse the token.
pub fn mint_dev_token(
    secret: &str,
    sub: &str,
    ttl: Duration,
    admin: bool,
) -> Result<String, AuthError> {
    check_subject(sub)?;
    let iat = jsonwebtoken::get_current_timestamp();
    let claims = DevClaims {
        sub,
        iat,
        exp: iat.saturating_add(ttl.as_secs()),
        admin,
    };
    let key = EncodingKey::from_secret(secret.as_bytes());
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).map_err(AuthError::Mint)
}
