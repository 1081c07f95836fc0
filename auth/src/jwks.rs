//! The RS256/ES256 public keys of a JWKS, read from a file or fetched from a URL.
//!
//! Only keys with a `kid` are kept, and only RSA keys of at least 2048 bits (RS256) and
//! P-256 keys (ES256); a key's own `alg`, when present, must agree with its type. Symmetric
//! (`oct`) keys are ignored: HS256 only ever uses the configured secret.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse, RSAKeyParameters,
};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use crate::config::AuthConfig;
use crate::error::{AuthError, KeySourceError};

/// The shortest time between two fetches of a JWKS URL caused by unknown `kid`s, so
/// that tokens with made-up key ids cannot make the service hammer the key server.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(60);

const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const MIN_RSA_BITS: usize = 2048;

/// A public key and the one algorithm it verifies.
pub(crate) struct VerifyKey {
    pub(crate) alg: Algorithm,
    pub(crate) key: DecodingKey,
}

type KeyMap = HashMap<String, Arc<VerifyKey>>;

/// The current key set, and where to refetch it from.
pub(crate) struct Jwks {
    keys: RwLock<KeyMap>,
    remote: Option<Remote>,
}

struct Remote {
    client: reqwest::Client,
    url: String,
    /// Held while refetching, so concurrent requests with unknown kids fetch once.
    last_refetch: tokio::sync::Mutex<Option<Instant>>,
}

#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<serde_json::Value>,
}

impl Jwks {
    /// Loads the configured JWKS, if any; fails when it cannot be read or holds no usable key.
    pub(crate) async fn load(config: &AuthConfig) -> Result<Option<Self>, KeySourceError> {
        match (&config.jwks_file, &config.jwks_url) {
            (None, None) => Ok(None),
            (Some(_), Some(_)) => Err(KeySourceError::TwoJwksSources),
            (Some(path), None) => Ok(Some(Self::new(read_file(path).await?, None))),
            (None, Some(url)) => {
                let remote = Remote::new(url)?;
                let keys = remote.fetch().await?;
                Ok(Some(Self::new(keys, Some(remote))))
            }
        }
    }

    fn new(keys: KeyMap, remote: Option<Remote>) -> Self {
        Self {
            keys: RwLock::new(keys),
            remote,
        }
    }

    /// The key named `kid`, refetching a JWKS URL once if it is unknown.
    pub(crate) async fn find(&self, kid: &str) -> Result<Arc<VerifyKey>, AuthError> {
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        match &self.remote {
            Some(remote) => self.refetch_for(remote, kid).await,
            None => Err(AuthError::UnknownKey),
        }
    }

    fn cached(&self, kid: &str) -> Option<Arc<VerifyKey>> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        keys.get(kid).cloned()
    }

    async fn refetch_for(&self, remote: &Remote, kid: &str) -> Result<Arc<VerifyKey>, AuthError> {
        let mut last_refetch = remote.last_refetch.lock().await;
        // Another request may have refetched while this one waited for the lock.
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        if last_refetch.is_some_and(|at| at.elapsed() < JWKS_REFETCH_INTERVAL) {
            return Err(AuthError::UnknownKey);
        }
        *last_refetch = Some(Instant::now());
        let keys = remote.fetch().await?;
        tracing::info!(
            jwks.keys = keys.len(),
            "refetched the JWKS for an unknown kid"
        );
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = keys;
        self.cached(kid).ok_or(AuthError::UnknownKey)
    }
}

impl fmt::Debug for Jwks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        let mut kids: Vec<&String> = keys.keys().collect();
        kids.sort();
        f.debug_struct("Jwks")
            .field("kids", &kids)
            .field("url", &self.remote.as_ref().map(|remote| &remote.url))
            .finish()
    }
}

impl Remote {
    fn new(url: &str) -> Result<Self, KeySourceError> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|source| KeySourceError::Fetch {
                url: url.to_owned(),
                source,
            })?;
        let last_refetch = tokio::sync::Mutex::new(None);
        Ok(Self {
            client,
            url: url.to_owned(),
            last_refetch,
        })
    }

    async fn fetch(&self) -> Result<KeyMap, KeySourceError> {
        let body = self.get().await.map_err(|source| KeySourceError::Fetch {
            url: self.url.clone(),
            source,
        })?;
        parse(&body)
    }

    async fn get(&self) -> Result<Bytes, reqwest::Error> {
        let response = self.client.get(&self.url).send().await?;
        response.error_for_status()?.bytes().await
    }
}

async fn read_file(path: &Path) -> Result<KeyMap, KeySourceError> {
    let body = tokio::fs::read(path)
        .await
        .map_err(|source| KeySourceError::ReadFile {
            path: path.to_path_buf(),
            source,
        })?;
    parse(&body)
}

