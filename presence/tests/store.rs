//! The presence bucket on a real NATS server with JetStream.

#![allow(clippy::unwrap_used, reason = "a test may fail by panicking")]

use std::time::Duration;

use chrono::Utc;
use presence::{Presence, PresenceStore};
use testkit::TestNats;

fn at(user_id: &str, url: &str) -> Presence {
    Presence::report(user_id, url, "Title", Utc::now()).unwrap()
}

#[tokio::test]
async fn a_record_is_read_back_and_listed_until_it_expires() {
    let nats = TestNats::start().unwrap();
    let client = async_nats::connect(nats.url()).await.unwrap();
    let store = PresenceStore::open(client, Duration::from_secs(1))
        .await
        .unwrap();
    let ann = at("ann.with>dots", "https://example.com/");

    store.put(&ann).await.unwrap();

    assert_eq!(store.get("ann.with>dots").await.unwrap(), Some(ann.clone()));
    let many = store
        .get_many(&["nobody".into(), "ann.with>dots".into()])
        .await
        .unwrap();
    assert_eq!(many, vec![None, Some(ann)]);
    assert!(store.users().await.unwrap().contains("ann.with>dots"));
    testkit::eventually(Duration::from_secs(5), "the record to expire", || async {
        store
            .get("ann.with>dots")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    assert!(store.users().await.unwrap().is_empty());
}

#[tokio::test]
async fn opening_the_bucket_again_keeps_its_records() {
    let nats = TestNats::start().unwrap();
    let client = async_nats::connect(nats.url()).await.unwrap();
    let first = PresenceStore::open(client.clone(), Duration::from_secs(60))
        .await
        .unwrap();
    first.put(&at("ann", "https://example.com/")).await.unwrap();

    let second = PresenceStore::open(client, Duration::from_secs(30))
        .await
        .unwrap();

    assert!(second.get("ann").await.unwrap().is_some());
}
