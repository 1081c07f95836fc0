//! User profiles, read from the `user_table` view the `users` projection keeps.
//!
//! - `routes`: `GET /v1/me` and `GET /v1/users/{id}`;
//! - [`profile`]: the answer's shape, and which fields each caller may see;
//! - [`store`]: the SQL of the view.

pub mod profile;
mod routes;
pub mod store;

use axum::routing::get;
use axum::Router;

use crate::AppState;

/// The name of the projection that keeps `user_table`: its row in `checkpoints`.
pub const VIEW: &str = "users";

/// The profile routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/me", get(routes::me))
        .route("/v1/users/{id}", get(routes::user_by_id))
}
