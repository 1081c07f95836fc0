//! Given earlier events, when a command arrives, then these events (or this error).

use chrono::{Duration, TimeZone, Utc};
use cqrs_es::DomainEvent;

use super::*;

fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap_or_else(|_| unreachable!("{id} is a valid id"))
}

fn t(minutes: i64) -> DateTime<Utc> {
    let start = Utc
        .with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
        .single()
        .unwrap_or_default();
    start + Duration::minutes(minutes)
}

fn given(events: &[FriendshipEvent]) -> Friendship {
    let mut state = Friendship::default();
    events.iter().for_each(|e| state.evolve(e));
    state
}

fn send(from: &str, to: &str) -> FriendshipCommand {
    FriendshipCommand::SendFriendRequest(SendFriendRequest {
        from: user(from),
        to: user(to),
        recipient_exists: true,
        at: t(5),
    })
}

fn accept(by: &str) -> FriendshipCommand {
    FriendshipCommand::AcceptFriendRequest(AcceptFriendRequest {
        by: user(by),
        at: t(5),
    })
}

fn decline(by: &str) -> FriendshipCommand {
    FriendshipCommand::DeclineFriendRequest(DeclineFriendRequest {
        by: user(by),
        at: t(5),
    })
}

fn cancel(by: &str) -> FriendshipCommand {
    FriendshipCommand::CancelFriendRequest(CancelFriendRequest {
        by: user(by),
        at: t(5),
    })
}

fn remove(by: &str) -> FriendshipCommand {
    FriendshipCommand::RemoveFriend(RemoveFriend {
        by: user(by),
        at: t(5),
    })
}

/// Ann asked Bob at minute 0.
fn ann_asked_bob() -> Vec<FriendshipEvent> {
    vec![FriendshipEvent::Requested(FriendRequested {
        requester: user("ann"),
        recipient: user("bob"),
        requested_at: t(0),
    })]
}

/// Ann asked Bob at minute 0; Bob accepted at minute 1.
fn ann_and_bob_are_friends() -> Vec<FriendshipEvent> {
    let mut events = ann_asked_bob();
    events.push(FriendshipEvent::Accepted(FriendRequestAccepted {
        requester: user("ann"),
        recipient: user("bob"),
        accepted_at: t(1),
    }));
    events
}

fn every_kind_of_event() -> Vec<FriendshipEvent> {
    let mut events = ann_and_bob_are_friends();
    let (ann, bob) = (user("ann"), user("bob"));
    events.extend([
        FriendshipEvent::Removed(FriendRemoved {
            by: bob.clone(),
            other: ann.clone(),
            at: t(2),
        }),
        FriendshipEvent::Declined(FriendRequestDeclined {
            requester: ann.clone(),
            recipient: bob.clone(),
            at: t(3),
        }),
        FriendshipEvent::Cancelled(FriendRequestCancelled {
            requester: ann,
            recipient: bob,
            at: t(4),
        }),
    ]);
    events
}

#[test]
fn the_pair_id_is_the_same_whoever_asks() {
    assert_eq!(pair_id(&user("bob"), &user("ann")), "ann bob");
    assert_eq!(pair_id(&user("ann"), &user("bob")), "ann bob");
}

#[test]
fn a_first_request_is_recorded_as_pending() {
    let events = given(&[]).decide(send("ann", "bob"));
    let expected = FriendshipEvent::Requested(FriendRequested {
        requester: user("ann"),
        recipient: user("bob"),
        requested_at: t(5),
    });
    assert_eq!(events, Ok(vec![expected]));
}

#[test]
fn rejects_a_friend_request_to_oneself() {
    let result = given(&[]).decide(send("ann", "ann"));
    assert_eq!(result, Err(FriendshipError::SelfRequest));
    assert_eq!(
        FriendshipError::SelfRequest.code(),
        "friendship.self_request"
    );
}

#[test]
fn rejects_a_friend_request_to_an_unknown_user() {
    let command = FriendshipCommand::SendFriendRequest(SendFriendRequest {
        from: user("ann"),
        to: user("nobody"),
        recipient_exists: false,
        at: t(5),
    });
    assert_eq!(
        given(&[]).decide(command),
        Err(FriendshipError::UnknownUser)
    );
    assert_eq!(
        FriendshipError::UnknownUser.code(),
        "friendship.unknown_user"
    );
}

#[test]
fn rejects_a_request_between_friends_from_either_side() {
    let friends = given(&ann_and_bob_are_friends());
    assert_eq!(
        friends.decide(send("ann", "bob")),
        Err(FriendshipError::AlreadyFriends)
    );
    assert_eq!(
        friends.decide(send("bob", "ann")),
        Err(FriendshipError::AlreadyFriends)
    );
    assert_eq!(
        FriendshipError::AlreadyFriends.code(),
        "friendship.already_friends"
    );
}

#[test]
fn rejects_asking_again_while_ones_request_is_pending() {
    let result = given(&ann_asked_bob()).decide(send("ann", "bob"));
    assert_eq!(result, Err(FriendshipError::AlreadyPending));
    assert_eq!(
        FriendshipError::AlreadyPending.code(),
        "friendship.already_pending"
    );
}

