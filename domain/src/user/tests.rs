//! Given earlier events, when a command arrives, then these events (or this error).

use chrono::{TimeZone, Utc};
use cqrs_es::DomainEvent;

use super::*;

fn sealed(text: &str) -> Sealed {
    Sealed {
        owner: "ann".into(),
        sealed: format!("ciphertext-of-{text}"),
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

fn register() -> UserCommand {
    UserCommand::Register(RegisterUser {
        user_id: UserId::parse("ann").unwrap_or_else(|_| unreachable!()),
        email: sealed("ann@example.com"),
        first_name: sealed("Ann"),
        last_name: sealed("Lee"),
        policy: SharingPolicy::default(),
        at: now(),
    })
}

fn given(events: &[UserEvent]) -> User {
    let mut user = User::default();
    events.iter().for_each(|e| user.evolve(e));
    user
}

fn registered() -> Vec<UserEvent> {
    User::default().decide(register()).unwrap_or_default()
}

fn update(change: impl FnOnce(&mut UpdateProfile)) -> UserCommand {
    let mut cmd = UpdateProfile {
        at: now(),
        ..Default::default()
    };
    change(&mut cmd);
    UserCommand::UpdateProfile(Box::new(cmd))
}

#[test]
fn first_sign_in_registers_the_user_then_records_their_sharing_policy() {
    let events = given(&[]).decide(register());
    let Ok([UserEvent::Registered(e), UserEvent::SharingPolicySet(p)]) = events.as_deref() else {
        panic!("expected a registration and a policy, got {events:?}");
    };
    assert_eq!(e.user_id.as_str(), "ann");
    assert_eq!(e.registered_at, now());
    assert_eq!(p.policy(), SharingPolicy::default());
}

#[test]
fn signing_in_again_changes_nothing() {
    assert_eq!(given(&registered()).decide(register()), Ok(vec![]));
}

#[test]
fn refuses_a_profile_update_before_registration() {
    let result = given(&[]).decide(update(|c| c.email_public = Some(true)));
    assert_eq!(result, Err(UserError::NotRegistered));
    assert_eq!(UserError::NotRegistered.code(), "user.not_registered");
}

#[test]
fn setting_a_field_records_its_value_and_keeps_it_private_by_default() {
    let cmd = update(|c| {
        c.school = Some(FieldPatch {
            value: Patch::Set(sealed("MIT")),
            public: None,
        })
    });
    let Ok(events) = given(&registered()).decide(cmd) else {
        panic!("refused")
    };
    let [UserEvent::ProfileUpdated(e)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(
        e.school,
        Some(ProfileField {
            value: Some(sealed("MIT")),
            public: false
        })
    );
    assert_eq!(e.work, None);
}

#[test]
fn making_a_field_public_keeps_its_value() {
    let history = [
        registered(),
        given(&registered())
            .decide(update(|c| {
                c.work = Some(FieldPatch {
                    value: Patch::Set(sealed("Acme")),
                    public: None,
                })
            }))
            .unwrap_or_default(),
    ]
    .concat();
    let events = given(&history)
        .decide(update(|c| {
            c.work = Some(FieldPatch {
                value: Patch::Keep,
                public: Some(true),
            })
        }))
        .unwrap_or_default();
    let [UserEvent::ProfileUpdated(e)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(
        e.work,
        Some(ProfileField {
            value: Some(sealed("Acme")),
            public: true
        })
    );
}

#[test]
fn refuses_an_update_that_changes_nothing() {
    let user = given(&registered());
    assert_eq!(user.decide(update(|_| {})), Err(UserError::EmptyUpdate));
    let same_flag = update(|c| c.email_public = Some(false));
    assert_eq!(user.decide(same_flag), Err(UserError::EmptyUpdate));
}

#[test]
fn event_type_names_are_the_stored_tags() {
    for event in registered() {
        let value = serde_json::to_value(&event).unwrap_or_default();
        assert_eq!(value["type"], event.event_type());
        assert_eq!(
            UserEvent::current_version(&event.event_type()),
            Some(event.event_version())
        );
    }
}
