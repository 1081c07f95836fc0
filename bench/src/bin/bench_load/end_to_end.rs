//! End to end: `send-message` accepted → the recipient's conversation list shows it (a
//! read-your-writes query, `?min_position=`, sent as soon as the command is answered)
//! → the `chat.message` notice on the recipient's socket. Beside it, the bus alone: a
//! core NATS message from one connection to a subscriber on another, one at a time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use bench::services::{Apis, RawClient};
use bench::{ms, write, Latencies};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio_tungstenite::tungstenite::Message;

use crate::world::World;
use crate::Config;

/// When each (user, position) notice reached that user's socket.
type Arrivals = Arc<Mutex<HashMap<(String, i64), Instant>>>;

/// How long a sender waits for its notice before calling it missed.
const NOTICE_WAIT: Duration = Duration::from_secs(5);

/// What the senders measured, from each command's answer.
#[derive(Default)]
struct Samples {
    answered: Vec<Duration>,
    view: Vec<Duration>,
    socket: Vec<Duration>,
    stale: usize,
    missed: usize,
}

pub async fn run(
    config: &Config,
    pool: &PgPool,
    apis: &Apis,
    world: &World,
    push: &str,
    nats_url: &str,
) -> anyhow::Result<()> {
    let arrivals = Arrivals::default();
    for user in &world.users {
        listen(push, &user.id, arrivals.clone()).await?;
    }
    let start = Instant::now() + config.warm_up();
    let end = start + config.timed();
    let mut senders = tokio::task::JoinSet::new();
    for user in world.users.iter().take(config.e2e_clients) {
        let conversation = user.conversations[0].clone();
        let sender = RawClient::connect_to(&apis.commands, &user.id).await?;
        let reader = RawClient::connect_to(&apis.queries, &conversation.with).await?;
        let arrivals = arrivals.clone();
        senders.spawn(async move {
            let mut sender = Sender {
                sender,
                reader,
                conversation: conversation.id,
                recipient: conversation.with,
                arrivals,
            };
            sender.until(start, end).await
        });
    }
    let mut samples = Samples::default();
    while let Some(outcome) = senders.join_next().await {
        let theirs = outcome??;
        samples.answered.extend(theirs.answered);
        samples.view.extend(theirs.view);
        samples.socket.extend(theirs.socket);
        samples.stale += theirs.stale;
        samples.missed += theirs.missed;
    }
    let count = samples.answered.len();
    let bus = nats_round_trips(nats_url, count.max(1)).await?;
    crate::pipeline::caught_up(pool, Duration::from_secs(120)).await?;
    report(config, &samples, &bus)
}

fn report(config: &Config, samples: &Samples, bus: &Latencies) -> anyhow::Result<()> {
    let mut text = format!(
        "\nend to end: send-message from {} senders, one at a time each, for {} s; \
         times from the command's answer (ms)\n{:<58} {:>6} {:>9} {:>9}\n",
        config.e2e_clients, config.seconds, "what", "n", "median", "p99"
    );
    let answered = Latencies::new(samples.answered.clone());
    let view = Latencies::new(samples.view.clone());
    let socket = Latencies::new(samples.socket.clone());
    for (what, figures) in [
        ("command answered (request to answer)", &answered),
        (
            "→ view updated (read-your-writes list query answered)",
            &view,
        ),
        (
            "→ recipient's socket notified (chat.message notice)",
            &socket,
        ),
        ("bare NATS hop, publish to subscriber (baseline)", bus),
    ] {
        text.push_str(&format!(
            "{what:<58} {:>6} {:>9.2} {:>9.2}\n",
            figures.len(),
            ms(figures.median()),
            ms(figures.p99())
        ));
    }
    text.push_str(&format!(
        "stale list answers (view not there within 3 s): {}; notices not seen within {} s: {}\n",
        samples.stale,
        NOTICE_WAIT.as_secs(),
        samples.missed
    ));
    write(&text)
}

/// One sender and the recipient's query connection.
struct Sender {
    sender: RawClient,
    reader: RawClient,
    conversation: String,
    recipient: String,
    arrivals: Arrivals,
}

