//! Chat over HTTP: the caller's conversations, a conversation's messages and
//! participants, the direct conversation with a user, unread totals, who may see what,
//! bad input, and read-your-writes on the `chat` view.
//!
//! Rows are written straight into the views, as the `chat` projection would write them.

mod support;

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use domain::chat::ConversationId;
use domain::user::UserId;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use support::{append_event, error_code, header, start, start_with_timeout, TestApp};

/// The group of the scene.
const TRIP: &str = "00000000-0000-4000-8000-000000000002";

/// When the event at `position` happened: a minute per position.
fn at(position: i64) -> DateTime<Utc> {
    let noon = DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z").expect("a timestamp");
    noon.to_utc() + TimeDelta::minutes(position)
}

/// The id of the direct conversation of `a` and `b`.
fn direct(a: &str, b: &str) -> String {
    let user = |id: &str| UserId::parse(id).expect("a user id");
    ConversationId::direct(&user(a), &user(b)).to_string()
}

/// Group number `n`'s id.
fn group(n: i64) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

async fn person(pool: &PgPool, user_id: &str, first: &str, last: &str) {
    sqlx::query(
        "INSERT INTO user_table (user_id, first_name, last_name, registered_at, updated_at,
                                 last_position, version)
         VALUES ($1, $2, $3, now(), now(), 0, 1)",
    )
    .bind(user_id)
    .bind(first)
    .bind(last)
    .execute(pool)
    .await
    .expect("the user row is inserted");
}

/// Starts conversation `id` at `position` with `members`: a group titled `title`, or a
/// direct conversation without one.
async fn start_conversation(
    pool: &PgPool,
    id: &str,
    title: Option<&str>,
    members: &[&str],
    position: i64,
) {
    sqlx::query(
        "WITH c AS (
           INSERT INTO chat_conversations (conversation_id, kind, title, created_by, created_at,
                                           participant_count, activity_position)
           VALUES ($1::uuid, CASE WHEN $2::text IS NULL THEN 'direct' ELSE 'group' END, $2,
                   $3[1], $4, cardinality($3), $5))
         INSERT INTO chat_participants (conversation_id, user_id, joined_at, activity_position)
         SELECT $1::uuid, member, $4, $5 FROM unnest($3::text[]) AS member",
    )
    .bind(id)
    .bind(title)
    .bind(members)
    .bind(at(position))
    .bind(position)
    .execute(pool)
    .await
    .expect("the conversation is inserted");
}

/// The message of `sender` at `position`, next in conversation `id`; each other current
/// participant has one more unread. Its id ends in its position.
async fn send(pool: &PgPool, id: &str, sender: &str, text: Option<&str>, position: i64) {
    sqlx::query(
        "WITH c AS (
           UPDATE chat_conversations
              SET last_seq = last_seq + 1, last_message_id = $5::uuid, last_sender_id = $2,
                  last_text = $3, last_sent_at = $4, activity_position = $6
            WHERE conversation_id = $1::uuid
           RETURNING last_seq),
         p AS (
           UPDATE chat_participants
              SET activity_position = $6,
                  unread = unread + CASE WHEN user_id <> $2 AND left_at IS NULL THEN 1 ELSE 0 END
            WHERE conversation_id = $1::uuid)
         INSERT INTO chat_messages (conversation_id, seq, message_id, sender_id, text, sent_at, position)
         SELECT $1::uuid, last_seq, $5::uuid, $2, $3, $4, $6 FROM c",
    )
    .bind(id)
    .bind(sender)
    .bind(text)
    .bind(at(position))
    .bind(format!("10000000-0000-4000-8000-{position:012}"))
    .bind(position)
    .execute(pool)
    .await
    .expect("the message is inserted");
}

/// `user` read conversation `id` up to `seq`, at `position`.
async fn read(pool: &PgPool, id: &str, user: &str, seq: i64, position: i64) {
    sqlx::query(
        "UPDATE chat_participants p
            SET read_seq = $3, read_at = $4,
                unread = (SELECT count(*) FROM chat_messages m
                           WHERE m.conversation_id = p.conversation_id
                             AND m.seq > $3 AND m.sender_id <> p.user_id)
          WHERE conversation_id = $1::uuid AND user_id = $2",
    )
    .bind(id)
    .bind(user)
    .bind(seq)
    .bind(at(position))
    .execute(pool)
    .await
    .expect("the read position is stored");
}

