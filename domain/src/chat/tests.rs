//! Conversations and messages: given earlier events, when a command arrives, then these
//! events (or this refusal).

use std::collections::BTreeSet;

use chrono::{DateTime, TimeZone, Utc};
use cqrs_es::DomainEvent;

use super::message::*;
use super::*;

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap_or_else(|_| unreachable!("{id} is valid"))
}

fn group_id() -> ConversationId {
    ConversationId::parse("00000000-0000-4000-8000-000000000001").unwrap_or_else(|_| unreachable!())
}

fn message_id(n: u8) -> MessageId {
    MessageId::parse(&format!("00000000-0000-4000-9000-0000000000{n:02}"))
        .unwrap_or_else(|_| unreachable!())
}

fn sealed(owner: &str, text: &str) -> Sealed {
    Sealed {
        owner: owner.into(),
        sealed: format!("ciphertext-of-{text}"),
    }
}

fn given(events: &[ConversationEvent]) -> Conversation {
    let mut state = Conversation::default();
    for event in events {
        state.evolve(event);
    }
    state
}

fn start_direct(by: &str, with: &str, friends: bool) -> ConversationCommand {
    ConversationCommand::StartDirect(StartDirectConversation {
        conversation_id: ConversationId::direct(&user(by), &user(with)),
        by: user(by),
        with: user(with),
        friends,
        at: at(),
    })
}

/// Ann creates a group with `others`; her friends are bob, cy and dee.
fn create_group(by: &str, others: &[&str]) -> ConversationCommand {
    ConversationCommand::CreateGroup(Box::new(CreateGroupConversation {
        conversation_id: group_id(),
        by: user(by),
        title: sealed(by, "Trip"),
        participants: others.iter().map(|id| user(id)).collect(),
        friends: ["bob", "cy", "dee"].iter().map(|id| user(id)).collect(),
        at: at(),
    }))
}

fn decided(state: &Conversation, command: ConversationCommand) -> Vec<ConversationEvent> {
    state
        .decide(command)
        .unwrap_or_else(|e| unreachable!("refused: {e}"))
}

/// The group of ann, bob and cy.
fn group() -> Vec<ConversationEvent> {
    decided(
        &Conversation::default(),
        create_group("ann", &["bob", "cy"]),
    )
}

fn left(who: &str) -> ConversationEvent {
    ConversationEvent::ParticipantLeft(ParticipantLeft {
        conversation_id: group_id(),
        user: user(who),
        left_at: at(),
    })
}

fn mark_read(by: &str, seq: Option<u64>) -> ConversationCommand {
    mark_read_after(by, seq, 0)
}

/// [`mark_read`] by a reader whose read position in the view is `read_in_view`.
fn mark_read_after(by: &str, seq: Option<u64>, read_in_view: u64) -> ConversationCommand {
    ConversationCommand::MarkRead(MarkConversationRead {
        by: user(by),
        message: seq.map(|seq| ReadUpTo {
            message_id: message_id(1),
            seq,
        }),
        read_in_view,
        at: at(),
    })
}

#[test]
fn a_direct_conversation_has_one_id_per_pair_whoever_asks() {
    let (ann, bob) = (user("ann"), user("bob"));
    assert_eq!(
        ConversationId::direct(&ann, &bob),
        ConversationId::direct(&bob, &ann)
    );
    assert_ne!(
        ConversationId::direct(&ann, &bob),
        ConversationId::direct(&ann, &user("cy"))
    );
    // The pair is not confused with another whose ids concatenate alike.
    assert_ne!(
        ConversationId::direct(&user("a"), &user("nnbob")),
        ConversationId::direct(&user("ann"), &user("bob"))
    );
}

#[test]
fn friends_start_a_direct_conversation_once() {
    let events = decided(&Conversation::default(), start_direct("bob", "ann", true));
    let [ConversationEvent::DirectStarted(started)] = events.as_slice() else {
        unreachable!("{events:?}")
    };
    assert_eq!(started.participants, vec![user("ann"), user("bob")]);
    assert_eq!(started.started_by, user("bob"));

    // Asked again, by either of them: nothing new.
    let state = given(&events);
    assert_eq!(decided(&state, start_direct("ann", "bob", true)), vec![]);
    // Even when they are no longer friends, the conversation they had is found.
    assert_eq!(decided(&state, start_direct("bob", "ann", false)), vec![]);
}

#[test]
fn a_direct_conversation_needs_friends_and_two_people() {
    let state = Conversation::default();
    assert_eq!(
        state.decide(start_direct("ann", "bob", false)),
        Err(ConversationError::NotFriends)
    );
    assert_eq!(
        state.decide(start_direct("ann", "ann", true)),
        Err(ConversationError::WithSelf)
    );
}