#[test]
fn asking_someone_who_already_asked_you_accepts_their_request() {
    let result = given(&ann_asked_bob()).decide(send("bob", "ann"));
    let expected = FriendshipEvent::Accepted(FriendRequestAccepted {
        requester: user("ann"),
        recipient: user("bob"),
        accepted_at: t(5),
    });
    assert_eq!(result, Ok(vec![expected]));
}

#[test]
fn the_recipient_accepts_and_they_become_friends() {
    let events = given(&ann_asked_bob())
        .decide(accept("bob"))
        .unwrap_or_default();
    let expected = FriendshipEvent::Accepted(FriendRequestAccepted {
        requester: user("ann"),
        recipient: user("bob"),
        accepted_at: t(5),
    });
    assert_eq!(events, vec![expected]);
    let expected_state = Friendship::Friends {
        requester: user("ann"),
        recipient: user("bob"),
        since: t(5),
    };
    assert_eq!(given(&[ann_asked_bob(), events].concat()), expected_state);
}

#[test]
fn answering_without_a_pending_request_is_refused() {
    for state in [given(&[]), given(&ann_and_bob_are_friends())] {
        for command in [accept("bob"), decline("bob"), cancel("ann")] {
            assert_eq!(
                state.decide(command),
                Err(FriendshipError::NoPendingRequest)
            );
        }
    }
    assert_eq!(
        FriendshipError::NoPendingRequest.code(),
        "friendship.no_pending_request"
    );
}

#[test]
fn the_requester_can_neither_accept_nor_decline_their_own_request() {
    let pending = given(&ann_asked_bob());
    assert_eq!(
        pending.decide(accept("ann")),
        Err(FriendshipError::NotRecipient)
    );
    assert_eq!(
        pending.decide(decline("ann")),
        Err(FriendshipError::NotRecipient)
    );
    assert_eq!(
        FriendshipError::NotRecipient.code(),
        "friendship.not_recipient"
    );
}

#[test]
fn the_recipient_declines_and_the_request_is_gone() {
    let events = given(&ann_asked_bob())
        .decide(decline("bob"))
        .unwrap_or_default();
    let expected = FriendshipEvent::Declined(FriendRequestDeclined {
        requester: user("ann"),
        recipient: user("bob"),
        at: t(5),
    });
    assert_eq!(events, vec![expected]);
    assert_eq!(given(&[ann_asked_bob(), events].concat()), Friendship::None);
}

#[test]
fn the_requester_cancels_and_the_request_is_gone() {
    let events = given(&ann_asked_bob())
        .decide(cancel("ann"))
        .unwrap_or_default();
    let expected = FriendshipEvent::Cancelled(FriendRequestCancelled {
        requester: user("ann"),
        recipient: user("bob"),
        at: t(5),
    });
    assert_eq!(events, vec![expected]);
    assert_eq!(given(&[ann_asked_bob(), events].concat()), Friendship::None);
}

#[test]
fn the_recipient_cannot_cancel_a_request() {
    let result = given(&ann_asked_bob()).decide(cancel("bob"));
    assert_eq!(result, Err(FriendshipError::NotRequester));
    assert_eq!(
        FriendshipError::NotRequester.code(),
        "friendship.not_requester"
    );
}

#[test]
fn either_friend_removes_the_friendship_naming_the_other() {
    let friends = given(&ann_and_bob_are_friends());
    for (by, other) in [("ann", "bob"), ("bob", "ann")] {
        let expected = FriendshipEvent::Removed(FriendRemoved {
            by: user(by),
            other: user(other),
            at: t(5),
        });
        assert_eq!(friends.decide(remove(by)), Ok(vec![expected]));
    }
}

#[test]
fn removing_when_not_friends_is_refused() {
    for history in [vec![], ann_asked_bob()] {
        assert_eq!(
            given(&history).decide(remove("ann")),
            Err(FriendshipError::NotFriends)
        );
    }
    let outsider = given(&ann_and_bob_are_friends()).decide(remove("cy"));
    assert_eq!(outsider, Err(FriendshipError::NotFriends));
    assert_eq!(FriendshipError::NotFriends.code(), "friendship.not_friends");
}

#[test]
fn after_a_removal_they_can_ask_again() {
    let mut history = ann_and_bob_are_friends();
    history.extend(given(&history).decide(remove("bob")).unwrap_or_default());
    let result = given(&history).decide(send("bob", "ann"));
    assert!(
        matches!(result.as_deref(), Ok([FriendshipEvent::Requested(e)]) if e.requester == user("bob")),
        "{result:?}"
    );
}

#[test]
fn event_type_names_are_the_stored_tags_at_version_one() {
    for event in every_kind_of_event() {
        let value = serde_json::to_value(&event).unwrap_or_default();
        assert_eq!(value["type"], event.event_type());
        assert_eq!(
            FriendshipEvent::current_version(&event.event_type()),
            Some("1".to_owned())
        );
    }
    assert_eq!(FriendshipEvent::current_version("friendship.unknown"), None);
}

#[test]
fn events_carry_ids_and_times_only() {
    for event in every_kind_of_event() {
        let value = serde_json::to_value(&event).unwrap_or_default();
        let fields: Vec<&str> = value["data"]
            .as_object()
            .map(|data| data.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert!(
            fields.iter().all(|f| [
                "requester",
                "recipient",
                "by",
                "other",
                "requested_at",
                "accepted_at",
                "at"
            ]
            .contains(f)),
            "{value}"
        );
    }
}
