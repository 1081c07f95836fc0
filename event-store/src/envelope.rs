//! An event as stored, read back and published.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A place in the feed: the writing transaction, then the position inside it.
///
/// The feed is ordered by `(tx_id, position)`; within one aggregate this is the order of
/// sequence numbers too. [`Cursor::START`] comes before every event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Cursor {
    pub tx_id: u64,
    pub position: i64,
}

impl Cursor {
    pub const START: Cursor = Cursor {
        tx_id: 0,
        position: 0,
    };
}

impl PartialOrd for Cursor {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Cursor {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.tx_id, self.position).cmp(&(other.tx_id, other.position))
    }
}

/// Who caused an event and in which request. Stored as a JSON object of strings, the
/// shape postgres-es uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The request id of the HTTP request that led to the event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// The event that caused this one, where one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<String>,
}

/// An event as the store holds it: the envelope published on NATS and read by
/// projections and replays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    pub position: i64,
    pub tx_id: u64,
    pub event_id: Uuid,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: serde_json::Value,
    pub metadata: Metadata,
    pub recorded_at: DateTime<Utc>,
}

impl StoredEvent {
    /// This event's place in the feed.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            tx_id: self.tx_id,
            position: self.position,
        }
    }

    /// The NATS subject it is published on: `<prefix>events.<aggregate_type>.<aggregate_id>`.
    pub fn subject(&self, prefix: &str) -> String {
        format!(
            "{prefix}events.{}.{}",
            subject_token(&self.aggregate_type),
            subject_token(&self.aggregate_id)
        )
    }
}

/// Makes `raw` safe as one NATS subject token: `.`, `*`, `>`, `%`, white space and
/// control characters are written as `%XX`, so ids with dots or spaces cannot split a
/// subject or act as wildcards. Other characters pass through.
pub fn subject_token(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if matches!(c, '.' | '*' | '>' | '%') || c.is_whitespace() || c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    if out.is_empty() {
        out.push_str("%00");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_order_by_transaction_before_position() {
        let early_tx_late_position = Cursor {
            tx_id: 5,
            position: 90,
        };
        let late_tx_early_position = Cursor {
            tx_id: 6,
            position: 10,
        };
        assert!(early_tx_late_position < late_tx_early_position);
        assert!(Cursor::START < early_tx_late_position);
    }

    #[test]
    fn subject_tokens_escape_what_would_split_or_match_a_subject() {
        assert_eq!(subject_token("auth0|abc-123"), "auth0|abc-123");
        assert_eq!(subject_token("a.b*c>d e%"), "a%2Eb%2Ac%3Ed%20e%25");
        assert_eq!(subject_token(""), "%00");
    }
}
