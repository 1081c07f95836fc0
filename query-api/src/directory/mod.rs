//! The users directory: `GET /v1/users`, every registered user, newest first, read from
//! `user_table`.
//!
//! - `routes`: the handler;
//! - [`store`]: the SQL.

mod routes;
pub mod store;

use axum::routing::get;
use axum::Router;

use crate::AppState;

/// The directory route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/users", get(routes::directory))
}
