//! Who is calling: bearer-token (JWT) verification for every PageNow service.
//!
//! A service builds one [`Verifier`] from its [`AuthConfig`] at start-up, keeps it in its
//! router state, and takes an [`AuthUser`] (HTTP) or a [`WsAuthUser`] (WebSocket upgrade)
//! in each handler that needs a caller. Rejections are [`http_api::ApiError`]s: `401`
//! with a stable `auth.*` code (see [`AuthError::code`]).
//!
//! Accepted tokens: HS256 with the configured secret; RS256 and ES256 with a key of a
//! JWKS (file or URL) named by the token's `kid`. `exp` and `sub` are required, `nbf`,
//! `iss` and `aud` are checked when present or configured. Authorization (what a user may
//! do) is not decided here.
//!
//! Modules:
//! - `config`: [`AuthConfig`] and the development secret [`DEV_HS256_SECRET`];
//! - `verify`: [`Verifier`] and [`Claims`];
//! - `jwks`: loading and refetching the JWKS key set;
//! - `extract`: the [`AuthUser`] and [`WsAuthUser`] extractors;
//! - `dev_token`: [`mint_dev_token`], HS256 tokens for development and tests;
//! - `error`: [`AuthError`] and [`KeySourceError`].

mod config;
mod dev_token;
mod error;
mod extract;
mod jwks;
mod verify;

pub use config::{AuthConfig, DEV_HS256_SECRET};
pub use dev_token::mint_dev_token;
pub use error::{AuthError, KeySourceError};
pub use extract::{AuthUser, WsAuthUser, WS_BEARER_PROTOCOL_PREFIX, WS_PROTOCOL};
pub use jwks::JWKS_REFETCH_INTERVAL;
pub use verify::{Claims, Verifier, MAX_SUBJECT_CHARS, MAX_TOKEN_BYTES, MIN_HS256_SECRET_BYTES};
