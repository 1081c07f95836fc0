//! The chat views and notices: a scripted history (a direct conversation, a group with
//! add, leave, rejoin and rename, messages from several senders, read marks) through the
//! real runners; replay equals live; events applied twice change nothing; an erased
//! author's texts and titles are gone; each participant is told what the docs list.

#[path = "../sharing/mod.rs"]
mod sharing;

mod told;

use std::collections::BTreeSet;
use std::sync::Arc;

use domain::chat::message::{Message, MessageCommand, MessageEvent, SendMessage};
use domain::chat::{
    AddParticipant, Conversation, ConversationCommand, ConversationEvent, ConversationId,
    CreateGroupConversation, LeaveConversation, MarkConversationRead, Membership, MessageId,
    ReadUpTo, RenameConversation, StartDirectConversation,
};
use domain::user::SharingPolicy;
use event_store::codec::Upcasters;
use event_store::{AggregateRepository, Cursor, FeedReader, Metadata};
use personal_data::Keys;
use projector::chat::{self, Chat};
use projector::notices::{self, Notices};
use projector::replay::{self, RebuildOptions};
use projector::Projection;
use serde_json::{json, Value};
use sqlx::PgPool;
use testkit::TestNats;

use sharing::*;

async fn on_conversation(pool: &PgPool, id: &ConversationId, command: ConversationCommand) {
    AggregateRepository::<Conversation>::new(
        pool.clone(),
        Upcasters::default(),
        ConversationEvent::current_version,
    )
    .execute(id.as_str(), command, &(), &Metadata::default())
    .await
    .expect("the conversation command is carried out");
}

/// A message as sent: its id, its place in the feed, and the `seq` the script expects.
struct Sent {
    id: MessageId,
    position: i64,
    seq: u64,
}

/// `sender` sends `text` at minute `minute`; `seq` is the place the script expects it at.
async fn send(
    pool: &PgPool,
    conversation: &ConversationId,
    sender: &str,
    text: &str,
    (seq, minute): (u64, u32),
) -> Sent {
    let message_id = MessageId::parse(&uuid::Uuid::new_v4().to_string()).expect("uuid");
    let command = MessageCommand::Send(SendMessage {
        message_id: message_id.clone(),
        conversation_id: conversation.clone(),
        sender: id(sender),
        membership: Membership::Participant,
        text: Keys::new(pool.clone())
            .seal(sender, text)
            .await
            .expect("seal"),
        at: at(minute),
    });
    let committed = AggregateRepository::<Message>::new(
        pool.clone(),
        Upcasters::default(),
        MessageEvent::current_version,
    )
    .execute_new(message_id.as_str(), command, &(), &Metadata::default())
    .await
    .expect("the message is sent");
    let position = committed.last_position.expect("an event");
    Sent {
        id: message_id,
        position,
        seq,
    }
}

async fn start_direct(pool: &PgPool, by: &str, with: &str, minute: u32) -> ConversationId {
    let conversation_id = ConversationId::direct(&id(by), &id(with));
    let command = ConversationCommand::StartDirect(StartDirectConversation {
        conversation_id: conversation_id.clone(),
        by: id(by),
        with: id(with),
        friends: true,
        at: at(minute),
    });
    on_conversation(pool, &conversation_id, command).await;
    conversation_id
}

async fn create_group(pool: &PgPool, by: &str, others: &[&str], title: &str) -> ConversationId {
    let conversation_id = ConversationId::parse(&uuid::Uuid::new_v4().to_string()).expect("id");
    let command = ConversationCommand::CreateGroup(Box::new(CreateGroupConversation {
        conversation_id: conversation_id.clone(),
        by: id(by),
        title: Keys::new(pool.clone()).seal(by, title).await.expect("seal"),
        participants: others.iter().map(|u| id(u)).collect(),
        friends: others.iter().map(|u| id(u)).collect::<BTreeSet<_>>(),
        at: at(3),
    }));
    on_conversation(pool, &conversation_id, command).await;
    conversation_id
}

async fn add(pool: &PgPool, group: &ConversationId, by: &str, user: &str, minute: u32) {
    let command = ConversationCommand::AddParticipant(AddParticipant {
        by: id(by),
        user: id(user),
        friends: true,
        at: at(minute),
    });
    on_conversation(pool, group, command).await;
}

async fn leave(pool: &PgPool, group: &ConversationId, by: &str, minute: u32) {
    let command = ConversationCommand::Leave(LeaveConversation {
        by: id(by),
        at: at(minute),
    });
    on_conversation(pool, group, command).await;
}

