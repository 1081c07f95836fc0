//! The repository's shortcuts: `state` catches a cached aggregate up with what other
//! instances appended, and `execute_new` creates a stream in one append, falling back to
//! the stored state when the stream exists (a retried command changes nothing).

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use event_store::codec::Upcasters;
use event_store::{AggregateRepository, Metadata};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

/// A test aggregate: a running total, and who claimed it first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Tally {
    total: i64,
    claimed_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum TallyCommand {
    Add(i64),
    /// Claims the tally; claiming again by the same claimant changes nothing.
    Claim(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
enum TallyEvent {
    #[serde(rename = "tally.added")]
    Added(i64),
    #[serde(rename = "tally.claimed")]
    Claimed(String),
}

impl DomainEvent for TallyEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Added(_) => "tally.added",
            Self::Claimed(_) => "tally.claimed",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

#[derive(Debug, PartialEq, thiserror::Error)]
#[error("claimed by someone else")]
struct Taken;

impl Aggregate for Tally {
    const TYPE: &'static str = "tally";
    type Command = TallyCommand;
    type Event = TallyEvent;
    type Error = Taken;
    type Services = ();

    async fn handle(
        &mut self,
        command: TallyCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), Taken> {
        let event = match command {
            TallyCommand::Add(n) => TallyEvent::Added(n),
            TallyCommand::Claim(who) => match &self.claimed_by {
                Some(owner) if *owner == who => return Ok(()),
                Some(_) => return Err(Taken),
                None => TallyEvent::Claimed(who),
            },
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: TallyEvent) {
        match event {
            TallyEvent::Added(n) => self.total += n,
            TallyEvent::Claimed(who) => self.claimed_by = Some(who),
        }
    }
}

fn repository(pool: &PgPool) -> AggregateRepository<Tally> {
    AggregateRepository::new(pool.clone(), Upcasters::default(), |event_type| {
        matches!(event_type, "tally.added" | "tally.claimed").then(|| "1".to_owned())
    })
}

async fn stored_events(pool: &PgPool, id: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_type = 'tally' AND aggregate_id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .expect("count")
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn state_includes_what_another_instance_appended_since_it_was_cached(pool: PgPool) {
    let (here, elsewhere) = (repository(&pool), repository(&pool));
    let meta = Metadata::default();
    here.execute("t", TallyCommand::Add(1), &(), &meta)
        .await
        .expect("add here");
    assert_eq!(here.state("t").await.expect("state").total, 1);

    for n in [10, 100] {
        elsewhere
            .execute("t", TallyCommand::Add(n), &(), &meta)
            .await
            .expect("add elsewhere");
    }
    assert_eq!(here.state("t").await.expect("state").total, 111);
    // The caught-up state is cached: the next command appends after the last event.
    let committed = here
        .execute("t", TallyCommand::Add(1000), &(), &meta)
        .await
        .expect("add after catching up");
    assert_eq!(committed.positions.len(), 1);
    assert_eq!(elsewhere.state("t").await.expect("state").total, 1111);
    assert_eq!(
        here.state("unknown").await.expect("state"),
        Tally::default()
    );
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn execute_new_creates_once_and_a_retry_answers_the_first_position(pool: PgPool) {
    let repo = repository(&pool);
    let meta = Metadata::default();
    let first = repo
        .execute_new("c", TallyCommand::Claim("ann".into()), &(), &meta)
        .await
        .expect("claim");
    assert_eq!(first.positions.len(), 1);

    // Retried, from this instance or another one: nothing new, the first one's position.
    for retrying in [&repo, &repository(&pool)] {
        let again = retrying
            .execute_new("c", TallyCommand::Claim("ann".into()), &(), &meta)
            .await
            .expect("retry");
        assert_eq!(again.positions, Vec::<i64>::new());
        assert_eq!(again.last_position, first.last_position);
    }
    // Someone else finds it taken, decided on the stored state.
    let refused = repo
        .execute_new("c", TallyCommand::Claim("bob".into()), &(), &meta)
        .await;
    assert!(matches!(
        refused,
        Err(event_store::ExecuteError::Domain(Taken))
    ));
    assert_eq!(stored_events(&pool, "c").await, 1);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn execute_new_racing_itself_stores_one_event(pool: PgPool) {
    let repos: Vec<_> = (0..8).map(|_| repository(&pool)).collect();
    let meta = Metadata::default();
    let outcomes = futures::future::join_all(
        repos
            .iter()
            .map(|repo| repo.execute_new("race", TallyCommand::Claim("ann".into()), &(), &meta)),
    )
    .await;
    let appended: usize = outcomes
        .into_iter()
        .map(|outcome| outcome.expect("each one succeeds").positions.len())
        .sum();
    assert_eq!(appended, 1);
    assert_eq!(stored_events(&pool, "race").await, 1);
}

/// Readers are woken by a notification sent after the append committed (not by a
/// trigger inside it, which made every append's commit wait on one server-wide lock).
#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn an_append_wakes_the_feeds_readers(pool: PgPool) {
    let mut listener = sqlx::postgres::PgListener::connect_with(&pool)
        .await
        .expect("listener");
    listener
        .listen(event_store::reader::EVENTS_CHANNEL)
        .await
        .expect("listen");

    repository(&pool)
        .execute("t", TallyCommand::Add(1), &(), &Metadata::default())
        .await
        .expect("add");

    let woken = tokio::time::timeout(std::time::Duration::from_secs(10), listener.recv()).await;
    assert!(matches!(woken, Ok(Ok(_))), "no notification: {woken:?}");
}

/// The notification is not part of the appending transaction: a plain insert, as other
/// writers or a restore make, notifies nobody (readers find it by polling).
#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn appending_transactions_send_no_notification_themselves(pool: PgPool) {
    let triggers: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'events'::regclass AND NOT tgisinternal",
    )
    .fetch_one(&pool)
    .await
    .expect("triggers");
    assert_eq!(triggers, 0, "a trigger on events would serialise appends");
}
