//! Helpers shared by the integration tests: the TEST-ONLY keys of `tests/fixtures`,
//! token signing, a tiny router using the extractors, and a JWKS server.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use auth::{AuthConfig, AuthUser, Verifier, WsAuthUser};
use axum::body::Body;
use axum::extract::{FromRef, State};
use axum::http::{Request, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tower::ServiceExt;

/// TEST-ONLY keys, public in this repository.
pub const RSA_1_PRIVATE: &[u8] = include_bytes!("../fixtures/rsa-1.private.pem");
pub const RSA_1_PUBLIC: &[u8] = include_bytes!("../fixtures/rsa-1.public.pem");
pub const RSA_2_PRIVATE: &[u8] = include_bytes!("../fixtures/rsa-2.private.pem");
pub const EC_1_PRIVATE: &[u8] = include_bytes!("../fixtures/ec-1.private.pem");

/// A secret of the accepted length that is not the development one.
pub const SECRET: &str = "test-secret-for-the-auth-crate-0123456789";

pub fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// Claims a verifier with no issuer or audience configured accepts.
pub fn claims(sub: &str) -> Value {
    json!({ "sub": sub, "iat": now(), "exp": now() + 300 })
}

pub fn rsa_1() -> EncodingKey {
    EncodingKey::from_rsa_pem(RSA_1_PRIVATE).expect("rsa-1 fixture is a valid RSA key")
}

pub fn rsa_2() -> EncodingKey {
    EncodingKey::from_rsa_pem(RSA_2_PRIVATE).expect("rsa-2 fixture is a valid RSA key")
}

pub fn ec_1() -> EncodingKey {
    EncodingKey::from_ec_pem(EC_1_PRIVATE).expect("ec-1 fixture is a valid P-256 key")
}

pub fn hs(secret: &str) -> EncodingKey {
    EncodingKey::from_secret(secret.as_bytes())
}

/// A real signature over `claims` with the given algorithm, key and `kid`.
pub fn sign(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).expect("signing a test token")
}

/// The public JWK of a private test key, under `kid`.
pub fn jwk(key: &EncodingKey, alg: Algorithm, kid: &str) -> Value {
    let mut jwk = Jwk::from_encoding_key(key, alg).expect("a public JWK from a test key");
    jwk.common.key_id = Some(kid.to_owned());
    serde_json::to_value(jwk).expect("a JWK serializes")
}

/// The JWKS used by most tests: `rsa-1` (RS256) and `ec-1` (ES256).
pub fn jwks() -> Value {
    json!({ "keys": [
        jwk(&rsa_1(), Algorithm::RS256, "rsa-1"),
        jwk(&ec_1(), Algorithm::ES256, "ec-1"),
    ] })
}

/// Writes `jwks` to a file of its own in the target's scratch directory.
pub fn jwks_file(name: &str, jwks: &Value) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("auth-{name}.jwks.json"));
    std::fs::write(&path, jwks.to_string()).expect("writing a JWKS file");
    path
}

pub async fn verifier(config: &AuthConfig) -> Verifier {
    Verifier::new(config)
        .await
        .expect("a verifier for a valid config")
}

pub fn secret_config() -> AuthConfig {
    AuthConfig {
        hs256_secret: Some(SECRET.into()),
        ..AuthConfig::default()
    }
}

/// A state holding more than the verifier, so the extractors go through `FromRef`.
#[derive(Clone, FromRef)]
struct TestState {
    verifier: Verifier,
    service: &'static str,
}

/// `/me` takes an [`AuthUser`], `/ws` a [`WsAuthUser`]; both echo the caller.
pub fn router(verifier: Verifier) -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/ws", get(ws))
        .with_state(TestState {
            verifier,
            service: "test",
        })
}

async fn me(State(service): State<&'static str>, user: AuthUser) -> impl IntoResponse {
    Json(json!({ "user_id": user.user_id, "admin": user.admin, "service": service }))
}

async fn ws(user: WsAuthUser) -> impl IntoResponse {
    Json(json!({ "user_id": user.user_id, "admin": user.admin }))
}

/// Sends `request` through the router and returns the status and the JSON body.
pub async fn call(router: Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = router.oneshot(request).await.expect("the router answers");
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("a body");
    (status, serde_json::from_slice(&body).expect("a JSON body"))
}

/// `GET /me` with `Authorization: Bearer <token>`.
pub async fn get_me(verifier: &Verifier, token: &str) -> (StatusCode, Value) {
    let request = Request::get("/me")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .expect("a request");
    call(router(verifier.clone()), request).await
}

/// Asserts a `401` whose envelope carries `code`, and that the token is not echoed.
pub fn assert_refused(answer: &(StatusCode, Value), code: &str, token: &str) {
    assert_eq!(answer.0, StatusCode::UNAUTHORIZED, "{answer:?}");
    assert_eq!(answer.1["error"]["code"], code, "{answer:?}");
    let message = answer.1["error"]["message"].as_str().expect("a message");
    assert!(!message.is_empty());
    assert!(
        token.len() < 8 || !message.contains(token),
        "the token is echoed: {message}"
    );
}

/// A JWKS endpoint on 127.0.0.1:0 whose document and health the test controls.
#[derive(Clone)]
pub struct JwksServer {
    pub url: String,
    hits: Arc<AtomicUsize>,
    answer: Arc<Mutex<(StatusCode, Value)>>,
}

impl JwksServer {
    pub async fn start(jwks: Value) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let addr = listener.local_addr().expect("a local address");
        let answer = Arc::new(Mutex::new((StatusCode::OK, jwks)));
        let url = format!("http://{addr}/.well-known/jwks.json");
        let server = Self {
            url,
            hits: Arc::default(),
            answer,
        };
        let app = Router::new()
            .route("/.well-known/jwks.json", get(serve_jwks))
            .with_state(server.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        server
    }

    /// How many times the JWKS was requested.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Serves `jwks` from now on.
    pub fn publish(&self, jwks: Value) {
        *self.answer.lock().expect("the answer lock") = (StatusCode::OK, jwks);
    }

    /// Answers `500` from now on.
    pub fn break_down(&self) {
        *self.answer.lock().expect("the answer lock") = (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({ "error": "down" }),
        );
    }
}

async fn serve_jwks(State(server): State<JwksServer>) -> impl IntoResponse {
    server.hits.fetch_add(1, Ordering::SeqCst);
    let (status, body) = server.answer.lock().expect("the answer lock").clone();
    (status, Json(body))
}
