//! The policies projection: `sharing_policy` rows after each policy event, events applied
//! twice, replay equals live, and accounts older than sharing policies.

mod sharing;

use std::sync::Arc;

use domain::user::{
    Domain, SetShareMode, ShareDomain, ShareMode, SharingPolicy, StopSharingDomain, UserCommand,
};
use projector::policies::Policies;
use projector::{replay, Projection};
use serde_json::Value;
use sqlx::PgPool;
use testkit::TestNats;

use sharing::*;

fn domain(raw: &str) -> Domain {
    Domain::parse(raw).expect("a domain")
}

/// `(user_id, mode, allow, deny, version)`.
type Row = (String, String, Vec<String>, Vec<String>, i64);

async fn rows(pool: &PgPool, table: &str) -> Vec<Row> {
    let sql = format!("SELECT user_id, mode, allow, deny, version FROM {table} ORDER BY user_id");
    sqlx::query_as(&sql).fetch_all(pool).await.expect("rows")
}

fn row(user: &str, mode: &str, allow: &[&str], deny: &[&str], version: i64) -> Row {
    let list = |l: &[&str]| l.iter().map(|d| d.to_string()).collect();
    (user.into(), mode.into(), list(allow), list(deny), version)
}

fn starting_policy() -> SharingPolicy {
    SharingPolicy::new(
        ShareMode::DefaultNone,
        [domain("wikipedia.org"), domain("github.com")],
        [domain("paypal.com")],
    )
    .expect("a policy")
}

/// Ann registers with [`starting_policy`], switches to `default_all`, shares
/// `a-site.example` and paypal.com, and stops sharing github.com. Bob only registers.
async fn history(pool: &PgPool) {
    register(pool, "ann", "Ann", "Lee", starting_policy()).await;
    register(pool, "bob", "Bob", "Ray", SharingPolicy::default()).await;
    let changes = [
        UserCommand::SetShareMode(SetShareMode {
            mode: ShareMode::DefaultAll,
            at: at(1),
        }),
        UserCommand::ShareDomain(ShareDomain {
            domain: domain("a-site.example"),
            at: at(2),
        }),
        UserCommand::ShareDomain(ShareDomain {
            domain: domain("paypal.com"),
            at: at(3),
        }),
        UserCommand::StopSharingDomain(StopSharingDomain {
            domain: domain("github.com"),
            at: at(4),
        }),
    ];
    for change in changes {
        on_user(pool, "ann", change).await;
    }
}

fn expected() -> Vec<Row> {
    vec![
        row(
            "ann",
            "default_all",
            &["a-site.example", "paypal.com", "wikipedia.org"],
            &["github.com"],
            5,
        ),
        row("bob", "default_none", &[], &[], 1),
    ]
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn each_policy_event_keeps_the_row_sorted_and_replay_equals_live(pool: PgPool) {
    let nats = TestNats::start().expect("nats");
    let client = async_nats::connect(nats.url()).await.expect("connect");
    history(&pool).await;
    let projections: Vec<Arc<dyn Projection>> = vec![Arc::new(Policies::new())];
    let _running = start_pipeline(&pool, &client, projections);
    caught_up(&pool, "policies").await;

    assert_eq!(rows(&pool, "sharing_policy").await, expected());

    scratch_copy(&pool, "sharing_policy", "policy_replay").await;
    replay::rebuild(&pool, &Policies::into_table("policy_replay"), 3)
        .await
        .expect("rebuild");
    let differences = replay::differences(&pool, "sharing_policy", "policy_replay")
        .await
        .expect("compare");
    assert_eq!(differences, Vec::<Value>::new());
    sqlx::query("UPDATE sharing_policy SET mode = 'default_none' WHERE user_id = 'ann'")
        .execute(&pool)
        .await
        .expect("tamper");
    let differences = replay::differences(&pool, "sharing_policy", "policy_replay")
        .await
        .expect("compare");
    assert_eq!(differences.len(), 2);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn policy_events_applied_twice_change_nothing(pool: PgPool) {
    history(&pool).await;

    let notices = apply_each(&pool, &Policies::new(), 2).await;

    assert_eq!(rows(&pool, "sharing_policy").await, expected());
    assert!(notices.is_empty());
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn an_account_older_than_sharing_policies_starts_from_the_default(pool: PgPool) {
    sqlx::query(
        r#"INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
           VALUES ('user', 'old', 1, 'user.domain_unshared', '1',
                   '{"domain": "bank.example", "changed_at": "2026-11-23T12:00:00Z"}', '{}')"#,
    )
    .execute(&pool)
    .await
    .expect("an event of an old account");

    apply_each(&pool, &Policies::new(), 1).await;

    assert_eq!(
        rows(&pool, "sharing_policy").await,
        vec![row("old", "default_none", &[], &["bank.example"], 1)]
    );
}
