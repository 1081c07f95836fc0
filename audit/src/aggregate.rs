//! An aggregate as it stood at any version, and the difference one event made: its
//! events folded with the domain's own `apply`/`evolve`, exactly as commands load it.
//!
//! Personal values stay [`domain::Sealed`]: the state shows that a value is there, never
//! what it says.

use cqrs_es::Aggregate;
use domain::share::inbox::{self, Inbox, InboxEvent};
use domain::user::{User, UserEvent};
use event_store::codec::{self, CodecError, Upcasters};
use event_store::StoredEvent;
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;

use crate::rows::{EventRow, EVENT_COLUMNS};

/// The aggregate types the tools can fold.
pub const KNOWN_TYPES: &[&str] = &[domain::user::AGGREGATE_TYPE, inbox::AGGREGATE_TYPE];

/// Folds `events` (one aggregate's, in sequence order) into that type's state, as JSON;
/// `None` for a type it does not know. Adding a type is one line here (with the
/// upcasters its event enum declares, as the command side registers them) and one in
/// [`KNOWN_TYPES`].
fn fold_known(
    aggregate_type: &str,
    events: &[StoredEvent],
) -> Option<Result<Value, AggregateError>> {
    Some(match aggregate_type {
        domain::user::AGGREGATE_TYPE => {
            fold::<User>(events, &Upcasters::default(), UserEvent::current_version)
        }
        inbox::AGGREGATE_TYPE => {
            let upcasters = Upcasters::of(InboxEvent::UPCASTS);
            fold::<Inbox>(events, &upcasters, InboxEvent::current_version)
        }
        _ => return None,
    })
}

/// Why an aggregate's state could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum AggregateError {
    #[error("unknown aggregate type {0:?} (known: {known})", known = KNOWN_TYPES.join(", "))]
    UnknownType(String),
    #[error("no events for {aggregate_type} {aggregate_id:?}")]
    NotFound {
        aggregate_type: String,
        aggregate_id: String,
    },
    #[error("{aggregate_type} {aggregate_id:?} has versions 1 to {latest}, not {asked}")]
    NoSuchVersion {
        aggregate_type: String,
        aggregate_id: String,
        asked: i64,
        latest: i64,
    },
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("state does not serialize: {0}")]
    Serialize(#[from] serde_json::Error),
    #[error("postgres: {0}")]
    Postgres(#[from] sqlx::Error),
}

/// An aggregate's state after its event `version`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AggregateState {
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// The sequence number of the last event folded in.
    pub version: i64,
    /// The latest version in the store.
    pub latest: i64,
    pub state: Value,
}

/// One event and what it changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventDiff {
    pub event: StoredEvent,
    pub before: Value,
    pub after: Value,
    /// Every value that differs, by JSON pointer into the state.
    pub changes: Vec<Change>,
}

/// One value that an event changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// A JSON pointer (`/school/public`).
    pub path: String,
    /// `null` when the value was absent.
    pub before: Value,
    pub after: Value,
}

/// The state of aggregate `aggregate_type`/`aggregate_id` after event `version` (the
/// latest when `None`).
pub async fn aggregate_state(
    pool: &PgPool,
    aggregate_type: &str,
    aggregate_id: &str,
    version: Option<i64>,
) -> Result<AggregateState, AggregateError> {
    let events = events_of(pool, aggregate_type, aggregate_id).await?;
    let latest = events.len() as i64;
    let version = checked(
        aggregate_type,
        aggregate_id,
        version.unwrap_or(latest),
        latest,
    )?;
    Ok(AggregateState {
        aggregate_type: aggregate_type.to_owned(),
        aggregate_id: aggregate_id.to_owned(),
        version,
        latest,
        state: fold_to(aggregate_type, &events, version)?,
    })
}

/// The event at sequence `version` of the aggregate, with its state before and after.
pub async fn aggregate_diff(
    pool: &PgPool,
    aggregate_type: &str,
    aggregate_id: &str,
    version: i64,
) -> Result<EventDiff, AggregateError> {
    let events = events_of(pool, aggregate_type, aggregate_id).await?;
    let version = checked(aggregate_type, aggregate_id, version, events.len() as i64)?;
    let before = fold_to(aggregate_type, &events, version - 1)?;
    let after = fold_to(aggregate_type, &events, version)?;
    let mut changes = Vec::new();
    json_changes("", &before, &after, &mut changes);
    Ok(EventDiff {
        event: events[version as usize - 1].clone(),
        before,
        after,
        changes,
    })
}

