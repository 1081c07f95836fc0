//! The chat views and notices: a scripted history (a direct conversation, a group with
//! add, leave, rejoin and rename, messages from several senders, read marks) through the
//! real runners; replay equals live; events applied twice change nothing; an erased
//! author's texts and titles are gone; each participant is told what the docs list.

mod sharing;

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

/// Rebuilds `projections` into a new schema `schema` and asserts that every table of
/// theirs equals its live counterpart.
async fn assert_replay_equals_live(pool: &PgPool, projections: &[Arc<dyn Projection>]) {
    let schema = "chat_replay";
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(pool)
        .await
        .expect("schema");
    let to = FeedReader::new(pool.clone())
        .last_committed()
        .await
        .expect("last committed");
    for projection in projections {
        for table in projection.tables() {
            scratch_copy(pool, table, &format!("{schema}.{table}")).await;
        }
        let options = RebuildOptions::into_schema(schema, 3);
        replay::rebuild_range(pool, projection.as_ref(), Cursor::START, to, &options)
            .await
            .expect("rebuild");
        for table in projection.tables() {
            let scratch = format!("{schema}.{table}");
            let differences = replay::differences(pool, table, &scratch)
                .await
                .expect("compare");
            assert_eq!(differences, Vec::<Value>::new(), "{table}");
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
    let differences =
        replay::differences(&pool, "chat_participants", "chat_replay.chat_participants");
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

/// `user`'s stored chat notices in feed order, each as `(summary, data)`; D is the
/// direct conversation, G the group.
async fn chat_notices(pool: &PgPool, s: &Script, user: &str) -> Vec<(String, Value)> {
    let told: Vec<(String, Value)> = sqlx::query_as(
        "SELECT kind, data FROM user_notices
          WHERE user_id = $1 AND kind LIKE 'chat.%' ORDER BY tx_id, position",
    )
    .bind(user)
    .fetch_all(pool)
    .await
    .expect("notices");
    told.into_iter()
        .map(|(kind, data)| (summary(s, &kind, &data), data))
        .collect()
}

fn summary(s: &Script, kind: &str, d: &Value) -> String {
    let c = if d["conversation_id"] == json!(s.direct) {
        "D"
    } else {
        "G"
    };
    let text = |key: &str| d[key].as_str().unwrap_or("?").to_owned();
    match kind {
        "chat.conversation_started" => format!("{c} started by {}", text("by")),
        "chat.message" => format!("{c} {} from {}", d["seq"], d["sender"]["user_id"]),
        "chat.read" => format!("{c} {} read {}", text("user_id"), d["seq"]),
        "chat.participant_added" => format!("{c} {} added by {}", text("user_id"), text("by")),
        "chat.participant_left" => format!("{c} {} left", text("user_id")),
        "chat.renamed" => format!("{c} renamed {} by {}", text("title"), text("by")),
        other => format!("{c} {other}"),
    }
}

fn summaries(told: &[(String, Value)]) -> Vec<&str> {
    told.iter().map(|(summary, _)| summary.as_str()).collect()
}

/// The data of the first notice whose summary is `summary`.
fn data<'a>(told: &'a [(String, Value)], summary: &str) -> &'a Value {
    told.iter()
        .find(|(s, _)| s == summary)
        .map(|(_, data)| data)
        .unwrap_or_else(|| panic!("{summary} was told"))
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn every_current_participant_is_told_each_chat_change_with_the_documented_data(pool: PgPool) {
    let nats = TestNats::start().expect("nats");
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let _running = start_pipeline(&pool, &client, chat_and_notices(&pool));

    let s = script(&pool).await;
    caught_up(&pool, chat::NAME).await;
    caught_up(&pool, notices::NAME).await;

    let cy = chat_notices(&pool, &s, "cy").await;
    #[rustfmt::skip]
    assert_eq!(summaries(&cy), [
        "G started by ann", "G 1 from \"bob\"", "G 2 from \"cy\"", "G ann read 2",
        "G dee added by ann", "G 3 from \"ann\"", "G cy left",
        // Nothing of message 4, sent while she was away.
        "G cy added by ann", "G renamed Trip 2026 by dee", "G 5 from \"dee\"",
        // Her own mark of 3 did not move her position (4 since her return): not told.
        "G bob read 3",
    ]);
    let dee = chat_notices(&pool, &s, "dee").await;
    #[rustfmt::skip]
    assert_eq!(summaries(&dee), [
        "G dee added by ann", "G 3 from \"ann\"", "G cy left", "G 4 from \"bob\"",
        "G cy added by ann", "G renamed Trip 2026 by dee", "G 5 from \"dee\"",
        "G bob read 3",
    ]);
    let bob = chat_notices(&pool, &s, "bob").await;
    let direct: Vec<&str> = summaries(&bob)
        .into_iter()
        .filter(|s| s.starts_with('D'))
        .collect();
    #[rustfmt::skip]
    assert_eq!(direct, [
        "D started by ann", "D 1 from \"ann\"", "D 2 from \"bob\"", "D bob read 1",
        "D 3 from \"ann\"",
    ]);
    let g = json!(s.group);
    assert_eq!(
        data(&bob, "D started by ann"),
        &json!({"conversation_id": s.direct, "kind": "direct", "title": null,
                "participants": ["ann", "bob"], "by": "ann"})
    );
    assert_eq!(
        data(&cy, "G started by ann"),
        &json!({"conversation_id": g, "kind": "group", "title": "Trip",
                "participants": ["ann", "bob", "cy"], "by": "ann"})
    );
    assert_eq!(
        data(&dee, "G 5 from \"dee\""),
        &json!({"conversation_id": g, "message_id": s.last_group.id, "seq": 5,
                "sender": {"user_id": "dee", "first_name": "Dee", "last_name": "Fox"},
                "text": "Hello", "sent_at": at(13)})
    );
    assert_eq!(
        data(&dee, "G bob read 3"),
        &json!({"conversation_id": g, "user_id": "bob", "message_id": s.welcome.id,
                "seq": 3, "read_at": at(14)})
    );
    assert_eq!(
        data(&dee, "G dee added by ann"),
        &json!({"conversation_id": g, "user_id": "dee", "by": "ann"})
    );
    assert_eq!(
        data(&cy, "G cy left"),
        &json!({"conversation_id": g, "user_id": "cy"})
    );
    assert_eq!(
        data(&cy, "G renamed Trip 2026 by dee"),
        &json!({"conversation_id": g, "title": "Trip 2026", "by": "dee"})
    );
    assert_notices_seq_is_the_views(&pool).await;
}

/// Every `chat.message` notice's `seq` is the one the `chat` view gives its message.
async fn assert_notices_seq_is_the_views(pool: &PgPool) {
    let mismatched: Vec<(String, Value)> = sqlx::query_as(
        "SELECT n.user_id, n.data FROM user_notices n
           LEFT JOIN chat_messages m ON m.message_id = (n.data ->> 'message_id')::uuid
          WHERE n.kind = 'chat.message' AND m.seq IS DISTINCT FROM (n.data ->> 'seq')::bigint",
    )
    .fetch_all(pool)
    .await
    .expect("notices");
    assert_eq!(mismatched, []);
    let (told,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM user_notices WHERE kind = 'chat.message'")
            .fetch_one(pool)
            .await
            .expect("count");
    // 3 direct messages to 2, group messages to 3, 3, 4, 3 (cy away) and 4.
    assert_eq!(told, 3 * 2 + 3 + 3 + 4 + 3 + 4);
}
