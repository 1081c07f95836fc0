//! Chat, read from the views the `chat` projection keeps: `chat_conversations`,
//! `chat_participants` and `chat_messages`, with names from `user_table`.
//!
//! - `routes`: `GET /v1/conversations` (the caller's conversations, newest activity
//!   first), `/v1/conversations/{id}`, its `messages` and `participants`,
//!   `/v1/conversations/direct/{user_id}` and `/v1/conversations/unread`;
//! - [`store`]: their SQL, one statement per answer. The list's and the messages page's
//!   are public ([`store::CONVERSATIONS`], [`store::MESSAGES`]) so that a benchmark can
//!   run exactly what the API runs.
//!
//! A conversation is shown to its current participants only: a former participant is
//! refused (`403 conversation.not_participant`), and a stranger is not told that it
//! exists (`404 conversation.not_found`). Lists are paged by cursor: `?before=` takes
//! the `next_before` of the previous page.

mod routes;
pub mod store;

use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::page::{Bounds, PageError};
use crate::AppState;

/// The projection that keeps the chat views: its row in `checkpoints`.
pub const VIEW: &str = "chat";

/// `?limit=` of the caller's conversations: 20 when absent, at most 100.
pub const CONVERSATIONS: Bounds = Bounds {
    default_limit: 20,
    max_limit: 100,
};

/// `?limit=` of a conversation's messages: 50 when absent, at most 200.
pub const MESSAGES: Bounds = Bounds {
    default_limit: 50,
    max_limit: 200,
};

/// The chat routes. The static `unread` and `direct` segments take precedence over
/// `{id}`, which could never match them anyway: they are not UUIDs.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::conversations))
        .routes(routes!(routes::unread))
        .routes(routes!(routes::direct))
        .routes(routes!(routes::conversation))
        .routes(routes!(routes::messages))
        .routes(routes!(routes::participants))
}

/// `?limit=&before=`: a page of a list ordered newest first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CursorParams {
    /// How many items; each list has its own default and maximum.
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
    /// The page asked for, with `limit` within `bounds`.
    pub fn within(self, bounds: Bounds) -> Result<Cursor, PageError> {
        let limit = self.limit.unwrap_or(bounds.default_limit);
        if !(1..=bounds.max_limit).contains(&limit) {
            return Err(PageError::Limit {
                max: bounds.max_limit,
            });
        }
        Ok(Cursor {
            limit,
            before: self.before,
        })
    }
}

impl Cursor {
    /// The cursor of the next page: the last item's, when this page is full.
    pub fn next(&self, cursors: &[i64]) -> Option<i64> {
        let full = i64::try_from(cursors.len()).is_ok_and(|n| n == self.limit);
        cursors.last().copied().filter(|_| full)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_parameters_take_the_default_limit_from_the_newest() {
        let cursor = CursorParams::default().within(MESSAGES);
        assert_eq!(
            cursor,
            Ok(Cursor {
                limit: 50,
                before: None
            })
        );
    }

    #[test]
    fn a_limit_of_zero_or_above_the_maximum_is_refused() {
        for limit in [0, -1, 201] {
            let params = CursorParams {
                limit: Some(limit),
                before: None,
            };
            assert_eq!(
                params.within(MESSAGES),
                Err(PageError::Limit { max: 200 }),
                "{limit}"
            );
        }
    }

    #[test]
    fn only_a_full_page_has_a_next_one() {
        let cursor = Cursor {
            limit: 2,
            before: None,
        };
        assert_eq!(cursor.next(&[9, 7]), Some(7));
        assert_eq!(cursor.next(&[9]), None);
        assert_eq!(cursor.next(&[]), None);
    }
}
