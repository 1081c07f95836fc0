//! The relay against a real Postgres and a real nats-server.

use std::time::Duration;

use async_nats::jetstream;
use event_store::append::append;
use event_store::codec::Encoded;
use event_store::{Cursor, FeedReader, Metadata, StoredEvent};
use relay::{Config, Relay};
use sqlx::PgPool;
use testkit::{eventually, TestNats};
use tokio::sync::oneshot;

/// Appends `count` events spread over five aggregates.
async fn append_events(pool: &PgPool, first: i64, count: i64) {
    for n in first..first + count {
        let event = Encoded {
            event_type: "test.happened".into(),
            event_version: "1".into(),
            payload: serde_json::json!({ "n": n }),
        };
        let aggregate = format!("agg-{}", n % 5);
        append(
            pool,
            "test",
            &aggregate,
            n / 5 + 1,
            &[event],
            &Metadata::default(),
        )
        .await
        .expect("append");
    }
}

/// Starts a relay; dropping or firing the returned sender stops it.
fn start_relay(
    pool: &PgPool,
    nats: async_nats::Client,
) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let relay = Relay::new(pool.clone(), nats, Config::default());
    let task = tokio::spawn(relay.run(async move {
        let _ = stopped.await;
    }));
    (stop, task)
}

/// Every message of the stream, decoded, in stream order.
async fn stream_events(js: &jetstream::Context) -> Vec<StoredEvent> {
    let stream = js
        .get_stream(event_bus::DEFAULT_STREAM)
        .await
        .expect("stream");
    let last = stream.get_info().await.expect("info").state.last_sequence;
    let mut events = Vec::new();
    for sequence in 1..=last {
        let message = stream.get_raw_message(sequence).await.expect("message");
        events.push(serde_json::from_slice(&message.payload).expect("event"));
    }
    events
}

async fn store_events(pool: &PgPool) -> Vec<StoredEvent> {
    FeedReader::new(pool.clone())
        .read_after(Cursor::START, 100_000)
        .await
        .expect("read")
}

async fn wait_for_stream_len(js: &jetstream::Context, expected: u64) {
    eventually(
        Duration::from_secs(20),
        "the stream to hold every event",
        || async {
            let stream = js.get_stream(event_bus::DEFAULT_STREAM).await.ok()?;
            (stream.get_info().await.ok()?.state.messages >= expected).then_some(())
        },
    )
    .await;
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn publishes_every_committed_event_once_in_feed_order(pool: PgPool) {
    let nats = TestNats::start().expect("nats");
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let js = jetstream::new(client.clone());
    append_events(&pool, 0, 300).await;
    let (_stop, _task) = start_relay(&pool, client);
    append_events(&pool, 300, 200).await;

    wait_for_stream_len(&js, 500).await;
    let published = stream_events(&js).await;
    assert_eq!(published, store_events(&pool).await);
    assert_eq!(published[0].subject(""), "events.test.agg-0");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_waiting_relay_takes_over_when_the_leader_stops_and_publishes_nothing_twice(
    pool: PgPool,
) {
    let nats = TestNats::start().expect("nats");
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let js = jetstream::new(client.clone());
    let (stop_leader, leader) = start_relay(&pool, client.clone());
    append_events(&pool, 0, 100).await;
    wait_for_stream_len(&js, 100).await;
    let (_stop_standby, _standby) = start_relay(&pool, client);

    let _ = stop_leader.send(());
    leader.await.expect("leader stopped");
    append_events(&pool, 100, 100).await;

    wait_for_stream_len(&js, 200).await;
    assert_eq!(stream_events(&js).await, store_events(&pool).await);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn catches_up_when_nats_returns_after_an_outage(pool: PgPool) {
    let mut nats = TestNats::start().expect("nats");
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(nats.url())
        .await
        .expect("connect");
    let js = jetstream::new(client.clone());
    let (_stop, _task) = start_relay(&pool, client);
    append_events(&pool, 0, 50).await;
    wait_for_stream_len(&js, 50).await;

    nats.stop();
    append_events(&pool, 50, 150).await;
    nats.resume().expect("nats back");

    wait_for_stream_len(&js, 200).await;
    assert_eq!(stream_events(&js).await, store_events(&pool).await);
}
