//! The two rounds: the same notices published the same way, received once by a bare NATS
//! subscriber and once by the sockets through the push node.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use async_nats::{Client, Subscriber};
use event_bus::Notice;
use futures::StreamExt;

use crate::sockets::Opened;
use crate::Config;

/// What one round received, and in how long.
#[derive(Debug)]
pub struct Round {
    pub received: u64,
    /// From the first publish to the last receipt.
    pub elapsed: Duration,
}

impl Round {
    /// Notices received per second.
    pub fn rate(&self) -> f64 {
        self.received as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// A NATS connection whose subscriptions can each hold `notices` undelivered messages:
/// the bare subscriber then drops none, whatever its pace.
pub async fn connect(url: &str, notices: usize) -> anyhow::Result<Client> {
    Ok(async_nats::ConnectOptions::new()
        .subscription_capacity(notices + 1024)
        .connect(url)
        .await?)
}

/// Publishes `--notices` notices round-robin to `users` and times how a bare subscriber
/// on `notices.>` (a connection of its own) receives them and, when `sockets` are given,
/// how the sockets do, in the same round.
pub async fn round(
    url: &str,
    users: &[String],
    sockets: Option<&Opened>,
    config: &Config,
) -> anyhow::Result<(Round, Option<Round>)> {
    let subscriber_client = connect(url, config.notices).await?;
    let subscriber = subscriber_client.subscribe("notices.>").await?;
    subscriber_client.flush().await?;
    let publisher = connect(url, config.notices).await?;
    let messages = messages(users, config.notices);
    let at_start = sockets.map(|s| s.counts.notices.load(Ordering::Relaxed));
    let start = Instant::now();
    let bare = tokio::spawn(receive(subscriber, start, config.notices, config.quiet()));
    let publishing = tokio::spawn(publish(publisher, messages));
    let pushed = match (sockets, at_start) {
        (Some(sockets), Some(at_start)) => {
            Some(count_frames(sockets, at_start, start, config).await)
        }
        _ => None,
    };
    publishing.await??;
    Ok((bare.await?, pushed))
}

async fn receive(
    mut subscriber: Subscriber,
    start: Instant,
    notices: usize,
    quiet: Duration,
) -> Round {
    let (mut received, mut last) = (0, start);
    while received < notices as u64 {
        match tokio::time::timeout(quiet, subscriber.next()).await {
            Ok(Some(_)) => (received, last) = (received + 1, Instant::now()),
            _ => break,
        }
    }
    Round {
        received,
        elapsed: last - start,
    }
}

/// The notice frames the sockets' readers count from `start` on, until all have come or
/// none has for `--quiet-ms`.
async fn count_frames(sockets: &Opened, at_start: u64, start: Instant, config: &Config) -> Round {
    let (mut received, mut last) = (0, start);
    while received < config.notices as u64 && last.elapsed() < config.quiet() {
        tokio::time::sleep(Duration::from_millis(1)).await;
        let now = sockets.counts.notices.load(Ordering::Relaxed) - at_start;
        if now > received {
            (received, last) = (now, Instant::now());
        }
    }
    Round {
        received,
        elapsed: last - start,
    }
}

/// `count` notices in the shape the projector publishes, round-robin over `users`'
/// subjects; built before a round starts so that the round times publishing alone.
fn messages(users: &[String], count: usize) -> Vec<(String, Vec<u8>)> {
    let subjects: Vec<String> = users.iter().map(|u| event_bus::notice_subject(u)).collect();
    (0..count)
        .map(|i| {
            let notice = Notice {
                position: i as i64 + 1,
                tx_id: i as u64 + 1,
                kind: "bench.fanout".into(),
                data: serde_json::json!({ "n": i }),
            };
            let payload = serde_json::to_vec(&notice).unwrap_or_default();
            (subjects[i % subjects.len()].clone(), payload)
        })
        .collect()
}

/// Publishes as fast as the connection takes them, then waits until NATS has them all.
async fn publish(client: Client, messages: Vec<(String, Vec<u8>)>) -> anyhow::Result<()> {
    for (subject, payload) in messages {
        client.publish(subject, payload.into()).await?;
    }
    client.flush().await?;
    Ok(())
}
