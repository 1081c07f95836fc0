//! Why a token was refused, or why the keys could not be loaded.

use std::path::PathBuf;

use http_api::ApiError;
use jsonwebtoken::errors::ErrorKind;

/// Why authentication failed.
///
/// Every variant but [`AuthError::KeySource`] and [`AuthError::Mint`] is the client's
/// doing and becomes a `401` with the stable code of [`AuthError::code`]. The messages
/// never contain the token.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No token was presented.
    #[error("a bearer token is required")]
    MissingToken,
    /// The token is not a compact JWT, or its header or claims are not the expected JSON.
    #[error("the token is not a well-formed JWT")]
    MalformedToken,
    /// The token is larger than [`crate::MAX_TOKEN_BYTES`]; it was not parsed.
    #[error("the token is too large")]
    TokenTooLarge,
    /// The `exp` claim lies in the past, beyond the configured leeway.
    #[error("the token has expired")]
    Expired,
    /// The `nbf` claim lies in the future, beyond the configured leeway.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// The signature does not match the token's content and key.
    #[error("the token's signature is invalid")]
    InvalidSignature,
    /// The token's `alg` is not accepted, or does not match the key it names.
    #[error("the token's signing algorithm is not accepted")]
    UnsupportedAlgorithm,
    /// The `aud` claim is missing or names another audience.
    #[error("the token is meant for another audience")]
    WrongAudience,
    /// The `iss` claim is missing or names another issuer.
    #[error("the token comes from an unexpected issuer")]
    WrongIssuer,
    /// The token names no `kid`, or one the key set does not hold.
    #[error("the token names an unknown signing key")]
    UnknownKey,
    /// A required claim is missing or out of bounds; the text says which.
    #[error("the token's claims are invalid: {0}")]
    InvalidClaims(&'static str),
    /// The signing keys could not be loaded: a server-side problem, not the client's.
    #[error("signing keys are unavailable: {0}")]
    KeySource(#[from] KeySourceError),
    /// A development token could not be signed.
    #[error("could not sign a development token: {0}")]
    Mint(#[source] jsonwebtoken::errors::Error),
}

/// Why the verifier's keys could not be configured or loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeySourceError {
    /// Neither an HS256 secret nor a JWKS source is configured.
    #[error("no key is configured: set an HS256 secret, a JWKS file or a JWKS URL")]
    NothingConfigured,
    /// Both a JWKS file and a JWKS URL are configured.
    #[error("configure a JWKS file or a JWKS URL, not both")]
    TwoJwksSources,
    /// The HS256 secret is shorter than [`crate::MIN_HS256_SECRET_BYTES`].
    #[error(
        "the HS256 secret must be at least {} bytes",
        crate::MIN_HS256_SECRET_BYTES
    )]
    WeakSecret,
    /// The JWKS file could not be read.
    #[error("cannot read the JWKS file {path}: {source}")]
    ReadFile {
        /// The configured path.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// The JWKS URL could not be fetched, or did not answer `2xx`.
    #[error("cannot fetch the JWKS from {url}: {source}")]
    Fetch {
        /// The configured URL.
        url: String,
        /// The HTTP failure.
        source: reqwest::Error,
    },
    /// The JWKS document is not a JSON object with a `keys` array.
    #[error("the JWKS is not valid: {0}")]
    Parse(#[from] serde_json::Error),
    /// The JWKS holds no RS256 or ES256 signing key with a `kid`.
    #[error("the JWKS holds no usable RS256 or ES256 key with a `kid`")]
    NoUsableKey,
}

impl AuthError {
    /// The stable code a client sees, e.g. `auth.expired`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingToken => "auth.missing_token",
            Self::MalformedToken => "auth.malformed_token",
            Self::TokenTooLarge => "auth.token_too_large",
            Self::Expired => "auth.expired",
            Self::NotYetValid => "auth.not_yet_valid",
            Self::InvalidSignature => "auth.invalid_signature",
            Self::UnsupportedAlgorithm => "auth.unsupported_algorithm",
            Self::WrongAudience => "auth.wrong_audience",
            Self::WrongIssuer => "auth.wrong_issuer",
            Self::UnknownKey => "auth.unknown_key",
            Self::InvalidClaims(_) => "auth.invalid_claims",
            Self::KeySource(_) => "auth.key_source",
            Self::Mint(_) => "auth.mint_failed",
        }
    }

    /// Whether the client is to blame (a `401`) rather than the server.
    pub fn is_client_error(&self) -> bool {
        !matches!(self, Self::KeySource(_) | Self::Mint(_))
    }

    /// Translates a `jsonwebtoken` failure into the kind a client is told.
    pub(crate) fn from_jwt(err: &jsonwebtoken::errors::Error) -> Self {
        match err.kind() {
            ErrorKind::ExpiredSignature => Self::Expired,
            ErrorKind::ImmatureSignature => Self::NotYetValid,
            ErrorKind::InvalidIssuer => Self::WrongIssuer,
            ErrorKind::InvalidAudience => Self::WrongAudience,
            ErrorKind::MissingRequiredClaim(claim) => Self::missing_claim(claim),
            ErrorKind::InvalidClaimFormat(_) | ErrorKind::InvalidSubject => {
                Self::InvalidClaims("a registered claim has the wrong type")
            }
            ErrorKind::InvalidSignature
            | ErrorKind::InvalidEcdsaKey
            | ErrorKind::InvalidRsaKey(_)
            | ErrorKind::InvalidKeyFormat => Self::InvalidSignature,
            ErrorKind::InvalidAlgorithm
            | ErrorKind::InvalidAlgorithmName
            | ErrorKind::MissingAlgorithm => Self::UnsupportedAlgorithm,
            _ => Self::MalformedToken,
        }
    }

    fn missing_claim(claim: &str) -> Self {
        match claim {
            "aud" => Self::WrongAudience,
            "iss" => Self::WrongIssuer,
            "exp" => Self::InvalidClaims("`exp` is required"),
            "sub" => Self::InvalidClaims("`sub` is required"),
            _ => Self::InvalidClaims("a required claim is missing"),
        }
    }
}

impl From<AuthError> for ApiError {
    /// Client errors become `401` with the error's code; a key source that is down is a
    /// `503`, a failure to mint a `500` (both logged here, never shown to the client).
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::KeySource(cause) => ApiError::unavailable("the signing key set", &cause),
            AuthError::Mint(cause) => ApiError::internal(&cause),
            client => ApiError::unauthorized(client.code(), client.to_string()),
        }
    }
}
