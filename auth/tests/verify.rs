//! Which tokens `AuthUser` lets through, with real HS256, RS256 and ES256 signatures.

mod common;

use auth::{mint_dev_token, AuthConfig, Verifier};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use jsonwebtoken::Algorithm;
use serde_json::json;
use std::time::Duration;

/// A verifier with the test secret and the `rsa-1`/`ec-1` JWKS file.
async fn both(name: &str) -> Verifier {
    let config = AuthConfig {
        jwks_file: Some(jwks_file(name, &jwks())),
        ..secret_config()
    };
    verifier(&config).await
}

/// A verifier with the JWKS file only: no HS256 secret.
async fn jwks_only(name: &str) -> Verifier {
    let config = AuthConfig {
        jwks_file: Some(jwks_file(name, &jwks())),
        ..AuthConfig::default()
    };
    verifier(&config).await
}

#[tokio::test]
async fn accepts_a_valid_hs256_token_and_exposes_its_subject() {
    let token = sign(Algorithm::HS256, None, &hs(SECRET), &claims("user-1"));
    let (status, body) = get_me(&verifier(&secret_config()).await, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({ "user_id": "user-1", "admin": false, "service": "test" })
    );
}

#[tokio::test]
async fn accepts_a_dev_token_and_its_admin_claim() {
    let token = mint_dev_token(SECRET, "admin-1", Duration::from_secs(60), true).expect("a token");
    let (status, body) = get_me(&verifier(&secret_config()).await, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["admin"], true);
}

