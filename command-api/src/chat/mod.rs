//! Chat commands: `POST /v1/commands/start-direct-conversation`,
//! `/create-group-conversation`, `/add-participant`, `/leave-conversation`,
//! `/rename-conversation`, `/send-message` and `/mark-conversation-read`.
//!
//! A conversation is an aggregate (`conversation`/<id>): a direct one's id is derived
//! from its pair ([`ConversationId::direct`]), so both users asking at once reach the
//! same stream; a group's is the client's or a new UUID. Each message is an aggregate
//! of its own (`message`/<message id>), appended without reading first; whether its
//! sender takes part is read from the conversation's current state. Group titles and
//! message texts are sealed with their author's key. Who the caller's friends are comes
//! from the `friendships` view, a message's place in its conversation from the `chat`
//! view ([`store`]); the domain decides with those facts.

pub mod body;
pub mod store;

use std::collections::BTreeSet;

use auth::AuthUser;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::Utc;
use domain::chat::message::{Message, MessageCommand, MessageEvent, SendMessage};
use domain::chat::{
    AddParticipant, ChatValueError, Conversation, ConversationCommand, ConversationEvent,
    ConversationId, CreateGroupConversation, LeaveConversation, MarkConversationRead, Membership,
    MessageId, ReadUpTo, RenameConversation, StartDirectConversation,
};
use domain::user::UserId;
use domain::Sealed;
use event_store::codec::Upcasters;
use event_store::AggregateRepository;
use http_api::{ApiError, Json};
use personal_data::Keys;
use serde::Serialize;
use sqlx::PgPool;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use self::body::{
    AddParticipantBody, CreateGroupBody, LeaveBody, NewMessage, ReadBody, RenameBody, SendBody,
    StartDirectBody,
};
use self::store::Lookup;
use crate::error::CommandError;
use crate::shares::store::friends_of;
use crate::users::Accepted;
use crate::{metadata, AppState};

/// What the chat handlers share: the conversation and message repositories, the views
/// they consult, and the keys that seal titles and texts.
pub struct Commands {
    pool: PgPool,
    keys: Keys,
    conversations: AggregateRepository<Conversation>,
    messages: AggregateRepository<Message>,
}

/// The answer to a conversation command: the conversation's id, and [`Accepted`]'s fields.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConversationAccepted {
    #[schema(value_type = String, format = Uuid)]
    pub conversation_id: ConversationId,
    #[serde(flatten)]
    pub accepted: Accepted,
}

/// `200` with [`ConversationAccepted`], as [`crate::users::CarriedOut`] for the
/// conversation commands.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 200,
    description = "Carried out, or nothing to change: `position` lets a query read this write"
)]
#[allow(dead_code)] // describes an answer; never built
pub struct ConversationCarriedOut(ConversationAccepted);

/// The answer to `send-message`: the message's id, and [`Accepted`]'s fields.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessageAccepted {
    #[schema(value_type = String, format = Uuid)]
    pub message_id: MessageId,
    #[serde(flatten)]
    pub accepted: Accepted,
}

impl Commands {
    pub fn new(pool: PgPool, keys: Keys) -> Self {
        Self {
            conversations: AggregateRepository::new(
                pool.clone(),
                Upcasters::default(),
                ConversationEvent::current_version,
            ),
            messages: AggregateRepository::new(
                pool.clone(),
                Upcasters::default(),
                MessageEvent::current_version,
            ),
            pool,
            keys,
        }
    }

    /// `user`'s friends now.
    async fn friends(&self, user: &UserId) -> Result<BTreeSet<UserId>, CommandError> {
        friends_of(&self.pool, user)
            .await
            .map_err(CommandError::ChatView)
    }

    /// `text` sealed with `author`'s key.
    async fn seal(&self, author: &UserId, text: &str) -> Result<Sealed, CommandError> {
        Ok(self.keys.seal(author.as_str(), text).await?)
    }

    /// Runs `command`, by `by`, on conversation `conversation_id`.
    async fn execute(
        &self,
        by: &UserId,
        conversation_id: ConversationId,
        command: ConversationCommand,
        headers: &HeaderMap,
    ) -> Result<Json<ConversationAccepted>, ApiError> {
        let committed = self
            .conversations
            .execute(
                conversation_id.as_str(),
                command,
                &(),
                &metadata(by, headers),
            )
            .await
            .map_err(CommandError::from)?;
        Ok(Json(ConversationAccepted {
            conversation_id,
            accepted: committed.into(),
        }))
    }