/// `user` left conversation `id` at `position`.
async fn leave(pool: &PgPool, id: &str, user: &str, position: i64) {
    sqlx::query(
        "WITH p AS (
           UPDATE chat_participants SET left_at = $3
            WHERE conversation_id = $1::uuid AND user_id = $2)
         UPDATE chat_conversations SET participant_count = participant_count - 1
          WHERE conversation_id = $1::uuid",
    )
    .bind(id)
    .bind(user)
    .bind(at(position))
    .execute(pool)
    .await
    .expect("the participant left");
}

/// Ann, Bob and Cy; Dan, a stranger to every conversation; Eve, who left the group.
/// 1: ann and bob start their direct conversation; 2: ann creates the group "Trip" with
/// bob, cy and eve; 3: bob asks ann "Lunch?"; 4: ann writes to the group; 5: eve leaves
/// it; 6: cy reads ann's message.
async fn scene(pool: &PgPool) {
    for (id, first, last) in [
        ("ann", "Ann", "Lee"),
        ("bob", "Bob", "Ray"),
        ("cy", "Cy", "Ng"),
        ("dan", "Dan", "Oz"),
        ("eve", "Eve", "Fox"),
    ] {
        person(pool, id, first, last).await;
    }
    let ann_bob = direct("ann", "bob");
    start_conversation(pool, &ann_bob, None, &["ann", "bob"], 1).await;
    start_conversation(pool, TRIP, Some("Trip"), &["ann", "bob", "cy", "eve"], 2).await;
    send(pool, &ann_bob, "bob", Some("Lunch?"), 3).await;
    send(pool, TRIP, "ann", Some("Tickets booked"), 4).await;
    leave(pool, TRIP, "eve", 5).await;
    read(pool, TRIP, "cy", 1, 6).await;
}

fn someone(user_id: &str, first: &str, last: &str) -> Value {
    json!({"user_id": user_id, "first_name": first, "last_name": last})
}

/// The message of the scene's helpers sent at `position`.
fn message(position: i64, seq: i64, sender: Value, text: Option<&str>) -> Value {
    json!({
        "message_id": format!("10000000-0000-4000-8000-{position:012}"),
        "seq": seq, "sender": sender, "text": text, "sent_at": at(position)
    })
}

