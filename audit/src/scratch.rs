//! Scratch schemas: empty copies of the live view tables, for the verifier's replays and
//! the shadow rebuild's new tables, made and dropped by them.

use projector::replay::quote_identifier;
use sqlx::PgPool;

use crate::shadow::ShadowError;
use crate::verify::VerifyError;

/// The schema the live view tables are in.
pub const LIVE_SCHEMA: &str = "public";

/// Tables every scratch schema has besides the projections' own: where notices would go
/// if a projection wrote one itself (they only come through the runner).
const ALWAYS: &[&str] = &["user_notices"];

/// A fresh scratch schema name, `verify_<12 hex digits>`.
pub fn scratch_name() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("verify_{}", &id[..12])
}

/// Whether `name` is a plain lower-case SQL identifier: the only names the verifier
/// interpolates into SQL.
pub(crate) fn check_identifier(name: &str) -> Result<(), VerifyError> {
    let mut chars = name.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63;
    match plain {
        true => Ok(()),
        false => Err(VerifyError::BadIdentifier(name.to_owned())),
    }
}

/// Creates `schema` with an empty copy (columns, defaults, constraints, indexes) of each
/// live table in `tables`, and of the tables every scratch schema has.
pub async fn create(pool: &PgPool, schema: &str, tables: &[&str]) -> Result<(), VerifyError> {
    check_identifier(schema)?;
    let mut all: Vec<&str> = tables.iter().chain(ALWAYS).copied().collect();
    all.sort_unstable();
    all.dedup();
    let mut tx = pool.begin().await?;
    sqlx::query(&format!("CREATE SCHEMA {}", quote_identifier(schema)))
        .execute(&mut *tx)
        .await?;
    for table in all {
        check_identifier(table)?;
        let sql =
            format!("CREATE TABLE {schema}.{table} (LIKE {LIVE_SCHEMA}.{table} INCLUDING ALL)");
        sqlx::query(&sql).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Drops `schema` and everything in it; nothing happens when it does not exist.
pub async fn drop_scratch(pool: &PgPool, schema: &str) -> Result<(), VerifyError> {
    check_identifier(schema)?;
    let mut tx = pool.begin().await?;
    // CASCADE lists every dropped table in a notice: noise in the operator's terminal.
    sqlx::query("SET LOCAL client_min_messages = warning")
        .execute(&mut *tx)
        .await?;
    let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", quote_identifier(schema));
    sqlx::query(&sql).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Refuses a table whose copy would not stand alone: a `serial` column's default names
/// the live table's sequence, which goes when the old table is dropped.
pub(crate) async fn check_supported(pool: &PgPool, table: &str) -> Result<(), ShadowError> {
    let (serial,): (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM pg_attrdef
                         WHERE adrelid = $1::regclass
                           AND pg_get_expr(adbin, adrelid) LIKE 'nextval(%')",
    )
    .bind(format!("{LIVE_SCHEMA}.{table}"))
    .fetch_one(pool)
    .await?;
    match serial {
        true => Err(ShadowError::Unsupported {
            table: table.to_owned(),
            reason: "a serial column (use an identity column)",
        }),
        false => Ok(()),
    }
}

/// Gives the shadow copy of `table` the live table's index names and grants, so that it
/// is indistinguishable once it has replaced it (migrations name indexes).
pub(crate) async fn match_live(
    pool: &PgPool,
    schema: &str,
    table: &str,
) -> Result<(), ShadowError> {
    let (live, copy) = (
        format!("{LIVE_SCHEMA}.{table}"),
        format!("{schema}.{table}"),
    );
    let renames: Vec<(String, String)> = sqlx::query_as(
        "SELECT n.relname::text, o.relname::text
           FROM pg_index ni JOIN pg_class n ON n.oid = ni.indexrelid,
                pg_index oi JOIN pg_class o ON o.oid = oi.indexrelid
          WHERE ni.indrelid = $1::regclass AND oi.indrelid = $2::regclass
            AND n.relam = o.relam AND ni.indisunique = oi.indisunique
            AND ni.indkey::text = oi.indkey::text AND ni.indclass::text = oi.indclass::text
            AND ni.indoption::text = oi.indoption::text
            AND pg_get_expr(ni.indexprs, ni.indrelid) IS NOT DISTINCT FROM pg_get_expr(oi.indexprs, oi.indrelid)
            AND pg_get_expr(ni.indpred, ni.indrelid) IS NOT DISTINCT FROM pg_get_expr(oi.indpred, oi.indrelid)
            AND n.relname <> o.relname",
    )
    .bind(&copy)
    .bind(&live)
    .fetch_all(pool)
    .await?;
    for (from, to) in renames {
        let sql = format!(
            "ALTER INDEX {schema}.{} RENAME TO {}",
            quote_identifier(&from),
            quote_identifier(&to)
        );
        sqlx::query(&sql).execute(pool).await?;
    }
    let grants: Vec<(String, String)> = sqlx::query_as(
        "SELECT a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END
           FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a
           LEFT JOIN pg_roles r ON r.oid = a.grantee
          WHERE c.oid = $1::regclass",
    )
    .bind(&live)
    .fetch_all(pool)
    .await?;
    for (privilege, grantee) in grants {
        let sql = format!("GRANT {privilege} ON {copy} TO {grantee}");
        sqlx::query(&sql).execute(pool).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_identifiers_reach_sql() {
        for good in ["user_table", "verify_0a1b2c3d4e5f", "_x9"] {
            assert!(check_identifier(good).is_ok(), "{good}");
        }
        for bad in ["", "User", "a;drop", "1abc", "a.b", "\"q\""] {
            assert!(check_identifier(bad).is_err(), "{bad}");
        }
        assert!(check_identifier(&scratch_name()).is_ok());
    }
}
