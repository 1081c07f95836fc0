//! Shares and inboxes: given earlier events, when a command arrives, then these events.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeZone, Utc};
use cqrs_es::DomainEvent;

use super::inbox::*;
use super::*;

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap_or_else(|_| unreachable!("{id} is valid"))
}

fn users(ids: &[&str]) -> Vec<UserId> {
    ids.iter().map(|id| user(id)).collect()
}

fn share_id(n: u8) -> ShareId {
    ShareId::parse(&format!("00000000-0000-4000-8000-0000000000{n:02}"))
        .unwrap_or_else(|_| unreachable!())
}

fn sealed(text: &str) -> Sealed {
    Sealed {
        owner: "ann".into(),
        sealed: format!("ciphertext-of-{text}"),
    }
}

/// Ann, whose friends are bob and cy, shares a page with `audience`.
fn share_url(audience: Audience) -> ShareCommand {
    ShareCommand::ShareUrl(Box::new(ShareUrl {
        share_id: share_id(1),
        sharer: user("ann"),
        sharer_registered: true,
        url: sealed("https://example.com/"),
        title: sealed("Example"),
        domain: sealed("example.com"),
        audience,
        friends: users(&["bob", "cy"]).into_iter().collect(),
        at: at(),
    }))
}

fn with(command: ShareCommand, change: impl FnOnce(&mut ShareUrl)) -> ShareCommand {
    let ShareCommand::ShareUrl(mut cmd) = command;
    change(&mut cmd);
    ShareCommand::ShareUrl(cmd)
}

fn recipients_of(result: Result<Vec<ShareEvent>, ShareError>) -> Result<Vec<UserId>, ShareError> {
    match result?.as_slice() {
        [ShareEvent::Created(e)] => Ok(e.recipients.clone()),
        other => panic!("expected one share.created, got {other:?}"),
    }
}

#[test]
fn sharing_without_a_list_goes_to_every_current_friend() {
    let events = Share::default().decide(share_url(Audience::AllFriends));
    let Ok([ShareEvent::Created(e)]) = events.as_deref() else {
        panic!("{events:?}")
    };
    assert_eq!(e.recipients, users(&["bob", "cy"]));
    assert_eq!((e.sharer.as_str(), e.shared_at), ("ann", at()));
    assert_eq!(e.url, sealed("https://example.com/"));
}

#[test]
fn sharing_with_chosen_friends_goes_to_them_only_each_once() {
    let chosen = Audience::Chosen(users(&["cy", "cy"]));
    assert_eq!(
        recipients_of(Share::default().decide(share_url(chosen))),
        Ok(users(&["cy"]))
    );
}

#[test]
fn refuses_to_share_with_someone_who_is_not_a_friend() {
    for list in [&["dan"][..], &["bob", "dan"], &["ann"]] {
        let chosen = Audience::Chosen(users(list));
        assert_eq!(
            Share::default().decide(share_url(chosen)),
            Err(ShareError::NotFriends),
            "{list:?}"
        );
    }
    assert_eq!(ShareError::NotFriends.code(), "share.not_friends");
}

#[test]
fn refuses_a_share_with_nobody_to_receive_it() {
    let no_friends = with(share_url(Audience::AllFriends), |c| c.friends.clear());
    assert_eq!(
        Share::default().decide(no_friends),
        Err(ShareError::NoRecipients)
    );
    let empty_list = share_url(Audience::Chosen(vec![]));
    assert_eq!(
        Share::default().decide(empty_list),
        Err(ShareError::NoRecipients)
    );
    assert_eq!(ShareError::NoRecipients.code(), "share.no_recipients");
}

