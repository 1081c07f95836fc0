//! The presence bucket: one key per user, the latest [`Presence`] as JSON.
//!
//! Keys must match `[-/_=.a-zA-Z0-9]+`, and user ids are arbitrary text: a key is the
//! user id in base64url without padding, which is reversible (the sweeper lists keys to
//! learn who is online).

use std::collections::HashSet;
use std::time::Duration;

use async_nats::jetstream::{self, kv, stream};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures::TryStreamExt;

use crate::Presence;

/// The name of the key-value bucket.
pub const BUCKET: &str = "PAGENOW_PRESENCE";

/// Why the bucket could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the presence bucket could not be created or opened: {0}")]
    Open(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("a presence could not be written: {0}")]
    Put(#[from] kv::PutError),
    #[error("a presence could not be read: {0}")]
    Get(#[from] kv::EntryError),
    #[error("the presence keys could not be listed: {0}")]
    Keys(#[from] kv::HistoryError),
    #[error("the presence keys could not be listed: {0}")]
    KeysStream(#[from] kv::WatcherError),
    #[error("a presence could not be encoded: {0}")]
    Json(#[from] serde_json::Error),
}

/// The presence bucket. Cheap to clone.
#[derive(Clone)]
pub struct PresenceStore {
    kv: kv::Store,
}

impl std::fmt::Debug for PresenceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresenceStore").finish_non_exhaustive()
    }
}

impl PresenceStore {
    /// Creates the bucket, or opens it and sets its `max_age` to `timeout`: a record not
    /// written again within `timeout` disappears, and its user is offline.
    ///
    /// The bucket's stream is made here, as the KV layer of async-nats would make it:
    /// its own `create_key_value` first reads account limits in a form the NATS 2.9
    /// server does not answer.
    pub async fn open(nats: async_nats::Client, timeout: Duration) -> Result<Self, StoreError> {
        let jetstream = jetstream::new(nats);
        let config = stream_config(timeout);
        let made = match jetstream.get_stream(&config.name).await {
            Ok(_) => jetstream
                .update_stream(config)
                .await
                .map(drop)
                .map_err(Box::from),
            Err(_) => jetstream
                .create_stream(config)
                .await
                .map(drop)
                .map_err(Box::from),
        };
        made.map_err(StoreError::Open)?;
        let kv = jetstream
            .get_key_value(BUCKET)
            .await
            .map_err(|error| StoreError::Open(error.into()))?;
        Ok(Self { kv })
    }

    /// Writes `presence` as its user's record; writing again restarts its age.
    pub async fn put(&self, presence: &Presence) -> Result<(), StoreError> {
        let value = serde_json::to_vec(presence)?;
        self.kv.put(key_of(&presence.user_id), value.into()).await?;
        Ok(())
    }

    /// The record of `user_id`, or `None` when it is offline. A record that does not
    /// decode is logged and treated as absent.
    pub async fn get(&self, user_id: &str) -> Result<Option<Presence>, StoreError> {
        let Some(value) = self.kv.get(key_of(user_id)).await? else {
            return Ok(None);
        };
        match serde_json::from_slice(&value) {
            Ok(presence) => Ok(Some(presence)),
            Err(error) => {
                tracing::warn!(user.id = user_id, error.cause = %error, "malformed presence ignored");
                Ok(None)
            }
        }
    }

    /// The records of `user_ids`, in the same order.
    pub async fn get_many(&self, user_ids: &[String]) -> Result<Vec<Option<Presence>>, StoreError> {
        let reads = user_ids.iter().map(|user_id| self.get(user_id));
        futures::future::try_join_all(reads).await
    }

    /// Every user with a record now: who is online.
    pub async fn users(&self) -> Result<HashSet<String>, StoreError> {
        let keys: Vec<String> = self.kv.keys().await?.try_collect().await?;
        Ok(keys.iter().filter_map(|key| user_of(key)).collect())
    }
}

/// The stream behind the bucket, as `async_nats`'s `kv::Config` with `history: 1`
/// would make it.
fn stream_config(max_age: Duration) -> stream::Config {
    stream::Config {
        name: format!("KV_{BUCKET}"),
        description: Some("PageNow presence: the page each user is on".to_owned()),
        subjects: vec![format!("$KV.{BUCKET}.>")],
        max_messages_per_subject: 1,
        max_age,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        num_replicas: 1,
        ..Default::default()
    }
}

fn key_of(user_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(user_id)
}

fn user_of(key: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(key).ok()?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test may fail by panicking")]

    use super::*;

    #[test]
    fn any_user_id_makes_a_valid_key_and_comes_back_from_it() {
        for user_id in ["ann", "a.b>*", "émile 7", "user/with=odd_chars"] {
            let key = key_of(user_id);
            assert!(key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-/_=.".contains(&b)));
            assert_eq!(user_of(&key).as_deref(), Some(user_id));
        }
    }
}
