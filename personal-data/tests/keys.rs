//! Sealing against a real Postgres, a fresh database per test.

use personal_data::{Keys, Opened};
use sqlx::PgPool;

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_sealed_value_opens_to_its_text_and_hides_it_at_rest(pool: PgPool) {
    let keys = Keys::new(pool.clone());
    let sealed = keys.seal("ann", "ann@example.com").await.expect("seal");
    assert!(!sealed.sealed.contains("ann@example.com"));
    let fresh_process = Keys::new(pool);
    assert_eq!(
        fresh_process.open(&sealed).await.expect("open"),
        Opened::Text("ann@example.com".into())
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn shredding_a_key_erases_every_value_of_that_user_only(pool: PgPool) {
    let keys = Keys::new(pool.clone());
    let ann = keys.seal("ann", "Ann").await.expect("seal");
    let bob = keys.seal("bob", "Bob").await.expect("seal");
    keys.shred("ann").await.expect("shred");
    let replay = Keys::new(pool);
    assert_eq!(replay.open(&ann).await.expect("open"), Opened::Erased);
    assert_eq!(
        replay.open(&bob).await.expect("open"),
        Opened::Text("Bob".into())
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_value_moved_to_another_owner_does_not_open(pool: PgPool) {
    let keys = Keys::new(pool);
    let mut sealed = keys.seal("ann", "secret").await.expect("seal");
    keys.seal("bob", "x").await.expect("seal");
    sealed.owner = "bob".into();
    assert!(keys.open(&sealed).await.is_err());
}
