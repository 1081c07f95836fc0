//! The commands' figures: the mixed workload over HTTP at each level, next to pgbench
//! inserting the same event rows at the same concurrency.

use std::time::Duration;

use bench::services::{Apis, RawClient};
use bench::{ms, write};
use serde_json::json;
use sqlx::PgPool;

use crate::load::{closed_loop, Figures, Worker};
use crate::pgbench::{EventRow, Pgbench};
use crate::world::{User, World};
use crate::Config;

/// The target: our commands a second at the highest level, over pgbench's.
const TARGET: f64 = 0.6;

/// One client of the mixed workload: a message, a share, a friend request (sent to a
/// stranger, or cancelled if it was sent last time), in turn.
struct Commander {
    client: RawClient,
    conversations: Vec<String>,
    strangers: Vec<String>,
    asked: Vec<bool>,
}

impl Commander {
    async fn new(apis: &Apis, user: &User) -> anyhow::Result<Self> {
        Ok(Self {
            client: RawClient::connect_to(&apis.commands, &user.id).await?,
            conversations: user.conversations.iter().map(|c| c.id.clone()).collect(),
            asked: vec![false; user.strangers.len()],
            strangers: user.strangers.clone(),
        })
    }

    /// The command of turn `n`: its name and body.
    fn command(&mut self, n: u64) -> (&'static str, String) {
        let round = (n / 3) as usize;
        match n % 3 {
            0 => {
                let conversation = &self.conversations[round % self.conversations.len()];
                let body = json!({
                    "conversation_id": conversation,
                    "text": format!("Are we still on for lunch at noon? Round {round}."),
                });
                ("send-message", body.to_string())
            }
            1 => {
                let body = json!({
                    "url": format!("https://news.example.com/2026/11/articles/{n}-a-long-read"),
                    "title": format!("A long read about event sourcing, part {round}"),
                });
                ("share-url", body.to_string())
            }
            _ => {
                let k = round % self.strangers.len();
                let body = json!({ "user_id": self.strangers[k] }).to_string();
                self.asked[k] = !self.asked[k];
                if self.asked[k] {
                    ("send-friend-request", body)
                } else {
                    ("cancel-friend-request", body)
                }
            }
        }
    }
}

impl Worker for Commander {
    async fn step(&mut self, n: u64) -> anyhow::Result<Duration> {
        let (name, body) = self.command(n);
        let path = format!("/v1/commands/{name}");
        let answer = self.client.request("POST", &path, Some(&body)).await?;
        anyhow::ensure!(
            answer.status == 200,
            "{name}: {} {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
        Ok(answer.took)
    }
}

/// Each level: our commands, then pgbench's inserts of rows copied from ours.
pub async fn run(
    config: &Config,
    pool: &PgPool,
    apis: &Apis,
    world: &World,
    pgbench: &Pgbench,
) -> anyhow::Result<()> {
    write(&format!(
        "\ncommands: send-message, share-url, send/cancel-friend-request in turn; pgbench: \
         one INSERT of the same event row per transaction, same mix (-M prepared)\n\
         {:>7} {:>10} {:>9} {:>9} {:>7}   {:>11} {:>9} {:>9}   {:>6}\n",
        "clients", "ours tx/s", "median", "p99", "failed", "pgbench tps", "median", "p99", "ratio"
    ))?;
    let mark = last_position(pool).await?;
    let mut rows: Option<Vec<EventRow>> = None;
    let mut last = None;
    for &clients in &config.clients {
        let mut workers = Vec::with_capacity(clients);
        for user in world.users.iter().cycle().take(clients) {
            workers.push(Commander::new(apis, user).await?);
        }
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for round in 0..config.rounds {
            let baseline_first = round % 2 == 1;
            if baseline_first {
                if let Some(rows) = &rows {
                    theirs.push(pgbench.inserts(rows, clients).await?);
                }
            }
            let (figures, back) = closed_loop(workers, config.warm_up(), config.timed()).await?;
            workers = back;
            ours.push(figures);
            if rows.is_none() {
                rows = Some(EventRow::sample(pool, mark).await?);
            }
            if let (false, Some(rows)) = (baseline_first, &rows) {
                theirs.push(pgbench.inserts(rows, clients).await?);
            }
        }
        let (ours, theirs) = (Figures::merged(&ours), Figures::merged(&theirs));
        let ratio = ours.rate() / theirs.rate();
        write(&row(clients, &ours, &theirs, ratio))?;
        last = Some((clients, ratio));
    }
    if let Some((clients, ratio)) = last {
        write(&format!(
            "target: ours >= {TARGET} x pgbench at {clients} clients: {ratio:.2} ({})\n",
            if ratio >= TARGET { "met" } else { "NOT met" }
        ))?;
    }
    events_per_command(pool, mark).await?;
    Ok(())
}

fn row(clients: usize, ours: &Figures, theirs: &Figures, ratio: f64) -> String {
    let mut line = format!(
        "{clients:>7} {:>10.0} {:>7.2}ms {:>7.2}ms {:>7}   {:>11.0} {:>7.2}ms {:>7.2}ms   {ratio:>6.2}\n",
        ours.rate(),
        ms(ours.latencies.median()),
        ms(ours.latencies.p99()),
        ours.failed,
        theirs.rate(),
        ms(theirs.latencies.median()),
        ms(theirs.latencies.p99()),
    );
    if let Some(failure) = &ours.failure {
        line.push_str(&format!("        first failure: {failure}\n"));
    }
    line
}

async fn last_position(pool: &PgPool) -> anyhow::Result<i64> {
    let (position,): (Option<i64>,) = sqlx::query_as("SELECT max(position) FROM events")
        .fetch_one(pool)
        .await?;
    Ok(position.unwrap_or(0))
}

/// Prints the events each kind of command appended, to show pgbench's one row per
/// transaction is the same work.
async fn events_per_command(pool: &PgPool, mark: i64) -> anyhow::Result<()> {
    let counts: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT event_type, count(*), count(DISTINCT metadata->>'correlation_id')
           FROM events WHERE position > $1 GROUP BY event_type ORDER BY event_type",
    )
    .bind(mark)
    .fetch_all(pool)
    .await?;
    let text: Vec<String> = counts
        .iter()
        .map(|(kind, events, requests)| format!("{kind} {events} in {requests} requests"))
        .collect();
    write(&format!("events appended: {}\n", text.join(", ")))
}
