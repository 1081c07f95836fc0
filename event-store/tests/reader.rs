//! The feed reader never skips a committed event and never shows a rolled-back one,
//! however transactions interleave.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use event_store::{Cursor, FeedReader};
use rand::Rng;
use sqlx::PgPool;
use uuid::Uuid;

const WRITERS: usize = 16;
const TARGET_COMMITTED: usize = 10_000;

/// One writer: transactions of 1 to 5 events on its own aggregate, each held open for
/// a random time; one in ten rolls back. Returns the ids of committed events.
async fn writer(pool: PgPool, id: usize, committed_total: Arc<AtomicUsize>) -> Vec<Uuid> {
    let mut committed = Vec::new();
    let mut sequence = 0_i64;
    while committed_total.load(Ordering::Relaxed) < TARGET_COMMITTED {
        let (count, hold_ms, roll_back) = {
            let mut rng = rand::thread_rng();
            (
                rng.gen_range(1..=5),
                rng.gen_range(0..15),
                rng.gen_bool(0.1),
            )
        };
        let mut tx = pool.begin().await.expect("begin");
        let mut ids = Vec::new();
        for n in 1..=count {
            let event_id = Uuid::new_v4();
            sqlx::query(
                "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, event_id)
                 VALUES ('test', $1, $2, 'test.happened', '1', '{}', '{}', $3)",
            )
            .bind(format!("writer-{id}"))
            .bind(sequence + n)
            .bind(event_id)
            .execute(&mut *tx)
            .await
            .expect("insert");
            ids.push(event_id);
        }
        tokio::time::sleep(Duration::from_millis(hold_ms)).await;
        if roll_back {
            tx.rollback().await.expect("rollback");
        } else {
            tx.commit().await.expect("commit");
            sequence += count;
            committed_total.fetch_add(ids.len(), Ordering::Relaxed);
            committed.extend(ids);
        }
    }
    committed
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn reads_every_committed_event_once_in_commit_safe_order_and_no_rolled_back_one(
    pool: PgPool,
) {
    let committed_total = Arc::new(AtomicUsize::new(0));
    let writers_done = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|id| tokio::spawn(writer(pool.clone(), id, committed_total.clone())))
        .collect();
    let reader = tokio::spawn(read_until_done(
        FeedReader::new(pool.clone()),
        writers_done.clone(),
    ));

    let mut committed = HashSet::new();
    for w in writers {
        committed.extend(w.await.expect("writer"));
    }
    writers_done.store(true, Ordering::SeqCst);
    let read = reader.await.expect("reader");

    let read_ids: Vec<Uuid> = read.iter().map(|(id, _, _)| *id).collect();
    let unique: HashSet<Uuid> = read_ids.iter().copied().collect();
    assert!(
        committed.len() >= TARGET_COMMITTED,
        "only {} committed",
        committed.len()
    );
    assert_eq!(unique.len(), read_ids.len(), "an event was read twice");
    assert_eq!(unique, committed, "read set differs from committed set");
    assert_per_aggregate_order(&read);
}

/// Reads the feed while writers run, then, once they stop, until it has read the last
/// committed event. (An empty batch is not the end: xmin is server-wide, so a write
/// transaction of another test's database can hold the readable head back a while.)
async fn read_until_done(
    reader: FeedReader,
    writers_done: Arc<AtomicBool>,
) -> Vec<(Uuid, String, i64)> {
    let mut cursor = Cursor::START;
    let mut read = Vec::new();
    loop {
        let done_before_read = writers_done.load(Ordering::SeqCst);
        let batch = reader.read_after(cursor, 500).await.expect("read");
        for event in &batch {
            assert!(event.cursor() > cursor, "feed went backwards");
            cursor = event.cursor();
            read.push((event.event_id, event.aggregate_id.clone(), event.sequence));
        }
        if batch.is_empty() {
            if done_before_read {
                let last = reader.last_committed().await.expect("last committed");
                if cursor >= last {
                    return read;
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

fn assert_per_aggregate_order(read: &[(Uuid, String, i64)]) {
    let mut last: HashMap<&str, i64> = HashMap::new();
    for (_, aggregate, sequence) in read {
        let previous = last.insert(aggregate, *sequence).unwrap_or(0);
        assert_eq!(*sequence, previous + 1, "{aggregate} out of order");
    }
}
