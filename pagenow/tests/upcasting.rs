//! Schema evolution end to end. `inbox.share_seen` is at version 2 (it says where a share
//! was seen); version 1 events, written straight into the store as the release before
//! wrote them, are read as version 2 by every path: the command side, the relay and the
//! live projector, a replay, the audit tools. They stay in the store as written.

mod support;

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use event_store::StoredEvent;
use serde_json::{json, Value};
use sqlx::PgPool;
use support::{wait_healthy, Client, Env};
use testkit::{database_url, eventually, TestNats};

/// When the older release marked bob's first share seen.
const SEEN_BY_THE_OLD_RELEASE: &str = "2025-06-01T08:30:00.123456Z";

/// An events row as the store holds it, compared byte for byte:
/// `(position, event_id, event_type, event_version, payload, metadata)`.
type Row = (i64, uuid::Uuid, String, String, String, String);

/// Three pages ann shared with bob: their ids, in order.
struct Shared {
    first: String,
    unseen: String,
    last: String,
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn version_1_seen_marks_from_an_older_release_read_as_version_2_on_every_path(pool: PgPool) {
    let nats = TestNats::start().expect("nats");
    let env = Env::new(database_url(&pool), nats.url());
    let _services = ["command-api", "query-api", "relay"].map(|role| env.spawn(role));
    let mut projector = env.spawn("projector");
    wait_healthy(env.command_api).await;
    wait_healthy(env.query_api).await;
    let (ann, bob) = (Client::new(&env, "ann"), Client::new(&env, "bob"));
    befriend(&ann, &bob).await;
    let shared = three_shares_for_bob(&ann, &bob).await;
    assert!(projector.terminate().await, "the projector stops cleanly");

    // The older release marked the first share seen: version 1, no `via`.
    let v1_payload = format!(
        r#"{{"share_id":"{}","seen_at":"{SEEN_BY_THE_OLD_RELEASE}"}}"#,
        shared.first
    );
    let written = write_v1(&pool, &v1_payload).await;

    let opened = commands_decide_on_the_upcast_history(&pool, &bob, &shared).await;
    let _projector = env.spawn("projector");
    the_live_view_reads_both_versions(&pool, &bob, &shared, opened).await;
    let published = first_published(&nats.url()).await;
    let as_written: Value = serde_json::from_str(&v1_payload).expect("JSON");
    assert_eq!(
        (published.event_version.as_str(), &published.payload),
        ("1", &as_written),
        "the relay publishes the event as stored"
    );
    replay_equals_live(&pool).await;
    the_audit_tools_fold_the_upcast_history(&pool, &shared).await;

    // The version 1 event is in the store exactly as the older release wrote it.
    assert_eq!(row(&pool, 1).await, written);
    assert_eq!(
        (written.3.as_str(), written.4.as_str()),
        ("1", &*v1_payload)
    );
}

/// (a) While no projector runs, bob's view shows every share unseen; his inbox, loaded
/// through the upcaster, knows the first is seen wherever it is seen again, and records
/// the last one opened on its page, at version 2. Returns that command's answer.
async fn commands_decide_on_the_upcast_history(
    pool: &PgPool,
    bob: &Client,
    shared: &Shared,
) -> Value {
    for via in ["notification", "page"] {
        let body = json!({ "share_id": shared.first, "via": via });
        let again = accepted(bob, "mark-share-seen", body).await;
        assert_eq!(again["events"], 0, "{via}: {again}");
    }
    let body = json!({ "share_id": shared.last, "via": "elsewhere" });
    let (status, refused) = bob.command("mark-share-seen", body).await.expect("API");
    assert_eq!(
        (status, &refused["error"]["code"]),
        (422, &json!("request.invalid_body"))
    );

    let body = json!({ "share_id": shared.last, "via": "page" });
    let opened = accepted(bob, "mark-share-seen", body).await;
    assert_eq!(opened["events"], 1, "{opened}");
    let (version, payload) = stored(pool, 2).await;
    assert_eq!((version.as_str(), &payload["via"]), ("2", &json!("page")));
    opened
}

/// (b) The live projector, fed by the relay through JetStream, marks the first share
/// seen when the older release said, as it marks the last one from its version 2 event.
async fn the_live_view_reads_both_versions(
    pool: &PgPool,
    bob: &Client,
    shared: &Shared,
    opened: Value,
) {
    let at = opened["position"].as_i64().expect("position");
    let view = fresh(bob, &format!("/v1/notifications?min_position={at}")).await;
    let seen_at = |share_id: &str| seen_at_of(&view, share_id);
    assert_eq!(seen_at(&shared.first), Some(time(SEEN_BY_THE_OLD_RELEASE)));
    let (_, payload) = stored(pool, 2).await;
    let opened_at = time(payload["seen_at"].as_str().expect("seen_at"));
    // The view keeps microseconds, as Postgres does.
    assert_eq!(seen_at(&shared.last), Some(opened_at.trunc_subsecs(6)));
    assert_eq!(seen_at(&shared.unseen), None);
    assert_eq!(view["unread_count"], 1, "{view}");
}

/// (c) Every view rebuilt from the store (`pagenow verify`) equals the live one.
async fn replay_equals_live(pool: &PgPool) {
    let report = audit::verify(
        pool,
        personal_data::Keys::new(pool.clone()),
        &audit::VerifyOptions::new(Duration::from_secs(30)),
    )
    .await
    .expect("verify");
    assert!(report.is_consistent(), "{report:#?}");
    let notifications = report
        .projections
        .iter()
        .flat_map(|p| &p.tables)
        .find(|t| t.table == "share_notifications")
        .expect("the shares view is verified");
    let rows = (notifications.live_rows, notifications.replayed_rows);
    assert_eq!(rows, (3, 3));
}

/// (d) `pagenow aggregate inbox bob` folds the version 1 event as the command side does.
async fn the_audit_tools_fold_the_upcast_history(pool: &PgPool, shared: &Shared) {
    let state = |version| audit::aggregate_state(pool, "inbox", "bob", version);
    let after_v1 = state(Some(1)).await.expect("the state after the v1 event");
    assert_eq!(after_v1.state, json!({ "seen": [shared.first] }));
    let mut both = [&shared.first, &shared.last];
    both.sort();
    let now = state(None).await.expect("the state now");
    assert_eq!((now.latest, now.state), (2, json!({ "seen": both })));
}

/// ann and bob register and become friends; waits until the friendships view knows.
async fn befriend(ann: &Client, bob: &Client) {
    for (client, first) in [(ann, "Ann"), (bob, "Bob")] {
        let email = format!("{}@example.com", client.user);
        let body = json!({ "email": email, "first_name": first, "last_name": "Lee" });
        accepted(client, "register-user", body).await;
    }
    accepted(ann, "send-friend-request", json!({ "user_id": "bob" })).await;
    let accept = accepted(bob, "accept-friend-request", json!({ "user_id": "ann" })).await;
    let at = accept["position"].as_i64().expect("position");
    let friends = fresh(ann, &format!("/v1/friends?min_position={at}")).await;
    assert!(friends.to_string().contains("\"bob\""), "{friends}");
}

/// ann shares three pages with bob; waits until his view shows them, unseen.
async fn three_shares_for_bob(ann: &Client, bob: &Client) -> Shared {
    let mut ids = Vec::new();
    let mut at = 0;
    for n in 1..=3 {
        let url = format!("https://example.com/{n}");
        let body = json!({ "url": url, "title": format!("Page {n}"), "to": ["bob"] });
        let shared = accepted(ann, "share-url", body).await;
        ids.push(shared["share_id"].as_str().expect("share id").to_owned());
        at = shared["position"].as_i64().expect("position");
    }
    let view = fresh(bob, &format!("/v1/notifications?min_position={at}")).await;
    assert_eq!(view["unread_count"], 3, "{view}");
    let [first, unseen, last] = <[String; 3]>::try_from(ids).expect("three shares");
    Shared {
        first,
        unseen,
        last,
    }
}

/// Inserts bob's first inbox event as the release before wrote it; the row as stored.
async fn write_v1(pool: &PgPool, payload: &str) -> Row {
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('inbox', 'bob', 1, 'inbox.share_seen', '1', $1::json, '{\"user_id\":\"bob\"}')",
    )
    .bind(payload)
    .execute(pool)
    .await
    .expect("a version 1 event");
    row(pool, 1).await
}

