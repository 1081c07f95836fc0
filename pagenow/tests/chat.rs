//! Two users chat through the real processes (command API, relay, projector, query API,
//! push): a message reaches the other's socket and the sender's second window, the
//! reader's unread count falls, and the sender sees it read. The README's chat session.

mod support;

use serde_json::{json, Value};
use sqlx::PgPool;
use support::{wait_healthy, Client, Env, Socket};
use testkit::{database_url, TestNats};

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn two_friends_chat_live_and_see_their_messages_read(pool: PgPool) {
    let nats = TestNats::start().expect("nats");
    let env = Env::new(database_url(&pool), nats.url());
    let _services =
        ["command-api", "query-api", "relay", "projector", "push"].map(|role| env.spawn(role));
    for addr in [env.command_api, env.query_api, env.push] {
        wait_healthy(addr).await;
    }
    let (ann, bob) = (Client::new(&env, "ann"), Client::new(&env, "bob"));
    befriend(&ann, &bob).await;
    let mut ann_window = ann.socket().await;
    let mut ann_other_window = ann.socket().await;
    let mut bob_socket = bob.socket().await;

    let started = accepted(&ann, "start-direct-conversation", json!({ "with": "bob" })).await;
    let conversation = started["conversation_id"].as_str().expect("id").to_owned();
    for socket in [&mut ann_window, &mut ann_other_window, &mut bob_socket] {
        let notice = next_of_kind(socket, "chat.conversation_started").await;
        assert_eq!(notice["data"]["conversation_id"], conversation.as_str());
        assert_eq!(notice["data"]["participants"], json!(["ann", "bob"]));
    }
    // Asking again, from the other side, finds the same conversation.
    let again = accepted(&bob, "start-direct-conversation", json!({ "with": "ann" })).await;
    assert_eq!(again["conversation_id"], conversation.as_str());
    assert_eq!(again["events"], 0);

    let message_id = uuid::Uuid::new_v4().to_string();
    let send = json!({ "conversation_id": conversation, "message_id": message_id, "text": "  Lunch at noon?  " });
    let sent = accepted(&ann, "send-message", send.clone()).await;
    for socket in [&mut bob_socket, &mut ann_other_window] {
        let notice = next_of_kind(socket, "chat.message").await;
        assert_eq!(notice["position"], sent["position"]);
        assert_eq!(notice["data"]["text"], "Lunch at noon?");
        assert_eq!(notice["data"]["sender"]["user_id"], "ann");
        assert_eq!(notice["data"]["sender"]["first_name"], "Ann");
        assert_eq!(notice["data"]["seq"], 1);
    }
    // The client retries the send (its answer was lost): nothing is sent twice.
    let retried = accepted(&ann, "send-message", send).await;
    assert_eq!(
        (retried["events"].clone(), retried["position"].clone()),
        (json!(0), sent["position"].clone())
    );

    let at = sent["position"].as_i64().expect("position");
    let unread = query(&bob, &format!("/v1/conversations/unread?min_position={at}")).await;
    assert_eq!(unread, json!({ "unread_count": 1, "conversations": 1 }));
    let list = query(&bob, &format!("/v1/conversations?min_position={at}")).await;
    let item = &list["items"][0];
    assert_eq!(item["other"]["user_id"], "ann");
    assert_eq!(item["latest_message"]["text"], "Lunch at noon?");
    assert_eq!(
        (item["read"].clone(), item["unread_count"].clone()),
        (json!(false), json!(1))
    );

    let read = accepted(
        &bob,
        "mark-conversation-read",
        json!({ "conversation_id": conversation, "message_id": message_id }),
    )
    .await;
    let seen = next_of_kind(&mut ann_window, "chat.read").await;
    assert_eq!(seen["data"]["user_id"], "bob");
    assert_eq!(seen["data"]["message_id"], message_id.as_str());
    let at = read["position"].as_i64().expect("position");
    let unread = query(&bob, &format!("/v1/conversations/unread?min_position={at}")).await;
    assert_eq!(unread["unread_count"], 0);
    let participants = query(
        &ann,
        &format!("/v1/conversations/{conversation}/participants?min_position={at}"),
    )
    .await;
    let bob_row = participants["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|p| p["user"]["user_id"] == "bob")
        .expect("bob takes part")
        .clone();
    assert_eq!(bob_row["read_seq"], 1, "ann sees her message seen by bob");

    let messages = query(&bob, &format!("/v1/conversations/{conversation}/messages")).await;
    assert_eq!(messages["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(messages["items"][0]["message_id"], message_id.as_str());
}

async fn befriend(ann: &Client, bob: &Client) {
    for (client, first) in [(ann, "Ann"), (bob, "Bob")] {
        let email = format!("{}@example.com", client.user);
        let body = json!({ "email": email, "first_name": first, "last_name": "Lee" });
        accepted(client, "register-user", body).await;
    }
    accepted(ann, "send-friend-request", json!({ "user_id": "bob" })).await;
    let accept = accepted(bob, "accept-friend-request", json!({ "user_id": "ann" })).await;
    // The chat commands consult the friendships view: wait until it has the friendship.
    let at = accept["position"].as_i64().expect("position");
    let friends = query(ann, &format!("/v1/friends?min_position={at}")).await;
    assert!(friends.to_string().contains("\"bob\""), "{friends}");
}

/// Posts a command that must be accepted; its answer.
async fn accepted(client: &Client, name: &str, body: Value) -> Value {
    let (status, answer) = client.command(name, body).await.expect("command API");
    assert_eq!(status, 200, "{name}: {answer}");
    answer
}

/// A query that must answer 200, fresh; its answer.
async fn query(client: &Client, path: &str) -> Value {
    let (status, stale, answer) = client.query(path).await;
    assert_eq!((status, stale), (200, false), "{path}: {answer}");
    answer
}

/// The next notice of `kind` (notices of other kinds skipped).
async fn next_of_kind(socket: &mut Socket, kind: &str) -> Value {
    loop {
        let notice = socket.next_notice().await;
        if notice["kind"] == kind {
            return notice;
        }
    }
}