impl Sender {
    /// Sends until `end`; what it measured after `start`.
    async fn until(&mut self, start: Instant, end: Instant) -> anyhow::Result<Samples> {
        let mut samples = Samples::default();
        let mut round = 0;
        while Instant::now() < end {
            let timed = Instant::now() >= start;
            round += 1;
            let body = json!({
                "conversation_id": self.conversation,
                "text": format!("Are we still on for lunch at noon? Round {round}."),
            })
            .to_string();
            let answer = self
                .sender
                .request("POST", "/v1/commands/send-message", Some(&body))
                .await?;
            let accepted = Instant::now();
            anyhow::ensure!(answer.status == 200, "send-message: {}", answer.status);
            let position = answer.json()?["position"]
                .as_i64()
                .context("an answer without position")?;
            let path = format!("/v1/conversations?limit=20&min_position={position}");
            let list = self.reader.request("GET", &path, None).await?;
            let view = accepted.elapsed();
            anyhow::ensure!(list.status == 200, "{path}: {}", list.status);
            let notified = self.notified(position).await;
            if !timed {
                continue;
            }
            samples.answered.push(answer.took);
            samples.view.push(view);
            samples.stale += usize::from(list.header("x-pagenow-stale").is_some());
            match notified {
                Some(at) => samples.socket.push(at.saturating_duration_since(accepted)),
                None => samples.missed += 1,
            }
        }
        Ok(samples)
    }

    /// When the recipient's socket got the notice of `position`, polling for at most
    /// [`NOTICE_WAIT`] (the arrival time is taken by the socket's reader, not here).
    async fn notified(&self, position: i64) -> Option<Instant> {
        let key = (self.recipient.clone(), position);
        let deadline = Instant::now() + NOTICE_WAIT;
        loop {
            if let Some(at) = self.arrivals.lock().ok()?.get(&key) {
                return Some(*at);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// Opens a socket as `user`, waits for `ready`, then records each notice's arrival in a
/// task of its own.
async fn listen(push: &str, user: &str, arrivals: Arrivals) -> anyhow::Result<()> {
    let token = bench::dev_token(user)?;
    let host = push.strip_prefix("http://").context("push address")?;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{host}/v1/ws?token={token}")).await?;
    let ready = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .context("no ready frame within 10 s")?
        .context("socket closed before ready")??;
    anyhow::ensure!(ready.to_text()?.contains("ready"), "not ready: {ready}");
    let user = user.to_owned();
    tokio::spawn(async move {
        while let Some(Ok(message)) = ws.next().await {
            let at = Instant::now();
            match message {
                Message::Text(text) => {
                    let Ok(frame) = serde_json::from_str::<Value>(&text) else {
                        continue;
                    };
                    if let (Some(position), Ok(mut arrivals)) =
                        (frame["position"].as_i64(), arrivals.lock())
                    {
                        arrivals.insert((user.clone(), position), at);
                    }
                }
                Message::Ping(payload) => {
                    let _ = ws.send(Message::Pong(payload)).await;
                }
                Message::Close(_) => break,
                _ => {}
            }
        }
    });
    Ok(())
}

/// `count` core NATS messages, one at a time, from one connection to a subscriber on
/// another: each from publish to receipt.
async fn nats_round_trips(nats_url: &str, count: usize) -> anyhow::Result<Latencies> {
    let publisher = async_nats::connect(nats_url).await?;
    let subscriber = async_nats::connect(nats_url).await?;
    let mut messages = subscriber.subscribe("bench.load.hop").await?;
    subscriber.flush().await?;
    let mut took = Vec::with_capacity(count);
    for n in 0..count {
        let sent = Instant::now();
        publisher
            .publish("bench.load.hop", n.to_be_bytes().to_vec().into())
            .await?;
        publisher.flush().await?;
        tokio::time::timeout(Duration::from_secs(5), messages.next())
            .await
            .context("a NATS message did not arrive within 5 s")?
            .context("the subscription ended")?;
        took.push(sent.elapsed());
    }
    Ok(Latencies::new(took))
}
