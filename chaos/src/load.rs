//! The steady command load: a few users who are all friends, in one group conversation and
//! in direct conversations, then workers sending a mix of chat messages, shares, profile
//! updates and friendships with newcomers until told to stop.
//!
//! Every command is one a healthy system accepts, so any rejection other than 503 is worth
//! a look. A command with no answer (the command API was killed under it) is not retried:
//! whether it committed is unknown, and a newcomer's friendship steps stop there.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::client::{CommandApi, Outcome, Tally, User};

/// The pause between two commands of one worker, which keeps the load steady and modest.
const PAUSE: Duration = Duration::from_millis(10);

/// The users who carry the load, and the conversations between them.
#[derive(Debug)]
pub struct World {
    pub users: Vec<User>,
    /// The group conversation of every user.
    pub group: String,
    /// `directs[i]`: the direct conversation of user `i` and user `i + 1` (wrapping).
    pub directs: Vec<String>,
}

/// Registers `count` users; returns each with the position of its registration.
pub async fn register(
    api: &CommandApi,
    tally: &Tally,
    count: usize,
) -> anyhow::Result<Vec<(User, i64)>> {
    let mut registered = Vec::new();
    for n in 0..count {
        let user = User::new(format!("chaos-{n}"))?;
        let body = registration(
            &format!("chaos{n}@example.com"),
            "Chaos",
            &format!("User {n}"),
        );
        let answer = must(
            api.send(tally, &user, "register-user", body).await,
            "register-user",
        )?;
        let position = answer["position"].as_i64().context("position")?;
        registered.push((user, position));
    }
    Ok(registered)
}

/// Makes every user a friend of every other; returns the position of the last acceptance.
pub async fn befriend(api: &CommandApi, tally: &Tally, users: &[User]) -> anyhow::Result<i64> {
    let mut last = 0;
    for (i, asker) in users.iter().enumerate() {
        for answerer in &users[i + 1..] {
            let to_answerer = json!({"user_id": answerer.id});
            let to_asker = json!({"user_id": asker.id});
            must(
                api.send(tally, asker, "send-friend-request", to_answerer)
                    .await,
                "send-friend-request",
            )?;
            let accepted = must(
                api.send(tally, answerer, "accept-friend-request", to_asker)
                    .await,
                "accept-friend-request",
            )?;
            last = accepted["position"].as_i64().context("position")?;
        }
    }
    Ok(last)
}

/// Starts the group of every user and the direct conversations. Whether they are friends
/// is read from the `friendships` view: it must have reached [`befriend`]'s position.
pub async fn start_conversations(
    api: &CommandApi,
    tally: &Tally,
    users: Vec<User>,
) -> anyhow::Result<World> {
    let others: Vec<&str> = users[1..].iter().map(|u| u.id.as_str()).collect();
    let body = json!({
        "conversation_id": uuid::Uuid::new_v4(),
        "title": "Everyone",
        "participants": others,
    });
    let group = must(
        api.send(tally, &users[0], "create-group-conversation", body)
            .await,
        "create-group-conversation",
    )?;
    let mut directs = Vec::new();
    for (i, user) in users.iter().enumerate() {
        let with = &users[(i + 1) % users.len()];
        let body = json!({"with": with.id});
        let answer = must(
            api.send(tally, user, "start-direct-conversation", body)
                .await,
            "start-direct-conversation",
        )?;
        directs.push(conversation_id(&answer)?);
    }
    Ok(World {
        group: conversation_id(&group)?,
        users,
        directs,
    })
}

/// Runs `workers` senders until `stop` is cancelled.
pub async fn run(
    api: CommandApi,
    tally: Arc<Tally>,
    world: Arc<World>,
    workers: usize,
    stop: CancellationToken,
) {
    let senders: Vec<_> = (0..workers)
        .map(|n| {
            let sender = Sender {
                n,
                api: api.clone(),
                tally: tally.clone(),
                world: world.clone(),
                rng: StdRng::from_entropy(),
            };
            tokio::spawn(sender.run(stop.clone()))
        })
        .collect();
    for sender in senders {
        let _ = sender.await;
    }
}