/// Every event of one aggregate, in sequence order; an error for an unknown type or an
/// aggregate without events.
async fn events_of(
    pool: &PgPool,
    aggregate_type: &str,
    aggregate_id: &str,
) -> Result<Vec<StoredEvent>, AggregateError> {
    if !KNOWN_TYPES.contains(&aggregate_type) {
        return Err(AggregateError::UnknownType(aggregate_type.to_owned()));
    }
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events
          WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence"
    );
    let rows: Vec<EventRow> = sqlx::query_as(&sql)
        .bind(aggregate_type)
        .bind(aggregate_id)
        .fetch_all(pool)
        .await?;
    if rows.is_empty() {
        return Err(AggregateError::NotFound {
            aggregate_type: aggregate_type.to_owned(),
            aggregate_id: aggregate_id.to_owned(),
        });
    }
    Ok(rows.into_iter().map(StoredEvent::from).collect())
}

/// `version` if the aggregate has it (1 to `latest`).
fn checked(
    aggregate_type: &str,
    aggregate_id: &str,
    version: i64,
    latest: i64,
) -> Result<i64, AggregateError> {
    if (1..=latest).contains(&version) {
        return Ok(version);
    }
    Err(AggregateError::NoSuchVersion {
        aggregate_type: aggregate_type.to_owned(),
        aggregate_id: aggregate_id.to_owned(),
        asked: version,
        latest,
    })
}

/// The state after the first `version` events (the empty state for 0).
fn fold_to(
    aggregate_type: &str,
    events: &[StoredEvent],
    version: i64,
) -> Result<Value, AggregateError> {
    let upto = &events[..version.clamp(0, events.len() as i64) as usize];
    fold_known(aggregate_type, upto)
        .unwrap_or_else(|| Err(AggregateError::UnknownType(aggregate_type.to_owned())))
}

/// Folds `events` into a fresh `A` with its `apply` (the domain's `evolve`), each event
/// upcast and decoded at the version `current_version` names, as the command side reads
/// them.
fn fold<A: Aggregate + Serialize>(
    events: &[StoredEvent],
    upcasters: &Upcasters,
    current_version: fn(&str) -> Option<String>,
) -> Result<Value, AggregateError> {
    let mut state = A::default();
    for event in events {
        let decoded: A::Event = codec::decode_ref(
            &event.event_type,
            &event.event_version,
            &event.payload,
            upcasters,
            current_version,
        )?;
        state.apply(decoded);
    }
    Ok(serde_json::to_value(&state)?)
}

/// Collects the values that differ between `before` and `after` under `path`.
/// Objects are compared key by key; anything else (arrays included) as a whole.
fn json_changes(path: &str, before: &Value, after: &Value, out: &mut Vec<Change>) {
    match (before, after) {
        (Value::Object(old), Value::Object(new)) => {
            let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let pointer = format!("{path}/{}", key.replace('~', "~0").replace('/', "~1"));
                let (old, new) = (
                    old.get(key).unwrap_or(&Value::Null),
                    new.get(key).unwrap_or(&Value::Null),
                );
                json_changes(&pointer, old, new, out);
            }
        }
        _ if before != after => out.push(Change {
            path: path.to_owned(),
            before: before.clone(),
            after: after.clone(),
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_changes_name_each_changed_leaf_by_pointer() {
        let before = json!({ "a": 1, "b": { "c": true, "d": "x" }, "gone": 2 });
        let after = json!({ "a": 1, "b": { "c": false, "d": "x" }, "new": [1] });
        let mut changes = Vec::new();
        json_changes("", &before, &after, &mut changes);
        let paths: Vec<_> = changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["/b/c", "/gone", "/new"]);
        assert_eq!(
            (&changes[1].before, &changes[1].after),
            (&json!(2), &Value::Null)
        );
    }
}
