//! Start-up checks of the configuration, development tokens and the error codes.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use auth::{mint_dev_token, AuthConfig, AuthError, KeySourceError, Verifier, DEV_HS256_SECRET};
use axum::http::StatusCode;
use common::*;
use http_api::ApiError;
use serde_json::json;

async fn start(config: AuthConfig) -> Result<Verifier, AuthError> {
    Verifier::new(&config).await
}

#[tokio::test]
async fn refuses_to_start_without_any_key_source() {
    let result = start(AuthConfig::default()).await;
    assert!(matches!(
        result,
        Err(AuthError::KeySource(KeySourceError::NothingConfigured))
    ));
}

#[tokio::test]
async fn refuses_an_hs256_secret_shorter_than_32_bytes() {
    let config = AuthConfig {
        hs256_secret: Some("short".into()),
        ..AuthConfig::default()
    };
    assert!(matches!(
        start(config).await,
        Err(AuthError::KeySource(KeySourceError::WeakSecret))
    ));
}

#[tokio::test]
async fn refuses_both_a_jwks_file_and_a_jwks_url() {
    let config = AuthConfig {
        jwks_file: Some(jwks_file("both-sources", &jwks())),
        jwks_url: Some("http://127.0.0.1:9/jwks.json".into()),
        ..AuthConfig::default()
    };
    let result = start(config).await;
    assert!(matches!(
        result,
        Err(AuthError::KeySource(KeySourceError::TwoJwksSources))
    ));
}

#[tokio::test]
async fn refuses_a_missing_jwks_file() {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("auth-does-not-exist.json");
    let config = AuthConfig {
        jwks_file: Some(path),
        ..AuthConfig::default()
    };
    let result = start(config).await;
    assert!(matches!(
        result,
        Err(AuthError::KeySource(KeySourceError::ReadFile { .. }))
    ));
}

#[tokio::test]
async fn refuses_a_jwks_file_without_a_usable_key() {
    let only_oct = json!({ "keys": [{ "kty": "oct", "kid": "hmac", "k": "c2VjcmV0" }] });
    let config = AuthConfig {
        jwks_file: Some(jwks_file("only-oct", &only_oct)),
        ..AuthConfig::default()
    };
    let result = start(config).await;
    assert!(matches!(
        result,
        Err(AuthError::KeySource(KeySourceError::NoUsableKey))
    ));
}

#[tokio::test]
async fn the_development_secret_verifies_tokens_minted_with_it() {
    let config = AuthConfig {
        hs256_secret: Some(DEV_HS256_SECRET.into()),
        ..AuthConfig::default()
    };
    let verifier = start(config)
        .await
        .expect("the development secret is long enough");
    let token = mint_dev_token(DEV_HS256_SECRET, "dev-user", Duration::from_secs(60), false)
        .expect("a dev token");
    let claims = verifier.verify(&token).await.expect("a valid token");
    assert_eq!((claims.sub.as_str(), claims.admin), ("dev-user", false));
    assert!(
        claims.exp >= now() + 59 && claims.exp <= now() + 60,
        "{}",
        claims.exp
    );
}

#[test]
fn a_dev_token_carries_admin_only_when_asked() {
    let plain = mint_dev_token(SECRET, "u", Duration::from_secs(60), false).expect("a token");
    let admin = mint_dev_token(SECRET, "u", Duration::from_secs(60), true).expect("a token");
    let payload = |token: &str| {
        token
            .split('.')
            .nth(1)
            .map(str::to_owned)
            .expect("a payload")
    };
    assert!(payload(&admin).len() > payload(&plain).len());
}

#[test]
fn refuses_to_mint_a_dev_token_for_an_empty_subject() {
    let result = mint_dev_token(SECRET, "", Duration::from_secs(60), false);
    assert!(matches!(result, Err(AuthError::InvalidClaims(_))));
}

#[test]
fn client_errors_become_401_with_their_stable_code() {
    let cases = [
        (AuthError::MissingToken, "auth.missing_token"),
        (AuthError::MalformedToken, "auth.malformed_token"),
        (AuthError::TokenTooLarge, "auth.token_too_large"),
        (AuthError::Expired, "auth.expired"),
        (AuthError::NotYetValid, "auth.not_yet_valid"),
        (AuthError::InvalidSignature, "auth.invalid_signature"),
        (
            AuthError::UnsupportedAlgorithm,
            "auth.unsupported_algorithm",
        ),
        (AuthError::WrongAudience, "auth.wrong_audience"),
        (AuthError::WrongIssuer, "auth.wrong_issuer"),
        (AuthError::UnknownKey, "auth.unknown_key"),
        (
            AuthError::InvalidClaims("`sub` is required"),
            "auth.invalid_claims",
        ),
    ];
    for (error, code) in cases {
        assert!(error.is_client_error());
        let api = ApiError::from(error);
        assert_eq!((api.status, api.code), (StatusCode::UNAUTHORIZED, code));
    }
}

#[test]
fn a_key_source_failure_is_a_503_not_a_client_error() {
    let error = AuthError::from(KeySourceError::NoUsableKey);
    assert!(!error.is_client_error());
    let api = ApiError::from(error);
    assert_eq!(
        (api.status, api.code),
        (StatusCode::SERVICE_UNAVAILABLE, "service.unavailable")
    );
}
