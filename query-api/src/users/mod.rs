//! User profiles and profile pages, read from the `user_table` view the `users`
//! projection keeps and the `friendship_table` view the `friendships` projection keeps.
//!
//! - `routes`: `GET /v1/me`, `GET /v1/users/{id}`, `GET /v1/users/{id}/friends` and
//!   `GET /v1/users/{id}/mutual-friends`;
//! - [`profile`]: the answers' shape, and which fields each caller may see;
//! - [`relationship`]: how the caller stands with another user;
//! - [`store`]: the SQL of a profile and of a profile page;
//! - [`friends`]: the SQL of a profile page's friend lists;
//! - [`views`]: read-your-writes over both views.

pub mod friends;
pub mod profile;
pub mod relationship;
mod routes;
pub mod store;
pub mod views;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

/// The name of the projection that keeps `user_table`: its row in `checkpoints`.
pub const VIEW: &str = "users";

/// The profile routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::me))
        .routes(routes!(routes::user_by_id))
        .routes(routes!(routes::friends))
        .routes(routes!(routes::mutual_friends))
}
