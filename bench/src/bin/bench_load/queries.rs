//! The main views over HTTP at each level, next to the bare SQL behind each run through
//! pgbench at the same concurrency, all as one reader (the same rows on both sides).
//!
//! The SQL is the query API's and the presence crate's: the conversation list is
//! `query_api::chat::store::CONVERSATIONS` itself; the notifications' and the friends'
//! statements are written inline in `query-api/src/shares/store.rs` and
//! `presence/src/views.rs`, and copied here as they stand there.

use std::time::Duration;

use bench::services::{Apis, RawClient};
use bench::{ms, write};
use query_api::chat::store::CONVERSATIONS;
use sqlx::PgPool;

use crate::load::{closed_loop, Figures, Worker};
use crate::pgbench::{Pgbench, Statement};
use crate::world::World;
use crate::Config;

/// The target: our requests a second over pgbench's, at every level.
const TARGET: f64 = 0.5;
/// The page every list is read with.
pub const LIMIT: i64 = 20;

/// `query_api::shares::store::notifications`' statement.
pub const NOTIFICATIONS: &str = "
    SELECT n.share_id::text AS share_id, n.sharer_id, u.first_name, u.last_name,
           n.url, n.title, n.shared_at, n.seen_at, n.position
      FROM share_notifications n
      LEFT JOIN user_table u ON u.user_id = n.sharer_id
     WHERE n.recipient_id = $1 AND ($2::bigint IS NULL OR n.position < $2)
     ORDER BY n.position DESC
     LIMIT $3";
/// `query_api::shares::store::unread_count`'s statement.
pub const UNREAD: &str =
    "SELECT count(*) FROM share_notifications WHERE recipient_id = $1 AND seen_at IS NULL";
/// `presence::accepted_friends`' statement.
pub const FRIENDS: &str = "SELECT other_id FROM friendship_table
    WHERE user_id = $1 AND status = 'accepted' ORDER BY other_id";
/// `presence::sharing_policies`' statement.
pub const POLICIES: &str =
    "SELECT user_id, mode, allow, deny FROM sharing_policy WHERE user_id = ANY($1)";

/// One client reading one path.
struct Reader {
    client: RawClient,
    path: String,
}

impl Worker for Reader {
    async fn step(&mut self, _n: u64) -> anyhow::Result<Duration> {
        let answer = self.client.request("GET", &self.path, None).await?;
        anyhow::ensure!(answer.status == 200, "{}: {}", self.path, answer.status);
        Ok(answer.took)
    }
}

/// One view: where it is served, and the SQL behind it.
struct View<'a> {
    name: &'static str,
    base: &'a str,
    path: String,
    statements: Vec<Statement<'static>>,
}