async fn get_json(app: &TestApp, path: &str, user: Option<&str>) -> (StatusCode, Value) {
    let response = app.get(path, user).await;
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The values of `field` over a list answer's items.
fn column(answer: &Value, field: &str) -> Vec<Value> {
    let items = answer["items"].as_array().cloned().unwrap_or_default();
    items.iter().map(|item| item[field].clone()).collect()
}

/// Follows `next_before` from `first` to the last page: each page's `field` values.
async fn pages(app: &TestApp, first: &str, user: &str, field: &str) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut path = first.to_owned();
    loop {
        let (status, page) = get_json(app, &path, Some(user)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        pages.push(column(&page, field));
        let Some(before) = page["next_before"].as_i64() else {
            return pages;
        };
        path = format!("{first}&before={before}");
    }
}

/// Asks `path` as `user` and expects an error with `status` and `code`.
async fn assert_refused(app: &TestApp, path: &str, user: Option<&str>, status: u16, code: &str) {
    let response = app.get(path, user).await;
    assert_eq!(response.status().as_u16(), status, "{user:?} {path}");
    assert_eq!(error_code(response).await, code, "{user:?} {path}");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn conversations_come_newest_activity_first_with_their_latest_message(pool: PgPool) {
    scene(&pool).await;
    let app = start(pool).await;

    let (status, ann) = get_json(&app, "/v1/conversations", Some("ann")).await;

    assert_eq!(status, StatusCode::OK);
    let (ann_p, bob_p) = (someone("ann", "Ann", "Lee"), someone("bob", "Bob", "Ray"));
    let expected = json!({
        "items": [{
            "conversation_id": TRIP, "kind": "group", "title": "Trip", "other": null,
            "participant_count": 3,
            "latest_message": message(4, 1, ann_p.clone(), Some("Tickets booked")),
            "read": true, "unread_count": 0
        }, {
            "conversation_id": direct("ann", "bob"), "kind": "direct", "title": null,
            "other": bob_p.clone(), "participant_count": 2,
            "latest_message": message(3, 1, bob_p, Some("Lunch?")),
            "read": false, "unread_count": 1
        }],
        "next_before": null
    });
    assert_eq!(ann, expected);
    let (_, bob) = get_json(&app, "/v1/conversations", Some("bob")).await;
    assert_eq!(column(&bob, "other"), [Value::Null, ann_p]);
    assert_eq!(column(&bob, "read"), [false, true]);
    assert_eq!(column(&bob, "unread_count"), [1, 0]);
    let (_, cy) = get_json(&app, "/v1/conversations", Some("cy")).await;
    assert_eq!(column(&cy, "read"), [true]);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_conversation_is_read_when_the_caller_sent_its_latest_message_or_it_has_none(
    pool: PgPool,
) {
    scene(&pool).await;
    // Ann answers without marking bob's message read: her own message is the latest.
    send(&pool, &direct("ann", "bob"), "ann", Some("Sure"), 7).await;
    start_conversation(&pool, &group(8), Some("Quiet"), &["ann", "cy"], 8).await;
    let app = start(pool).await;

    let (_, ann) = get_json(&app, "/v1/conversations", Some("ann")).await;

    assert_eq!(column(&ann, "conversation_id")[0], json!(group(8)));
    assert_eq!(column(&ann, "latest_message")[0], Value::Null);
    assert_eq!(column(&ann, "read"), [true, true, true]);
    assert_eq!(column(&ann, "unread_count"), [0, 1, 0]);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn conversations_are_paged_by_activity_without_repeats_or_gaps(pool: PgPool) {
    person(&pool, "ann", "Ann", "Lee").await;
    for n in 1..=5 {
        let title = format!("G{n}");
        start_conversation(&pool, &group(n), Some(&title), &["ann", "bob"], n).await;
    }
    // A message brings G2 to the top; a group ann left and bob's own stay out.
    send(&pool, &group(2), "bob", Some("Up"), 6).await;
    start_conversation(&pool, &group(7), Some("Left"), &["ann", "bob"], 7).await;
    leave(&pool, &group(7), "ann", 8).await;
    start_conversation(&pool, &group(9), Some("Bob's"), &["bob", "cy"], 9).await;
    let app = start(pool).await;

    let titles = pages(&app, "/v1/conversations?limit=2", "ann", "title").await;

    assert_eq!(json!(titles), json!([["G2", "G5"], ["G4", "G3"], ["G1"]]));
    let (_, all) = get_json(&app, "/v1/conversations?limit=100", Some("ann")).await;
    assert_eq!(column(&all, "title").len(), 5);
    let (_, default) = get_json(&app, "/v1/conversations", Some("ann")).await;
    assert_eq!(default["next_before"], Value::Null);
    for (query, code) in [
        ("limit=0", "query.invalid_limit"),
        ("limit=101", "query.invalid_limit"),
        ("limit=lots", "request.invalid_query"),
        ("before=yesterday", "request.invalid_query"),
    ] {
        assert_refused(
            &app,
            &format!("/v1/conversations?{query}"),
            Some("ann"),
            400,
            code,
        )
        .await;
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn messages_come_newest_first_paged_by_seq(pool: PgPool) {
    scene(&pool).await;
    // Gus was erased: no profile, and his text is gone.
    start_conversation(&pool, &group(10), Some("Five"), &["ann", "bob", "gus"], 10).await;
    send(&pool, &group(10), "gus", None, 11).await;
    for position in 12..=15 {
        let sender = if position % 2 == 0 { "ann" } else { "bob" };
        send(
            &pool,
            &group(10),
            sender,
            Some(&format!("m{position}")),
            position,
        )
        .await;
    }
    let app = start(pool).await;
    let path = format!("/v1/conversations/{}/messages?limit=2", group(10));

    let seqs = pages(&app, &path, "bob", "seq").await;

    assert_eq!(json!(seqs), json!([[5, 4], [3, 2], [1]]));
    let (_, last) = get_json(&app, &format!("{path}&before=2"), Some("bob")).await;
    let gus = json!({"user_id": "gus", "first_name": null, "last_name": null});
    assert_eq!(
        last,
        json!({"items": [message(11, 1, gus, None)], "next_before": null})
    );
    let (_, first) = get_json(&app, &path, Some("bob")).await;
    let ann = someone("ann", "Ann", "Lee");
    assert_eq!(first["items"][1], message(14, 4, ann, Some("m14")));
    assert_eq!(first["next_before"], 4);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn messages_are_fifty_a_page_unless_asked_for_one_to_two_hundred(pool: PgPool) {
    scene(&pool).await;
    for position in 10..=210 {
        send(&pool, TRIP, "bob", Some("hi"), position).await;
    }
    let app = start(pool).await;
    let path = format!("/v1/conversations/{TRIP}/messages");

    let (_, default) = get_json(&app, &path, Some("ann")).await;
    assert_eq!(column(&default, "seq").len(), 50);
    assert_eq!(default["next_before"], 153);
    let (_, most) = get_json(&app, &format!("{path}?limit=200"), Some("ann")).await;
    assert_eq!(column(&most, "seq").len(), 200);
    let (_, rest) = get_json(&app, &format!("{path}?limit=200&before=3"), Some("ann")).await;
    assert_eq!(column(&rest, "seq"), [json!(2), json!(1)]);
    for (query, code) in [
        ("limit=0", "query.invalid_limit"),
        ("limit=201", "query.invalid_limit"),
        ("limit=-1", "query.invalid_limit"),
        ("before=seq7", "request.invalid_query"),
    ] {
        assert_refused(&app, &format!("{path}?{query}"), Some("ann"), 400, code).await;
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn participants_are_the_current_ones_with_how_far_each_has_read(pool: PgPool) {
    scene(&pool).await;
    let app = start(pool).await;

    let path = format!("/v1/conversations/{TRIP}/participants");
    let (status, answer) = get_json(&app, &path, Some("bob")).await;

    assert_eq!(status, StatusCode::OK);
    let participant = |user: Value, read_seq: i64, read_at: Option<DateTime<Utc>>| json!({"user": user, "joined_at": at(2), "read_seq": read_seq, "read_at": read_at});
    let expected = json!({"items": [
        participant(someone("ann", "Ann", "Lee"), 0, None),
        participant(someone("bob", "Bob", "Ray"), 0, None),
        participant(someone("cy", "Cy", "Ng"), 1, Some(at(6))),
    ]});
    assert_eq!(answer, expected);
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn the_direct_conversation_with_a_user_is_found_from_either_side(pool: PgPool) {
    scene(&pool).await;
    // Ann no longer takes part in her direct conversation with cy (not something the
    // commands allow, but the answer must not show it).
    start_conversation(&pool, &direct("ann", "cy"), None, &["ann", "cy"], 7).await;
    leave(&pool, &direct("ann", "cy"), "ann", 8).await;
    let app = start(pool).await;

    let (status, ann) = get_json(&app, "/v1/conversations/direct/bob", Some("ann")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = get_json(&app, "/v1/conversations", Some("ann")).await;
    assert_eq!(ann, json!({"conversation": list["items"][1]}));
    let (_, bob) = get_json(&app, "/v1/conversations/direct/ann", Some("bob")).await;
    assert_eq!(
        bob["conversation"]["conversation_id"],
        json!(direct("ann", "bob"))
    );
    assert_eq!(bob["conversation"]["other"], someone("ann", "Ann", "Lee"));
    for (caller, other) in [
        ("ann", "cy"),
        ("ann", "dan"),
        ("ann", "ann"),
        ("dan", "bob"),
    ] {
        let path = format!("/v1/conversations/direct/{other}");
        let (status, none) = get_json(&app, &path, Some(caller)).await;
        assert_eq!(status, StatusCode::OK, "{caller} {other}");
        assert_eq!(none, json!({"conversation": null}), "{caller} {other}");
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn unread_messages_are_summed_over_the_callers_current_conversations(pool: PgPool) {
    scene(&pool).await;
    send(&pool, TRIP, "cy", Some("Great"), 7).await;
    let app = start(pool).await;

    // Eve's count from before she left does not count any more.
    for (caller, unread, conversations) in [
        ("ann", 2, 2),
        ("bob", 2, 1),
        ("cy", 0, 0),
        ("eve", 0, 0),
        ("dan", 0, 0),
    ] {
        let (status, answer) = get_json(&app, "/v1/conversations/unread", Some(caller)).await;
        assert_eq!(status, StatusCode::OK, "{caller}");
        let expected = json!({"unread_count": unread, "conversations": conversations});
        assert_eq!(answer, expected, "{caller}");
    }
}

/// What each caller gets from each chat query about the group: ann takes part, eve left,
/// dan never took part, and nobody has no token.
#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn each_chat_query_answers_participants_only(pool: PgPool) {
    scene(&pool).await;
    let app = start(pool).await;
    let about_the_group = [
        format!("/v1/conversations/{TRIP}"),
        format!("/v1/conversations/{TRIP}/messages"),
        format!("/v1/conversations/{TRIP}/participants"),
    ];
    let refusals = [
        (Some("eve"), 403, "conversation.not_participant"),
        (Some("dan"), 404, "conversation.not_found"),
        (None, 401, "auth.missing_token"),
    ];
    for path in &about_the_group {
        let (status, _) = get_json(&app, path, Some("ann")).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        for (caller, status, code) in refusals {
            assert_refused(&app, path, caller, status, code).await;
        }
        let unknown = path.replace(TRIP, &group(99));
        assert_refused(&app, &unknown, Some("ann"), 404, "conversation.not_found").await;
    }
    // The caller's own lists: the group is in ann's only.
    for (caller, conversations) in [("ann", 2), ("eve", 0), ("dan", 0)] {
        let (status, list) = get_json(&app, "/v1/conversations", Some(caller)).await;
        assert_eq!(status, StatusCode::OK, "{caller}");
        assert_eq!(
            column(&list, "conversation_id").len(),
            conversations,
            "{caller}"
        );
    }
    for path in [
        "/v1/conversations",
        "/v1/conversations/unread",
        "/v1/conversations/direct/bob",
        "/v1/conversations/not-a-uuid",
    ] {
        assert_refused(&app, path, None, 401, "auth.missing_token").await;
    }
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn path_ids_are_checked_and_static_segments_win_over_them(pool: PgPool) {
    scene(&pool).await;
    let app = start(pool).await;
    let long_user_id = "u".repeat(129);
    for path in [
        "/v1/conversations/not-a-uuid".to_owned(),
        "/v1/conversations/not-a-uuid/messages".to_owned(),
        "/v1/conversations/not-a-uuid/participants".to_owned(),
        "/v1/conversations/unread/messages".to_owned(),
        "/v1/conversations/direct".to_owned(),
        format!("/v1/conversations/direct/{long_user_id}"),
        "/v1/conversations/direct/with%20space".to_owned(),
    ] {
        assert_refused(&app, &path, Some("ann"), 400, "request.invalid_path").await;
    }
    let (status, unread) = get_json(&app, "/v1/conversations/unread", Some("ann")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(unread["unread_count"], 1);
    let (_, direct) = get_json(&app, "/v1/conversations/direct/bob", Some("ann")).await;
    assert_eq!(direct["conversation"]["kind"], "direct");
    // Any form of a UUID names the same conversation.
    let upper = format!("/v1/conversations/{}", TRIP.to_uppercase());
    let (status, trip) = get_json(&app, &upper, Some("ann")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(trip["conversation_id"], TRIP);
}

async fn set_chat_checkpoint(conn: &mut sqlx::PgConnection, cursor: support::Cursor) {
    sqlx::query(
        "INSERT INTO checkpoints (name, tx_id, position) VALUES ('chat', $1::bigint::text::xid8, $2)
         ON CONFLICT (name) DO UPDATE SET tx_id = EXCLUDED.tx_id, position = EXCLUDED.position",
    )
    .bind(cursor.tx_id)
    .bind(cursor.position)
    .execute(conn)
    .await
    .expect("checkpoint");
}

#[sqlx::test(migrator = "migrations::MIGRATOR")]
async fn a_query_with_min_position_waits_for_the_chat_view(pool: PgPool) {
    scene(&pool).await;
    let earlier = append_event(&pool, "ann").await;
    set_chat_checkpoint(&mut pool.acquire().await.expect("conn"), earlier).await;
    let sent = append_event(&pool, "ann").await;
    let app = start_with_timeout(pool.clone(), Duration::from_secs(5)).await;
    let path = format!("/v1/conversations/unread?min_position={}", sent.position);

    let stale = app.get(&format!("{path}&wait_ms=100"), Some("bob")).await;
    assert_eq!(header(&stale, "x-pagenow-stale"), Some("true"));
    assert_eq!(
        stale.json::<Value>().await.expect("json")["unread_count"],
        1
    );

    // The projection commits while the query runs, before or during its wait.
    let projector = pool.clone();
    tokio::spawn(async move {
        let mut tx = projector.begin().await.expect("begin");
        sqlx::query("UPDATE chat_participants SET unread = unread + 1 WHERE user_id = 'bob'")
            .execute(&mut *tx)
            .await
            .expect("unread");
        set_chat_checkpoint(&mut tx, sent).await;
        tx.commit().await.expect("commit");
    });
    let fresh = app.get(&path, Some("bob")).await;
    assert_eq!(header(&fresh, "x-pagenow-stale"), None);
    let expected_position = sent.position.to_string();
    assert_eq!(
        header(&fresh, "x-pagenow-view-position"),
        Some(expected_position.as_str())
    );
    assert_eq!(
        fresh.json::<Value>().await.expect("json")["unread_count"],
        3
    );
}