async fn rename(pool: &PgPool, group: &ConversationId, by: &str, title: &str, minute: u32) {
    let command = ConversationCommand::Rename(RenameConversation {
        by: id(by),
        title: Keys::new(pool.clone()).seal(by, title).await.expect("seal"),
        at: at(minute),
    });
    on_conversation(pool, group, command).await;
}

async fn mark_read(pool: &PgPool, c: &ConversationId, by: &str, upto: &Sent, minute: u32) {
    let command = ConversationCommand::MarkRead(MarkConversationRead {
        by: id(by),
        message: Some(ReadUpTo {
            message_id: upto.id.clone(),
            seq: upto.seq,
        }),
        // As if the handler had not looked at the view: the projection must still never
        // move a read position back, whatever the events say.
        read_in_view: 0,
        at: at(minute),
    });
    on_conversation(pool, c, command).await;
}

/// The scripted history's conversations and the messages that ended each.
struct Script {
    direct: ConversationId,
    group: ConversationId,
    last_direct: Sent,
    welcome: Sent,
    last_group: Sent,
}

/// Ann and bob talk directly; ann's group "Trip" with bob and cy gets dee, loses cy and
/// gets her back, is renamed by dee; everyone sends; ann, bob and cy mark read.
async fn script(pool: &PgPool) -> Script {
    for (user, first, last) in [
        ("ann", "Ann", "Lee"),
        ("bob", "Bob", "Ray"),
        ("cy", "Cy", "Ng"),
        ("dee", "Dee", "Fox"),
    ] {
        register(pool, user, first, last, SharingPolicy::default()).await;
    }
    let direct = start_direct(pool, "ann", "bob", 1).await;
    let d1 = send(pool, &direct, "ann", "Lunch?", (1, 1)).await;
    send(pool, &direct, "bob", "Sure", (2, 2)).await;
    let group = create_group(pool, "ann", &["bob", "cy"], "Trip").await;
    send(pool, &group, "bob", "Hi all", (1, 4)).await;
    let g2 = send(pool, &group, "cy", "Hey", (2, 5)).await;
    mark_read(pool, &group, "ann", &g2, 6).await;
    add(pool, &group, "ann", "dee", 7).await;
    let welcome = send(pool, &group, "ann", "Welcome dee", (3, 8)).await;
    leave(pool, &group, "cy", 9).await;
    send(pool, &group, "bob", "Bye cy", (4, 10)).await;
    add(pool, &group, "ann", "cy", 11).await;
    rename(pool, &group, "dee", "Trip 2026", 12).await;
    let last_group = send(pool, &group, "dee", "Hello", (5, 13)).await;
    mark_read(pool, &group, "bob", &welcome, 14).await;
    mark_read(pool, &direct, "bob", &d1, 15).await;
    // Cy's read position was raised to 4 when she came back: marking 3 leaves it there.
    mark_read(pool, &group, "cy", &welcome, 16).await;
    let last_direct = send(pool, &direct, "ann", "See you", (3, 17)).await;
    Script {
        direct,
        group,
        last_direct,
        welcome,
        last_group,
    }
}

/// Each participant as `"user read_seq/unread"` (`"user left"` for a former one), by user.
async fn participants(pool: &PgPool, c: &ConversationId) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT user_id || CASE WHEN left_at IS NULL THEN ' ' || read_seq || '/' || unread
                                ELSE ' left' END
           FROM chat_participants WHERE conversation_id = $1::uuid ORDER BY user_id",
    )
    .bind(c.as_str())
    .fetch_all(pool)
    .await
    .expect("participants")
}

/// `(title, participant_count, last_seq, last_text, activity_position)`.
async fn conversation(
    pool: &PgPool,
    c: &ConversationId,
) -> (Option<String>, i32, i64, Option<String>, i64) {
    sqlx::query_as(
        "SELECT title, participant_count, last_seq, last_text, activity_position
           FROM chat_conversations WHERE conversation_id = $1::uuid",
    )
    .bind(c.as_str())
    .fetch_one(pool)
    .await
    .expect("conversation")
}

/// A conversation's messages as `"seq sender: text"`, in the order of their events in the
/// feed.
async fn messages_in_feed_order(pool: &PgPool, c: &ConversationId) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT m.seq || ' ' || m.sender_id || ': ' || coalesce(m.text, '(erased)')
           FROM chat_messages m
           JOIN events e ON e.aggregate_type = 'message' AND e.aggregate_id = m.message_id::text
          WHERE m.conversation_id = $1::uuid
          ORDER BY e.tx_id, e.position",
    )
    .bind(c.as_str())
    .fetch_all(pool)
    .await
    .expect("messages")
}