#[test]
fn a_chosen_list_holds_at_most_500_recipients() {
    let many: Vec<UserId> = (0..=MAX_CHOSEN_RECIPIENTS)
        .map(|n| user(&format!("u{n}")))
        .collect();
    let friends: BTreeSet<UserId> = many.iter().cloned().collect();
    let too_many = with(share_url(Audience::Chosen(many.clone())), |c| {
        c.friends = friends.clone()
    });
    assert_eq!(
        Share::default().decide(too_many),
        Err(ShareError::TooManyRecipients)
    );
    let all = with(share_url(Audience::AllFriends), |c| c.friends = friends);
    assert_eq!(
        recipients_of(Share::default().decide(all)).map(|r| r.len()),
        Ok(501)
    );
    let limit = Audience::Chosen(many[..MAX_CHOSEN_RECIPIENTS].to_vec());
    let at_limit = with(share_url(limit), |c| c.friends = many.into_iter().collect());
    assert!(Share::default().decide(at_limit).is_ok());
}

#[test]
fn refuses_a_share_from_an_unregistered_sharer() {
    let command = with(share_url(Audience::AllFriends), |c| {
        c.sharer_registered = false
    });
    assert_eq!(
        Share::default().decide(command),
        Err(ShareError::SharerNotRegistered)
    );
    assert_eq!(
        ShareError::SharerNotRegistered.code(),
        "user.not_registered"
    );
}

#[test]
fn a_share_id_is_used_once() {
    let mut share = Share::default();
    let events = share
        .decide(share_url(Audience::AllFriends))
        .unwrap_or_default();
    events.iter().for_each(|e| share.evolve(e));
    assert_eq!(
        share.decide(share_url(Audience::AllFriends)),
        Err(ShareError::AlreadyShared)
    );
}

#[test]
fn share_events_are_stored_under_their_released_names() {
    let events = Share::default()
        .decide(share_url(Audience::AllFriends))
        .unwrap_or_default();
    let value = serde_json::to_value(&events[0]).unwrap_or_default();
    assert_eq!(value["type"], "share.created");
    assert_eq!(
        value["data"]["recipients"],
        serde_json::json!(["bob", "cy"])
    );
    assert_eq!(
        ShareEvent::current_version("share.created"),
        Some("1".into())
    );
}

fn mark(n: u8, notification: Notification) -> InboxCommand {
    InboxCommand::MarkShareSeen(marked(n, notification))
}

fn mark_on_page(n: u8, notification: Notification) -> InboxCommand {
    InboxCommand::MarkShareSeenOnPage(marked(n, notification))
}

fn marked(n: u8, notification: Notification) -> MarkShareSeen {
    MarkShareSeen {
        share_id: share_id(n),
        notification,
        at: at(),
    }
}

fn mark_all(unread: u64) -> InboxCommand {
    InboxCommand::MarkAllSharesSeen(MarkAllSharesSeen { unread, at: at() })
}

fn given(events: &[InboxEvent]) -> Inbox {
    let mut inbox = Inbox::default();
    events.iter().for_each(|e| inbox.evolve(e));
    inbox
}

fn seen(n: u8) -> InboxEvent {
    seen_via(n, SeenVia::Notification)
}

fn seen_via(n: u8, via: SeenVia) -> InboxEvent {
    InboxEvent::ShareSeen(ShareSeen {
        share_id: share_id(n),
        seen_at: at(),
        via,
    })
}

#[test]
fn marking_an_unseen_share_records_when_it_was_seen() {
    assert_eq!(
        given(&[]).decide(mark(1, Notification::Unseen)),
        Ok(vec![seen(1)])
    );
}

#[test]
fn marking_a_share_that_was_not_sent_to_you_is_not_found() {
    assert_eq!(
        given(&[]).decide(mark(1, Notification::NotReceived)),
        Err(InboxError::ShareNotFound)
    );
    assert_eq!(InboxError::ShareNotFound.code(), "share.not_found");
}

#[test]
fn marking_an_already_seen_share_changes_nothing() {
    assert_eq!(given(&[]).decide(mark(1, Notification::Seen)), Ok(vec![]));
    // The view may not show the first mark yet: the inbox remembers it.
    assert_eq!(
        given(&[seen(1)]).decide(mark(1, Notification::Unseen)),
        Ok(vec![])
    );
    assert_eq!(
        given(&[seen(1)]).decide(mark(2, Notification::Unseen)),
        Ok(vec![seen(2)])
    );
}

