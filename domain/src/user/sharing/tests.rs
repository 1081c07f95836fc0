//! The sharing policy: given earlier events, when a command arrives, then these events.

use chrono::{DateTime, TimeZone, Utc};
use cqrs_es::DomainEvent;

use crate::user::policy::{Domain, ShareMode, SharingPolicy, MAX_DOMAINS};
use crate::user::*;
use crate::Sealed;

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

fn domain(raw: &str) -> Domain {
    Domain::parse(raw).unwrap_or_else(|_| unreachable!("{raw} is valid"))
}

fn sealed(text: &str) -> Sealed {
    Sealed {
        owner: "ann".into(),
        sealed: format!("ciphertext-of-{text}"),
    }
}

fn register(policy: SharingPolicy) -> UserCommand {
    UserCommand::Register(RegisterUser {
        user_id: UserId::parse("ann").unwrap_or_else(|_| unreachable!()),
        email: sealed("ann@example.com"),
        first_name: sealed("Ann"),
        last_name: sealed("Lee"),
        policy,
        at: at(),
    })
}

fn defaults() -> SharingPolicy {
    SharingPolicy::new(
        ShareMode::DefaultNone,
        [domain("wikipedia.org"), domain("github.com")],
        [domain("paypal.com")],
    )
    .unwrap_or_default()
}

/// A registered user whose later decisions are folded in as they are made.
struct Given(User);

fn given_registered() -> Given {
    let mut user = User::default();
    let events = user.decide(register(defaults())).unwrap_or_default();
    events.iter().for_each(|e| user.evolve(e));
    Given(user)
}

impl Given {
    /// Decides `command` and folds what it decided; returns those events.
    fn when(&mut self, command: UserCommand) -> Result<Vec<UserEvent>, UserError> {
        let events = self.0.decide(command)?;
        events.iter().for_each(|e| self.0.evolve(e));
        Ok(events)
    }

    fn policy(&self) -> &SharingPolicy {
        self.0.sharing_policy()
    }
}

fn share(raw: &str) -> UserCommand {
    UserCommand::ShareDomain(ShareDomain {
        domain: domain(raw),
        at: at(),
    })
}

fn stop_sharing(raw: &str) -> UserCommand {
    UserCommand::StopSharingDomain(StopSharingDomain {
        domain: domain(raw),
        at: at(),
    })
}

fn set_mode(mode: ShareMode) -> UserCommand {
    UserCommand::SetShareMode(SetShareMode { mode, at: at() })
}

fn names(list: &std::collections::BTreeSet<Domain>) -> Vec<&str> {
    list.iter().map(Domain::as_str).collect()
}

#[test]
fn registration_records_the_default_policy_it_was_given() {
    let events = User::default().decide(register(defaults()));
    let Ok([_, UserEvent::SharingPolicySet(set)]) = events.as_deref() else {
        panic!("{events:?}")
    };
    assert_eq!(set.mode, ShareMode::DefaultNone);
    assert_eq!(
        set.allow,
        vec![domain("github.com"), domain("wikipedia.org")]
    );
    assert_eq!(set.deny, vec![domain("paypal.com")]);
    assert_eq!(given_registered().policy(), &defaults());
}

#[test]
fn refuses_every_policy_command_before_registration() {
    for command in [
        set_mode(ShareMode::DefaultAll),
        share("example.com"),
        stop_sharing("example.com"),
    ] {
        assert_eq!(
            User::default().decide(command),
            Err(UserError::NotRegistered)
        );
    }
}

#[test]
fn setting_the_mode_records_it_and_setting_it_again_changes_nothing() {
    let mut user = given_registered();
    let events = user.when(set_mode(ShareMode::DefaultAll));
    assert_eq!(
        events,
        Ok(vec![UserEvent::ShareModeSet(ShareModeSet {
            mode: ShareMode::DefaultAll,
            changed_at: at()
        })])
    );
    assert_eq!(user.policy().mode(), ShareMode::DefaultAll);
    assert_eq!(user.when(set_mode(ShareMode::DefaultAll)), Ok(vec![]));
}

