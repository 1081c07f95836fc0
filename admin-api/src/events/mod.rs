//! `GET /v1/admin/events`: the history, with the filters of `pagenow events`, in feed
//! order, a page at a time.
//!
//! A page ends at the store's readable head (the commit-safe bound every reader of the
//! feed uses), so paging on with `cursor` never passes over an event that commits late;
//! an event written by a transaction still open elsewhere shows once that ends.

use audit::EventFilter;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use event_store::{Cursor, StoredEvent};
use http_api::{ApiError, Json, Query};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use crate::access::Admin;
use crate::AppState;

/// Events per page when the caller does not say.
pub const DEFAULT_LIMIT: i64 = 100;
/// The most events one page holds.
pub const MAX_LIMIT: i64 = 1000;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/v1/admin/events", get(list))
}

/// The query string. Unknown parameters are refused: a misspelt filter would otherwise
/// list every event.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    aggregate_type: Option<String>,
    aggregate_id: Option<String>,
    /// The user who caused the events (`metadata.user_id`).
    user: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    from_position: Option<i64>,
    to_position: Option<i64>,
    /// The request that caused the events (`metadata.correlation_id`).
    correlation: Option<String>,
    limit: Option<i64>,
    /// Where the previous page ended: its `next_cursor`.
    cursor: Option<String>,
}

/// One page of events.
#[derive(Debug, Serialize)]
struct Page {
    events: Vec<StoredEvent>,
    /// Pass it back as `cursor` (with the same filters) for the next page; `null` when
    /// this page was not full, i.e. it reached the readable head.
    next_cursor: Option<String>,
}

/// `GET /v1/admin/events`.
async fn list(
    _: Admin,
    State(pool): State<PgPool>,
    Query(params): Query<Params>,
) -> Result<Json<Page>, ApiError> {
    let limit = checked_limit(params.limit)?;
    let after = params.cursor.as_deref().map(parse_cursor).transpose()?;
    let filter = params.filter()?;
    let events = audit::page_after(&pool, &filter, after, limit)
        .await
        .map_err(crate::database::error)?;
    let next_cursor = match events.last() {
        Some(last) if events.len() as i64 == limit => Some(format_cursor(last.cursor())),
        _ => None,
    };
    Ok(Json(Page {
        events,
        next_cursor,
    }))
}

impl Params {
    fn filter(&self) -> Result<EventFilter, ApiError> {
        let positions = [self.from_position, self.to_position];
        if positions.iter().flatten().any(|p| *p < 1) {
            return Err(invalid_position("positions start at 1"));
        }
        if let [Some(from), Some(to)] = positions {
            if from > to {
                return Err(invalid_position("from_position is after to_position"));
            }
        }
        if let (Some(since), Some(until)) = (self.since, self.until) {
            if since >= until {
                return Err(ApiError::bad_request(
                    "events.invalid_time_range",
                    "since must be before until",
                ));
            }
        }
        Ok(EventFilter {
            aggregate_type: self.aggregate_type.clone(),
            aggregate_id: self.aggregate_id.clone(),
            user_id: self.user.clone(),
            event_type: self.event_type.clone(),
            since: self.since,
            until: self.until,
            from_position: self.from_position,
            to_position: self.to_position,
            correlation_id: self.correlation.clone(),
        })
    }
}

fn invalid_position(why: &str) -> ApiError {
    ApiError::bad_request("events.invalid_position", why)
}

fn checked_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit.unwrap_or(DEFAULT_LIMIT) {
        limit @ 1..=MAX_LIMIT => Ok(limit),
        _ => Err(ApiError::bad_request(
            "events.invalid_limit",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        )),
    }
}

/// A cursor as a client sees it: `<tx_id>-<position>`, to be passed back unchanged.
fn format_cursor(cursor: Cursor) -> String {
    format!("{}-{}", cursor.tx_id, cursor.position)
}

fn parse_cursor(text: &str) -> Result<Cursor, ApiError> {
    let parsed = text.split_once('-').and_then(|(tx_id, position)| {
        Some(Cursor {
            tx_id: tx_id.parse().ok()?,
            position: position.parse().ok().filter(|p: &i64| *p >= 0)?,
        })
    });
    parsed.ok_or_else(|| {
        ApiError::bad_request(
            "events.invalid_cursor",
            "cursor must be a next_cursor this API returned",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_it_was_written() {
        let cursor = Cursor {
            tx_id: 9051,
            position: 1310,
        };
        assert_eq!(parse_cursor(&format_cursor(cursor)), Ok(cursor));
    }

    #[test]
    fn a_cursor_not_made_by_the_api_is_refused() {
        for text in ["", "12", "a-1", "1-b", "1--2", "-1-2"] {
            let refused = parse_cursor(text).map_err(|e| e.code);
            assert_eq!(refused, Err("events.invalid_cursor"), "{text:?}");
        }
    }
}