#[test]
fn a_group_is_created_with_friends_of_its_creator() {
    let events = group();
    let [ConversationEvent::GroupCreated(created)] = events.as_slice() else {
        unreachable!("{events:?}")
    };
    assert_eq!(
        created.participants,
        vec![user("ann"), user("bob"), user("cy")]
    );

    let state = Conversation::default();
    assert_eq!(
        state.decide(create_group("ann", &["bob", "eve"])),
        Err(ConversationError::NotFriends)
    );
    assert_eq!(
        state.decide(create_group("ann", &["ann"])),
        Err(ConversationError::NoParticipants)
    );
    let crowd: Vec<String> = (0..MAX_PARTICIPANTS).map(|n| format!("u{n}")).collect();
    let crowd: Vec<&str> = crowd.iter().map(String::as_str).collect();
    assert_eq!(
        state.decide(create_group("ann", &crowd)),
        Err(ConversationError::TooManyParticipants)
    );
}

#[test]
fn a_retried_group_creation_changes_nothing_and_a_taken_id_is_refused() {
    let state = given(&group());
    assert_eq!(decided(&state, create_group("ann", &["bob"])), vec![]);
    assert_eq!(
        state.decide(create_group("bob", &["cy"])),
        Err(ConversationError::AlreadyExists)
    );
}

#[test]
fn participants_add_their_friends_and_adding_twice_changes_nothing() {
    let state = given(&group());
    let add = |by: &str, who: &str, friends: bool| {
        ConversationCommand::AddParticipant(AddParticipant {
            by: user(by),
            user: user(who),
            friends,
            at: at(),
        })
    };
    let events = decided(&state, add("bob", "dee", true));
    assert!(
        matches!(events.as_slice(), [ConversationEvent::ParticipantAdded(e)] if e.user == user("dee"))
    );
    assert_eq!(decided(&state, add("bob", "cy", true)), vec![]);
    assert_eq!(
        state.decide(add("bob", "eve", false)),
        Err(ConversationError::NotFriends)
    );
    assert_eq!(
        state.decide(add("eve", "dee", true)),
        Err(ConversationError::NotFound)
    );

    // A former participant can neither add nor be treated as a stranger; re-added, they are back.
    let after_leaving = given(&[group(), vec![left("cy")]].concat());
    assert_eq!(
        after_leaving.decide(add("cy", "dee", true)),
        Err(ConversationError::NotParticipant)
    );
    let back = decided(&after_leaving, add("ann", "cy", true));
    let state = given(&[group(), vec![left("cy")], back].concat());
    assert_eq!(state.membership(&user("cy")), Membership::Participant);
}

#[test]
fn leaving_and_renaming_are_for_group_participants() {
    let group = given(&group());
    let leave = |by: &str| {
        ConversationCommand::Leave(LeaveConversation {
            by: user(by),
            at: at(),
        })
    };
    let rename = |by: &str| {
        ConversationCommand::Rename(RenameConversation {
            by: user(by),
            title: sealed(by, "New"),
            at: at(),
        })
    };
    assert!(matches!(
        decided(&group, leave("bob")).as_slice(),
        [ConversationEvent::ParticipantLeft(_)]
    ));
    assert!(matches!(
        decided(&group, rename("cy")).as_slice(),
        [ConversationEvent::Renamed(_)]
    ));
    assert_eq!(group.decide(leave("eve")), Err(ConversationError::NotFound));

    let direct = given(&decided(
        &Conversation::default(),
        start_direct("ann", "bob", true),
    ));
    assert_eq!(
        direct.decide(leave("ann")),
        Err(ConversationError::IsDirect)
    );
    assert_eq!(
        direct.decide(rename("ann")),
        Err(ConversationError::IsDirect)
    );

    let after_leaving = given(&[self::group(), vec![left("bob")]].concat());
    assert_eq!(
        after_leaving.decide(leave("bob")),
        Err(ConversationError::NotParticipant)
    );
    assert_eq!(after_leaving.membership(&user("bob")), Membership::Former);
}

#[test]
fn a_read_position_only_moves_forward() {
    let state = given(&group());
    let events = decided(&state, mark_read("bob", Some(5)));
    assert!(matches!(events.as_slice(), [ConversationEvent::Read(r)] if r.seq == 5));
    let state = given(&[group(), events].concat());
    assert_eq!(state.read_position(&user("bob")), 5);
    assert_eq!(decided(&state, mark_read("bob", Some(3))), vec![]);
    assert_eq!(decided(&state, mark_read("bob", Some(5))), vec![]);
    assert_eq!(decided(&state, mark_read("bob", Some(6))).len(), 1);
    assert_eq!(state.read_position(&user("cy")), 0);
    // Added again, cy starts at the latest message (7) in the view: reading 3 is not news.
    assert_eq!(decided(&state, mark_read_after("cy", Some(3), 7)), vec![]);
    assert_eq!(decided(&state, mark_read_after("cy", Some(8), 7)).len(), 1);
}