#[test]
fn sharing_a_denied_domain_allows_it_and_takes_it_off_the_deny_list() {
    let mut user = given_registered();
    let events = user.when(share("https://www.PayPal.com/login"));
    assert_eq!(
        events,
        Ok(vec![UserEvent::DomainShared(DomainShared {
            domain: domain("paypal.com"),
            changed_at: at()
        })])
    );
    assert_eq!(
        names(user.policy().allow()),
        ["github.com", "paypal.com", "wikipedia.org"]
    );
    assert!(user.policy().deny().is_empty());
    assert!(user.policy().visible(&domain("paypal.com")));
}

#[test]
fn stopping_to_share_an_allowed_domain_denies_it_and_takes_it_off_the_allow_list() {
    let mut user = given_registered();
    let events = user.when(stop_sharing("github.com"));
    assert_eq!(
        events,
        Ok(vec![UserEvent::DomainUnshared(DomainUnshared {
            domain: domain("github.com"),
            changed_at: at()
        })])
    );
    assert_eq!(names(user.policy().allow()), ["wikipedia.org"]);
    assert_eq!(names(user.policy().deny()), ["github.com", "paypal.com"]);
    assert!(!user.policy().visible(&domain("github.com")));
}

#[test]
fn sharing_or_stopping_twice_changes_nothing_the_second_time() {
    let mut user = given_registered();
    assert_eq!(user.when(share("wikipedia.org")), Ok(vec![]));
    assert_eq!(user.when(stop_sharing("paypal.com")), Ok(vec![]));
    assert!(user.when(share("example.com")).is_ok_and(|e| e.len() == 1));
    assert_eq!(user.when(share("example.com")), Ok(vec![]));
}

#[test]
fn under_default_all_only_denied_domains_are_hidden() {
    let mut user = given_registered();
    let _ = user.when(set_mode(ShareMode::DefaultAll));
    let _ = user.when(stop_sharing("bank.example"));
    let policy = user.policy();
    assert!(policy.visible(&domain("news.example")));
    assert!(!policy.visible(&domain("bank.example")));
    assert!(!policy.visible(&domain("paypal.com")));
}

#[test]
fn refuses_a_domain_beyond_the_limit_of_a_list() {
    let mut user = given_registered();
    for n in user.policy().allow().len()..MAX_DOMAINS {
        assert!(user.when(share(&format!("site{n}.example"))).is_ok());
    }
    assert_eq!(
        user.when(share("one-too-many.example")),
        Err(UserError::TooManyDomains)
    );
    assert_eq!(UserError::TooManyDomains.code(), "policy.too_many_domains");
    assert_eq!(user.when(share("site499.example")), Ok(vec![]));
    for n in user.policy().deny().len()..MAX_DOMAINS {
        assert!(user.when(stop_sharing(&format!("deny{n}.example"))).is_ok());
    }
    assert_eq!(
        user.when(stop_sharing("github.com")),
        Err(UserError::TooManyDomains)
    );
}

#[test]
fn policy_events_are_stored_under_their_released_names() {
    let mut user = given_registered();
    let mut events = User::default()
        .decide(register(defaults()))
        .unwrap_or_default();
    for command in [
        set_mode(ShareMode::DefaultAll),
        share("example.com"),
        stop_sharing("example.com"),
    ] {
        events.extend(user.when(command).unwrap_or_default());
    }
    let names: Vec<String> = events.iter().map(DomainEvent::event_type).collect();
    assert_eq!(
        names,
        [
            "user.registered",
            "user.sharing_policy_set",
            "user.share_mode_set",
            "user.domain_shared",
            "user.domain_unshared"
        ]
    );
    for event in &events {
        let value = serde_json::to_value(event).unwrap_or_default();
        assert_eq!(value["type"], event.event_type());
        assert_eq!(
            UserEvent::current_version(&event.event_type()),
            Some("1".into())
        );
    }
}

#[test]
fn a_policy_event_payload_names_the_mode_and_lists_in_clear() {
    let set = SharingPolicySet::of(&defaults(), at());
    let value = serde_json::to_value(UserEvent::SharingPolicySet(set)).unwrap_or_default();
    assert_eq!(value["data"]["mode"], "default_none");
    assert_eq!(
        value["data"]["allow"],
        serde_json::json!(["github.com", "wikipedia.org"])
    );
    assert_eq!(value["data"]["deny"], serde_json::json!(["paypal.com"]));
}
