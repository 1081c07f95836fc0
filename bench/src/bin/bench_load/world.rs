//! The users the load acts as, made through the command API: a ring of users, each the
//! friend of the next `--friends` ones and in a direct conversation with each of them,
//! and strangers to send friend requests to (each user its own, so no two clients ever
//! write the same stream).

use bench::services::{Apis, Caller};
use futures::{StreamExt, TryStreamExt};
use projector::friendships::Friendships;
use serde_json::json;
use sqlx::PgPool;

use crate::Config;

/// Strangers per user, asked and un-asked in turn.
pub const STRANGERS: usize = 4;

/// Who the load acts as.
pub struct World {
    pub users: Vec<User>,
}

/// One user of the ring.
pub struct User {
    pub id: String,
    /// The direct conversations this user started, with the next users of the ring.
    pub conversations: Vec<Conversation>,
    pub strangers: Vec<String>,
}

/// A direct conversation, and the other participant.
#[derive(Clone)]
pub struct Conversation {
    pub id: String,
    pub with: String,
}

impl World {
    /// Registers everyone, makes the friendships and the conversations, and builds the
    /// friendships view the sharing and chat commands consult (the projector is not
    /// running yet; when it starts, it applies those events again, to the same rows).
    pub async fn build(pool: &PgPool, apis: &Apis, config: &Config) -> anyhow::Result<Self> {
        let count = config.users();
        let ids: Vec<String> = (0..count).map(|i| format!("load-{i}")).collect();
        let strangers: Vec<Vec<String>> = ids
            .iter()
            .map(|id| (0..STRANGERS).map(|k| format!("{id}-s{k}")).collect())
            .collect();
        let everyone: Vec<&String> = ids.iter().chain(strangers.iter().flatten()).collect();
        each(&everyone, |id| register(apis, id)).await?;
        let pairs: Vec<(usize, usize)> = (0..count)
            .flat_map(|i| (1..=config.friends).map(move |d| (i, (i + d) % count)))
            .collect();
        each(&pairs, |&(a, b)| befriend(apis, &ids[a], &ids[b])).await?;
        projector::replay::rebuild(pool, &Friendships::new(), 1000).await?;
        let mut users = Vec::with_capacity(count);
        for (i, (id, strangers)) in ids.iter().zip(strangers).enumerate() {
            let caller = apis.as_user(id)?;
            let mut conversations = Vec::new();
            for d in 1..=config.friends {
                let with = ids[(i + d) % count].clone();
                let answer = caller
                    .command("start-direct-conversation", &json!({ "with": with }))
                    .await?;
                let id = answer["conversation_id"]
                    .as_str()
                    .ok_or_else(|| anyhow::anyhow!("no conversation_id in {answer}"))?;
                conversations.push(Conversation {
                    id: id.to_owned(),
                    with,
                });
            }
            users.push(User {
                id: id.clone(),
                conversations,
                strangers,
            });
        }
        Ok(Self { users })
    }
}

/// Runs `make` for each item, 16 at a time; the first failure.
async fn each<T, F, Fut>(items: &[T], make: F) -> anyhow::Result<()>
where
    F: Fn(&T) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    futures::stream::iter(items.iter().map(make))
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

async fn register(apis: &Apis, id: &str) -> anyhow::Result<()> {
    let body = json!({
        "email": format!("{id}@example.com"),
        "first_name": "Load",
        "last_name": format!("User {id}"),
    });
    apis.as_user(id)?.command("register-user", &body).await?;
    Ok(())
}

async fn befriend(apis: &Apis, a: &str, b: &str) -> anyhow::Result<()> {
    let (asker, answerer): (Caller<'_>, Caller<'_>) = (apis.as_user(a)?, apis.as_user(b)?);
    asker
        .command("send-friend-request", &json!({ "user_id": b }))
        .await?;
    answerer
        .command("accept-friend-request", &json!({ "user_id": a }))
        .await?;
    Ok(())
}
