//! Friendship commands (filled in by the friendships work).

use axum::Router;
use personal_data::Keys;
use sqlx::PgPool;

use crate::AppState;

/// What the friendship handlers share.
pub struct Commands;

impl Commands {
    pub fn new(_pool: PgPool, _keys: Keys) -> Self {
        Self
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
}
