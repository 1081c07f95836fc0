//! The command API's errors, and how each reaches the client.

use axum::http::StatusCode;
use domain::chat::message::MessageError;
use domain::chat::{ChatValueError, ConversationError};
use domain::friendship::FriendshipError;
use domain::share::inbox::InboxError;
use domain::share::{ShareError, ShareValueError};
use domain::user::{PolicyError, UserError, ValueError};
use domain::ErrorCode;
use event_store::ExecuteError;
use http_api::ApiError;
use personal_data::PersonalDataError;

/// Everything a command handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Value(#[from] ValueError),
    #[error(transparent)]
    User(#[from] ExecuteError<UserError>),
    #[error(transparent)]
    PersonalData(#[from] PersonalDataError),
    #[error(transparent)]
    Friendship(#[from] ExecuteError<FriendshipError>),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    ShareValue(#[from] ShareValueError),
    #[error(transparent)]
    Share(#[from] ExecuteError<ShareError>),
    #[error(transparent)]
    Inbox(#[from] ExecuteError<InboxError>),
    /// A view a sharing command consults (friends, notifications) could not be read.
    #[error("reading a view: {0}")]
    SharingView(sqlx::Error),
    #[error(transparent)]
    ChatValue(#[from] ChatValueError),
    #[error(transparent)]
    Conversation(#[from] ExecuteError<ConversationError>),
    #[error(transparent)]
    Message(#[from] ExecuteError<MessageError>),
    /// What a chat command looks up (friends, a message's place) could not be read.
    #[error("reading a view: {0}")]
    ChatView(sqlx::Error),
    /// A message was sent, but the `chat` view did not show it in time to be marked read.
    #[error("the chat view has not caught up with this message yet")]
    ChatViewBehind,
}

impl From<CommandError> for ApiError {
    fn from(error: CommandError) -> Self {
        match error {
            CommandError::Value(e) => ApiError::unprocessable(e.code(), e.to_string()),
            CommandError::User(ExecuteError::Domain(e)) => user_error(e),
            CommandError::User(ExecuteError::Conflict) => ApiError::conflict(
                "command.conflict",
                "the resource kept changing under this command; try again",
            ),
            CommandError::User(ExecuteError::Store(e)) => store_error(&e),
            CommandError::User(ExecuteError::Codec(e)) => ApiError::internal(&e),
            CommandError::PersonalData(PersonalDataError::Store(e)) => store_error(&e),
            CommandError::PersonalData(e) => ApiError::internal(&e),
            CommandError::Friendship(e) => executed(e, friendship_error),
            CommandError::Policy(e) => ApiError::unprocessable(e.code(), e.to_string()),
            CommandError::ShareValue(e) => ApiError::unprocessable(e.code(), e.to_string()),
            CommandError::Share(e) => executed(e, share_error),
            CommandError::Inbox(e) => executed(e, inbox_error),
            CommandError::SharingView(e) => store_error(&e),
            CommandError::ChatValue(e) => ApiError::unprocessable(e.code(), e.to_string()),
            CommandError::Conversation(e) => executed(e, conversation_error),
            CommandError::Message(e) => executed(e, message_error),
            CommandError::ChatView(e) => store_error(&e),
            CommandError::ChatViewBehind => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "chat.view_behind",
                "this message is not in the conversation's view yet; retry shortly",
            ),
        }
    }
}

fn user_error(e: UserError) -> ApiError {
    match e {
        UserError::NotRegistered => ApiError::conflict(e.code(), e.to_string()),
        UserError::EmptyUpdate | UserError::TooManyDomains => {
            ApiError::unprocessable(e.code(), e.to_string())
        }
    }
}

fn share_error(e: ShareError) -> ApiError {
    let (code, message) = (e.code(), e.to_string());
    match e {
        ShareError::SharerNotRegistered | ShareError::AlreadyShared => {
            ApiError::conflict(code, message)
        }
        ShareError::NoRecipients | ShareError::TooManyRecipients => {
            ApiError::unprocessable(code, message)
        }
        ShareError::NotFriends => ApiError::forbidden(code, message),
    }
}

fn inbox_error(e: InboxError) -> ApiError {
    match e {
        InboxError::ShareNotFound => ApiError::not_found(e.code(), e.to_string()),
    }
}

/// A refusal as `domain_error` says; the failures every aggregate shares as for users.
fn executed<E: std::error::Error>(e: ExecuteError<E>, domain_error: fn(E) -> ApiError) -> ApiError {
    match e {
        ExecuteError::Domain(e) => domain_error(e),
        ExecuteError::Conflict => ApiError::conflict(
            "command.conflict",
            "the resource kept changing under this command; try again",
        ),
        ExecuteError::Store(e) => store_error(&e),
        ExecuteError::Codec(e) => ApiError::internal(&e),
    }
}

fn friendship_error(e: FriendshipError) -> ApiError {
    let (code, message) = (e.code(), e.to_string());
    match e {
        FriendshipError::SelfRequest => ApiError::unprocessable(code, message),
        FriendshipError::UnknownUser => ApiError::not_found(code, message),
        FriendshipError::NotRecipient | FriendshipError::NotRequester => {
            ApiError::forbidden(code, message)
        }
        FriendshipError::AlreadyFriends
        | FriendshipError::AlreadyPending
        | FriendshipError::NoPendingRequest
        | FriendshipError::NotFriends => ApiError::conflict(code, message),
    }
}

fn conversation_error(e: ConversationError) -> ApiError {
    let (code, message) = (e.code(), e.to_string());
    match e {
        ConversationError::NotFound | ConversationError::MessageNotFound => {
            ApiError::not_found(code, message)
        }
        ConversationError::NotParticipant | ConversationError::NotFriends => {
            ApiError::forbidden(code, message)
        }
        ConversationError::AlreadyExists | ConversationError::IsDirect => {
            ApiError::conflict(code, message)
        }
        ConversationError::WithSelf
        | ConversationError::NoParticipants
        | ConversationError::TooManyParticipants => ApiError::unprocessable(code, message),
    }
}

fn message_error(e: MessageError) -> ApiError {
    match e {
        MessageError::Conversation(e) => conversation_error(e),
        MessageError::IdTaken => ApiError::conflict(e.code(), e.to_string()),
    }
}

/// A database that cannot be reached is a 503; anything else from it is a bug.
pub fn store_error(e: &sqlx::Error) -> ApiError {
    if event_store::availability::is_unavailable(e) {
        ApiError::unavailable("the database", e)
    } else {
        ApiError::internal(e)
    }
}
