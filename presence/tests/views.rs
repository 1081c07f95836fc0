//! The sharing policies and friends presence reads from Postgres.

#![allow(clippy::unwrap_used, reason = "a test may fail by panicking")]

use domain::user::Domain;
use sqlx::PgPool;

async fn policy_row(pool: &PgPool, user: &str, mode: &str, deny: &[&str]) {
    sqlx::query(
        "INSERT INTO sharing_policy (user_id, mode, allow, deny, updated_at, last_position, version)
         VALUES ($1, $2, '{}', $3, now(), 1, 1)",
    )
    .bind(user)
    .bind(mode)
    .bind(deny)
    .execute(pool)
    .await
    .unwrap();
}

fn domain(raw: &str) -> Domain {
    Domain::parse(raw).unwrap()
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_policy_row_decides_visibility_and_a_missing_one_shares_nothing(pool: PgPool) {
    policy_row(&pool, "ann", "default_all", &["bank.com"]).await;

    let ann = presence::sharing_policy(&pool, "ann").await.unwrap();
    let nobody = presence::sharing_policy(&pool, "nobody").await.unwrap();

    assert!(ann.visible(&domain("example.com")));
    assert!(!ann.visible(&domain("my.bank.com")));
    assert!(!nobody.visible(&domain("example.com")));
    let many = presence::sharing_policies(&pool, &["ann".into(), "nobody".into()])
        .await
        .unwrap();
    assert_eq!(many.keys().collect::<Vec<_>>(), vec!["ann"]);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn only_accepted_friends_are_listed(pool: PgPool) {
    for (other, status, accepted) in [("bob", "accepted", true), ("cid", "pending", false)] {
        sqlx::query(
            "INSERT INTO friendship_table
                 (user_id, other_id, status, requested_by, requested_at, accepted_at, last_position)
             VALUES ('ann', $1, $2, 'ann', now(), CASE WHEN $3 THEN now() END, 1)",
        )
        .bind(other)
        .bind(status)
        .bind(accepted)
        .execute(&pool)
        .await
        .unwrap();
    }

    let friends = presence::accepted_friends(&pool, "ann").await.unwrap();

    assert_eq!(friends, vec!["bob".to_owned()]);
}
