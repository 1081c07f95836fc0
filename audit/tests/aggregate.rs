//! An aggregate's state at a version, and what one event changed.

mod support;

use audit::{aggregate_diff, aggregate_state, AggregateError};
use domain::user::{User, UserEvent};
use event_store::codec::Upcasters;
use event_store::AggregateRepository;
use serde_json::{json, Value};
use sqlx::PgPool;
use support::{register, request, set_school};

/// ann: registered (1), her sharing policy (2), school MIT in public (3), then Yale kept
/// private (4).
async fn ann(pool: &PgPool) {
    register(pool, "ann", &request("ann", "r1")).await;
    set_school(pool, "ann", "MIT", true, &request("ann", "r2")).await;
    set_school(pool, "ann", "Yale", false, &request("ann", "r3")).await;
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_latest_state_is_the_one_commands_load(pool: PgPool) {
    ann(&pool).await;
    let shown = aggregate_state(&pool, "user", "ann", None)
        .await
        .expect("state");
    let loaded: User = AggregateRepository::new(
        pool.clone(),
        Upcasters::default(),
        UserEvent::current_version,
    )
    .load_state("ann")
    .await
    .expect("load");
    assert_eq!((shown.version, shown.latest), (4, 4));
    assert_eq!(shown.state, serde_json::to_value(&loaded).expect("json"));
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_state_at_a_version_holds_only_the_events_up_to_it(pool: PgPool) {
    ann(&pool).await;
    let school_at = |version| {
        let pool = pool.clone();
        async move {
            let shown = aggregate_state(&pool, "user", "ann", Some(version))
                .await
                .expect("state");
            assert_eq!(shown.version, version);
            shown.state["school"].clone()
        }
    };
    assert_eq!(
        school_at(2).await,
        json!({ "value": null, "public": false })
    );
    let at_3 = school_at(3).await;
    assert_eq!(
        (&at_3["public"], &at_3["value"]["owner"]),
        (&json!(true), &json!("ann"))
    );
    let at_4 = school_at(4).await;
    assert_eq!(at_4["public"], json!(false));
    assert_ne!(at_3["value"], at_4["value"]);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_diff_shows_the_event_and_exactly_what_it_changed(pool: PgPool) {
    ann(&pool).await;
    let diff = aggregate_diff(&pool, "user", "ann", 4).await.expect("diff");
    assert_eq!(
        (diff.event.sequence, diff.event.event_type.as_str()),
        (4, "user.profile_updated")
    );
    assert_eq!(diff.event.metadata.correlation_id.as_deref(), Some("r3"));
    let paths: Vec<&str> = diff.changes.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, ["/school/public", "/school/value/sealed"]);
    assert_eq!(
        (&diff.changes[0].before, &diff.changes[0].after),
        (&json!(true), &json!(false))
    );
    let before = aggregate_state(&pool, "user", "ann", Some(3))
        .await
        .expect("state");
    assert_eq!(diff.before, before.state);

    let first = aggregate_diff(&pool, "user", "ann", 1).await.expect("diff");
    assert_eq!(
        first.before,
        serde_json::to_value(User::default()).expect("json")
    );
    assert_eq!(first.after["registered"], Value::Bool(true));
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn unknown_types_ids_and_versions_are_refused_by_name(pool: PgPool) {
    ann(&pool).await;
    fn refused<T>(result: Result<T, AggregateError>) -> AggregateError {
        match result {
            Ok(_) => panic!("accepted"),
            Err(error) => error,
        }
    }
    assert!(matches!(
        refused(aggregate_state(&pool, "spaceship", "ann", None).await),
        AggregateError::UnknownType(t) if t == "spaceship"
    ));
    assert!(matches!(
        refused(aggregate_state(&pool, "user", "zed", None).await),
        AggregateError::NotFound { .. }
    ));
    for version in [0, 5] {
        assert!(matches!(
            refused(aggregate_state(&pool, "user", "ann", Some(version)).await),
            AggregateError::NoSuchVersion { asked, latest: 4, .. } if asked == version
        ));
    }
    assert!(matches!(
        refused(aggregate_diff(&pool, "user", "ann", 9).await),
        AggregateError::NoSuchVersion { .. }
    ));
}
