//! The users directory: `GET /v1/users`, every registered user, newest first, read from
//! `user_table`.
//!
//! - `routes`: the handler;
//! - [`store`]: the SQL.

mod routes;
pub mod store;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

/// The directory route.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(routes::directory))
}
