//! `GET /metrics`: the store's head and every reader's position and lag in the
//! Prometheus text format (version 0.0.4), for a scraper.
//!
//! It needs no token: scrapers rarely carry one, and what it shows is counts, positions
//! and projection names, never an id, a name or anything else a user wrote. Keep the
//! admin API's address on an internal network, as the other admin routes assume too.

use std::fmt::Write;

use audit::status::ReaderKind;
use audit::{ReaderStatus, Status};
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http_api::ApiError;
use sqlx::PgPool;

use crate::AppState;

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

/// `GET /metrics`.
async fn metrics(State(pool): State<PgPool>) -> Result<Response, ApiError> {
    let status = audit::status(&pool).await.map_err(crate::database::error)?;
    Ok(([(CONTENT_TYPE, CONTENT_TYPE_TEXT)], render(&status)).into_response())
}

/// One sample: its label (name and value), if any, and its value.
type Sample<'a> = (Option<(&'static str, &'a str)>, f64);

/// A gauge of each reader: the name's suffix, the help, the value.
type ReaderGauge = (&'static str, &'static str, fn(&ReaderStatus) -> f64);

const READER_GAUGES: [ReaderGauge; 3] = [
    (
        "position",
        "Position of the last event taken (applied by a projection, published by the relay).",
        |r| r.checkpoint.position as f64,
    ),
    ("lag_events", "Committed events not taken yet.", |r| {
        r.lag_events as f64
    }),
    (
        "lag_seconds",
        "Age of the oldest committed event not taken yet; 0 when none.",
        |r| r.lag_seconds,
    ),
];

/// `status` in the Prometheus text format.
pub fn render(status: &Status) -> String {
    let mut out = String::new();
    let store = &status.store;
    for (name, help, value) in [
        (
            "pagenow_store_last_committed_position",
            "Position of the last committed event.",
            store.last_committed.position,
        ),
        (
            "pagenow_store_head_position",
            "Position of the readable head: the last event readers can take now.",
            store.head.position,
        ),
        (
            "pagenow_store_held_back_events",
            "Committed events past the readable head, held back by an open write transaction.",
            store.held_back_events,
        ),
    ] {
        gauge(&mut out, name, help, &[(None, value as f64)]);
    }
    for (kind, prefix) in [
        (ReaderKind::Projection, "pagenow_projection"),
        (ReaderKind::Relay, "pagenow_relay"),
    ] {
        let readers: Vec<_> = status.readers.iter().filter(|r| r.kind == kind).collect();
        for (suffix, help, value) in READER_GAUGES {
            let samples: Vec<Sample<'_>> = readers.iter().map(|r| (label(r), value(r))).collect();
            gauge(&mut out, &format!("{prefix}_{suffix}"), help, &samples);
        }
    }
    out
}

/// A projection's samples are labelled with its name; the relay is one, unlabelled.
fn label(reader: &ReaderStatus) -> Option<(&'static str, &str)> {
    (reader.kind == ReaderKind::Projection).then_some(("projection", reader.name.as_str()))
}

/// Writes one gauge family: its help, its type and its samples.
fn gauge(out: &mut String, name: &str, help: &str, samples: &[Sample<'_>]) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    for &(label, value) in samples {
        let _ = match label {
            Some((key, text)) => writeln!(out, "{name}{{{key}=\"{}\"}} {value}", escape(text)),
            None => writeln!(out, "{name} {value}"),
        };
    }
}

/// A label value as the text format needs it: `\`, `"` and line feeds escaped.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use audit::status::StoreStatus;
    use event_store::Cursor;

    fn at(position: i64) -> Cursor {
        Cursor {
            tx_id: 100 + position as u64,
            position,
        }
    }

    fn reader(name: &str, kind: ReaderKind, position: i64, lag: i64) -> ReaderStatus {
        ReaderStatus {
            name: name.to_owned(),
            kind,
            checkpoint: at(position),
            lag_events: lag,
            lag_seconds: lag as f64 * 0.5,
        }
    }

    #[test]
    fn each_reader_is_a_sample_and_the_relay_has_no_label() {
        let status = Status {
            store: StoreStatus {
                last_committed: at(12),
                head: at(10),
                held_back_events: 2,
            },
            readers: vec![
                reader("relay", ReaderKind::Relay, 12, 0),
                reader("users", ReaderKind::Projection, 9, 3),
            ],
        };
        let text = render(&status);
        for line in [
            "# TYPE pagenow_projection_lag_events gauge",
            "pagenow_store_last_committed_position 12",
            "pagenow_store_head_position 10",
            "pagenow_store_held_back_events 2",
            "pagenow_projection_position{projection=\"users\"} 9",
            "pagenow_projection_lag_events{projection=\"users\"} 3",
            "pagenow_projection_lag_seconds{projection=\"users\"} 1.5",
            "pagenow_relay_position 12",
            "pagenow_relay_lag_events 0",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
