//! Who may see what, bad path ids and paging parameters, and read-your-writes.

use super::*;

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
