//! Domain events to and from the store's `(event_type, event_version, payload)`.
//!
//! Event enums are serde adjacently tagged (`#[serde(tag = "type", content = "data")]`)
//! with each variant renamed to its explicit, released type name. The store keeps the
//! type in `event_type` and only `data` in `payload`, so a payload is the event's own
//! fields and nothing of Rust's naming leaks into the history.

use cqrs_es::DomainEvent;
use serde_json::Value;

mod tagged;

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
    check_version(event_type, event_version, &version, current_version)?;
    from_parts(event_type, event_version, &payload)
}

/// [`decode`] of a payload that stays where it is: it is read in place, and copied only
/// when an upcaster has to change it.
pub fn decode_ref<E: DomainEvent>(
    event_type: &str,
    event_version: &str,
    payload: &Value,
    upcasters: &Upcasters,
    current_version: impl Fn(&str) -> Option<String>,
) -> Result<E, CodecError> {
    let current = current_version(event_type);
    if current
        .as_deref()
        .is_none_or(|current| current == event_version)
    {
        return from_parts(event_type, event_version, payload);
    }
    decode(
        event_type,
        event_version,
        payload.clone(),
        upcasters,
        |_| current.clone(),
    )
}

fn check_version(
    event_type: &str,
    event_version: &str,
    version: &str,
    current_version: impl Fn(&str) -> Option<String>,
) -> Result<(), CodecError> {
    match current_version(event_type) {
        Some(current) if current != version => Err(CodecError::UnknownVersion {
            event_type: event_type.to_owned(),
            event_version: event_version.to_owned(),
            current,
        }),
        _ => Ok(()),
    }
}

/// The event of type `event_type` whose fields are `payload`: the enum is read from a
/// map of `type` then `data`, in that order, so serde takes the variant from the tag and
/// reads the payload once, in place (a `{"type", "data"}` object would list `data` first
/// and make serde buffer a copy of it).
fn from_parts<E: DomainEvent>(
    event_type: &str,
    event_version: &str,
    payload: &Value,
) -> Result<E, CodecError> {
    E::deserialize(tagged::Tagged {
        event_type,
        payload,
    })
    .map_err(|source| CodecError::Decode {
        event_type: event_type.to_owned(),
        event_version: event_version.to_owned(),
        source,
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
    decode_ref(
        &event.event_type,
        &event.event_version,
        &event.payload,
        upcasters,
        current_version,
    )
    .map(Some)
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};
    use serde_json::json;

    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "type", content = "data")]
    enum Sample {
        #[serde(rename = "sample.named")]
        Named { name: String },
        #[serde(rename = "sample.counted")]
        Counted { count: u32 },
    }

    impl DomainEvent for Sample {
        fn event_type(&self) -> String {
            match self {
                Self::Named { .. } => "sample.named",
                Self::Counted { .. } => "sample.counted",
            }
            .to_owned()
        }

        fn event_version(&self) -> String {
            "2".to_owned()
        }
    }

    fn current(event_type: &str) -> Option<String> {
        event_type.starts_with("sample.").then(|| "2".to_owned())
    }

    /// v1 of `sample.named` called the field `title`.
    fn upcasters() -> Upcasters {
        Upcasters::of(&[("sample.named", "1", "2", |mut v| {
            if let Some(title) = v.as_object_mut().and_then(|o| o.remove("title")) {
                v["name"] = title;
            }
            v
        })])
    }

    #[test]
    fn a_stored_event_decodes_in_place_to_what_was_encoded() {
        for event in [
            Sample::Named { name: "ann".into() },
            Sample::Counted { count: 3 },
        ] {
            let stored = encode(&event).expect("encode");
            let decoded: Sample = decode_ref(
                &stored.event_type,
                &stored.event_version,
                &stored.payload,
                &upcasters(),
                current,
            )
            .expect("decode");
            assert_eq!(decoded, event);
        }
    }

    #[test]
    fn an_old_version_is_upcast_and_an_unknown_one_refused() {
        let old = json!({ "title": "bob" });
        let decoded: Sample =
            decode_ref("sample.named", "1", &old, &upcasters(), current).expect("upcast");
        assert_eq!(decoded, Sample::Named { name: "bob".into() });
        assert_eq!(
            old,
            json!({ "title": "bob" }),
            "the stored payload is not changed"
        );
        let unknown = decode_ref::<Sample>("sample.named", "9", &old, &upcasters(), current);
        assert!(matches!(unknown, Err(CodecError::UnknownVersion { .. })));
    }

    #[test]
    fn a_payload_that_does_not_fit_its_type_is_a_decode_error() {
        let wrong = json!({ "count": "three" });
        let decoded = decode_ref::<Sample>("sample.counted", "2", &wrong, &upcasters(), current);
        assert!(
            matches!(decoded, Err(CodecError::Decode { .. })),
            "{decoded:?}"
        );
        let unknown_type = decode_ref::<Sample>("sample.other", "2", &wrong, &upcasters(), current);
        assert!(matches!(unknown_type, Err(CodecError::Decode { .. })));
    }
}
