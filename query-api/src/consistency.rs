//! Read your writes: a query waits, bounded, until a view has applied a given event.
//!
//! A command answers with the position of its last event. A query that passes it as
//! `?min_position=` is answered only once the view's projection checkpoint has reached
//! that event's feed cursor, or when the wait times out; then it is answered with what
//! the view has, marked `x-pagenow-stale: true`. Positions are not a cursor on their own
//! (transactions commit out of order), so the position is first resolved to its
//! `(tx_id, position)` cursor and the comparison is made in feed order.
//!
//! Any view's handler uses it the same way:
//! ```text
//! let freshness = wait_for_view(&pool, "users", read_after, timeout).await?;
//! let answer = read_the_view(..).await;
//! Ok(freshness.attach(answer))
//! ```

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use event_store::{checkpoint, Cursor, FeedReader};
use http_api::ApiError;
use serde::Deserialize;
use sqlx::PgPool;
use tokio::time::Instant;

use crate::database::DatabaseError;

/// Set to `true` on an answer whose view had not reached `min_position` in time.
pub const STALE_HEADER: HeaderName = HeaderName::from_static("x-pagenow-stale");

/// The position of the last event the view had applied when it was read; set whenever
/// the query passed `min_position`.
pub const VIEW_POSITION_HEADER: HeaderName = HeaderName::from_static("x-pagenow-view-position");

/// The longest wait a caller may ask for with `?wait_ms=`.
pub const MAX_WAIT: Duration = Duration::from_secs(10);

/// How often the checkpoint is read while waiting. A projection applies an event within
/// milliseconds of its commit, so a short poll keeps the added latency small.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// The read-your-writes parameters of a query string: `?min_position=…&wait_ms=…`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReadAfter {
    /// A position a command answered with: the view must have applied that event.
    pub min_position: Option<i64>,
    /// Wait at most this many milliseconds, when that is shorter than the service's
    /// timeout; at most 10,000.
    #[param(maximum = 10_000)]
    pub wait_ms: Option<u64>,
}

impl ReadAfter {
    /// The wait this query allows: the service's `timeout`, or less when asked.
    fn timeout(&self, timeout: Duration) -> Result<Duration, ConsistencyError> {
        match self.wait_ms.map(Duration::from_millis) {
            Some(asked) if asked > MAX_WAIT => Err(ConsistencyError::WaitTooLong),
            Some(asked) => Ok(asked.min(timeout)),
            None => Ok(timeout),
        }
    }
}

/// Why a read-your-writes query was refused before reading its view.
#[derive(Debug, thiserror::Error)]
pub enum ConsistencyError {
    /// No committed event has this position: `400 query.unknown_position`.
    #[error("no event has position {0}")]
    UnknownPosition(i64),
    /// `wait_ms` is above [`MAX_WAIT`]: `400 query.invalid_wait_ms`.
    #[error("wait_ms is at most {} milliseconds", MAX_WAIT.as_millis())]
    WaitTooLong,
    /// Postgres failed while looking up the position or the checkpoint.
    #[error(transparent)]
    Database(#[from] DatabaseError),
}

impl From<sqlx::Error> for ConsistencyError {
    fn from(err: sqlx::Error) -> Self {
        Self::Database(err.into())
    }
}

impl From<ConsistencyError> for ApiError {
    fn from(err: ConsistencyError) -> Self {
        match err {
            ConsistencyError::UnknownPosition(_) => {
                ApiError::bad_request("query.unknown_position", err.to_string())
            }
            ConsistencyError::WaitTooLong => {
                ApiError::bad_request("query.invalid_wait_ms", err.to_string())
            }
            ConsistencyError::Database(db) => db.into(),
        }
    }
}

/// How fresh a view was when a query read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// The query asked for no position: nothing was checked.
    Unchecked,
    /// The view had applied the event asked for; `view_position` is its checkpoint.
    Reached { view_position: i64 },
    /// The wait timed out: the answer may not show the caller's write yet.
    Stale { view_position: i64 },
}

impl Freshness {
    /// `answer` with the freshness headers, errors included: a `404` from a stale view
    /// may only mean "not projected yet".
    pub fn attach(self, answer: impl IntoResponse) -> Response {
        let mut response = answer.into_response();
        let headers = response.headers_mut();
        match self {
            Self::Unchecked => {}
            Self::Reached { view_position } => {
                headers.insert(VIEW_POSITION_HEADER, HeaderValue::from(view_position));
            }
            Self::Stale { view_position } => {
                headers.insert(VIEW_POSITION_HEADER, HeaderValue::from(view_position));
                headers.insert(STALE_HEADER, HeaderValue::from_static("true"));
            }
        }
        response
    }
}

/// Waits until the view kept by the projection named `view` (its `checkpoints` row) has
/// applied the event at `read_after.min_position`, for at most `timeout`, or the shorter
/// wait the caller asked for.
///
/// Returns at once with [`Freshness::Unchecked`] when no position was given. A position
/// that names no committed event is refused rather than waited for: it would never come.
pub async fn wait_for_view(
    pool: &PgPool,
    view: &str,
    read_after: ReadAfter,
    timeout: Duration,
) -> Result<Freshness, ConsistencyError> {
    // Checked even when there is nothing to wait for: a bad `wait_ms` is refused alike.
    let wait = read_after.timeout(timeout)?;
    let Some(position) = read_after.min_position else {
        return Ok(Freshness::Unchecked);
    };
    let deadline = Instant::now() + wait;
    let target = FeedReader::new(pool.clone())
        .cursor_of(position)
        .await?
        .ok_or(ConsistencyError::UnknownPosition(position))?;
    loop {
        let reached = view_cursor(pool, view).await?;
        if reached >= target {
            return Ok(Freshness::Reached {
                view_position: reached.position,
            });
        }
        let now = Instant::now();
        if now >= deadline {
            tracing::info!(
                view.name = view,
                event.position = position,
                view.position = reached.position,
                "answering from a view that is behind"
            );
            return Ok(Freshness::Stale {
                view_position: reached.position,
            });
        }
        tokio::time::sleep(POLL_INTERVAL.min(deadline - now)).await;
    }
}

/// The cursor of the last event the projection `view` has applied.
async fn view_cursor(pool: &PgPool, view: &str) -> Result<Cursor, ConsistencyError> {
    let mut conn = pool.acquire().await?;
    Ok(checkpoint::load(&mut conn, view).await?.cursor)
}
