//! Where a query's time goes, one client, one request at a time: the same answer over
//! HTTP, through the query API's router in this process (no HTTP), and its statements
//! through sqlx (our driver) with no service at all; the presence records read from the
//! KV bucket alone; an HTTP request that reads nothing (`/healthz`). Each kind of
//! request alternates with the others, so all see the same machine.

use std::time::{Duration, Instant};

use bench::services::{query_router, timed_in_process, Apis, RawClient};
use bench::{ms, write, Latencies};
use query_api::chat::store::CONVERSATIONS;
use sqlx::PgPool;

use crate::queries::{FRIENDS, LIMIT, NOTIFICATIONS, POLICIES, UNREAD};

/// Untimed rounds first.
const WARM_UP: usize = 200;

/// One way to get (part of) an answer.
#[derive(Clone, Copy)]
enum Way {
    /// `GET` this path from the query API, or from the push node.
    Http(&'static str),
    PushHttp(&'static str),
    /// This path through the query API's router in this process.
    Router(&'static str),
    ListSql,
    NotificationsSql,
    PresenceSql,
    PresenceKv,
}

const WAYS: [(&str, Way); 10] = [
    ("conversation list: HTTP", Way::Http(LIST)),
    (
        "conversation list: router in-process, no HTTP",
        Way::Router(LIST),
    ),
    ("conversation list: its SQL through sqlx", Way::ListSql),
    ("notifications: HTTP", Way::Http(NOTICES)),
    (
        "notifications: router in-process, no HTTP",
        Way::Router(NOTICES),
    ),
    (
        "notifications: its 2 statements through sqlx",
        Way::NotificationsSql,
    ),
    (
        "friends' presence: HTTP (push node)",
        Way::PushHttp(PRESENCE),
    ),
    (
        "friends' presence: its 2 statements through sqlx",
        Way::PresenceSql,
    ),
    (
        "friends' presence: its KV reads alone (get_many)",
        Way::PresenceKv,
    ),
    (
        "GET /healthz: an HTTP round trip alone",
        Way::Http("/healthz"),
    ),
];

const LIST: &str = "/v1/conversations?limit=20";
const NOTICES: &str = "/v1/notifications?limit=20";
const PRESENCE: &str = "/v1/presence/friends";

/// What the ways need.
struct Probe<'a> {
    pool: &'a PgPool,
    queries: RawClient,
    push: RawClient,
    router: axum::Router,
    token: String,
    kv: presence::PresenceStore,
    reader: &'a str,
    friends: &'a [String],
}

impl Probe<'_> {
    /// How long `way` took, from sending to the last byte or row.
    async fn time(&mut self, way: Way) -> anyhow::Result<Duration> {
        let started = Instant::now();
        match way {
            Way::Http(path) => return self.queries.timed_get(path).await,
            Way::PushHttp(path) => return self.push.timed_get(path).await,
            Way::Router(path) => return timed_in_process(&self.router, &self.token, path).await,
            Way::ListSql => {
                sqlx::query(CONVERSATIONS)
                    .bind(self.reader)
                    .bind(i64::MAX)
                    .bind(LIMIT)
                    .fetch_all(self.pool)
                    .await?;
            }
            Way::NotificationsSql => {
                sqlx::query(NOTIFICATIONS)
                    .bind(self.reader)
                    .bind(None::<i64>)
                    .bind(LIMIT)
                    .fetch_all(self.pool)
                    .await?;
                sqlx::query(UNREAD)
                    .bind(self.reader)
                    .fetch_one(self.pool)
                    .await?;
            }
            Way::PresenceSql => {
                sqlx::query(FRIENDS)
                    .bind(self.reader)
                    .fetch_all(self.pool)
                    .await?;
                sqlx::query(POLICIES)
                    .bind(self.friends)
                    .fetch_all(self.pool)
                    .await?;
            }
            Way::PresenceKv => {
                self.kv.get_many(self.friends).await?;
            }
        }
        Ok(started.elapsed())
    }
}

pub async fn run(
    pool: &PgPool,
    apis: &Apis,
    push: &str,
    nats_url: &str,
    reader: &str,
    friends: &[String],
    samples: usize,
) -> anyhow::Result<()> {
    let nats = async_nats::connect(nats_url).await?;
    let mut probe = Probe {
        pool,
        queries: RawClient::connect_to(&apis.queries, reader).await?,
        push: RawClient::connect_to(push, reader).await?,
        router: query_router(pool).await?,
        token: bench::dev_token(reader)?,
        kv: presence::PresenceStore::open(nats, push::DEFAULT_PRESENCE_TIMEOUT).await?,
        reader,
        friends,
    };
    let mut took = vec![Vec::with_capacity(samples); WAYS.len()];
    for round in 0..WARM_UP + samples {
        for (i, (_, way)) in WAYS.iter().enumerate() {
            let latency = probe.time(*way).await?;
            if round >= WARM_UP {
                took[i].push(latency);
            }
        }
    }
    let mut text = format!(
        "\nwhere a query's time goes: one client, one request at a time, {samples} of each, \
         interleaved\n{:<55} {:>9} {:>9}\n",
        "what", "median", "p99"
    );
    for ((what, _), took) in WAYS.iter().zip(took) {
        let latencies = Latencies::new(took);
        text.push_str(&format!(
            "{what:<55} {:>7.3}ms {:>7.3}ms\n",
            ms(latencies.median()),
            ms(latencies.p99())
        ));
    }
    write(&text)
}
