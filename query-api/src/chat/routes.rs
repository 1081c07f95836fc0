//! The chat handlers, and the shapes of their answers.

use auth::AuthUser;
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use domain::chat::ConversationId;
use domain::user::UserId;
use http_api::{ApiError, Json, Path, Query};
use serde::Serialize;
use sqlx::PgPool;

use super::store::{self, Access, ConversationRow, MessageRow, ParticipantRow};
use super::{CursorParams, CONVERSATIONS, MESSAGES, VIEW};
use crate::consistency::ReadAfter;
use crate::AppState;

/// A user as chat shows them: `{"user_id", "first_name", "last_name"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Person {
    pub user_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// One message; `text` is `null` once its sender was erased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Message {
    pub message_id: String,
    pub seq: i64,
    pub sender: Person,
    pub text: Option<String>,
    #[serde(serialize_with = "http_api::time::rfc3339")]
    pub sent_at: DateTime<Utc>,
}

/// One conversation as the caller sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Conversation {
    pub conversation_id: String,
    pub kind: String,
    /// A group's; `null` for a direct conversation.
    pub title: Option<String>,
    /// The other participant of a direct conversation; `null` for a group.
    pub other: Option<Person>,
    pub participant_count: i32,
    pub latest_message: Option<Message>,
    /// Whether the caller has read the latest message.
    pub read: bool,
    pub unread_count: i64,
}

/// `GET /v1/conversations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Conversations {
    pub items: Vec<Conversation>,
    /// `?before=` of the next page; `null` on the last one.
    pub next_before: Option<i64>,
}

/// `GET /v1/conversations/{id}/messages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Messages {
    pub items: Vec<Message>,
    pub next_before: Option<i64>,
}

/// One current participant and how far they have read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Participant {
    pub user: Person,
    #[serde(serialize_with = "http_api::time::rfc3339")]
    pub joined_at: DateTime<Utc>,
    pub read_seq: i64,
    #[serde(serialize_with = "http_api::time::rfc3339_opt")]
    pub read_at: Option<DateTime<Utc>>,
}

/// `GET /v1/conversations/{id}/participants`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Participants {
    pub items: Vec<Participant>,
}

/// `GET /v1/conversations/direct/{user_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Direct {
    pub conversation: Option<Conversation>,
}

/// `GET /v1/conversations/unread`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Unread {
    pub unread_count: i64,
    pub conversations: i64,
}

impl Conversation {
    /// `row` as `caller` sees it. They have read the latest message when none of the
    /// others' is unread, or when they sent it themselves.
    fn of(row: ConversationRow, caller: &str) -> Self {
        let read = row.unread == 0 || row.last_sender_id.as_deref() == Some(caller);
        let other = row.other_id.map(|user_id| Person {
            user_id,
            first_name: row.other_first_name,
            last_name: row.other_last_name,
        });
        let latest_message = match (row.last_message_id, row.last_sender_id, row.last_sent_at) {
            (Some(message_id), Some(user_id), Some(sent_at)) if row.last_seq > 0 => Some(Message {
                message_id,
                seq: row.last_seq,
                sender: Person {
                    user_id,
                    first_name: row.sender_first_name,
                    last_name: row.sender_last_name,
                },
                text: row.last_text,
                sent_at,
            }),
            _ => None,
        };
        Self {
            conversation_id: row.conversation_id,
            kind: row.kind,
            title: row.title,
            other,
            participant_count: row.participant_count,
            latest_message,
            read,
            unread_count: row.unread,
        }
    }
}

impl From<MessageRow> for Message {
    fn from(row: MessageRow) -> Self {
        Self {
            message_id: row.message_id,
            seq: row.seq,
            sender: Person {
                user_id: row.sender_id,
                first_name: row.first_name,
                last_name: row.last_name,
            },
            text: row.text,
            sent_at: row.sent_at,
        }
    }
}