/// Parses a JWKS document, keeping the usable keys and logging why others are skipped.
fn parse(body: &[u8]) -> Result<KeyMap, KeySourceError> {
    let raw: RawJwks = serde_json::from_slice(body)?;
    let keys: KeyMap = raw.keys.into_iter().filter_map(usable_key).collect();
    if keys.is_empty() {
        return Err(KeySourceError::NoUsableKey);
    }
    Ok(keys)
}

fn usable_key(value: serde_json::Value) -> Option<(String, Arc<VerifyKey>)> {
    let kid = value
        .get("kid")
        .and_then(|kid| kid.as_str())
        .map(str::to_owned);
    match to_verify_key(value) {
        Ok((kid, key)) => Some((kid, Arc::new(key))),
        Err(reason) => {
            tracing::debug!(jwk.kid = ?kid, reason, "skipping a JWKS key");
            None
        }
    }
}

fn to_verify_key(value: serde_json::Value) -> Result<(String, VerifyKey), &'static str> {
    let jwk: Jwk = serde_json::from_value(value).map_err(|_| "not a supported JWK")?;
    let kid = jwk.common.key_id.clone().ok_or("it has no `kid`")?;
    let alg = signing_algorithm(&jwk)?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| "its key material is invalid")?;
    Ok((kid, VerifyKey { alg, key }))
}

/// The one algorithm a key verifies, decided by the key itself, never by a token.
fn signing_algorithm(jwk: &Jwk) -> Result<Algorithm, &'static str> {
    if matches!(&jwk.common.public_key_use, Some(usage) if *usage != PublicKeyUse::Signature) {
        return Err("it is not a signing key");
    }
    let by_type = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) if rsa_bits(rsa) >= MIN_RSA_BITS => Algorithm::RS256,
        AlgorithmParameters::RSA(_) => return Err("its RSA modulus is under 2048 bits"),
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        _ => return Err("it is neither an RSA nor a P-256 key"),
    };
    match (jwk.common.key_algorithm, by_type) {
        (None, alg) => Ok(alg),
        (Some(KeyAlgorithm::RS256), Algorithm::RS256) => Ok(Algorithm::RS256),
        (Some(KeyAlgorithm::ES256), Algorithm::ES256) => Ok(Algorithm::ES256),
        (Some(_), _) => Err("its `alg` is not RS256 or ES256, or does not fit its type"),
    }
}

fn rsa_bits(rsa: &RSAKeyParameters) -> usize {
    URL_SAFE_NO_PAD
        .decode(&rsa.n)
        .map_or(0, |modulus| modulus.len() * 8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kids(body: serde_json::Value) -> Result<Vec<String>, KeySourceError> {
        let mut kids: Vec<String> = parse(body.to_string().as_bytes())?.into_keys().collect();
        kids.sort();
        Ok(kids)
    }

    fn p256_key(kid: &str) -> serde_json::Value {
        json!({
            "kty": "EC", "crv": "P-256", "kid": kid,
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
        })
    }

    #[test]
    fn keeps_p256_keys_and_infers_es256_from_their_type() -> Result<(), KeySourceError> {
        assert_eq!(kids(json!({ "keys": [p256_key("ec-1")] }))?, ["ec-1"]);
        Ok(())
    }

    #[test]
    fn skips_symmetric_keys_keys_without_kid_and_encryption_keys() {
        let mut encryption = p256_key("enc-1");
        encryption["use"] = json!("enc");
        let mut no_kid = p256_key("x");
        no_kid.as_object_mut().map(|key| key.remove("kid"));
        let oct = json!({ "kty": "oct", "kid": "hmac", "k": "c2VjcmV0" });
        let body = json!({ "keys": [encryption, no_kid, oct] });
        assert!(matches!(kids(body), Err(KeySourceError::NoUsableKey)));
    }

    #[test]
    fn skips_a_key_whose_alg_contradicts_its_type() {
        let mut lying = p256_key("ec-1");
        lying["alg"] = json!("RS256");
        let body = json!({ "keys": [lying] });
        assert!(matches!(kids(body), Err(KeySourceError::NoUsableKey)));
    }

    #[test]
    fn skips_rsa_keys_shorter_than_2048_bits() {
        let short = json!({ "kty": "RSA", "kid": "rsa-512", "n": "AQAB".repeat(16), "e": "AQAB" });
        let body = json!({ "keys": [short] });
        assert!(matches!(kids(body), Err(KeySourceError::NoUsableKey)));
    }

    #[test]
    fn refuses_a_document_without_a_keys_array() {
        assert!(matches!(
            kids(json!({ "kid": "x" })),
            Err(KeySourceError::Parse(_))
        ));
    }
}
