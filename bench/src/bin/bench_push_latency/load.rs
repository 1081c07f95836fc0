//! The timed phases: commands at a fixed rate of notices, each answered by one notice on
//! its user's socket (a profile update) or by one on each of the sender's friends' sockets
//! (a share, with `--fanout`); and the baseline, core NATS messages at the same rate to one
//! subscriber.
//! Both are open loop: a send is started on schedule, whether earlier ones have been
//! answered or not, so a slow pipeline shows as latency rather than as a lower rate.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use bench::Latencies;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

/// When each position was answered (the HTTP response).
type Instants = Arc<Mutex<HashMap<i64, Instant>>>;

/// When each position's notices were received (the socket frames; one per recipient).
type Arrivals = Arc<Mutex<HashMap<i64, Vec<Instant>>>>;

/// What one phase measured.
pub struct Phase {
    pub sent: usize,
    /// Sends that were answered (commands: with `200`); the others failed.
    pub answered: usize,
    /// Notices (or messages) a second: answered sends a second times the fan-out.
    pub achieved: f64,
    pub received: usize,
    /// Notices the answered sends owe: one per recipient.
    pub expected: usize,
    pub latencies: Latencies,
}

/// The recipients, each with a token and an open socket whose notices are recorded.
pub struct Recipients {
    tokens: Vec<String>,
    received: Arrivals,
    /// Notices per command: 1 (a profile update, to its own user) or the friends each
    /// sender shares a page with.
    fanout: usize,
}

impl Recipients {
    /// Registers `count` users through the command API at `commands` and opens one socket
    /// each on the push node at `push`, ready (its `ready` frame read).
    pub async fn open(
        http: &reqwest::Client,
        commands: &str,
        push: SocketAddr,
        count: usize,
        fanout: usize,
    ) -> anyhow::Result<Self> {
        let users = futures::stream::iter(0..count)
            .map(|n| register(http, commands, n))
            .buffer_unordered(32)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<anyhow::Result<Vec<(String, String)>>>()?;
        let received = Arrivals::default();
        for (_, token) in &users {
            listen(push, token, received.clone()).await?;
        }
        if fanout > 1 {
            befriend(http, commands, &users, fanout).await?;
        }
        // With a fan-out, only users of a full group send: each has `fanout` friends.
        let senders = if fanout > 1 {
            users.len() / (fanout + 1) * (fanout + 1)
        } else {
            users.len()
        };
        anyhow::ensure!(senders > 0, "need at least {} recipients", fanout + 1);
        let tokens = users.into_iter().take(senders).map(|(_, t)| t).collect();
        Ok(Self {
            tokens,
            received,
            fanout,
        })
    }

    /// Sends commands worth `rate` notices a second for `duration` (profile updates, or
    /// shares to every friend with a fan-out), round robin over the recipients, with at
    /// most `clients` requests in flight; waits (at most `settle` with no new notice) for
    /// their notices.
    pub async fn phase(
        &self,
        http: &reqwest::Client,
        commands: &str,
        rate: u32,
        duration: Duration,
        clients: usize,
        settle: Duration,
    ) -> anyhow::Result<Phase> {
        let answered = Instants::default();
        let (url, body): (String, fn(usize) -> Value) = if self.fanout > 1 {
            (format!("{commands}/v1/commands/share-url"), share_body)
        } else {
            (
                format!("{commands}/v1/commands/update-profile"),
                update_body,
            )
        };
        let gate = Arc::new(Semaphore::new(clients));
        let commands_rate = (rate as usize).div_ceil(self.fanout).max(1) as u32;
        let (sent, achieved) = open_loop(commands_rate, duration, |n| {
            let token = self.tokens[n % self.tokens.len()].clone();
            let (http, url, answered, gate) =
                (http.clone(), url.clone(), answered.clone(), gate.clone());
            async move {
                let _permit = gate.acquire_owned().await.ok()?;
                let position = command(&http, &url, &token, &body(n)).await.ok()?;
                let at = Instant::now();
                answered.lock().ok()?.insert(position, at);
                Some(())
            }
        })
        .await;
        let received = settled(&self.received, &answered, self.fanout, settle).await;
        Ok(pair(
            sent,
            achieved * self.fanout as f64,
            &answered,
            &self.received,
            self.fanout,
            received,
        ))
    }
}

