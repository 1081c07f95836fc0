//! A user of the extension as the command API sees them: a development token, and
//! commands posted over HTTP with every answer counted in [`Tally`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

/// A command's answer, as the report counts it.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// 200; `position` is the command's last event, `events` how many it appended.
    Accepted {
        position: i64,
        events: i64,
        body: Value,
    },
    /// 503: allowed while Postgres is down.
    Unavailable,
    /// Any other status, with the error code.
    Rejected { status: u16, code: String },
    /// No HTTP answer: the command API was down, killed mid-request, or too slow.
    NoAnswer,
}

impl Outcome {
    /// The answer's body when the command was accepted.
    pub fn accepted(&self) -> Option<&Value> {
        match self {
            Outcome::Accepted { body, .. } => Some(body),
            _ => None,
        }
    }
}

/// Every command sent and what came of it.
#[derive(Debug, Default)]
pub struct Tally {
    pub sent: AtomicU64,
    pub accepted: AtomicU64,
    pub unavailable: AtomicU64,
    pub no_answer: AtomicU64,
    /// Other rejections, by `<status> <code>`.
    pub rejected: Mutex<BTreeMap<String, u64>>,
    /// The position of every accepted command that appended events: each must be stored.
    pub positions: Mutex<Vec<i64>>,
}

impl Tally {
    fn record(&self, outcome: &Outcome) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        let counter = match outcome {
            Outcome::Accepted {
                position, events, ..
            } => {
                if *events > 0 {
                    lock(&self.positions).push(*position);
                }
                &self.accepted
            }
            Outcome::Unavailable => &self.unavailable,
            Outcome::NoAnswer => &self.no_answer,
            Outcome::Rejected { status, code } => {
                *lock(&self.rejected)
                    .entry(format!("{status} {code}"))
                    .or_default() += 1;
                return;
            }
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Rejections other than 503, all kinds together.
    pub fn rejected_total(&self) -> u64 {
        lock(&self.rejected).values().sum()
    }
}

/// Locks a mutex whose holder cannot leave it half-changed (every critical section here is
/// one push or one increment), so a poisoned lock is still good to read.
pub fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub token: String,
}

impl User {
    /// A user with a development token valid longer than any run.
    pub fn new(id: String) -> anyhow::Result<Self> {
        let ttl = Duration::from_secs(24 * 3600);
        let token = auth::mint_dev_token(auth::DEV_HS256_SECRET, &id, ttl, false)?;
        Ok(Self { id, token })
    }
}

/// The command API, seen from the load.
#[derive(Debug, Clone)]
pub struct CommandApi {
    http: reqwest::Client,
    base: String,
}

impl CommandApi {
    pub fn new(addr: SocketAddr) -> anyhow::Result<Self> {
        // A request caught by a kill or a Postgres restart must not hold its sender for long.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            http,
            base: format!("http://{addr}/v1/commands"),
        })
    }

    /// Posts `name` as `user` and counts the outcome in `tally`.
    pub async fn send(&self, tally: &Tally, user: &User, name: &str, body: Value) -> Outcome {
        let outcome = self.post(user, name, body).await;
        tally.record(&outcome);
        outcome
    }

    async fn post(&self, user: &User, name: &str, body: Value) -> Outcome {
        let request = self
            .http
            .post(format!("{}/{name}", self.base))
            .bearer_auth(&user.token)
            .json(&body);
        let Ok(response) = request.send().await else {
            return Outcome::NoAnswer;
        };
        let status = response.status().as_u16();
        let Ok(body) = response.json::<Value>().await else {
            return Outcome::NoAnswer;
        };
        match status {
            200 => Outcome::Accepted {
                position: body["position"].as_i64().unwrap_or_default(),
                events: body["events"].as_i64().unwrap_or_default(),
                body,
            },
            503 => Outcome::Unavailable,
            _ => Outcome::Rejected {
                status,
                code: body["error"]["code"].as_str().unwrap_or("?").to_owned(),
            },
        }
    }
}
