//! Events read straight from the `events` table: the store's own row type, and cursor binding.

pub(crate) use event_store::reader::{EventRow, EVENT_COLUMNS};
use event_store::Cursor;

/// A cursor as the two values a query binds: the `tx_id` (cast back with
/// `$n::bigint::text::xid8`) and the position.
pub(crate) fn bind_cursor(cursor: Cursor) -> (i64, i64) {
    (cursor.tx_id as i64, cursor.position)
}