async fn assert_script_projected(pool: &PgPool, s: &Script) {
    assert_eq!(
        messages_in_feed_order(pool, &s.direct).await,
        ["1 ann: Lunch?", "2 bob: Sure", "3 ann: See you"]
    );
    #[rustfmt::skip]
    assert_eq!(messages_in_feed_order(pool, &s.group).await, [
        "1 bob: Hi all", "2 cy: Hey", "3 ann: Welcome dee", "4 bob: Bye cy", "5 dee: Hello",
    ]);
    assert_eq!(participants(pool, &s.direct).await, ["ann 0/1", "bob 1/1"]);
    // Cy was away for message 4: not unread after her return, and her mark of 3 after it
    // moved nothing.
    assert_eq!(
        participants(pool, &s.group).await,
        ["ann 2/2", "bob 3/1", "cy 4/1", "dee 2/2"]
    );
    let (direct, group) = (s.last_direct.position, s.last_group.position);
    assert_eq!(
        conversation(pool, &s.direct).await,
        (None, 2, 3, Some("See you".into()), direct)
    );
    assert_eq!(
        conversation(pool, &s.group).await,
        (Some("Trip 2026".into()), 4, 5, Some("Hello".into()), group)
    );
    assert_eq!(
        activity_order(pool, "bob").await,
        [s.direct.as_str(), s.group.as_str()]
    );
    assert_eq!(activity_order(pool, "dee").await, [s.group.as_str()]);
}

/// The user's current conversations, newest activity first.
async fn activity_order(pool: &PgPool, user: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT conversation_id::text FROM chat_participants
          WHERE user_id = $1 AND left_at IS NULL ORDER BY activity_position DESC",
    )
    .bind(user)
    .fetch_all(pool)
    .await
    .expect("list")
}

fn chat_and_notices(pool: &PgPool) -> Vec<Arc<dyn Projection>> {
    let keys = Keys::new(pool.clone());
    vec![
        Arc::new(Chat::new(keys.clone())),
        Arc::new(Notices::new(keys)),
    ]
}

