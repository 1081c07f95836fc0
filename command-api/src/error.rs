//! The command API's errors, and how each reaches the client.

use domain::user::{UserError, ValueError};
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
        }
    }
}

fn user_error(e: UserError) -> ApiError {
    match e {
        UserError::NotRegistered => ApiError::conflict(e.code(), e.to_string()),
        UserError::EmptyUpdate => ApiError::unprocessable(e.code(), e.to_string()),
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