/// bob's inbox event `sequence`, as stored.
async fn row(pool: &PgPool, sequence: i64) -> Row {
    sqlx::query_as(
        "SELECT position, event_id, event_type, event_version, payload::text, metadata::text
           FROM events WHERE aggregate_type = 'inbox' AND aggregate_id = 'bob' AND sequence = $1",
    )
    .bind(sequence)
    .fetch_one(pool)
    .await
    .expect("the event")
}

/// The version and payload of bob's inbox event `sequence`.
async fn stored(pool: &PgPool, sequence: i64) -> (String, Value) {
    let (_, _, _, version, payload, _) = row(pool, sequence).await;
    (version, serde_json::from_str(&payload).expect("JSON"))
}

/// The first event the relay published on bob's inbox subject.
async fn first_published(nats_url: &str) -> StoredEvent {
    let client = async_nats::connect(nats_url).await.expect("nats");
    let stream = async_nats::jetstream::new(client)
        .get_stream(relay::Config::default().stream.name)
        .await
        .expect("the events stream");
    let message = stream
        .get_first_raw_message_by_subject("events.inbox.bob", 1)
        .await
        .expect("bob's first inbox event on JetStream");
    serde_json::from_slice(&message.payload).expect("an event")
}

fn seen_at_of(view: &Value, share_id: &str) -> Option<DateTime<Utc>> {
    let items = view["items"].as_array().expect("items");
    let item = items.iter().find(|i| i["share_id"] == share_id);
    let seen_at = &item.expect("the share is in the view")["seen_at"];
    seen_at.as_str().map(time)
}

fn time(text: &str) -> DateTime<Utc> {
    text.parse().expect("a time")
}

/// Posts a command that must be accepted; its answer.
async fn accepted(client: &Client, name: &str, body: Value) -> Value {
    let (status, answer) = client.command(name, body).await.expect("command API");
    assert_eq!(status, 200, "{name}: {answer}");
    answer
}

/// The answer to `path` once the view has reached its `min_position` (bounded).
async fn fresh(client: &Client, path: &str) -> Value {
    eventually(Duration::from_secs(30), path, || async {
        let (status, stale, answer) = client.query(path).await;
        (status == 200 && !stale).then_some(answer)
    })
    .await
}