/// A count shared by the workers, to make each profile value and newcomer unique.
static NEXT: AtomicU64 = AtomicU64::new(0);

struct Sender {
    n: usize,
    api: CommandApi,
    tally: Arc<Tally>,
    world: Arc<World>,
    rng: StdRng,
}

impl Sender {
    async fn run(mut self, stop: CancellationToken) {
        while !stop.is_cancelled() {
            self.one().await;
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = tokio::time::sleep(PAUSE) => {}
            }
        }
    }

    /// One command, or one newcomer's friendship (three commands), chosen at random.
    async fn one(&mut self) {
        let who = self.rng.gen_range(0..self.world.users.len());
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        match self.rng.gen_range(0..100) {
            0..=29 => self.message(who, self.world.group.clone(), n).await,
            30..=49 => self.direct_message(who, n).await,
            50..=69 => self.update_profile(who, n).await,
            70..=84 => self.share(who, n).await,
            _ => self.newcomer(who, n).await,
        }
    }

    async fn message(&self, who: usize, conversation: String, n: u64) {
        let body = json!({
            "conversation_id": conversation,
            "message_id": uuid::Uuid::new_v4(),
            "text": format!("message {n} from worker {}", self.n),
        });
        self.send(who, "send-message", body).await;
    }

    /// A message in the direct conversation with the user after, or before, `who`.
    async fn direct_message(&self, who: usize, n: u64) {
        let count = self.world.users.len();
        let (sender, conversation) = if n.is_multiple_of(2) {
            (who, who)
        } else {
            ((who + 1) % count, who)
        };
        let conversation = self.world.directs[conversation].clone();
        self.message(sender, conversation, n).await;
    }

    async fn update_profile(&self, who: usize, n: u64) {
        let body =
            json!({"school": {"value": format!("school {n}"), "public": n.is_multiple_of(2)}});
        self.send(who, "update-profile", body).await;
    }

    /// A page shared with every other user of the world.
    async fn share(&self, who: usize, n: u64) {
        let to: Vec<&str> = self
            .world
            .users
            .iter()
            .filter(|u| u.id != self.world.users[who].id)
            .map(|u| u.id.as_str())
            .collect();
        let body = json!({
            "url": format!("https://example.com/pages/{n}"),
            "title": format!("Page {n}"),
            "to": to,
        });
        self.send(who, "share-url", body).await;
    }

    /// A new user registers, `who` asks them to be friends, they ask back (which accepts).
    async fn newcomer(&self, who: usize, n: u64) {
        let Ok(newcomer) = User::new(format!("newcomer-{n}")) else {
            return;
        };
        let base = &self.world.users[who];
        let body = registration(
            &format!("newcomer{n}@example.com"),
            "New",
            &format!("Comer {n}"),
        );
        let steps = [
            (&newcomer, "register-user", body),
            (base, "send-friend-request", json!({"user_id": newcomer.id})),
            (
                &newcomer,
                "send-friend-request",
                json!({"user_id": base.id}),
            ),
        ];
        for (user, name, body) in steps {
            if self
                .api
                .send(&self.tally, user, name, body)
                .await
                .accepted()
                .is_none()
            {
                return;
            }
        }
    }

    async fn send(&self, who: usize, name: &str, body: Value) {
        let user = &self.world.users[who];
        self.api.send(&self.tally, user, name, body).await;
    }
}

/// The body of `register-user`.
fn registration(email: &str, first_name: &str, last_name: &str) -> Value {
    json!({"email": email, "first_name": first_name, "last_name": last_name})
}

/// The answer of a set-up command, which must be accepted (nothing is broken yet).
fn must(outcome: Outcome, what: &str) -> anyhow::Result<Value> {
    match outcome {
        Outcome::Accepted { body, .. } => Ok(body),
        other => bail!("{what} was not accepted during set-up: {other:?}"),
    }
}

fn conversation_id(answer: &Value) -> anyhow::Result<String> {
    answer["conversation_id"]
        .as_str()
        .map(str::to_owned)
        .context("conversation_id in the answer")
}
