//! Popular pages, read from the views the `popular` projection keeps.
//!
//! - `routes`: `GET /v1/popular/domains` (the most-shared domains),
//!   `GET /v1/popular/domains/{domain}/pages` (that domain's pages, most shared first)
//!   and `GET /v1/leaderboard` (the most active sharers);
//! - [`store`]: the SQL of those views (sharers' names joined from `user_table`).
//!
//! Lists are totally ordered and paged with `?limit=&offset=`.

mod routes;
pub mod store;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::page::Bounds;
use crate::AppState;

/// The projection that keeps `popular_domains`, `popular_pages` and `sharer_stats`.
pub const VIEW: &str = "popular";

/// The bounds of the domain and page lists.
pub const POPULAR: Bounds = Bounds {
    default_limit: 20,
    max_limit: 100,
};

/// The bounds of the leaderboard.
pub const LEADERBOARD: Bounds = Bounds {
    default_limit: 10,
    max_limit: 100,
};

/// The popular-pages routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(routes::domains))
        .routes(routes!(routes::pages))
        .routes(routes!(routes::leaderboard))
}