/// Makes each group of `fanout + 1` consecutive users all friends with each other (the
/// last, smaller group too): a request each way round a pair, then its acceptance.
async fn befriend(
    http: &reqwest::Client,
    commands: &str,
    users: &[(String, String)],
    fanout: usize,
) -> anyhow::Result<()> {
    let mut pairs = Vec::new();
    for group in users.chunks(fanout + 1) {
        for (i, asker) in group.iter().enumerate() {
            for answerer in &group[i + 1..] {
                pairs.push((asker, answerer));
            }
        }
    }
    let request = format!("{commands}/v1/commands/send-friend-request");
    let accept = format!("{commands}/v1/commands/accept-friend-request");
    futures::stream::iter(pairs)
        .map(|((asker, asker_token), (answerer, answerer_token))| {
            let (request, accept) = (&request, &accept);
            async move {
                let asked = json!({ "user_id": answerer });
                command(http, request, asker_token, &asked).await?;
                let answered = json!({ "user_id": asker });
                command(http, accept, answerer_token, &answered).await
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(())
}

/// Core NATS messages at `rate` a second for `duration` from one connection to a
/// subscriber on another, on `subject`: the bus hop alone.
pub async fn baseline(
    nats_url: &str,
    subject: &str,
    rate: u32,
    duration: Duration,
    settle: Duration,
) -> anyhow::Result<Phase> {
    let publisher = async_nats::connect(nats_url).await?;
    let subscriber = async_nats::connect(nats_url).await?;
    let mut messages = subscriber.subscribe(subject.to_owned()).await?;
    subscriber.flush().await?;
    let received = Arrivals::default();
    let recording = received.clone();
    let reader = tokio::spawn(async move {
        while let Some(message) = messages.next().await {
            let at = Instant::now();
            let Ok(bytes) = <[u8; 8]>::try_from(message.payload.as_ref()) else {
                continue;
            };
            if let Ok(mut received) = recording.lock() {
                received
                    .entry(i64::from_be_bytes(bytes))
                    .or_default()
                    .push(at);
            }
        }
    });
    let published = Instants::default();
    let (sent, achieved) = open_loop(rate, duration, |n| {
        let (publisher, published) = (publisher.clone(), published.clone());
        let subject = subject.to_owned();
        async move {
            let n = n as i64;
            publisher
                .publish(subject, n.to_be_bytes().to_vec().into())
                .await
                .ok()?;
            let at = Instant::now();
            published.lock().ok()?.insert(n, at);
            Some(())
        }
    })
    .await;
    let count = settled(&received, &published, 1, settle).await;
    reader.abort();
    Ok(pair(sent, achieved, &published, &received, 1, count))
}

/// Starts `send(n)` for n = 0.. on schedule, `rate` a second for `duration`; the number
/// started and the rate at which they completed (completions over the time from the
/// first start to the last completion).
async fn open_loop<F, Fut>(rate: u32, duration: Duration, send: F) -> (usize, f64)
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Option<()>> + Send + 'static,
{
    let total = (f64::from(rate) * duration.as_secs_f64()).round() as usize;
    let mut tasks = tokio::task::JoinSet::new();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    let started = Instant::now();
    let mut next = 0;
    while next < total {
        tick.tick().await;
        let due = (f64::from(rate) * started.elapsed().as_secs_f64()) as usize;
        while next < due.min(total) {
            tasks.spawn(send(next));
            next += 1;
        }
    }
    let mut done = 0;
    while let Some(outcome) = tasks.join_next().await {
        done += usize::from(matches!(outcome, Ok(Some(()))));
    }
    (total, done as f64 / started.elapsed().as_secs_f64())
}

/// Waits until every answered position's `fanout` notices have been received, or
/// `settle` passes with no new arrival; how many were received.
async fn settled(
    received: &Arrivals,
    answered: &Instants,
    fanout: usize,
    settle: Duration,
) -> usize {
    let count = || {
        let answered = answered.lock().map(|a| a.clone()).unwrap_or_default();
        let received = received.lock().map(|r| r.clone()).unwrap_or_default();
        let hits = answered
            .keys()
            .map(|p| received.get(p).map_or(0, |r| r.len().min(fanout)))
            .sum();
        (hits, answered.len() * fanout)
    };
    let mut last = (0, Instant::now());
    loop {
        let (hits, wanted) = count();
        if hits == wanted {
            return hits;
        }
        if hits > last.0 {
            last = (hits, Instant::now());
        } else if last.1.elapsed() > settle {
            return hits;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The latency of each notice received for an answered position: receipt minus answer
/// (zero when the notice came first, which the HTTP response's own trip can allow).
fn pair(
    sent: usize,
    achieved: f64,
    answered: &Instants,
    received: &Arrivals,
    fanout: usize,
    count: usize,
) -> Phase {
    let answered = answered.lock().map(|a| a.clone()).unwrap_or_default();
    let received = received.lock().map(|r| r.clone()).unwrap_or_default();
    let samples = answered
        .iter()
        .flat_map(|(p, at)| {
            let arrivals = received.get(p).map(Vec::as_slice).unwrap_or_default();
            arrivals.iter().map(|r| r.saturating_duration_since(*at))
        })
        .collect();
    Phase {
        sent,
        answered: answered.len(),
        achieved,
        received: count,
        expected: answered.len() * fanout,
        latencies: Latencies::new(samples),
    }
}

/// Registers user number `n` (a new id); its id and token.
async fn register(
    http: &reqwest::Client,
    commands: &str,
    n: usize,
) -> anyhow::Result<(String, String)> {
    let user = uuid::Uuid::new_v4().to_string();
    let token = bench::dev_token(&user)?;
    let body = json!({
        "email": format!("bench{n}@example.com"),
        "first_name": "Bench",
        "last_name": format!("User{n}"),
    });
    command(
        http,
        &format!("{commands}/v1/commands/register-user"),
        &token,
        &body,
    )
    .await?;
    Ok((user, token))
}

/// The `n`th profile update: one notice, to its own user.
fn update_body(n: usize) -> Value {
    json!({ "school": { "value": format!("school {n}") } })
}

/// The `n`th share, to every friend of its sender: one notice to each.
fn share_body(n: usize) -> Value {
    json!({ "url": format!("https://example.com/page/{n}"), "title": "A page" })
}

/// Posts a command; the position its answer carries.
async fn command(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    body: &Value,
) -> anyhow::Result<i64> {
    let response = http.post(url).bearer_auth(token).json(body).send().await?;
    let status = response.status();
    let answer: Value = response.json().await?;
    anyhow::ensure!(status.is_success(), "{url}: {status} {answer}");
    answer["position"]
        .as_i64()
        .context("an answer without position")
}

/// Opens a socket as `token`'s user, waits for `ready`, then records the position and
/// arrival of each notice in a task of its own.
async fn listen(push: SocketAddr, token: &str, received: Arrivals) -> anyhow::Result<()> {
    let url = format!("ws://{push}/v1/ws?token={token}");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    let ready = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .context("no ready frame within 10 s")?
        .context("socket closed before ready")??;
    anyhow::ensure!(ready.to_text()?.contains("ready"), "not ready: {ready}");
    tokio::spawn(async move {
        while let Some(Ok(message)) = ws.next().await {
            let at = Instant::now();
            match message {
                Message::Text(text) => record(&text, at, &received),
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

/// Records a notice frame's position as received `at`.
fn record(text: &str, at: Instant, received: &Arrivals) {
    let Ok(frame) = serde_json::from_str::<Value>(text) else {
        return;
    };
    if frame["type"] != "notice" {
        return;
    }
    if let (Some(position), Ok(mut received)) = (frame["position"].as_i64(), received.lock()) {
        received.entry(position).or_default().push(at);
    }
}
