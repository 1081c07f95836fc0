//! The SQL of a page of events.
//!
//! `audit::list_events` reads from the start of the history and up to the last
//! committed event; a page needs to start after a cursor and to stop at the readable
//! head, so it has its own query, with the same conditions as `audit`'s `EventFilter`.

use audit::EventFilter;
use event_store::reader::{EventRow, EVENT_COLUMNS};
use event_store::{Cursor, StoredEvent};
use sqlx::{PgPool, Postgres, QueryBuilder};

/// Up to `limit` events that `filter` selects, in feed order, after `after` when given,
/// from finished transactions only (at or before the readable head).
pub(super) async fn page(
    pool: &PgPool,
    filter: &EventFilter,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    let mut sql = QueryBuilder::new(format!(
        "SELECT {EVENT_COLUMNS} FROM events
          WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot())"
    ));
    if let Some(after) = after {
        sql.push(" AND (tx_id, position) > (")
            .push_bind(after.tx_id as i64)
            .push("::bigint::text::xid8, ")
            .push_bind(after.position)
            .push(")");
    }
    push_conditions(filter, &mut sql);
    sql.push(" ORDER BY events.tx_id, events.position LIMIT ")
        .push_bind(limit);
    let rows: Vec<EventRow> = sql.build_query_as().fetch_all(pool).await?;
    Ok(rows.into_iter().map(StoredEvent::from).collect())
}

/// Appends ` AND <condition>` for every filter that is set.
fn push_conditions(filter: &EventFilter, sql: &mut QueryBuilder<'_, Postgres>) {
    let texts = [
        ("aggregate_type", &filter.aggregate_type),
        ("aggregate_id", &filter.aggregate_id),
        // `->>` on the `json` column, as the index of migration 0008 has it.
        ("metadata->>'user_id'", &filter.user_id),
        ("event_type", &filter.event_type),
        ("metadata->>'correlation_id'", &filter.correlation_id),
    ];
    for (column, value) in texts {
        if let Some(value) = value {
            sql.push(format!(" AND {column} = "))
                .push_bind(value.clone());
        }
    }
    if let Some(since) = filter.since {
        sql.push(" AND recorded_at >= ").push_bind(since);
    }
    if let Some(until) = filter.until {
        sql.push(" AND recorded_at < ").push_bind(until);
    }
    if let Some(from) = filter.from_position {
        sql.push(" AND position >= ").push_bind(from);
    }
    if let Some(to) = filter.to_position {
        sql.push(" AND position <= ").push_bind(to);
    }
}
