//! The Postgres views presence reads, and their SQL: the owner's sharing policy and
//! their accepted friends (both kept by the projector).

use std::collections::HashMap;

use domain::user::{Domain, ShareMode, SharingPolicy};
use sqlx::PgPool;

/// The sharing policy of `user_id` from the `sharing_policy` view. A user without a row
/// (not registered yet, or the view behind) gets the default policy, `default_none`
/// with empty lists: nothing is shown until the policy says so. A row that does not
/// make a valid policy is logged and treated the same way.
pub async fn sharing_policy(pool: &PgPool, user_id: &str) -> Result<SharingPolicy, sqlx::Error> {
    let mut policies = sharing_policies(pool, &[user_id.to_owned()]).await?;
    Ok(policies.remove(user_id).unwrap_or_default())
}

fn policy_of(mode: &str, allow: &[String], deny: &[String]) -> Option<SharingPolicy> {
    let mode = ShareMode::parse(mode).ok()?;
    let domains = |list: &[String]| -> Option<Vec<Domain>> {
        list.iter().map(|d| Domain::parse(d).ok()).collect()
    };
    SharingPolicy::new(mode, domains(allow)?, domains(deny)?).ok()
}

/// The accepted friends of `user_id`, in id order.
pub async fn accepted_friends(pool: &PgPool, user_id: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT other_id FROM friendship_table
         WHERE user_id = $1 AND status = 'accepted' ORDER BY other_id",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await
}

/// The sharing policies of `user_ids`, by user id; users without a row are left out
/// (use the default policy for them, as [`sharing_policy`] does).
pub async fn sharing_policies(
    pool: &PgPool,
    user_ids: &[String],
) -> Result<HashMap<String, SharingPolicy>, sqlx::Error> {
    let rows: Vec<(String, String, Vec<String>, Vec<String>)> = sqlx::query_as(
        "SELECT user_id, mode, allow, deny FROM sharing_policy WHERE user_id = ANY($1)",
    )
    .bind(user_ids)
    .fetch_all(pool)
    .await?;
    let policies = rows.into_iter().map(|(user_id, mode, allow, deny)| {
        let policy = policy_of(&mode, &allow, &deny).unwrap_or_else(|| {
            tracing::warn!(user.id = %user_id, "invalid sharing policy row: nothing shared");
            SharingPolicy::default()
        });
        (user_id, policy)
    });
    Ok(policies.collect())
}
