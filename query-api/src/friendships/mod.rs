//! The caller's own friendships, read from the `friendship_table` view the `friendships`
//! projection keeps (names joined from `user_table`).
//!
//! - `routes`: `GET /v1/friends`, `GET /v1/friend-requests/incoming`,
//!   `GET /v1/friend-requests/outgoing` and `GET /v1/relationships/{user_id}`;
//! - [`store`]: the SQL of the lists and of one relationship.
//!
//! Every answer is about the token's user: no parameter names another user's lists.
//! Read-your-writes (`?min_position=`) waits for the `friendships` view.

mod routes;
pub mod store;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::page::Bounds;
use crate::AppState;

/// The name of the projection that keeps `friendship_table`: its row in `checkpoints`.
pub const VIEW: &str = "friendships";

/// `?limit=` of the caller's lists: 50 when absent, at most 200.
pub const LISTS: Bounds = Bounds {
    default_limit: 50,
    max_limit: 200,
};

/// The friendship routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::friends))
        .routes(routes!(routes::incoming))
        .routes(routes!(routes::outgoing))
        .routes(routes!(routes::relationship))
}
