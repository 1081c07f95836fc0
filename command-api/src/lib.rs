//! The command API: HTTP commands become events in the Postgres event store.
//!
//! A handler authenticates the caller, parses the body into domain values (invalid
//! input never reaches the domain), seals personal data with the caller's key, runs the
//! command through the aggregate's [`event_store::AggregateRepository`] (which retries
//! conflicts), and answers with the position of the aggregate's latest event, which a
//! query can wait for (read your writes).
//!
//! Boundaries: writes only the event store and the personal-data keys; never NATS (the
//! relay publishes) and never views (the projector keeps them).
//!
//! Modules: [`error`] (service errors to the JSON envelope), [`users`] (profile and sharing
//! policy commands), [`friendships`], [`shares`], [`chat`] (conversations, messages and
//! read positions).

pub mod chat;
pub mod error;
pub mod friendships;
pub mod shares;
pub mod users;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use auth::Verifier;
use axum::extract::{FromRef, State};
use axum::routing::get;
use axum::Router;
use domain::user::{SharingPolicy, User, UserEvent};
use event_store::codec::Upcasters;
use event_store::AggregateRepository;
use http_api::health::{healthz, Check, Readiness};
use personal_data::Keys;
use sqlx::PgPool;
use tokio::net::TcpListener;
use utoipa_axum::router::OpenApiRouter;

/// The metadata of the events a command of `user` appends: who, and the request
/// (its `x-request-id`) as the correlation id.
pub(crate) fn metadata(
    user: &domain::user::UserId,
    headers: &axum::http::HeaderMap,
) -> event_store::Metadata {
    event_store::Metadata {
        user_id: Some(user.to_string()),
        correlation_id: http_api::layers::request_id(headers),
        causation_id: None,
    }
}

/// How the command API runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
}

/// What every handler shares.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub pool: PgPool,
    pub verifier: Verifier,
    pub keys: Keys,
    pub users: Arc<AggregateRepository<User>>,
    pub friendships: Arc<friendships::Commands>,
    pub shares: Arc<shares::Commands>,
    pub chat: Arc<chat::Commands>,
    /// The sharing policy a new account starts with.
    pub sharing_defaults: Arc<SharingPolicy>,
}

impl AppState {
    pub fn new(pool: PgPool, verifier: Verifier) -> Self {
        let users = AggregateRepository::new(
            pool.clone(),
            Upcasters::default(),
            UserEvent::current_version,
        );
        let keys = Keys::new(pool.clone());
        Self {
            friendships: Arc::new(friendships::Commands::new(pool.clone(), keys.clone())),
            shares: Arc::new(shares::Commands::new(pool.clone(), keys.clone())),
            chat: Arc::new(chat::Commands::new(pool.clone(), keys.clone())),
            keys,
            users: Arc::new(users),
            pool,
            verifier,
            sharing_defaults: Arc::new(users::defaults::built_in()),
        }
    }

    /// The same state, with `defaults` as the policy new accounts start with.
    pub fn with_sharing_defaults(self, defaults: SharingPolicy) -> Self {
        Self {
            sharing_defaults: Arc::new(defaults),
            ..self
        }
    }
}

/// Every route of the command API, with the shared layers.
pub fn router(state: AppState) -> Router {
    let (routes, api) = commands().split_for_parts();
    let routes = routes
        .merge(http_api::openapi::routes(document(api)))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    http_api::layers::standard(routes).with_state(state)
}

/// The OpenAPI document of the command API, as `/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    document(commands().into_openapi())
}

fn commands() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(users::routes())
        .merge(friendships::routes())
        .merge(shares::routes())
        .merge(chat::routes())
}

fn document(mut api: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use utoipa::{PartialSchema, ToSchema};
    // The bodies of the answers named by `IntoResponses` types (`CarriedOut`,
    // `ConversationCarriedOut`) are not collected from the handlers.
    let schemas = &mut api.components.get_or_insert_with(Default::default).schemas;
    for (name, schema) in [
        (users::Accepted::name(), users::Accepted::schema()),
        (
            chat::ConversationAccepted::name(),
            chat::ConversationAccepted::schema(),
        ),
    ] {
        schemas.insert(name.into_owned(), schema);
    }
    http_api::openapi::finish(
        api,
        "PageNow command API",
        "Commands change PageNow: each appends events to the event store and answers with \
         the position of the last one, which a query can wait for (`min_position`). Every \
         request needs a bearer token; errors are `{\"error\": {\"code\", \"message\"}}` \
         with a stable code.",
    )
}

async fn readyz(State(pool): State<PgPool>) -> Readiness {
    let ok = event_store::availability::ping(&pool).await;
    Readiness::from_checks(vec![Check {
        name: "postgres",
        ok,
    }])
}

/// A bound, ready-to-run command API.
pub struct App {
    listener: TcpListener,
    router: Router,
}

/// Binds `config.addr` and builds the router; new accounts start with the built-in
/// sharing policy ([`users::defaults`]).
pub async fn build(config: Config, pool: PgPool, verifier: Verifier) -> std::io::Result<App> {
    build_with_sharing_defaults(config, users::defaults::built_in(), pool, verifier).await
}

/// [`build`], with `sharing_defaults` as the policy new accounts start with (from
/// `PAGENOW_DEFAULT_ALLOW` / `PAGENOW_DEFAULT_DENY`).
pub async fn build_with_sharing_defaults(
    config: Config,
    sharing_defaults: SharingPolicy,
    pool: PgPool,
    verifier: Verifier,
) -> std::io::Result<App> {
    let listener = TcpListener::bind(config.addr).await?;
    let state = AppState::new(pool, verifier).with_sharing_defaults(sharing_defaults);
    Ok(App {
        listener,
        router: router(state),
    })
}

impl App {
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Serves until `shutdown` completes, then drains requests in flight.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        http_api::serve(http_api::listen::no_delay(self.listener), self.router)
            .with_graceful_shutdown(shutdown)
            .await
    }
}
