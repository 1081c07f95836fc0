//! Sharing commands (filled in by the sharing work).

use axum::Router;
use personal_data::Keys;
use sqlx::PgPool;

use crate::AppState;

/// What the sharing handlers share.
pub struct Commands;

impl Commands {
    pub fn new(_pool: PgPool, _keys: Keys) -> Self {
        Self
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
}
