//! Recovery on reconnect: what a socket missed since the position it names, and the seam
//! between those notices and the live ones.
//!
//! The session subscribes to the user's live notices first and only then reads the
//! history, so every notice is in one or the other: one stored before the read is in the
//! history; one stored after it is published after it, so after the subscription. A
//! notice stored before the read but published after the subscription is in both: the
//! [`Seam`] drops that live copy.
//!
//! The same seam drops every other copy: the projector publishes again, after a crash or
//! a NATS outage, the notices it may not have published (`projector/src/notices/
//! publication.rs`). One projection (the projector's `notices`) tells each user
//! everything in feed order, so a notice before the last one sent is a copy, and one at
//! the same place in the feed (another notice of the same event) is a copy when its
//! identity (`tx_id`, `position`, `kind`: the key of `user_notices` within a user) was
//! sent.

use std::collections::HashSet;
use std::time::Duration;

use event_bus::Notice;
use event_store::Cursor;

use crate::frame::ResyncReason;
use crate::history::History;

/// How far recovery reaches back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reach {
    /// The most notices one recovery sends; more missed is a `resync`.
    pub(crate) max_notices: usize,
    /// How long notices are kept; a `since` older than this is a `resync`.
    pub(crate) retention: Duration,
}

/// What a socket that reconnected with `since` is sent before live notices.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Recovery {
    /// Every notice of the user after `since` (the event's place in the feed), in feed
    /// order (maybe none).
    Missed { since: Cursor, notices: Vec<Notice> },
    /// They cannot all be sent.
    Resync(ResyncReason),
}

/// Reads what `user_id` missed after the event at position `since`.
pub(crate) async fn recover(
    history: &History,
    user_id: &str,
    since: i64,
    reach: Reach,
) -> Recovery {
    let resolved = match history.resolve(since, reach.retention).await {
        Ok(Some(resolved)) => resolved,
        Ok(None) => return Recovery::Resync(ResyncReason::UnknownPosition),
        Err(error) => return unavailable(&error),
    };
    if resolved.expired {
        return Recovery::Resync(ResyncReason::HistoryExpired);
    }
    let limit = reach.max_notices.saturating_add(1);
    match history.after(user_id, resolved.cursor, limit).await {
        Ok(missed) if missed.len() > reach.max_notices => {
            Recovery::Resync(ResyncReason::TooManyMissed)
        }
        Ok(notices) => Recovery::Missed {
            since: resolved.cursor,
            notices,
        },
        Err(error) => unavailable(&error),
    }
}

fn unavailable(error: &sqlx::Error) -> Recovery {
    tracing::warn!(error.cause = %error, "the recovery history could not be read");
    Recovery::Resync(ResyncReason::Unavailable)
}

/// What a socket was sent last, to drop the copies of notices it had.
#[derive(Debug, Default)]
pub(crate) struct Seam {
    /// The place in the feed of the last notice sent (or of the client's `since`).
    last: Option<Cursor>,
    /// The kinds sent at `last` (an event may make several notices for one user); `None`
    /// when the client had every notice there (it named that event as `since`).
    kinds_at_last: Option<HashSet<String>>,
}

impl Seam {
    /// The seam of a client that had everything up to `since` and was then sent
    /// `recovered`.
    pub(crate) fn after(since: Cursor, recovered: &[Notice]) -> Self {
        let mut seam = Self {
            last: Some(since),
            kinds_at_last: None,
        };
        for notice in recovered {
            seam.admit(notice);
        }
        seam
    }

    /// Whether `notice` is to be sent: false for the copy of one the client has. Records it.
    pub(crate) fn admit(&mut self, notice: &Notice) -> bool {
        let cursor = Cursor {
            tx_id: notice.tx_id,
            position: notice.position,
        };
        match (self.last, &mut self.kinds_at_last) {
            (Some(last), _) if cursor < last => false,
            (Some(last), None) if cursor == last => false,
            (Some(last), Some(kinds)) if cursor == last => kinds.insert(notice.kind.clone()),
            _ => {
                self.last = Some(cursor);
                self.kinds_at_last = Some(HashSet::from([notice.kind.clone()]));
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(tx_id: u64, position: i64) -> Cursor {
        Cursor { tx_id, position }
    }

    fn notice(tx_id: u64, position: i64, kind: &str) -> Notice {
        Notice {
            position,
            tx_id,
            kind: kind.to_owned(),
            data: serde_json::Value::Null,
        }
    }

    #[test]
    fn the_live_copy_of_a_recovered_notice_is_dropped_once() {
        let mut seam = Seam::after(at(9, 2), &[notice(10, 3, "a"), notice(12, 1, "a")]);

        assert!(!seam.admit(&notice(12, 1, "a")));
        assert!(!seam.admit(&notice(10, 3, "a")));
        assert!(seam.admit(&notice(13, 2, "a")));
    }

    #[test]
    fn a_notice_before_the_last_one_sent_is_a_copy() {
        let mut seam = Seam::after(at(9, 2), &[notice(10, 3, "a"), notice(12, 1, "a")]);

        assert!(!seam.admit(&notice(11, 7, "a")));
    }

    #[test]
    fn notices_published_again_after_live_ones_are_dropped() {
        let mut seam = Seam::default();
        for live in [notice(10, 3, "a"), notice(11, 4, "a"), notice(11, 4, "b")] {
            assert!(seam.admit(&live));
        }

        for again in [notice(10, 3, "a"), notice(11, 4, "a"), notice(11, 4, "b")] {
            assert!(!seam.admit(&again), "{again:?} sent twice");
        }
        assert!(seam.admit(&notice(12, 5, "a")));
    }

    #[test]
    fn a_live_notice_at_or_before_since_is_one_the_client_had() {
        let mut seam = Seam::after(at(10, 3), &[]);

        assert!(!seam.admit(&notice(9, 2, "a")));
        assert!(!seam.admit(&notice(10, 3, "a")));
        assert!(!seam.admit(&notice(10, 3, "b")));
        assert!(seam.admit(&notice(11, 4, "a")));
    }

    #[test]
    fn two_kinds_at_one_cursor_are_two_notices() {
        let mut seam = Seam::after(at(9, 2), &[notice(10, 3, "a")]);

        assert!(seam.admit(&notice(10, 3, "b")));
        assert!(!seam.admit(&notice(10, 3, "a")));
    }
}