pub async fn run(
    config: &Config,
    pool: &PgPool,
    apis: &Apis,
    world: &World,
    push: &str,
    nats_url: &str,
    pgbench: &Pgbench,
) -> anyhow::Result<()> {
    let reader = world.users[0].id.clone();
    let friends = friends_of(world, &reader);
    let views = [
        View {
            name: "conversation list",
            base: &apis.queries,
            path: format!("/v1/conversations?limit={LIMIT}"),
            statements: vec![Statement {
                sql: CONVERSATIONS,
                params: vec![
                    Some(reader.clone()),
                    Some(i64::MAX.to_string()),
                    Some(LIMIT.to_string()),
                ],
            }],
        },
        View {
            name: "friends' presence",
            base: push,
            path: "/v1/presence/friends".into(),
            statements: vec![
                Statement {
                    sql: FRIENDS,
                    params: vec![Some(reader.clone())],
                },
                Statement {
                    sql: POLICIES,
                    params: vec![Some(format!("{{{}}}", friends.join(",")))],
                },
            ],
        },
        View {
            name: "notifications",
            base: &apis.queries,
            path: format!("/v1/notifications?limit={LIMIT}"),
            statements: vec![
                Statement {
                    sql: NOTIFICATIONS,
                    params: vec![Some(reader.clone()), None, Some(LIMIT.to_string())],
                },
                Statement {
                    sql: UNREAD,
                    params: vec![Some(reader.clone())],
                },
            ],
        },
    ];
    write(&format!(
        "\nqueries: as {reader} ({} friends, all online); pgbench runs the statements behind \
         each view as one script (-M prepared)\n\
         {:<18} {:>7} {:>10} {:>9} {:>9}   {:>11} {:>9} {:>9}   {:>6}  target\n",
        friends.len(),
        "view",
        "clients",
        "ours rq/s",
        "median",
        "p99",
        "pgbench tps",
        "median",
        "p99",
        "ratio",
    ))?;
    let mut met = true;
    for view in &views {
        for &clients in &config.clients {
            if view.base == push {
                report_presence(push, world).await?;
            }
            let mut readers = Vec::with_capacity(clients);
            for _ in 0..clients {
                let client = RawClient::connect_to(view.base, &reader).await?;
                let path = view.path.clone();
                readers.push(Reader { client, path });
            }
            let name = view.name.replace(['\'', ' '], "_");
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            for round in 0..config.rounds {
                let baseline_first = round % 2 == 1;
                if baseline_first {
                    theirs.push(pgbench.queries(&name, &view.statements, clients).await?);
                }
                let (figures, back) =
                    closed_loop(readers, config.warm_up(), config.timed()).await?;
                readers = back;
                ours.push(figures);
                if !baseline_first {
                    theirs.push(pgbench.queries(&name, &view.statements, clients).await?);
                }
            }
            let (ours, theirs) = (Figures::merged(&ours), Figures::merged(&theirs));
            let ratio = ours.rate() / theirs.rate();
            met &= ratio >= TARGET;
            write(&row(view.name, clients, &ours, &theirs, ratio))?;
        }
    }
    write(&format!(
        "target: ours >= {TARGET} x pgbench for every view and level: {}\n\
         friends' presence: the view also reads one NATS KV record per friend (JetStream \
         direct get); pgbench runs only its two SQL statements, so that ratio holds the KV \
         reads too.\n",
        if met { "met" } else { "NOT met" }
    ))?;
    report_presence(push, world).await?;
    let samples = config.breakdown_samples;
    crate::breakdown::run(pool, apis, push, nats_url, &reader, &friends, samples).await
}

fn row(view: &str, clients: usize, ours: &Figures, theirs: &Figures, ratio: f64) -> String {
    let mut line = format!(
        "{view:<18} {clients:>7} {:>10.0} {:>7.2}ms {:>7.2}ms   {:>11.0} {:>7.2}ms {:>7.2}ms   {ratio:>6.2}  {}\n",
        ours.rate(),
        ms(ours.latencies.median()),
        ms(ours.latencies.p99()),
        theirs.rate(),
        ms(theirs.latencies.median()),
        ms(theirs.latencies.p99()),
        if ratio >= TARGET { "met" } else { "NOT met" },
    );
    if ours.failed > 0 {
        let failure = ours.failure.as_deref().unwrap_or_default();
        line.push_str(&format!(
            "        {} failed; first: {failure}\n",
            ours.failed
        ));
    }
    line
}

/// `reader`'s friends in the ring: whom they started a conversation with (the ones
/// they asked) and who started one with them (the ones who asked them).
fn friends_of(world: &World, reader: &str) -> Vec<String> {
    let mut friends: Vec<String> = world
        .users
        .iter()
        .flat_map(|user| {
            user.conversations.iter().filter_map(move |c| {
                if user.id == reader {
                    Some(c.with.clone())
                } else {
                    (c.with == reader).then(|| user.id.clone())
                }
            })
        })
        .collect();
    friends.sort();
    friends.dedup();
    friends
}

/// Every user reports a page (their presence records are fresh for the presence timeout).
async fn report_presence(push: &str, world: &World) -> anyhow::Result<()> {
    for (i, user) in world.users.iter().enumerate() {
        let mut client = RawClient::connect_to(push, &user.id).await?;
        let body = serde_json::json!({
            "url": format!("https://news.example.com/2026/11/articles/{i}"),
            "title": "A long read about event sourcing",
        })
        .to_string();
        let answer = client.request("POST", "/v1/presence", Some(&body)).await?;
        anyhow::ensure!(answer.status == 200, "report presence: {}", answer.status);
    }
    Ok(())
}