    /// Sends `message` as `sender`: one append to the message's own stream.
    async fn send(
        &self,
        sender: UserId,
        message: NewMessage,
        headers: &HeaderMap,
    ) -> Result<Json<MessageAccepted>, ApiError> {
        let conversation = self
            .conversations
            .state(message.conversation_id.as_str())
            .await
            .map_err(CommandError::from)?;
        let message_id = match message.message_id {
            Some(id) => id,
            None => new_id(MessageId::parse)?,
        };
        let metadata = metadata(&sender, headers);
        let command = MessageCommand::Send(SendMessage {
            message_id: message_id.clone(),
            conversation_id: message.conversation_id,
            membership: conversation.membership(&sender),
            text: self.seal(&sender, message.text.as_str()).await?,
            sender,
            at: Utc::now(),
        });
        let committed = self
            .messages
            .execute_new(message_id.as_str(), command, &(), &metadata)
            .await
            .map_err(CommandError::from)?;
        Ok(Json(MessageAccepted {
            message_id,
            accepted: committed.into(),
        }))
    }

    /// `message` as the `chat` view places it in `conversation_id`, and how far `reader`
    /// has read there, for a participant `reader`; `(None, 0)` for anyone who is not a
    /// participant (the domain then tells them where they stand, without a lookup that
    /// may wait) and `None` for a message not in the conversation.
    async fn read_up_to(
        &self,
        reader: &UserId,
        conversation_id: &ConversationId,
        message: MessageId,
    ) -> Result<(Option<ReadUpTo>, u64), CommandError> {
        let conversation = self.conversations.state(conversation_id.as_str()).await?;
        if conversation.membership(reader) != Membership::Participant {
            return Ok((None, 0));
        }
        let found = store::seq_waiting_for_view(&self.pool, conversation_id, &message)
            .await
            .map_err(CommandError::ChatView)?;
        let seq = match found {
            Lookup::Found(seq) => seq,
            Lookup::NotSent => return Ok((None, 0)),
            Lookup::ViewBehind => return Err(CommandError::ChatViewBehind),
        };
        let read = store::read_in_view(&self.pool, conversation_id, reader)
            .await
            .map_err(CommandError::ChatView)?;
        let up_to = ReadUpTo {
            message_id: message,
            seq,
        };
        Ok((Some(up_to), read))
    }
}

/// The chat routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start_direct_conversation))
        .routes(routes!(create_group_conversation))
        .routes(routes!(add_participant))
        .routes(routes!(leave_conversation))
        .routes(routes!(rename_conversation))
        .routes(routes!(send_message))
        .routes(routes!(mark_conversation_read))
}

/// Starts the caller's direct conversation with a friend, or answers the one they have.
#[utoipa::path(
    post,
    path = "/v1/commands/start-direct-conversation",
    tag = "chat",
    request_body = StartDirectBody,
    responses(
        ConversationCarriedOut,
        http_api::openapi::Forbidden,
        http_api::openapi::NotFound,
    )
)]
async fn start_direct_conversation(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Json(body): Json<StartDirectBody>,
) -> Result<Json<ConversationAccepted>, ApiError> {
    let caller = caller(&user)?;
    let with = body.parse()?;
    let friends = state.chat.friends(&caller).await?.contains(&with);
    let conversation_id = ConversationId::direct(&caller, &with);
    let command = ConversationCommand::StartDirect(StartDirectConversation {
        conversation_id: conversation_id.clone(),
        by: caller.clone(),
        with,
        friends,
        at: Utc::now(),
    });
    state
        .chat
        .execute(&caller, conversation_id, command, &headers)
        .await
}

/// Creates a group of the caller and some of their friends.
#[utoipa::path(
    post,
    path = "/v1/commands/create-group-conversation",
    tag = "chat",
    request_body = CreateGroupBody,
    responses(
        ConversationCarriedOut,
        http_api::openapi::Forbidden,
        http_api::openapi::NotFound,
    )
)]
async fn create_group_conversation(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Json(body): Json<CreateGroupBody>,
) -> Result<Json<ConversationAccepted>, ApiError> {
    let caller = caller(&user)?;
    let group = body.parse()?;
    let conversation_id = match group.conversation_id {
        Some(id) => id,
        None => new_id(ConversationId::parse)?,
    };
    let command = CreateGroupConversation {
        conversation_id: conversation_id.clone(),
        by: caller.clone(),
        title: state.chat.seal(&caller, group.title.as_str()).await?,
        participants: group.participants.into_iter().collect(),
        friends: state.chat.friends(&caller).await?,
        at: Utc::now(),
    };
    let command = ConversationCommand::CreateGroup(Box::new(command));
    state
        .chat
        .execute(&caller, conversation_id, command, &headers)
        .await
}

