//! The hostile-token suite every HTTP service's tests run (`fixtures/hostile-tokens.json`,
//! with the keys of `fixtures/hostile-jwks.json`): `alg: none`, HS/RS confusion, a
//! foreign RSA key, expired, not yet valid, wrong or missing issuer and audience, an
//! unknown `kid`, an oversized token and more — each refused with its own code — beside
//! two valid tokens that prove the suite's verifier accepts what it should.
//!
//! The tokens are fixed strings (RS256 and HS256 signatures are deterministic) so that
//! the services' tests need no signing code; `the_fixtures_are_what_this_file_generates`
//! keeps them honest. Regenerate with `PAGENOW_WRITE_FIXTURES=1 cargo test -p auth --test
//! hostile_tokens`.

mod common;

use std::path::PathBuf;

use auth::{AuthConfig, Verifier};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};

const ISSUER: &str = "https://id.pagenow.test";
const AUDIENCE: &str = "pagenow-api";
/// 2100-01-01: valid tokens stay valid for as long as these fixtures live.
const FAR_FUTURE: u64 = 4_102_444_800;
/// 2000-01-01.
const LONG_AGO: u64 = 946_684_800;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn good_claims() -> Value {
    json!({ "sub": "hostile-suite-user", "iss": ISSUER, "aud": AUDIENCE, "exp": FAR_FUTURE })
}

fn claims_with(changes: Value) -> Value {
    let mut claims = good_claims();
    for (name, value) in changes.as_object().expect("an object") {
        match value {
            Value::Null => claims.as_object_mut().expect("an object").remove(name),
            _ => claims
                .as_object_mut()
                .expect("an object")
                .insert(name.clone(), value.clone()),
        };
    }
    claims
}

fn hs256(claims: &Value) -> String {
    sign(Algorithm::HS256, None, &hs(SECRET), claims)
}

fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    format!("{header}.{}.", URL_SAFE_NO_PAD.encode(claims.to_string()))
}

fn with_payload(token: &str, claims: &Value) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    parts.join(".")
}

fn refused(name: &str, code: &str, token: String) -> Value {
    json!({ "name": name, "code": code, "token": token })
}

/// The whole suite, as the fixture holds it.
fn suite() -> Value {
    let good = good_claims();
    let rsa_public_as_secret = jsonwebtoken::EncodingKey::from_secret(RSA_1_PUBLIC);
    let padded = claims_with(json!({ "padding": "x".repeat(9 * 1024) }));
    let admin = claims_with(json!({ "sub": "someone-else", "admin": true }));
    json!({
        "config": {
            "hs256_secret": SECRET,
            "jwks_file": "hostile-jwks.json",
            "issuer": ISSUER,
            "audience": AUDIENCE,
        },
        "valid": [
            { "name": "hs256", "token": hs256(&good) },
            { "name": "rs256", "token": sign(Algorithm::RS256, Some("rsa-1"), &rsa_1(), &good) },
        ],
        "refused": [
            refused("alg_none", "auth.unsupported_algorithm", unsigned(&good)),
            refused("hs256_keyed_with_the_rsa_public_key", "auth.invalid_signature",
                sign(Algorithm::HS256, Some("rsa-1"), &rsa_public_as_secret, &good)),
            refused("rs256_signed_by_a_key_outside_the_jwks", "auth.invalid_signature",
                sign(Algorithm::RS256, Some("rsa-1"), &rsa_2(), &good)),
            refused("payload_altered_after_signing", "auth.invalid_signature",
                with_payload(&hs256(&good), &admin)),
            refused("hs512", "auth.unsupported_algorithm",
                sign(Algorithm::HS512, None, &hs(SECRET), &good)),
            refused("expired", "auth.expired",
                hs256(&claims_with(json!({ "exp": LONG_AGO })))),
            refused("not_yet_valid", "auth.not_yet_valid",
                hs256(&claims_with(json!({ "nbf": FAR_FUTURE - 3600 })))),
            refused("wrong_issuer", "auth.wrong_issuer",
                hs256(&claims_with(json!({ "iss": "https://evil.test" })))),
            refused("no_issuer", "auth.wrong_issuer", hs256(&claims_with(json!({ "iss": null })))),
            refused("wrong_audience", "auth.wrong_audience",
                hs256(&claims_with(json!({ "aud": "billing" })))),
            refused("no_audience", "auth.wrong_audience",
                hs256(&claims_with(json!({ "aud": null })))),
            refused("unknown_kid", "auth.unknown_key",
                sign(Algorithm::RS256, Some("rsa-9"), &rsa_1(), &good)),
            refused("oversized", "auth.token_too_large", hs256(&padded)),
            refused("not_a_jwt", "auth.malformed_token", "not-a-jwt".to_owned()),
        ],
    })
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).expect("JSON") + "\n"
}

#[test]
fn the_fixtures_are_what_this_file_generates() {
    let expected = [
        ("hostile-tokens.json", pretty(&suite())),
        ("hostile-jwks.json", pretty(&jwks())),
    ];
    for (name, content) in expected {
        if std::env::var_os("PAGENOW_WRITE_FIXTURES").is_some() {
            std::fs::write(fixture(name), &content).expect("writing a fixture");
        }
        let stored = std::fs::read_to_string(fixture(name)).expect("a fixture");
        assert!(
            stored == content,
            "{name} is stale: run with PAGENOW_WRITE_FIXTURES=1"
        );
    }
}

async fn suite_verifier() -> Verifier {
    let config = AuthConfig {
        hs256_secret: Some(SECRET.into()),
        jwks_file: Some(fixture("hostile-jwks.json")),
        issuer: Some(ISSUER.into()),
        audience: Some(AUDIENCE.into()),
        ..AuthConfig::default()
    };
    verifier(&config).await
}

/// `/me` (header) and `/ws` (query string) of the test router, served on a real socket
/// by `http_api::serve`.
#[tokio::test]
async fn over_http_every_hostile_token_is_refused_with_its_code_and_the_valid_ones_pass() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    let serving = http_api::serve(listener, router(suite_verifier().await))
        .with_graceful_shutdown(std::future::pending());
    tokio::spawn(serving);
    let http = reqwest::Client::new();
    let suite = suite();
    for case in suite["valid"].as_array().expect("valid tokens") {
        let token = case["token"].as_str().expect("a token");
        for request in [
            http.get(format!("{base}/me")).bearer_auth(token),
            http.get(format!("{base}/ws")).query(&[("token", token)]),
        ] {
            let answer = request.send().await.expect("an answer");
            assert_eq!(answer.status(), 200, "{}", case["name"]);
        }
    }
    for case in suite["refused"].as_array().expect("refused tokens") {
        let token = case["token"].as_str().expect("a token");
        for request in [
            http.get(format!("{base}/me")).bearer_auth(token),
            http.get(format!("{base}/ws")).query(&[("token", token)]),
        ] {
            let answer = request.send().await.expect("an answer");
            let status = answer.status().as_u16();
            let body: Value = answer.json().await.expect("a JSON body");
            assert_refused(
                &(
                    axum::http::StatusCode::from_u16(status).expect("a status"),
                    body,
                ),
                case["code"].as_str().expect("a code"),
                token,
            );
        }
    }
}