/// Rebuilds `projections` into new schemas, reading one event at a time, three, and the
/// whole script at once (runs of messages of several conversations and senders in one
/// statement), and asserts that every table of theirs equals its live counterpart.
async fn assert_replay_equals_live(pool: &PgPool, projections: &[Arc<dyn Projection>]) {
    let to = FeedReader::new(pool.clone())
        .last_committed()
        .await
        .expect("last committed");
    for batch in [1, 3, 1000] {
        let schema = format!("chat_replay_{batch}");
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(pool)
            .await
            .expect("schema");
        for projection in projections {
            for table in projection.tables() {
                scratch_copy(pool, table, &format!("{schema}.{table}")).await;
            }
            let options = RebuildOptions::into_schema(&schema, batch);
            replay::rebuild_range(pool, projection.as_ref(), Cursor::START, to, &options)
                .await
                .expect("rebuild");
            for table in projection.tables() {
                let scratch = format!("{schema}.{table}");
                let differences = replay::differences(pool, table, &scratch)
                    .await
                    .expect("compare");
                assert_eq!(differences, Vec::<Value>::new(), "{table}, batch {batch}");
            }
        }
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_runner_numbers_messages_counts_unread_and_orders_by_activity_as_a_replay_does(
    pool: PgPool,
) {
    let nats = TestNats::start().expect("nats");
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let _running = start_pipeline(&pool, &client, chat_and_notices(&pool));

    let script = script(&pool).await;
    caught_up(&pool, chat::NAME).await;
    caught_up(&pool, notices::NAME).await;

    assert_script_projected(&pool, &script).await;
    assert_replay_equals_live(&pool, &chat_and_notices(&pool)).await;
    // A difference would show.
    sqlx::query("UPDATE chat_participants SET unread = 0 WHERE user_id = 'dee'")
        .execute(&pool)
        .await
        .expect("tamper");
    let differences = replay::differences(
        &pool,
        "chat_participants",
        "chat_replay_1000.chat_participants",
    );
    assert_eq!(differences.await.expect("compare").len(), 2);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn events_applied_twice_change_nothing(pool: PgPool) {
    let script = script(&pool).await;
    let projections = chat_and_notices(&pool);

    let mut told = Vec::new();
    for projection in &projections {
        told.push(apply_each(&pool, projection.as_ref(), 2).await);
    }

    assert_script_projected(&pool, &script).await;
    // Told twice, the same each time: the second `chat.message` has the first's `seq`.
    let messages: Vec<&Value> = told[1]
        .iter()
        .filter(|n| n.user_id == "dee" && n.notice.kind == "chat.message")
        .map(|n| &n.notice.data["seq"])
        .collect();
    assert_eq!(
        messages,
        [
            &json!(3),
            &json!(3),
            &json!(4),
            &json!(4),
            &json!(5),
            &json!(5)
        ]
    );
    assert_replay_equals_live(&pool, &projections).await;
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn an_erased_authors_texts_and_titles_are_null_in_a_replay(pool: PgPool) {
    for (user, first, last) in [("ann", "Ann", "Lee"), ("bob", "Bob", "Ray")] {
        register(&pool, user, first, last, SharingPolicy::default()).await;
    }
    let group = create_group(&pool, "ann", &["bob"], "Secret").await;
    let secret = send(&pool, &group, "ann", "Ann's secret", (1, 4)).await;
    send(&pool, &group, "bob", "Bob's answer", (2, 5)).await;
    Keys::new(pool.clone()).shred("ann").await.expect("shred");

    let keys = Keys::new(pool.clone());
    replay::rebuild(&pool, &Chat::new(keys.clone()), 100)
        .await
        .expect("rebuild");
    let told = apply_each(&pool, &Notices::new(keys), 1).await;

    let texts: Vec<(i64, Option<String>)> =
        sqlx::query_as("SELECT seq, text FROM chat_messages ORDER BY seq")
            .fetch_all(&pool)
            .await
            .expect("messages");
    assert_eq!(texts, [(1, None), (2, Some("Bob's answer".into()))]);
    assert_eq!(conversation(&pool, &group).await.0, None);
    let to_bob = |kind: &str| {
        told.iter()
            .find(|n| n.user_id == "bob" && n.notice.kind == kind)
            .map(|n| n.notice.data.clone())
            .expect("told")
    };
    assert_eq!(to_bob("chat.conversation_started")["title"], Value::Null);
    let data = json!({
        "conversation_id": group,
        "message_id": secret.id,
        "seq": 1,
        "sender": { "user_id": "ann", "first_name": null, "last_name": null },
        "text": null,
        "sent_at": at(4),
    });
    assert_eq!(to_bob("chat.message"), data);
}

/// A rebuild keeps no transaction that has written open from one batch to the next: such
/// a transaction would hold back every reader of the feed, the relay included, until it
/// ended. Checked from another connection after every batch, for the chat view (a commit
/// each batch) and for `notices`, which folds names across batches but writes its chat
/// tables as it goes.
#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_rebuild_leaves_no_write_open_between_batches(pool: PgPool) {
    script(&pool).await;
    let to = FeedReader::new(pool.clone())
        .last_committed()
        .await
        .expect("last committed");
    let schema = "open_writes";
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&pool)
        .await
        .expect("schema");
    let connect = pool.connect_options().as_ref().clone();
    for projection in chat_and_notices(&pool) {
        for table in projection.tables() {
            scratch_copy(&pool, table, &format!("{schema}.{table}")).await;
        }
        let mut seen = Vec::new();
        let mut after_batch = |applied: u64| {
            let connect = connect.clone();
            let writing = std::thread::spawn(move || open_writes(connect))
                .join()
                .expect("checked");
            seen.push((applied, writing));
        };
        let options = RebuildOptions::into_schema(schema, 2);
        replay::rebuild_reporting(
            &pool,
            projection.as_ref(),
            Cursor::START,
            to,
            &options,
            &mut after_batch,
        )
        .await
        .expect("rebuild");
        assert!(seen.len() > 3, "{}: batches {seen:?}", projection.name());
        assert!(
            seen.iter().all(|&(_, writing)| writing == 0),
            "{}: (events applied, transactions with writes open): {seen:?}",
            projection.name()
        );
    }
}

/// The transactions of this database, other than the asking one, that have written and
/// are still open; asked on a connection and runtime of its own.
fn open_writes(connect: sqlx::postgres::PgConnectOptions) -> i64 {
    use sqlx::Connection;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let mut connection = sqlx::PgConnection::connect_with(&connect)
            .await
            .expect("connect");
        sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
              WHERE datname = current_database() AND backend_xid IS NOT NULL
                AND pid <> pg_backend_pid()",
        )
        .fetch_one(&mut connection)
        .await
        .expect("activity")
    })
}