impl From<ParticipantRow> for Participant {
    fn from(row: ParticipantRow) -> Self {
        Self {
            user: Person {
                user_id: row.user_id,
                first_name: row.first_name,
                last_name: row.last_name,
            },
            joined_at: row.joined_at,
            read_seq: row.read_seq,
            read_at: row.read_at,
        }
    }
}

/// `GET /v1/conversations`: the caller's conversations, newest activity first.
#[utoipa::path(
    get,
    path = "/v1/conversations",
    tag = "chat",
    params(super::CursorParams, crate::consistency::ReadAfter),
    responses(
        (status = OK, description = "The answer; `x-pagenow-stale: true` when the view was behind `min_position`", body = Conversations),
    )
)]
pub(super) async fn conversations(
    State(state): State<AppState>,
    caller: AuthUser,
    Query(page): Query<CursorParams>,
    Query(read_after): Query<ReadAfter>,
) -> Result<Response, ApiError> {
    let page = page.within(CONVERSATIONS)?;
    let freshness = state.wait_for(VIEW, read_after).await?;
    let answer = store::conversations(&state.pool, &caller.user_id, page)
        .await
        .map(|rows| {
            let cursors: Vec<i64> = rows.iter().map(|r| r.activity_position).collect();
            Json(Conversations {
                items: rows
                    .into_iter()
                    .map(|row| Conversation::of(row, &caller.user_id))
                    .collect(),
                next_before: page.next(&cursors),
            })
        })
        .map_err(ApiError::from);
    Ok(freshness.attach(answer))
}

/// `GET /v1/conversations/{id}`: one of the caller's conversations.
#[utoipa::path(
    get,
    path = "/v1/conversations/{id}",
    tag = "chat",
    params(("id" = String, Path, description = "A conversation id"), crate::consistency::ReadAfter),
    responses(
        (status = OK, description = "The answer; `x-pagenow-stale: true` when the view was behind `min_position`", body = Conversation),
        http_api::openapi::Forbidden,
        http_api::openapi::NotFound,
    )
)]
pub(super) async fn conversation(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    Query(read_after): Query<ReadAfter>,
) -> Result<Response, ApiError> {
    let id = conversation_id(&id)?;
    let freshness = state.wait_for(VIEW, read_after).await?;
    let answer = store::conversation(&state.pool, &id, &caller.user_id)
        .await
        .map_err(ApiError::from)
        .and_then(granted)
        .map(|row| Json(Conversation::of(row, &caller.user_id)));
    Ok(freshness.attach(answer))
}

/// `GET /v1/conversations/{id}/messages`: a page of its messages, newest first.
#[utoipa::path(
    get,
    path = "/v1/conversations/{id}/messages",
    tag = "chat",
    params(("id" = String, Path, description = "A conversation id"), super::CursorParams, crate::consistency::ReadAfter),
    responses(
        (status = OK, description = "The answer; `x-pagenow-stale: true` when the view was behind `min_position`", body = Messages),
        http_api::openapi::Forbidden,
        http_api::openapi::NotFound,
    )
)]
pub(super) async fn messages(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    Query(page): Query<CursorParams>,
    Query(read_after): Query<ReadAfter>,
) -> Result<Response, ApiError> {
    let id = conversation_id(&id)?;
    let page = page.within(MESSAGES)?;
    let freshness = state.wait_for(VIEW, read_after).await?;
    let answer = store::messages(&state.pool, &id, &caller.user_id, page)
        .await
        .map_err(ApiError::from)
        .and_then(granted)
        .map(|rows| {
            let cursors: Vec<i64> = rows.iter().map(|r| r.seq).collect();
            Json(Messages {
                items: rows.into_iter().map(Message::from).collect(),
                next_before: page.next(&cursors),
            })
        });
    Ok(freshness.attach(answer))
}

