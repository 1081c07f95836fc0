//! The hostile-token suite of `auth/tests/fixtures/hostile-tokens.json`, for the tests of
//! every HTTP service: `#[path = "../../auth/tests/hostile_suite/mod.rs"] mod hostile_suite;`.
//!
//! [`verifier`] accepts the suite's valid tokens; each refused token must get a `401`
//! with its code (see `auth/tests/hostile_tokens.rs`, which generates the fixtures).

#![allow(dead_code)] // each service uses its own part

use serde_json::Value;

const TOKENS: &str = include_str!("../fixtures/hostile-tokens.json");
const JWKS: &str = include_str!("../fixtures/hostile-jwks.json");

/// One token of the suite, and for a refused one the code it must get.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub token: String,
    pub code: String,
}

fn suite() -> Value {
    serde_json::from_str(TOKENS).expect("the hostile-token fixture is JSON")
}

fn cases(kind: &str) -> Vec<Case> {
    let text = |case: &Value, field: &str| case[field].as_str().unwrap_or_default().to_owned();
    suite()[kind]
        .as_array()
        .expect("a list of cases")
        .iter()
        .map(|case| Case {
            name: text(case, "name"),
            token: text(case, "token"),
            code: text(case, "code"),
        })
        .collect()
}

/// Tokens the suite's verifier accepts (HS256 and RS256).
pub fn valid() -> Vec<Case> {
    cases("valid")
}

/// Tokens it refuses: `alg: none`, HS/RS confusion, expired, not yet valid, wrong
/// issuer or audience, unknown `kid`, oversized…
pub fn refused() -> Vec<Case> {
    cases("refused")
}

/// The verifier configuration the suite was made for: its HS256 secret, its JWKS (copied
/// into the test's scratch directory), its issuer and audience.
pub fn auth_config() -> auth::AuthConfig {
    let config = &suite()["config"];
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let jwks_file = dir.join(concat!(env!("CARGO_PKG_NAME"), "-hostile-jwks.json"));
    // Written aside and renamed, so a test reading it never sees half a file.
    let aside = jwks_file.with_extension(format!("{:?}", std::thread::current().id()));
    std::fs::write(&aside, JWKS).expect("writing the suite's JWKS");
    std::fs::rename(&aside, &jwks_file).expect("moving the suite's JWKS into place");
    let text = |field: &str| config[field].as_str().map(str::to_owned);
    auth::AuthConfig {
        hs256_secret: text("hs256_secret"),
        jwks_file: Some(jwks_file),
        issuer: text("issuer"),
        audience: text("audience"),
        ..auth::AuthConfig::default()
    }
}

/// A verifier for [`auth_config`].
pub async fn verifier() -> auth::Verifier {
    auth::Verifier::new(&auth_config())
        .await
        .expect("a verifier for the hostile suite")
}

/// Asserts that `response` is the `401` `case` must get, and does not echo the token.
pub async fn assert_refused(response: reqwest::Response, case: &Case) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 401, "{}: {body}", case.name);
    assert_eq!(
        body["error"]["code"],
        case.code.as_str(),
        "{}: {body}",
        case.name
    );
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        !message.contains(&case.token),
        "{}: the token is echoed",
        case.name
    );
}
