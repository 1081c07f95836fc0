//! Axum extractors that authenticate a request before its handler runs.
//!
//! Both need a [`Verifier`] reachable from the router state through `FromRef`, and both
//! reject with the [`ApiError`] envelope: `401` with an `auth.*` code.

use axum::extract::{FromRef, FromRequestParts, Query};
use axum::http::header::{AUTHORIZATION, SEC_WEBSOCKET_PROTOCOL};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Uri};
use http_api::ApiError;
use serde::Deserialize;

use crate::error::AuthError;
use crate::verify::{Claims, Verifier};

/// The WebSocket subprotocol PageNow clients offer, and the one the upgrade handler must
/// select (`WebSocketUpgrade::protocols([auth::WS_PROTOCOL])`): a browser that offered
/// subprotocols drops a connection whose answer selects none.
pub const WS_PROTOCOL: &str = "pagenow";

/// The prefix of the subprotocol that carries a token: `bearer.<token>`.
pub const WS_BEARER_PROTOCOL_PREFIX: &str = "bearer.";

/// The authenticated caller of an HTTP request.
///
/// Reads `Authorization: Bearer <token>` (the scheme is case-insensitive) and verifies the
/// token; a handler that takes an `AuthUser` never runs for an anonymous caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    /// The token's `sub`.
    pub user_id: String,
    /// The token's `admin` claim.
    pub admin: bool,
}

/// The authenticated caller of a WebSocket upgrade, checked before the upgrade.
///
/// Browsers cannot set headers on a WebSocket, so the token is looked for, in order:
/// 1. `Authorization: Bearer <token>` (non-browser clients);
/// 2. the `token` query-string parameter: `/ws?token=<token>` (it may end up in access
///    logs: prefer the subprotocol);
/// 3. `Sec-WebSocket-Protocol`, as `pagenow, <token>` or `pagenow, bearer.<token>`, i.e.
///    `new WebSocket(url, ["pagenow", "bearer." + token])`.
///
/// The first source present is used; a malformed one is not skipped for the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsAuthUser {
    /// The token's `sub`.
    pub user_id: String,
    /// The token's `admin` claim.
    pub admin: bool,
}

impl<S> FromRequestParts<S> for AuthUser
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = header_token(&parts.headers)?.ok_or(AuthError::MissingToken)?;
        let Claims { sub, admin, .. } = Verifier::from_ref(state).verify(token).await?;
        Ok(Self {
            user_id: sub,
            admin,
        })
    }
}

impl<S> FromRequestParts<S> for WsAuthUser
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = ws_token(parts)?;
        let Claims { sub, admin, .. } = Verifier::from_ref(state).verify(&token).await?;
        Ok(Self {
            user_id: sub,
            admin,
        })
    }
}

/// The bearer token of the `Authorization` header, if the header is present.
fn header_token(headers: &HeaderMap) -> Result<Option<&str>, AuthError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| AuthError::MalformedToken)?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::MalformedToken);
    }
    match token.trim() {
        "" => Err(AuthError::MissingToken),
        token => Ok(Some(token)),
    }
}

fn ws_token(parts: &Parts) -> Result<String, AuthError> {
    if let Some(token) = header_token(&parts.headers)? {
        return Ok(token.to_owned());
    }
    if let Some(token) = query_token(&parts.uri)? {
        return Ok(token);
    }
    protocol_token(parts.headers.get_all(SEC_WEBSOCKET_PROTOCOL).iter())
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

fn query_token(uri: &Uri) -> Result<Option<String>, AuthError> {
    let Query(query) =
        Query::<TokenQuery>::try_from_uri(uri).map_err(|_| AuthError::MalformedToken)?;
    Ok(query.token.filter(|token| !token.is_empty()))
}

/// The token among the offered subprotocols: `bearer.<token>`, or the entry after `pagenow`.
fn protocol_token<'a>(values: impl Iterator<Item = &'a HeaderValue>) -> Result<String, AuthError> {
    let mut offered = Vec::new();
    for value in values {
        let value = value.to_str().map_err(|_| AuthError::MalformedToken)?;
        offered.extend(value.split(',').map(str::trim));
    }
    let prefixed = offered
        .iter()
        .find_map(|p| p.strip_prefix(WS_BEARER_PROTOCOL_PREFIX));
    let after_ours = offered
        .iter()
        .skip_while(|p| **p != WS_PROTOCOL)
        .nth(1)
        .copied();
    prefixed
        .or(after_ours)
        .filter(|token| !token.is_empty())
        .map(str::to_owned)
        .ok_or(AuthError::MissingToken)
}