#[test]
fn reading_needs_a_participant_and_a_message_of_the_conversation() {
    let state = given(&group());
    assert_eq!(
        state.decide(mark_read("eve", Some(1))),
        Err(ConversationError::NotFound)
    );
    assert_eq!(
        state.decide(mark_read("bob", None)),
        Err(ConversationError::MessageNotFound)
    );
    assert_eq!(
        Conversation::default().decide(mark_read("bob", Some(1))),
        Err(ConversationError::NotFound)
    );
}

fn send(id: u8, sender: &str, membership: Membership) -> MessageCommand {
    MessageCommand::Send(SendMessage {
        message_id: message_id(id),
        conversation_id: group_id(),
        sender: user(sender),
        membership,
        text: sealed(sender, "hello"),
        at: at(),
    })
}

#[test]
fn a_participant_sends_and_a_retry_changes_nothing() {
    let events = Message::default()
        .decide(send(1, "ann", Membership::Participant))
        .unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type(), "message.sent");
    let mut sent = Message::default();
    sent.evolve(&events[0]);
    // The same send again, even after leaving: it happened already.
    assert_eq!(sent.decide(send(1, "ann", Membership::Former)), Ok(vec![]));
    // Another sender (or conversation) reusing the id is refused.
    assert_eq!(
        sent.decide(send(1, "bob", Membership::Participant)),
        Err(MessageError::IdTaken)
    );
}

#[test]
fn only_participants_send() {
    let fresh = Message::default();
    assert_eq!(
        fresh.decide(send(1, "eve", Membership::Stranger)),
        Err(MessageError::Conversation(ConversationError::NotFound))
    );
    assert_eq!(
        fresh.decide(send(1, "bob", Membership::Former)),
        Err(MessageError::Conversation(
            ConversationError::NotParticipant
        ))
    );
}

#[test]
fn message_text_and_titles_are_trimmed_and_bounded() {
    assert_eq!(
        MessageText::parse("  hi \n").map(|t| t.as_str().to_owned()),
        Ok("hi".into())
    );
    assert!(MessageText::parse("line one\nline two\tend").is_ok());
    assert_eq!(MessageText::parse("   "), Err(ChatValueError::InvalidText));
    assert!(MessageText::parse(&"é".repeat(MAX_MESSAGE_CHARS)).is_ok());
    assert_eq!(
        MessageText::parse(&"é".repeat(MAX_MESSAGE_CHARS + 1)),
        Err(ChatValueError::InvalidText)
    );
    assert_eq!(
        MessageText::parse("bell\u{7}"),
        Err(ChatValueError::InvalidText)
    );
    assert!(ConversationTitle::parse(&"t".repeat(MAX_TITLE_CHARS)).is_ok());
    assert_eq!(
        ConversationTitle::parse(&"t".repeat(MAX_TITLE_CHARS + 1)),
        Err(ChatValueError::InvalidTitle)
    );
    assert_eq!(
        ConversationTitle::parse("a\nb"),
        Err(ChatValueError::InvalidTitle)
    );
    assert_eq!(
        MessageId::parse("6F9619FF-8B86-D011-B42D-00C04FC964FF").map(|id| id.to_string()),
        Ok("6f9619ff-8b86-d011-b42d-00c04fc964ff".into())
    );
    assert_eq!(
        MessageId::parse("nope"),
        Err(ChatValueError::InvalidMessageId)
    );
    // A group cannot take a direct conversation's id: those are version 5.
    let direct = ConversationId::direct(&user("ann"), &user("bob"));
    assert_eq!(
        ConversationId::parse_group(direct.as_str()),
        Err(ChatValueError::InvalidGroupId)
    );
    assert!(ConversationId::parse_group(group_id().as_str()).is_ok());
    assert_eq!(
        ConversationId::parse("../etc"),
        Err(ChatValueError::InvalidConversationId)
    );
}

#[test]
fn every_event_type_has_a_current_version() {
    let mut types = BTreeSet::new();
    let group = group();
    let direct = decided(&Conversation::default(), start_direct("ann", "bob", true));
    for event in group.iter().chain(&direct) {
        types.insert(event.event_type());
    }
    for name in EVENT_TYPES {
        assert_eq!(ConversationEvent::current_version(name), Some("1".into()));
    }
    assert!(types.is_subset(&EVENT_TYPES.iter().map(|t| t.to_string()).collect()));
    assert_eq!(
        ConversationEvent::current_version("conversation.other"),
        None
    );
    assert_eq!(
        MessageEvent::current_version("message.sent"),
        Some("1".into())
    );
}
