//! Personal data, sealed with a key per user ("crypto-shredding").
//!
//! Personal values inside event payloads are [`Sealed`]: ChaCha20-Poly1305 with a random
//! nonce and the owner's id as associated data, under a 256-bit key per user kept in
//! `personal_data_keys`, outside the events table. Deleting a user's key turns every
//! sealed value of theirs into [`Opened::Erased`] on every read path, replays included.
//!
//! Keys are cached in memory once read. Key rows are only ever created and deleted,
//! never changed.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
pub use domain::Sealed;
use sqlx::PgPool;

const NONCE_LEN: usize = 12;

/// Why a value could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum PersonalDataError {
    #[error("key store: {0}")]
    Store(#[from] sqlx::Error),
    /// The ciphertext is damaged or was not sealed for this owner.
    #[error("a sealed value of {owner} does not open")]
    Corrupt { owner: String },
}

/// A sealed value, opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    Text(String),
    /// Its owner's key was deleted: the value is gone for good.
    Erased,
}

impl Opened {
    /// The text, or `None` when erased.
    pub fn into_text(self) -> Option<String> {
        match self {
            Self::Text(text) => Some(text),
            Self::Erased => None,
        }
    }
}

/// Seals and opens personal data with per-user keys.
#[derive(Clone)]
pub struct Keys {
    pool: PgPool,
    cache: Arc<RwLock<HashMap<String, Key>>>,
}

impl Keys {
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            cache: Arc::default(),
        }
    }

    /// Seals `plaintext` under `owner`'s key, creating the key on first use.
    pub async fn seal(&self, owner: &str, plaintext: &str) -> Result<Sealed, PersonalDataError> {
        let key = match self.cached(owner) {
            Some(key) => key,
            None => self.create_or_read(owner).await?,
        };
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: owner.as_bytes(),
        };
        let ciphertext = ChaCha20Poly1305::new(&key)
            .encrypt(&nonce, payload)
            .map_err(|_| PersonalDataError::Corrupt {
                owner: owner.to_owned(),
            })?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&ciphertext);
        Ok(Sealed {
            owner: owner.to_owned(),
            sealed: BASE64.encode(bytes),
        })
    }

    /// Opens `sealed`, or reports it erased when its owner's key is gone.
    pub async fn open(&self, sealed: &Sealed) -> Result<Opened, PersonalDataError> {
        let key = match self.cached(&sealed.owner) {
            Some(key) => key,
            None => match self.read(&sealed.owner).await? {
                Some(key) => key,
                None => return Ok(Opened::Erased),
            },
        };
        decrypt(&key, sealed).map(Opened::Text)
    }

    /// Opens an optional value; erased values come back as `None`.
    pub async fn open_optional(
        &self,
        sealed: Option<&Sealed>,
    ) -> Result<Option<String>, PersonalDataError> {
        match sealed {
            Some(sealed) => Ok(self.open(sealed).await?.into_text()),
            None => Ok(None),
        }
    }

    /// Deletes `owner`'s key: all their sealed values become [`Opened::Erased`].
    pub async fn shred(&self, owner: &str) -> Result<(), PersonalDataError> {
        sqlx::query("DELETE FROM personal_data_keys WHERE user_id = $1")
            .bind(owner)
            .execute(&self.pool)
            .await?;
        self.write_cache().remove(owner);
        Ok(())
    }

    fn cached(&self, owner: &str) -> Option<Key> {
        self.cache
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(owner)
            .copied()
    }

    fn write_cache(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Key>> {
        self.cache.write().unwrap_or_else(|p| p.into_inner())
    }

    async fn create_or_read(&self, owner: &str) -> Result<Key, PersonalDataError> {
        let fresh = ChaCha20Poly1305::generate_key(&mut OsRng);
        // Two writers may race to create the key: the first insert wins, both read it.
        sqlx::query(
            "INSERT INTO personal_data_keys (user_id, key) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(owner)
        .bind(fresh.as_slice())
        .execute(&self.pool)
        .await?;
        self.read(owner).await?.ok_or(PersonalDataError::Corrupt {
            owner: owner.to_owned(),
        })
    }

    async fn read(&self, owner: &str) -> Result<Option<Key>, PersonalDataError> {
        let row: Option<(Vec<u8>,)> =
            sqlx::query_as("SELECT key FROM personal_data_keys WHERE user_id = $1")
                .bind(owner)
                .fetch_optional(&self.pool)
                .await?;
        let Some((bytes,)) = row else { return Ok(None) };
        if bytes.len() != 32 {
            return Err(PersonalDataError::Corrupt {
                owner: owner.to_owned(),
            });
        }
        let key = *Key::from_slice(&bytes);
        self.write_cache().insert(owner.to_owned(), key);
        Ok(Some(key))
    }
}

fn decrypt(key: &Key, sealed: &Sealed) -> Result<String, PersonalDataError> {
    let corrupt = || PersonalDataError::Corrupt {
        owner: sealed.owner.clone(),
    };
    let bytes = BASE64.decode(&sealed.sealed).map_err(|_| corrupt())?;
    if bytes.len() < NONCE_LEN {
        return Err(corrupt());
    }
    let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
    let payload = Payload {
        msg: ciphertext,
        aad: sealed.owner.as_bytes(),
    };
    let plain = ChaCha20Poly1305::new(key)
        .decrypt(Nonce::from_slice(nonce), payload)
        .map_err(|_| corrupt())?;
    String::from_utf8(plain).map_err(|_| corrupt())
}