/// `GET /v1/conversations/{id}/participants`: its current participants, with how far
/// each has read.
#[utoipa::path(
    get,
    path = "/v1/conversations/{id}/participants",
    tag = "chat",
    params(("id" = String, Path, description = "A conversation id"), crate::consistency::ReadAfter),
    responses(
        (status = OK, description = "The answer; `x-pagenow-stale: true` when the view was behind `min_position`", body = Participants),
        http_api::openapi::Forbidden,
        http_api::openapi::NotFound,
    )
)]
pub(super) async fn participants(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    Query(read_after): Query<ReadAfter>,
) -> Result<Response, ApiError> {
    let id = conversation_id(&id)?;
    let freshness = state.wait_for(VIEW, read_after).await?;
    let answer = store::participants(&state.pool, &id, &caller.user_id)
        .await
        .map_err(ApiError::from)
        .and_then(granted)
        .map(|rows| {
            Json(Participants {
                items: rows.into_iter().map(Participant::from).collect(),
            })
        });
    Ok(freshness.attach(answer))
}

/// `GET /v1/conversations/direct/{user_id}`: the caller's direct conversation with that
/// user, or `null`.
#[utoipa::path(
    get,
    path = "/v1/conversations/direct/{user_id}",
    tag = "chat",
    params(("user_id" = String, Path, description = "A user id"), crate::consistency::ReadAfter),
    responses(
        (status = OK, description = "The answer; `x-pagenow-stale: true` when the view was behind `min_position`", body = Direct),
    )
)]
pub(super) async fn direct(
    State(state): State<AppState>,
    caller: AuthUser,
    Path(user_id): Path<String>,
    Query(read_after): Query<ReadAfter>,
) -> Result<Response, ApiError> {
    let other = UserId::parse(&user_id).map_err(|e| invalid_path(e.to_string()))?;
    let freshness = state.wait_for(VIEW, read_after).await?;
    let answer = direct_with(&state.pool, &caller.user_id, &other)
        .await
        .map(|conversation| Json(Direct { conversation }));
    Ok(freshness.attach(answer))
}

/// The direct conversation of `caller` and `other`, if `caller` takes part in it.
async fn direct_with(
    pool: &PgPool,
    caller: &str,
    other: &UserId,
) -> Result<Option<Conversation>, ApiError> {
    // An authentic token whose subject is no valid user id can have no conversation.
    let Ok(me) = UserId::parse(caller) else {
        return Ok(None);
    };
    let id = ConversationId::direct(&me, other);
    Ok(match store::conversation(pool, &id, caller).await? {
        Access::Participant(row) => Some(Conversation::of(row, caller)),
        Access::Former | Access::Stranger => None,
    })
}

/// `GET /v1/conversations/unread`: the caller's unread messages, and in how many
/// conversations.
#[utoipa::path(
    get,
    path = "/v1/conversations/unread",
    tag = "chat",
    params(crate::consistency::ReadAfter),
    responses(
        (status = OK, description = "The answer; `x-pagenow-stale: true` when the view was behind `min_position`", body = Unread),
    )
)]
pub(super) async fn unread(
    State(state): State<AppState>,
    caller: AuthUser,
    Query(read_after): Query<ReadAfter>,
) -> Result<Response, ApiError> {
    let freshness = state.wait_for(VIEW, read_after).await?;
    let answer = store::unread(&state.pool, &caller.user_id)
        .await
        .map(|row| {
            Json(Unread {
                unread_count: row.unread_count,
                conversations: row.conversations,
            })
        })
        .map_err(ApiError::from);
    Ok(freshness.attach(answer))
}

/// A conversation id from the path, or `400 request.invalid_path`.
fn conversation_id(raw: &str) -> Result<ConversationId, ApiError> {
    ConversationId::parse(raw).map_err(|e| invalid_path(e.to_string()))
}

fn invalid_path(message: String) -> ApiError {
    ApiError::bad_request("request.invalid_path", message)
}

/// What the caller may see, or why not: a stranger is not told that the conversation
/// exists.
fn granted<T>(access: Access<T>) -> Result<T, ApiError> {
    match access {
        Access::Participant(seen) => Ok(seen),
        Access::Former => Err(ApiError::forbidden(
            "conversation.not_participant",
            "you left this conversation",
        )),
        Access::Stranger => Err(ApiError::not_found(
            "conversation.not_found",
            "no such conversation",
        )),
    }
}
