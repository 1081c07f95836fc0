//! Recovery on reconnect: what a socket missed since the position it names, and the seam
//! between those notices and the live ones.
//!
//! The session subscribes to the user's live notices first and only then reads the
//! history, so every notice is in one or the other: one stored before the read is in the
//! history; one stored after it is published after it, so after the subscription. A
//! notice stored before the read but published after the subscription is in both: the
//! [`Seam`] drops that live copy.
//!
//! The seam recognises such a copy by its identity (`tx_id`, `position`, `kind`, the key
//! of `user_notices` within a user), not by comparing cursors with the last one sent.
//! The two agree as long as one projection (the projector's `notices`) tells the user
//! everything, in feed order, as it does; the identity does not depend on that order, so
//! a notice that ever came late would still be let through rather than dropped.

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
    /// Every notice of the user after `since`, in feed order (maybe none).
    Missed(Vec<Notice>),
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
        Ok(missed) => Recovery::Missed(missed),
        Err(error) => unavailable(&error),
    }
}

fn unavailable(error: &sqlx::Error) -> Recovery {
    tracing::warn!(error.cause = %error, "the recovery history could not be read");
    Recovery::Resync(ResyncReason::Unavailable)
}

/// One notice's identity within its user's notices (the table's key).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct NoticeId {
    cursor: Cursor,
    kind: String,
}

impl NoticeId {
    fn of(notice: &Notice) -> Self {
        Self {
            cursor: Cursor {
                tx_id: notice.tx_id,
                position: notice.position,
            },
            kind: notice.kind.clone(),
        }
    }
}

/// Which live notices a socket still needs after its recovery.
#[derive(Debug, Default)]
pub(crate) struct Seam {
    /// The recovered notices whose live copy has not come yet. At most
    /// `Reach::max_notices`; a copy, when it comes, comes once, so it is forgotten then.
    recovered: HashSet<NoticeId>,
}

impl Seam {
    /// The seam after `recovered` was sent.
    pub(crate) fn after(recovered: &[Notice]) -> Self {
        Self {
            recovered: recovered.iter().map(NoticeId::of).collect(),
        }
    }

    /// Whether the live `notice` is to be sent: false for the copy of a recovered one.
    pub(crate) fn admit(&mut self, notice: &Notice) -> bool {
        self.recovered.is_empty() || !self.recovered.remove(&NoticeId::of(notice))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut seam = Seam::after(&[notice(10, 3, "a"), notice(12, 1, "a")]);

        assert!(!seam.admit(&notice(12, 1, "a")));
        assert!(!seam.admit(&notice(10, 3, "a")));
        assert!(seam.admit(&notice(13, 2, "a")));
    }

    #[test]
    fn a_late_notice_below_the_last_recovered_one_is_still_sent() {
        let mut seam = Seam::after(&[notice(10, 3, "a"), notice(12, 1, "a")]);

        assert!(seam.admit(&notice(11, 7, "from.a.lagging.projection")));
    }

    #[test]
    fn two_kinds_at_one_cursor_are_two_notices() {
        let mut seam = Seam::after(&[notice(10, 3, "a")]);

        assert!(seam.admit(&notice(10, 3, "b")));
        assert!(!seam.admit(&notice(10, 3, "a")));
    }
}
