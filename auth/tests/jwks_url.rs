//! Keys fetched from a JWKS URL, served by a local axum server, and refetched when a token
//! names a key the verifier has not seen.

mod common;

use auth::{AuthConfig, AuthError, KeySourceError, Verifier};
use axum::http::StatusCode;
use common::*;
use jsonwebtoken::Algorithm;
use serde_json::json;

fn url_config(server: &JwksServer) -> AuthConfig {
    AuthConfig {
        jwks_url: Some(server.url.clone()),
        ..AuthConfig::default()
    }
}

fn only_rsa_1() -> serde_json::Value {
    json!({ "keys": [jwk(&rsa_1(), Algorithm::RS256, "rsa-1")] })
}

#[tokio::test]
async fn accepts_an_rs256_token_whose_key_comes_from_a_jwks_url() {
    let server = JwksServer::start(only_rsa_1()).await;
    let verifier = verifier(&url_config(&server)).await;
    let token = sign(Algorithm::RS256, Some("rsa-1"), &rsa_1(), &claims("user-1"));
    let (status, body) = get_me(&verifier, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(server.hits(), 1, "the JWKS is fetched once at start-up");
}

#[tokio::test]
async fn refetches_the_jwks_when_a_token_names_a_rotated_in_key() {
    let server = JwksServer::start(only_rsa_1()).await;
    let verifier = verifier(&url_config(&server)).await;
    server.publish(jwks());
    let token = sign(Algorithm::ES256, Some("ec-1"), &ec_1(), &claims("user-ec"));
    let (status, body) = get_me(&verifier, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn keeps_known_keys_without_refetching() {
    let server = JwksServer::start(jwks()).await;
    let verifier = verifier(&url_config(&server)).await;
    for _ in 0..3 {
        let token = sign(Algorithm::ES256, Some("ec-1"), &ec_1(), &claims("user-ec"));
        assert_eq!(get_me(&verifier, &token).await.0, StatusCode::OK);
    }
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn refetches_at_most_once_per_interval_for_unknown_kids() {
    let server = JwksServer::start(only_rsa_1()).await;
    let verifier = verifier(&url_config(&server)).await;
    let ghost = sign(Algorithm::RS256, Some("ghost"), &rsa_1(), &claims("user-1"));
    assert_refused(&get_me(&verifier, &ghost).await, "auth.unknown_key", &ghost);
    assert_eq!(server.hits(), 2, "the first unknown kid triggers a refetch");

    server.publish(jwks());
    let rotated = sign(Algorithm::ES256, Some("ec-1"), &ec_1(), &claims("user-ec"));
    assert_refused(
        &get_me(&verifier, &rotated).await,
        "auth.unknown_key",
        &rotated,
    );
    assert_eq!(server.hits(), 2, "no second refetch within the interval");
}

#[tokio::test]
async fn refetches_once_for_many_concurrent_tokens_naming_the_same_new_key() {
    let server = JwksServer::start(only_rsa_1()).await;
    let verifier = verifier(&url_config(&server)).await;
    server.publish(jwks());
    let token = sign(Algorithm::ES256, Some("ec-1"), &ec_1(), &claims("user-ec"));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (verifier, token) = (verifier.clone(), token.clone());
            tokio::spawn(async move { verifier.verify(&token).await })
        })
        .collect();
    for task in tasks {
        let claims = task
            .await
            .expect("the task completes")
            .expect("the rotated key is found");
        assert_eq!(claims.sub, "user-ec");
    }
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn answers_503_when_the_refetch_fails() {
    let server = JwksServer::start(only_rsa_1()).await;
    let verifier = verifier(&url_config(&server)).await;
    server.break_down();
    let token = sign(Algorithm::ES256, Some("ec-1"), &ec_1(), &claims("user-ec"));
    let (status, body) = get_me(&verifier, &token).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "service.unavailable");
    let known = sign(Algorithm::RS256, Some("rsa-1"), &rsa_1(), &claims("user-1"));
    assert_eq!(
        get_me(&verifier, &known).await.0,
        StatusCode::OK,
        "known keys still work"
    );
}

#[tokio::test]
async fn fails_to_start_when_the_jwks_url_answers_an_error() {
    let server = JwksServer::start(only_rsa_1()).await;
    server.break_down();
    let result = Verifier::new(&url_config(&server)).await;
    assert!(
        matches!(
            result,
            Err(AuthError::KeySource(KeySourceError::Fetch { .. }))
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn fails_to_start_when_the_jwks_url_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let addr = listener.local_addr().expect("a local address");
    drop(listener);
    let config = AuthConfig {
        jwks_url: Some(format!("http://{addr}/jwks.json")),
        ..AuthConfig::default()
    };
    let result = Verifier::new(&config).await;
    assert!(
        matches!(
            result,
            Err(AuthError::KeySource(KeySourceError::Fetch { .. }))
        ),
        "{result:?}"
    );
}
