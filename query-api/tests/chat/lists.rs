//! The lists: conversations, messages, participants, the direct conversation, unread.

use super::*;

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
