//! How the caller stands with another user, from the caller's row of `friendship_table`.

use serde::Serialize;

/// The caller's relationship with a user, as the client shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub enum Relationship {
    /// The user is the caller.
    #[serde(rename = "self")]
    Oneself,
    /// No request either way, and not friends.
    #[serde(rename = "none")]
    Unrelated,
    /// The caller asked; the other has not answered yet.
    #[serde(rename = "pending_outgoing")]
    PendingOutgoing,
    /// The other asked the caller; the caller has not answered yet.
    #[serde(rename = "pending_incoming")]
    PendingIncoming,
    /// An accepted request.
    #[serde(rename = "friends")]
    Friends,
}

/// The caller's row of `friendship_table` about one other user, if there is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FriendshipRow<'a> {
    /// `status`: `pending` or `accepted`; `None` when the pair has no row.
    pub status: Option<&'a str>,
    /// `requested_by`: who sent the request.
    pub requested_by: Option<&'a str>,
}

impl Relationship {
    /// How `caller` stands with `other`, given the caller's row about `other`.
    pub fn of(caller: &str, other: &str, row: FriendshipRow<'_>) -> Self {
        if caller == other {
            return Self::Oneself;
        }
        match row.status {
            Some("accepted") => Self::Friends,
            Some("pending") if row.requested_by == Some(caller) => Self::PendingOutgoing,
            Some("pending") => Self::PendingIncoming,
            // The view's CHECK allows no other status; no row means no relationship.
            _ => Self::Unrelated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>(status: &'a str, requested_by: &'a str) -> FriendshipRow<'a> {
        FriendshipRow {
            status: Some(status),
            requested_by: Some(requested_by),
        }
    }

    const NO_ROW: FriendshipRow<'static> = FriendshipRow {
        status: None,
        requested_by: None,
    };

    #[test]
    fn a_pending_request_is_outgoing_for_its_sender_and_incoming_for_its_recipient() {
        let sent_by_ann = row("pending", "ann");
        assert_eq!(
            Relationship::of("ann", "bob", sent_by_ann),
            Relationship::PendingOutgoing
        );
        assert_eq!(
            Relationship::of("bob", "ann", sent_by_ann),
            Relationship::PendingIncoming
        );
    }

    #[test]
    fn an_accepted_request_makes_friends_whoever_sent_it() {
        assert_eq!(
            Relationship::of("bob", "ann", row("accepted", "ann")),
            Relationship::Friends
        );
    }

    #[test]
    fn no_row_is_no_relationship_and_oneself_is_self() {
        assert_eq!(
            Relationship::of("ann", "bob", NO_ROW),
            Relationship::Unrelated
        );
        assert_eq!(
            Relationship::of("ann", "ann", NO_ROW),
            Relationship::Oneself
        );
    }
}