#[tokio::test]
async fn accepts_a_lower_case_bearer_scheme() {
    let token = sign(Algorithm::HS256, None, &hs(SECRET), &claims("user-1"));
    let request = Request::get("/me")
        .header("authorization", format!("bearer {token}"))
        .body(Body::empty())
        .expect("a request");
    let (status, _) = call(router(verifier(&secret_config()).await), request).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn accepts_an_rs256_token_signed_by_a_key_of_the_jwks_file() {
    let token = sign(
        Algorithm::RS256,
        Some("rsa-1"),
        &rsa_1(),
        &claims("user-rs"),
    );
    let (status, body) = get_me(&jwks_only("rs256-ok").await, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user_id"], "user-rs");
}

#[tokio::test]
async fn accepts_an_es256_token_signed_by_a_key_of_the_jwks_file() {
    let token = sign(Algorithm::ES256, Some("ec-1"), &ec_1(), &claims("user-ec"));
    let (status, body) = get_me(&jwks_only("es256-ok").await, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user_id"], "user-ec");
}

#[tokio::test]
async fn refuses_a_request_without_an_authorization_header() {
    let request = Request::get("/me").body(Body::empty()).expect("a request");
    let answer = call(router(verifier(&secret_config()).await), request).await;
    assert_refused(&answer, "auth.missing_token", "");
}

#[tokio::test]
async fn refuses_another_authorization_scheme() {
    let request = Request::get("/me")
        .header("authorization", "Basic dXNlcjpwYXNz")
        .body(Body::empty())
        .expect("a request");
    let answer = call(router(verifier(&secret_config()).await), request).await;
    assert_refused(&answer, "auth.malformed_token", "dXNlcjpwYXNz");
}

#[tokio::test]
async fn refuses_a_malformed_token() {
    let verifier = both("malformed").await;
    for token in ["not-a-jwt", "a.b.c", "a.b.c.d", "eyJhbGciOiJIUzI1NiJ9.e30"] {
        assert_refused(
            &get_me(&verifier, token).await,
            "auth.malformed_token",
            token,
        );
    }
}

#[tokio::test]
async fn refuses_an_expired_token() {
    let claims = json!({ "sub": "user-1", "exp": now() - 3600 });
    let token = sign(Algorithm::HS256, None, &hs(SECRET), &claims);
    let answer = get_me(&verifier(&secret_config()).await, &token).await;
    assert_refused(&answer, "auth.expired", &token);
}

#[tokio::test]
async fn accepts_a_token_expired_within_the_leeway() {
    let claims = json!({ "sub": "user-1", "exp": now() - 5 });
    let token = sign(Algorithm::HS256, None, &hs(SECRET), &claims);
    let (status, _) = get_me(&verifier(&secret_config()).await, &token).await;
    assert_eq!(status, StatusCode::OK);
}

/// A verified token is remembered, so that its next requests skip the signature check;
/// it must still stop working when it expires.
#[tokio::test]
async fn a_token_accepted_before_is_refused_once_it_expires() {
    let config = AuthConfig {
        leeway_secs: 0,
        ..secret_config()
    };
    let verifier = verifier(&config).await;
    let claims = json!({ "sub": "user-1", "exp": now() + 1 });
    let token = sign(Algorithm::HS256, None, &hs(SECRET), &claims);
    let (status, body) = get_me(&verifier, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Accepted again while it is valid, then refused.
    let answer = testkit::eventually(Duration::from_secs(10), "the token refused", || async {
        Some(get_me(&verifier, &token).await).filter(|answer| answer.0 != StatusCode::OK)
    })
    .await;
    assert_refused(&answer, "auth.expired", &token);
}

#[tokio::test]
async fn refuses_a_token_that_is_not_yet_valid() {
    let claims = json!({ "sub": "user-1", "exp": now() + 7200, "nbf": now() + 3600 });
    let token = sign(Algorithm::HS256, None, &hs(SECRET), &claims);
    let answer = get_me(&verifier(&secret_config()).await, &token).await;
    assert_refused(&answer, "auth.not_yet_valid", &token);
}

#[tokio::test]
async fn refuses_an_hs256_token_signed_with_another_secret() {
    let other = "another-secret-of-at-least-thirty-two-bytes";
    let token = sign(Algorithm::HS256, None, &hs(other), &claims("user-1"));
    let answer = get_me(&verifier(&secret_config()).await, &token).await;
    assert_refused(&answer, "auth.invalid_signature", &token);
}

#[tokio::test]
async fn refuses_an_rs256_token_signed_by_a_key_outside_the_jwks() {
    let token = sign(
        Algorithm::RS256,
        Some("rsa-1"),
        &rsa_2(),
        &claims("mallory"),
    );
    let answer = get_me(&jwks_only("rs256-forged").await, &token).await;
    assert_refused(&answer, "auth.invalid_signature", &token);
}

#[tokio::test]
async fn refuses_a_token_whose_payload_was_altered_after_signing() {
    let token = sign(Algorithm::ES256, Some("ec-1"), &ec_1(), &claims("user-1"));
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(claims("admin").to_string());
    let forged = parts.join(".");
    let answer = get_me(&jwks_only("es256-altered").await, &forged).await;
    assert_refused(&answer, "auth.invalid_signature", &forged);
}

#[tokio::test]
async fn refuses_an_unsigned_alg_none_token() {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims("mallory").to_string());
    let token = format!("{header}.{payload}.");
    let answer = get_me(&both("alg-none").await, &token).await;
    assert_refused(&answer, "auth.unsupported_algorithm", &token);
}

#[tokio::test]
async fn refuses_a_token_with_critical_header_extensions() {
    let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
    header.crit = Some(vec!["x-unknown".into()]);
    let token = jsonwebtoken::encode(&header, &claims("user-1"), &hs(SECRET)).expect("a token");
    let answer = get_me(&verifier(&secret_config()).await, &token).await;
    assert_refused(&answer, "auth.malformed_token", &token);
}

#[tokio::test]
async fn refuses_an_empty_bearer_token_as_missing() {
    let answer = get_me(&verifier(&secret_config()).await, "").await;
    assert_refused(&answer, "auth.missing_token", "");
}

#[tokio::test]
async fn refuses_algorithms_other_than_hs256_rs256_and_es256() {
    let token = sign(Algorithm::HS512, None, &hs(SECRET), &claims("user-1"));
    let answer = get_me(&both("hs512").await, &token).await;
    assert_refused(&answer, "auth.unsupported_algorithm", &token);
}

#[tokio::test]
async fn refuses_an_hs256_token_keyed_with_the_rsa_public_pem_when_only_a_jwks_is_configured() {
    let verifier = jwks_only("confusion").await;
    let pem_secret = jsonwebtoken::EncodingKey::from_secret(RSA_1_PUBLIC);
    for kid in [Some("rsa-1"), None] {
        let token = sign(Algorithm::HS256, kid, &pem_secret, &claims("mallory"));
        let answer = get_me(&verifier, &token).await;
        assert_refused(&answer, "auth.unsupported_algorithm", &token);
    }
}

#[tokio::test]
async fn refuses_an_hs256_token_keyed_with_the_rsa_public_pem_when_a_secret_is_configured() {
    let pem_secret = jsonwebtoken::EncodingKey::from_secret(RSA_1_PUBLIC);
    let token = sign(
        Algorithm::HS256,
        Some("rsa-1"),
        &pem_secret,
        &claims("mallory"),
    );
    let answer = get_me(&both("confusion-with-secret").await, &token).await;
    assert_refused(&answer, "auth.invalid_signature", &token);
}

#[tokio::test]
async fn refuses_an_rs256_token_naming_an_es256_key() {
    let token = sign(Algorithm::RS256, Some("ec-1"), &rsa_1(), &claims("user-1"));
    let answer = get_me(&jwks_only("rs-names-ec").await, &token).await;
    assert_refused(&answer, "auth.unsupported_algorithm", &token);
}

#[tokio::test]
async fn refuses_an_rs256_token_when_no_jwks_is_configured() {
    let token = sign(Algorithm::RS256, Some("rsa-1"), &rsa_1(), &claims("user-1"));
    let answer = get_me(&verifier(&secret_config()).await, &token).await;
    assert_refused(&answer, "auth.unsupported_algorithm", &token);
}

#[tokio::test]
async fn refuses_a_token_naming_an_unknown_kid() {
    let token = sign(Algorithm::RS256, Some("rsa-9"), &rsa_1(), &claims("user-1"));
    let answer = get_me(&jwks_only("unknown-kid").await, &token).await;
    assert_refused(&answer, "auth.unknown_key", &token);
}

#[tokio::test]
async fn refuses_an_rs256_token_without_a_kid() {
    let token = sign(Algorithm::RS256, None, &rsa_1(), &claims("user-1"));
    let answer = get_me(&jwks_only("no-kid").await, &token).await;
    assert_refused(&answer, "auth.unknown_key", &token);
}

#[tokio::test]
async fn refuses_an_oversized_token_before_checking_it() {
    let mut claims = claims("user-1");
    claims["padding"] = json!("x".repeat(9 * 1024));
    let token = sign(Algorithm::HS256, None, &hs(SECRET), &claims);
    let answer = get_me(&verifier(&secret_config()).await, &token).await;
    assert_refused(&answer, "auth.token_too_large", &token);
}

#[tokio::test]
async fn refuses_a_token_without_sub_with_an_empty_sub_or_an_overlong_sub() {
    let verifier = verifier(&secret_config()).await;
    let exp = now() + 300;
    let long = "u".repeat(129);
    for claims in [
        json!({ "exp": exp }),
        json!({ "sub": "", "exp": exp }),
        json!({ "sub": long, "exp": exp }),
    ] {
        let token = sign(Algorithm::HS256, None, &hs(SECRET), &claims);
        assert_refused(
            &get_me(&verifier, &token).await,
            "auth.invalid_claims",
            &token,
        );
    }
}

#[tokio::test]
async fn refuses_a_token_without_exp() {
    let token = sign(
        Algorithm::HS256,
        None,
        &hs(SECRET),
        &json!({ "sub": "user-1" }),
    );
    let answer = get_me(&verifier(&secret_config()).await, &token).await;
    assert_refused(&answer, "auth.invalid_claims", &token);
}

fn audience_and_issuer() -> AuthConfig {
    AuthConfig {
        issuer: Some("https://id.pagenow.test".into()),
        audience: Some("pagenow-api".into()),
        ..secret_config()
    }
}

fn with(extra: serde_json::Value) -> String {
    let mut claims = claims("user-1");
    claims
        .as_object_mut()
        .expect("claims are an object")
        .extend(
            extra
                .as_object()
                .expect("extra claims are an object")
                .clone(),
        );
    sign(Algorithm::HS256, None, &hs(SECRET), &claims)
}

#[tokio::test]
async fn accepts_a_token_for_the_configured_issuer_and_audience() {
    let verifier = verifier(&audience_and_issuer()).await;
    let single = with(json!({ "iss": "https://id.pagenow.test", "aud": "pagenow-api" }));
    let listed = with(json!({ "iss": "https://id.pagenow.test", "aud": ["other", "pagenow-api"] }));
    assert_eq!(get_me(&verifier, &single).await.0, StatusCode::OK);
    assert_eq!(get_me(&verifier, &listed).await.0, StatusCode::OK);
}

#[tokio::test]
async fn refuses_a_token_for_another_audience_or_for_none() {
    let verifier = verifier(&audience_and_issuer()).await;
    let other = with(json!({ "iss": "https://id.pagenow.test", "aud": "billing" }));
    let none = with(json!({ "iss": "https://id.pagenow.test" }));
    assert_refused(
        &get_me(&verifier, &other).await,
        "auth.wrong_audience",
        &other,
    );
    assert_refused(
        &get_me(&verifier, &none).await,
        "auth.wrong_audience",
        &none,
    );
}

#[tokio::test]
async fn refuses_a_token_from_another_issuer_or_from_none() {
    let verifier = verifier(&audience_and_issuer()).await;
    let other = with(json!({ "iss": "https://evil.test", "aud": "pagenow-api" }));
    let none = with(json!({ "aud": "pagenow-api" }));
    assert_refused(
        &get_me(&verifier, &other).await,
        "auth.wrong_issuer",
        &other,
    );
    assert_refused(&get_me(&verifier, &none).await, "auth.wrong_issuer", &none);
}
