//! Domain events to and from the store's `(event_type, event_version, payload)`.
//!
//! Event enums are serde adjacently tagged (`#[serde(tag = "type", content = "data")]`)
//! with each variant renamed to its explicit, released type name. The store keeps the
//! type in `event_type` and only `data` in `payload`, so a payload is the event's own
//! fields and nothing of Rust's naming leaks into the history.

use cqrs_es::DomainEvent;
use serde_json::{json, Value};

/// An event that could not be turned into or out of its stored form.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("event {event_type} v{event_version} does not decode: {source}")]
    Decode {
        event_type: String,
        event_version: String,
        source: serde_json::Error,
    },
    #[error("event {event_type} v{event_version}: no upcaster reaches version {current}")]
    UnknownVersion {
        event_type: String,
        event_version: String,
        current: String,
    },
    #[error("event does not encode as {{type, data}}: {0}")]
    Encode(String),
}

/// One event as the store writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
}

/// Turns an old version of one event type's payload into the next version.
pub struct Upcaster {
    pub event_type: &'static str,
    pub from_version: &'static str,
    pub to_version: &'static str,
    pub upcast: fn(Value) -> Value,
}

/// An [`Upcaster`] as a crate that cannot name this one declares it (the domain depends
/// on nothing of ours): `(event type, from version, to version, upcast)`.
pub type UpcastStep = (&'static str, &'static str, &'static str, fn(Value) -> Value);

/// The upcasters of one event enum, applied in chain until the current version.
#[derive(Default)]
pub struct Upcasters(Vec<Upcaster>);

impl Upcasters {
    pub fn new(upcasters: Vec<Upcaster>) -> Self {
        Self(upcasters)
    }

    /// The upcasters an event enum declares, e.g. `Upcasters::of(InboxEvent::UPCASTS)`.
    pub fn of(steps: &[UpcastStep]) -> Self {
        let upcaster = |&(event_type, from_version, to_version, upcast): &UpcastStep| Upcaster {
            event_type,
            from_version,
            to_version,
            upcast,
        };
        Self(steps.iter().map(upcaster).collect())
    }

    /// Brings `payload` from `version` up through the chain of upcasters of `event_type`.
    pub fn upcast(
        &self,
        event_type: &str,
        mut version: String,
        mut payload: Value,
    ) -> (String, Value) {
        while let Some(step) = self
            .0
            .iter()
            .find(|u| u.event_type == event_type && u.from_version == version)
        {
            payload = (step.upcast)(payload);
            version = step.to_version.to_owned();
        }
        (version, payload)
    }
}

/// The stored form of `event`.
pub fn encode<E: DomainEvent>(event: &E) -> Result<Encoded, CodecError> {
    let value = serde_json::to_value(event).map_err(|e| CodecError::Encode(e.to_string()))?;
    let Value::Object(mut tagged) = value else {
        return Err(CodecError::Encode("not an object".into()));
    };
    let payload = tagged
        .remove("data")
        .unwrap_or(Value::Object(Default::default()));
    let tag = tagged.remove("type");
    let event_type = event.event_type();
    if tag.as_ref().and_then(Value::as_str) != Some(event_type.as_str()) {
        return Err(CodecError::Encode(format!(
            "serde tag {tag:?} differs from event_type {event_type}"
        )));
    }
    Ok(Encoded {
        event_type,
        event_version: event.event_version(),
        payload,
    })
}

/// The event stored as `(event_type, event_version, payload)`, upcast to the version
/// that `current_version` names for its type.
pub fn decode<E: DomainEvent>(
    event_type: &str,
    event_version: &str,
    payload: Value,
    upcasters: &Upcasters,
    current_version: impl Fn(&str) -> Option<String>,
) -> Result<E, CodecError> {
    let (version, payload) = upcasters.upcast(event_type, event_version.to_owned(), payload);
    if let Some(current) = current_version(event_type) {
        if current != version {
            return Err(CodecError::UnknownVersion {
                event_type: event_type.to_owned(),
                event_version: event_version.to_owned(),
                current,
            });
        }
    }
    serde_json::from_value(json!({ "type": event_type, "data": payload })).map_err(|source| {
        CodecError::Decode {
            event_type: event_type.to_owned(),
            event_version: event_version.to_owned(),
            source,
        }
    })
}

/// `event` decoded as an `E` (upcast as [`decode`] does), or `None` when it belongs to an
/// aggregate type other than `aggregate_type`: what a projection following one aggregate
/// type does first with every event of the feed.
pub fn decode_stored<E: DomainEvent>(
    event: &crate::StoredEvent,
    aggregate_type: &str,
    upcasters: &Upcasters,
    current_version: impl Fn(&str) -> Option<String>,
) -> Result<Option<E>, CodecError> {
    if event.aggregate_type != aggregate_type {
        return Ok(None);
    }
    let payload = event.payload.clone();
    decode(
        &event.event_type,
        &event.event_version,
        payload,
        upcasters,
        current_version,
    )
    .map(Some)
}
