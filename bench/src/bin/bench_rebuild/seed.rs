//! The benchmark's store: users registered with real sealed personal data, then profile
//! updates generated in SQL from one real encoded payload per user.

use chrono::Utc;
use domain::user::{ProfileField, ProfileUpdated, TextValue, UserEvent, UserId, UserRegistered};
use event_store::codec::{self, Encoded};
use personal_data::Keys;
use sqlx::PgPool;

/// Events inserted per generated statement (one transaction, so one `tx_id`, each).
const GENERATED_PER_STATEMENT: i64 = 100_000;

/// One user's two encoded events: its registration and the update reused for it.
struct Seeded {
    user_id: String,
    registered: Encoded,
    updated: Encoded,
}

/// Fills the store with `events` events of `users` users: one `user.registered` each,
/// the rest `user.profile_updated`, spread round-robin with consecutive sequences.
pub async fn seed(pool: &PgPool, users: i64, events: i64) -> anyhow::Result<()> {
    let keys = Keys::new(pool.clone());
    let mut seeded = Vec::new();
    for i in 0..users {
        seeded.push(seal_user(&keys, &user_id(i)).await?);
    }
    insert_registrations(pool, &seeded).await?;
    insert_updates(pool, &seeded, events - users).await?;
    Ok(())
}

/// The id of the `i`-th user [`seed`] registers.
pub fn user_id(i: i64) -> String {
    format!("bench-user-{i:06}")
}

/// Brings the planner's statistics of `events` up to date after seeding.
pub async fn analyze(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::raw_sql("VACUUM ANALYZE events").execute(pool).await?;
    Ok(())
}

async fn seal_user(keys: &Keys, id: &str) -> anyhow::Result<Seeded> {
    let user_id = UserId::parse(id).map_err(|e| anyhow::anyhow!("user id {id}: {e:?}"))?;
    let now = Utc::now();
    let registered = UserEvent::Registered(UserRegistered {
        user_id,
        email: keys.seal(id, &format!("{id}@example.test")).await?,
        first_name: keys.seal(id, "Ada").await?,
        last_name: keys.seal(id, "Lovelace").await?,
        registered_at: now,
    });
    let field = |value| ProfileField {
        value: Some(value),
        public: true,
    };
    let updated = UserEvent::ProfileUpdated(Box::new(ProfileUpdated {
        first_name: Some(keys.seal(id, "Augusta").await?),
        school: Some(field(keys.seal(id, "Home").await?)),
        location: Some(field(keys.seal(id, "London").await?)),
        description: Some(TextValue {
            value: Some(keys.seal(id, "Wrote the first program.").await?),
        }),
        updated_at: now,
        ..ProfileUpdated::default()
    }));
    Ok(Seeded {
        user_id: id.to_owned(),
        registered: codec::encode(&registered)?,
        updated: codec::encode(&updated)?,
    })
}

async fn insert_registrations(pool: &PgPool, seeded: &[Seeded]) -> anyhow::Result<()> {
    let ids: Vec<&str> = seeded.iter().map(|s| s.user_id.as_str()).collect();
    let payloads: Vec<String> = seeded
        .iter()
        .map(|s| s.registered.payload.to_string())
        .collect();
    let version = seeded
        .first()
        .map_or("1", |s| s.registered.event_version.as_str());
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         SELECT 'user', e.id, 1, 'user.registered', $3, e.payload::json, '{}'::json
           FROM UNNEST($1::text[], $2::text[]) WITH ORDINALITY AS e(id, payload, n)
          ORDER BY e.n",
    )
    .bind(&ids)
    .bind(&payloads)
    .bind(version)
    .execute(pool)
    .await?;
    Ok(())
}

/// `count` updates: the `g`-th goes to user `g % users` as its `2 + g / users`-th event.
async fn insert_updates(pool: &PgPool, seeded: &[Seeded], count: i64) -> anyhow::Result<()> {
    let users = seeded.len() as i64;
    let ids: Vec<&str> = seeded.iter().map(|s| s.user_id.as_str()).collect();
    let payloads: Vec<String> = seeded
        .iter()
        .map(|s| s.updated.payload.to_string())
        .collect();
    let version = seeded
        .first()
        .map_or("1", |s| s.updated.event_version.as_str());
    let mut from = 0;
    while from < count {
        let to = (from + GENERATED_PER_STATEMENT).min(count) - 1;
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
             SELECT 'user', ($1::text[])[g % $3 + 1], 2 + g / $3, 'user.profile_updated', $4,
                    (($2::text[])[g % $3 + 1])::json, '{}'::json
               FROM generate_series($5::bigint, $6::bigint) AS g
              ORDER BY g",
        )
        .bind(&ids)
        .bind(&payloads)
        .bind(users)
        .bind(version)
        .bind(from)
        .bind(to)
        .execute(pool)
        .await?;
        from = to + 1;
    }
    Ok(())
}

/// One group conversation of the first three users, created by the first, and `count`
/// messages from them into it (each a stream of its own, as sends append them).
pub async fn seed_messages(pool: &PgPool, count: i64) -> anyhow::Result<()> {
    use domain::chat::message::{MessageEvent, MessageSent};
    use domain::chat::{ConversationEvent, ConversationId, GroupCreated, MessageId};
    let keys = Keys::new(pool.clone());
    let user = |i: i64| UserId::parse(&user_id(i));
    let users = [user(0), user(1), user(2)]
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("user id: {e:?}"))?;
    let conversation = ConversationId::parse(&uuid::Uuid::new_v4().to_string())
        .map_err(|e| anyhow::anyhow!("conversation id: {e:?}"))?;
    let owner = users[0].as_str();
    let created = codec::encode(&ConversationEvent::GroupCreated(GroupCreated {
        conversation_id: conversation.clone(),
        created_by: users[0].clone(),
        title: keys.seal(owner, "Bench").await?,
        participants: users.clone(),
        created_at: Utc::now(),
    }))?;
    let message = MessageId::parse(&uuid::Uuid::new_v4().to_string())
        .map_err(|e| anyhow::anyhow!("message id: {e:?}"))?;
    let sent = codec::encode(&MessageEvent::Sent(MessageSent {
        message_id: message,
        conversation_id: conversation.clone(),
        sender: users[0].clone(),
        text: keys
            .seal(owner, "A message of about the usual length, sent.")
            .await?,
        sent_at: Utc::now(),
    }))?;
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('conversation', $1, 1, $2, $3, $4::json, '{}'::json)",
    )
    .bind(conversation.as_str())
    .bind(&created.event_type)
    .bind(&created.event_version)
    .bind(created.payload.to_string())
    .execute(pool)
    .await?;
    let mut from = 0;
    while from < count {
        let n = GENERATED_PER_STATEMENT.min(count - from);
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
             SELECT 'message', copy.id::text, 1, $1, $2,
                    jsonb_set($3::jsonb, '{message_id}', to_jsonb(copy.id::text))::json, '{}'::json
               FROM (SELECT gen_random_uuid() AS id, g FROM generate_series(1, $4) AS g) AS copy
              ORDER BY copy.g",
        )
        .bind(&sent.event_type)
        .bind(&sent.event_version)
        .bind(sent.payload.to_string())
        .bind(n)
        .execute(pool)
        .await?;
        from += n;
    }
    Ok(())
}
