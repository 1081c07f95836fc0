//! Sharing, read from the views the `shares` and `policies` projections keep.
//!
//! - `routes`: `GET /v1/notifications` (pages shared with the caller, newest first, with
//!   the unread count) and `GET /v1/shares/sent` (the caller's shares, each with its
//!   recipients and how many have not seen it);
//! - `policy`: `GET /v1/me/sharing-policy`;
//! - [`store`]: the SQL of those views (names joined from `user_table`).
//!
//! Every answer is about the token's user: no parameter names another user's shares.
//! Lists are paged by cursor: `?before=` takes the `next_before` of the previous page.

mod policy;
mod routes;
pub mod store;

use http_api::ApiError;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

/// The projection that keeps `share_notifications` and `shares_sent`.
pub const VIEW: &str = "shares";

/// The projection that keeps `sharing_policy`.
pub const POLICY_VIEW: &str = "policies";

/// `?limit=` when absent.
pub const DEFAULT_LIMIT: i64 = 20;
/// The largest `?limit=`.
pub const MAX_LIMIT: i64 = 100;

/// The sharing routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::notifications))
        .routes(routes!(routes::sent))
        .routes(routes!(policy::sharing_policy))
}

/// `?limit=&before=`: a page of a list ordered newest first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CursorParams {
    /// How many items, 1 to [`MAX_LIMIT`]; [`DEFAULT_LIMIT`] when absent.
    pub limit: Option<i64>,
    /// Only items older than this cursor (a previous page's `next_before`).
    pub before: Option<i64>,
}

/// A checked page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub limit: i64,
    pub before: Option<i64>,
}

impl CursorParams {
    /// The page asked for, or `400 query.invalid_limit`.
    pub fn checked(self) -> Result<Cursor, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::bad_request(
                "query.invalid_limit",
                format!("limit is 1 to {MAX_LIMIT}"),
            ));
        }
        Ok(Cursor {
            limit,
            before: self.before,
        })
    }
}

impl Cursor {
    /// The cursor of the next page: the last item's, when this page is full.
    pub fn next(&self, positions: &[i64]) -> Option<i64> {
        let full = i64::try_from(positions.len()).is_ok_and(|n| n == self.limit);
        positions.last().copied().filter(|_| full)
    }
}
