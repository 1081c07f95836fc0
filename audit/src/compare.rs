//! One live table against its rebuilt copy, row by row: the rows that differ, paired by
//! primary key so a changed row reads as the columns that changed.

use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::PgConnection;

/// How one table compares.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableReport {
    /// The table's name (the same in the live and the scratch schema).
    pub table: String,
    pub live_rows: i64,
    pub replayed_rows: i64,
    /// Empty when the live table equals its replay.
    pub differences: Vec<Difference>,
}

/// One way a live table differs from its replay.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Difference {
    /// The same key on both sides, with other values.
    Changed {
        key: Map<String, Value>,
        columns: Vec<ColumnDifference>,
    },
    /// A live row the replay does not have.
    OnlyLive { row: Map<String, Value> },
    /// A replayed row the live table does not have.
    OnlyReplayed { row: Map<String, Value> },
}

/// One column of a changed row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnDifference {
    pub column: String,
    pub live: Value,
    pub replayed: Value,
}

/// Compares `live` with `replayed` (schema-qualified names of tables of one shape) on
/// `conn`, in its transaction's snapshot when it has one.
pub(crate) async fn compare_table(
    conn: &mut PgConnection,
    table: &str,
    live: &str,
    replayed: &str,
) -> Result<TableReport, sqlx::Error> {
    let rows = projector::replay::differences_in(conn, live, replayed).await?;
    let key = primary_key(conn, live).await?;
    Ok(TableReport {
        table: table.to_owned(),
        live_rows: count(conn, live).await?,
        replayed_rows: count(conn, replayed).await?,
        differences: pair(rows, &key),
    })
}

async fn count(conn: &mut PgConnection, table: &str) -> Result<i64, sqlx::Error> {
    let (rows,): (i64,) = sqlx::query_as(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(conn)
        .await?;
    Ok(rows)
}

/// The primary key's columns of `table`, in key order (empty without one).
async fn primary_key(conn: &mut PgConnection, table: &str) -> Result<Vec<String>, sqlx::Error> {
    let columns: Vec<(String,)> = sqlx::query_as(
        "SELECT a.attname::text
           FROM pg_index i
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
          WHERE i.indrelid = $1::regclass AND i.indisprimary
          ORDER BY array_position(i.indkey::int2[], a.attnum)",
    )
    .bind(table)
    .fetch_all(conn)
    .await?;
    Ok(columns.into_iter().map(|(c,)| c).collect())
}

/// Pairs the rows [`projector::replay::differences_in`] found (each with its `side`) by
/// `key`: a key on both sides is a changed row, any other row is only on its side.
/// Without a key every row stands alone. The order is the keys' (then the rows').
fn pair(rows: Vec<Value>, key: &[String]) -> Vec<Difference> {
    let mut live = Vec::new();
    let mut replayed = Vec::new();
    for row in rows {
        let Value::Object(mut row) = row else {
            continue;
        };
        match row.remove("side").as_ref().and_then(Value::as_str) {
            Some("live") => live.push(row),
            _ => replayed.push(row),
        }
    }
    let key_of = |row: &Map<String, Value>| -> Option<Map<String, Value>> {
        (!key.is_empty()).then(|| {
            key.iter()
                .map(|k| (k.clone(), row.get(k).cloned().unwrap_or(Value::Null)))
                .collect()
        })
    };
    let mut out = Vec::new();
    for row in live {
        let paired = key_of(&row)
            .and_then(|k| take_by_key(&mut replayed, &k, &key_of).map(|other| (k, other)));
        out.push(match paired {
            Some((key, other)) => Difference::Changed {
                columns: changed_columns(&row, &other),
                key,
            },
            None => Difference::OnlyLive { row },
        });
    }
    out.extend(
        replayed
            .into_iter()
            .map(|row| Difference::OnlyReplayed { row }),
    );
    out.sort_by_key(sort_key);
    out
}

fn take_by_key(
    rows: &mut Vec<Map<String, Value>>,
    key: &Map<String, Value>,
    key_of: &impl Fn(&Map<String, Value>) -> Option<Map<String, Value>>,
) -> Option<Map<String, Value>> {
    let at = rows.iter().position(|r| key_of(r).as_ref() == Some(key))?;
    Some(rows.swap_remove(at))
}

/// The columns whose values differ, in column-name order.
fn changed_columns(
    live: &Map<String, Value>,
    replayed: &Map<String, Value>,
) -> Vec<ColumnDifference> {
    let mut columns: Vec<&String> = live.keys().chain(replayed.keys()).collect();
    columns.sort();
    columns.dedup();
    columns
        .into_iter()
        .filter_map(|column| {
            let (l, r) = (
                live.get(column).unwrap_or(&Value::Null),
                replayed.get(column).unwrap_or(&Value::Null),
            );
            (l != r).then(|| ColumnDifference {
                column: column.clone(),
                live: l.clone(),
                replayed: r.clone(),
            })
        })
        .collect()
}

/// Stable output: by key (or row), as JSON text.
fn sort_key(difference: &Difference) -> String {
    match difference {
        Difference::Changed { key, .. } => Value::Object(key.clone()).to_string(),
        Difference::OnlyLive { row } | Difference::OnlyReplayed { row } => {
            Value::Object(row.clone()).to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> Vec<String> {
        vec!["user_id".to_owned()]
    }

    #[test]
    fn a_row_on_both_sides_pairs_into_the_columns_that_changed() {
        let rows = vec![
            json!({ "side": "live", "user_id": "bob", "school": "Yale", "version": 3 }),
            json!({ "side": "replayed", "user_id": "bob", "school": "MIT", "version": 3 }),
        ];
        let expected = Difference::Changed {
            key: json!({ "user_id": "bob" })
                .as_object()
                .cloned()
                .unwrap_or_default(),
            columns: vec![ColumnDifference {
                column: "school".into(),
                live: json!("Yale"),
                replayed: json!("MIT"),
            }],
        };
        assert_eq!(pair(rows, &key()), vec![expected]);
    }

    #[test]
    fn rows_on_one_side_only_say_which_side() {
        let rows = vec![
            json!({ "side": "replayed", "user_id": "cy" }),
            json!({ "side": "live", "user_id": "ann" }),
        ];
        let kinds: Vec<_> = pair(rows, &key())
            .into_iter()
            .map(|d| match d {
                Difference::OnlyLive { row } => format!("live {}", row["user_id"]),
                Difference::OnlyReplayed { row } => format!("replayed {}", row["user_id"]),
                Difference::Changed { .. } => "changed".into(),
            })
            .collect();
        assert_eq!(kinds, ["live \"ann\"", "replayed \"cy\""]);
    }
}
