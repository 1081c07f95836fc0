//! Read-your-writes for answers built from two views: `user_table` and `friendship_table`.
//!
//! A profile page, a friend list and a search join both views, so a query with
//! `?min_position=` waits for the `users` projection, then for the `friendships`
//! projection, within one budget: the second wait gets what the first left. Every
//! projection reads the whole feed, so both checkpoints pass any event, whichever
//! aggregate wrote it.

use std::time::{Duration, Instant};

use crate::consistency::{wait_for_view, ConsistencyError, Freshness, ReadAfter};
use crate::AppState;

/// The name of the projection that keeps `friendship_table`: its row in `checkpoints`.
pub const FRIENDSHIPS_VIEW: &str = "friendships";

/// Waits, as `read_after` asks, until both `users` and `friendships` have applied the
/// event; the answer is stale when either has not.
pub(crate) async fn wait_for_users_and_friendships(
    state: &AppState,
    read_after: ReadAfter,
) -> Result<Freshness, ConsistencyError> {
    let timeout = state.config.consistency_timeout;
    let started = Instant::now();
    let users = wait_for_view(&state.pool, super::VIEW, read_after, timeout).await?;
    let spent = started.elapsed();
    let rest = ReadAfter {
        min_position: read_after.min_position,
        wait_ms: read_after
            .wait_ms
            .map(|ms| ms.saturating_sub(millis(spent))),
    };
    let remaining = timeout.saturating_sub(spent);
    let friendships = wait_for_view(&state.pool, FRIENDSHIPS_VIEW, rest, remaining).await?;
    Ok(both(users, friendships))
}

/// The freshness of an answer read from two views: stale if either was, with the
/// position of the first that was behind; otherwise the lower of the two positions.
fn both(first: Freshness, second: Freshness) -> Freshness {
    use Freshness::{Reached, Stale, Unchecked};
    match (first, second) {
        (Stale { .. }, _) | (Unchecked, _) => first,
        (Reached { .. }, Stale { .. }) => second,
        (Reached { view_position: a }, Reached { view_position: b }) => Reached {
            view_position: a.min(b),
        },
        // Both waits see the same `min_position`: one checked means both did.
        (Reached { .. }, Unchecked) => first,
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_stale_when_either_view_was_behind() {
        let reached = Freshness::Reached { view_position: 9 };
        let stale = Freshness::Stale { view_position: 4 };
        assert_eq!(both(reached, stale), stale);
        assert_eq!(both(stale, reached), stale);
    }

    #[test]
    fn two_reached_views_report_the_lower_position() {
        let users = Freshness::Reached { view_position: 9 };
        let friendships = Freshness::Reached { view_position: 7 };
        assert_eq!(
            both(users, friendships),
            Freshness::Reached { view_position: 7 }
        );
    }
}
