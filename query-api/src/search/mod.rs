//! User search by e-mail or name, among everyone or among the caller's friends, read
//! from `user_table` and `friendship_table`.
//!
//! - `routes`: `GET /v1/users/search` and `GET /v1/friends/search`;
//! - [`query`]: the search parameters, checked, and `LIKE` escaping;
//! - [`store`]: the SQL, ranking included.
//!
//! `/v1/users/search` sits beside `/v1/users/{id}`: axum's router prefers the static
//! segment, so no user's profile answers it (a user whose id is `search` is read by the
//! directory and search, not by id).

pub mod query;
mod routes;
pub mod store;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

/// The search routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::among_everyone))
        .routes(routes!(routes::among_friends))
}