/// Adds a friend of the caller to a group the caller takes part in.
#[utoipa::path(
    post,
    path = "/v1/commands/add-participant",
    tag = "chat",
    request_body = AddParticipantBody,
    responses(
        ConversationCarriedOut,
        http_api::openapi::Forbidden,
        http_api::openapi::NotFound,
    )
)]
async fn add_participant(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Json(body): Json<AddParticipantBody>,
) -> Result<Json<ConversationAccepted>, ApiError> {
    let caller = caller(&user)?;
    let (conversation_id, added) = body.parse()?;
    let friends = state.chat.friends(&caller).await?.contains(&added);
    let command = ConversationCommand::AddParticipant(AddParticipant {
        by: caller.clone(),
        user: added,
        friends,
        at: Utc::now(),
    });
    state
        .chat
        .execute(&caller, conversation_id, command, &headers)
        .await
}

/// The caller leaves a group.
#[utoipa::path(
    post,
    path = "/v1/commands/leave-conversation",
    tag = "chat",
    request_body = LeaveBody,
    responses(
        ConversationCarriedOut,
        http_api::openapi::Forbidden,
        http_api::openapi::NotFound,
    )
)]
async fn leave_conversation(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Json(body): Json<LeaveBody>,
) -> Result<Json<ConversationAccepted>, ApiError> {
    let caller = caller(&user)?;
    let conversation_id = body.parse()?;
    let command = ConversationCommand::Leave(LeaveConversation {
        by: caller.clone(),
        at: Utc::now(),
    });
    state
        .chat
        .execute(&caller, conversation_id, command, &headers)
        .await
}

/// Gives a group the caller takes part in a new title, sealed with the caller's key.
#[utoipa::path(
    post,
    path = "/v1/commands/rename-conversation",
    tag = "chat",
    request_body = RenameBody,
    responses(
        ConversationCarriedOut,
        http_api::openapi::Forbidden,
        http_api::openapi::NotFound,
    )
)]
async fn rename_conversation(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Json(body): Json<RenameBody>,
) -> Result<Json<ConversationAccepted>, ApiError> {
    let caller = caller(&user)?;
    let (conversation_id, title) = body.parse()?;
    let command = ConversationCommand::Rename(RenameConversation {
        title: state.chat.seal(&caller, title.as_str()).await?,
        by: caller.clone(),
        at: Utc::now(),
    });
    state
        .chat
        .execute(&caller, conversation_id, command, &headers)
        .await
}

/// Sends a message to a conversation the caller takes part in; sent again with the same
/// id, changes nothing.
#[utoipa::path(
    post,
    path = "/v1/commands/send-message",
    tag = "chat",
    request_body = SendBody,
    responses(
        (status = OK, description = "Carried out, or nothing to change: `position` lets a query read this write", body = MessageAccepted),
        http_api::openapi::Forbidden,
        http_api::openapi::NotFound,
    )
)]
async fn send_message(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Json(body): Json<SendBody>,
) -> Result<Json<MessageAccepted>, ApiError> {
    let sender = caller(&user)?;
    let message = body.parse()?;
    state.chat.send(sender, message, &headers).await
}

/// Moves the caller's read position in a conversation up to a message (never back).
#[utoipa::path(
    post,
    path = "/v1/commands/mark-conversation-read",
    tag = "chat",
    request_body = ReadBody,
    responses(
        ConversationCarriedOut,
        http_api::openapi::Forbidden,
        http_api::openapi::NotFound,
    )
)]
async fn mark_conversation_read(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Json(body): Json<ReadBody>,
) -> Result<Json<ConversationAccepted>, ApiError> {
    let caller = caller(&user)?;
    let (conversation_id, message_id) = body.parse()?;
    let (message, read_in_view) = state
        .chat
        .read_up_to(&caller, &conversation_id, message_id)
        .await?;
    let command = ConversationCommand::MarkRead(MarkConversationRead {
        by: caller.clone(),
        message,
        read_in_view,
        at: Utc::now(),
    });
    state
        .chat
        .execute(&caller, conversation_id, command, &headers)
        .await
}

/// The caller, as the token names them.
fn caller(user: &AuthUser) -> Result<UserId, ApiError> {
    Ok(UserId::parse(&user.user_id).map_err(CommandError::from)?)
}

/// A new random id, for a group or a message whose client chose none.
fn new_id<T>(parse: fn(&str) -> Result<T, ChatValueError>) -> Result<T, CommandError> {
    Ok(parse(&uuid::Uuid::new_v4().to_string())?)
}