#[test]
fn opening_a_shared_page_marks_its_share_seen_there_once() {
    assert_eq!(
        given(&[]).decide(mark_on_page(1, Notification::Unseen)),
        Ok(vec![seen_via(1, SeenVia::Page)])
    );
    assert_eq!(
        given(&[]).decide(mark_on_page(1, Notification::NotReceived)),
        Err(InboxError::ShareNotFound)
    );
    // Seen first in the list, the share stays seen there.
    assert_eq!(
        given(&[seen(1)]).decide(mark_on_page(1, Notification::Unseen)),
        Ok(vec![])
    );
}

#[test]
fn marking_all_records_the_time_and_nothing_when_nothing_is_unread() {
    assert_eq!(
        given(&[]).decide(mark_all(3)),
        Ok(vec![InboxEvent::AllSharesSeen(AllSharesSeen {
            seen_at: at()
        })])
    );
    assert_eq!(given(&[seen(1)]).decide(mark_all(0)), Ok(vec![]));
}

#[test]
fn inbox_events_are_stored_under_their_released_names_at_their_current_versions() {
    let all = InboxEvent::AllSharesSeen(AllSharesSeen { seen_at: at() });
    for (event, version) in [(seen(1), "2"), (all, "1")] {
        let value = serde_json::to_value(&event).unwrap_or_default();
        assert_eq!(value["type"], event.event_type());
        assert_eq!(event.event_version(), version);
        assert_eq!(
            InboxEvent::current_version(&event.event_type()),
            Some(version.into())
        );
    }
    assert_eq!(seen(1).event_type(), "inbox.share_seen");
    let page = serde_json::to_value(seen_via(1, SeenVia::Page)).unwrap_or_default();
    assert_eq!(page["data"]["via"], "page");
}

/// A `share.seen` payload as version 1 wrote it.
fn share_seen_v1() -> serde_json::Value {
    serde_json::json!({
        "share_id": share_id(1).as_str(),
        "seen_at": "2026-11-23T12:00:00Z"
    })
}

/// `payload` brought from `version` to the current one with [`InboxEvent::UPCASTS`], as
/// the codec chains them.
fn upcast(
    event_type: &str,
    mut version: String,
    mut payload: serde_json::Value,
) -> (String, serde_json::Value) {
    while let Some((_, _, to, step)) = InboxEvent::UPCASTS
        .iter()
        .find(|(t, from, _, _)| *t == event_type && *from == version)
    {
        payload = step(payload);
        version = (*to).to_owned();
    }
    (version, payload)
}

#[test]
fn a_version_1_share_seen_becomes_version_2_seen_in_the_notification_list() {
    let v2 = upcast_share_seen_v1(share_seen_v1());
    assert_eq!(
        v2,
        serde_json::json!({
            "share_id": share_id(1).as_str(),
            "seen_at": "2026-11-23T12:00:00Z",
            "via": "notification"
        })
    );
    let read: Result<InboxEvent, _> =
        serde_json::from_value(serde_json::json!({ "type": "inbox.share_seen", "data": v2 }));
    assert_eq!(read.ok(), Some(seen(1)));
}

#[test]
fn a_version_1_share_seen_does_not_read_as_version_2_without_its_upcaster() {
    let raw = serde_json::json!({ "type": "inbox.share_seen", "data": share_seen_v1() });
    assert!(serde_json::from_value::<InboxEvent>(raw).is_err());
}

#[test]
fn every_released_version_of_an_inbox_event_reaches_its_current_version() {
    for (event_type, released) in [
        ("inbox.share_seen", ["1", "2"].as_slice()),
        ("inbox.all_shares_seen", ["1"].as_slice()),
    ] {
        for version in released {
            let (reached, _) = upcast(event_type, (*version).to_owned(), serde_json::json!({}));
            assert_eq!(
                Some(reached),
                InboxEvent::current_version(event_type),
                "{event_type} v{version}"
            );
        }
    }
    // The registered chain, not only the function, turns version 1 into version 2.
    let (version, payload) = upcast("inbox.share_seen", "1".into(), share_seen_v1());
    assert_eq!(
        (version.as_str(), &payload["via"]),
        ("2", &serde_json::json!("notification"))
    );
}
