//! People and friendships written straight into `user_table` and `friendship_table`,
//! as the `users` and `friendships` projections would keep them.

#![allow(dead_code)] // each test file uses its own part

use serde_json::Value;
use sqlx::PgPool;

/// Inserts a user with these names, an e-mail of `{id}@example.com` (private) and no
/// optional field, registered at `registered_at`.
pub async fn person_registered_at(
    pool: &PgPool,
    id: &str,
    first: &str,
    last: &str,
    registered_at: &str,
) {
    sqlx::query(
        "INSERT INTO user_table (user_id, email, first_name, last_name,
                                 registered_at, updated_at, last_position, version)
         VALUES ($1, $1 || '@example.com', $2, $3, $4::timestamptz, $4::timestamptz, 0, 1)",
    )
    .bind(id)
    .bind(first)
    .bind(last)
    .bind(registered_at)
    .execute(pool)
    .await
    .expect("the user row is inserted");
}

/// Inserts a user with these names, registered on 2024-01-01.
pub async fn person(pool: &PgPool, id: &str, first: &str, last: &str) {
    person_registered_at(pool, id, first, last, "2024-01-01T00:00:00Z").await;
}

/// Sets a user's e-mail address and whether it is public.
pub async fn set_email(pool: &PgPool, id: &str, email: &str, public: bool) {
    sqlx::query("UPDATE user_table SET email = $2, email_public = $3 WHERE user_id = $1")
        .bind(id)
        .bind(email)
        .bind(public)
        .execute(pool)
        .await
        .expect("the e-mail is set");
}

/// `a` and `b` become friends (`a` asked) at `accepted_at`: a row on each side.
pub async fn befriend_at(pool: &PgPool, a: &str, b: &str, accepted_at: &str) {
    relate(pool, a, b, "accepted", Some(accepted_at)).await;
}

/// `a` and `b` become friends now (`a` asked).
pub async fn befriend(pool: &PgPool, a: &str, b: &str) {
    befriend_at(pool, a, b, "2024-06-01T00:00:00Z").await;
}

/// `from` asks `to` to be friends: a pending row on each side.
pub async fn request(pool: &PgPool, from: &str, to: &str) {
    relate(pool, from, to, "pending", None).await;
}

async fn relate(pool: &PgPool, from: &str, to: &str, status: &str, accepted_at: Option<&str>) {
    sqlx::query(
        "INSERT INTO friendship_table (user_id, other_id, status, requested_by,
                                       requested_at, accepted_at, last_position)
         VALUES ($1, $2, $3, $1, '2024-05-01T00:00:00Z', $4::timestamptz, 0),
                ($2, $1, $3, $1, '2024-05-01T00:00:00Z', $4::timestamptz, 0)",
    )
    .bind(from)
    .bind(to)
    .bind(status)
    .bind(accepted_at)
    .execute(pool)
    .await
    .expect("the friendship rows are inserted");
}

/// The `user_id`s of a list answer's `items`, in order.
pub fn ids(answer: &Value) -> Vec<String> {
    answer["items"]
        .as_array()
        .expect("an answer with items")
        .iter()
        .map(|item| {
            item["user_id"]
                .as_str()
                .expect("an item with a user id")
                .to_owned()
        })
        .collect()
}

/// The keys of a JSON object, sorted.
pub fn keys(object: &Value) -> Vec<String> {
    let mut keys: Vec<String> = object
        .as_object()
        .expect("a JSON object")
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// Moves the checkpoint of the projection `name` to `(tx_id, position)`.
pub async fn set_checkpoint(pool: &PgPool, name: &str, tx_id: i64, position: i64) {
    sqlx::query(
        "INSERT INTO checkpoints (name, tx_id, position)
         VALUES ($1, $2::bigint::text::xid8, $3)
         ON CONFLICT (name) DO UPDATE SET tx_id = EXCLUDED.tx_id, position = EXCLUDED.position",
    )
    .bind(name)
    .bind(tx_id)
    .bind(position)
    .execute(pool)
    .await
    .expect("the checkpoint is stored");
}
