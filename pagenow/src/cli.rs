//! The command line and environment: one typed configuration, parsed once.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

/// Where `pagenow admin-api` listens when `ADMIN_API_ADDR` is not set.
pub const DEFAULT_ADMIN_API_ADDR: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8084));

#[derive(Debug, Parser)]
#[command(name = "pagenow", version, about = "The PageNow backend")]
pub struct Cli {
    /// `text` (readable) or `json` (one object per line).
    #[arg(
        long,
        env = "PAGENOW_LOG_FORMAT",
        default_value = "text",
        global = true
    )]
    pub log_format: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Every service in one process, after applying migrations (development); the admin
    /// API too when `ADMIN_API_ADDR` is set.
    All(Services),
    /// The HTTP command API alone.
    CommandApi(Services),
    /// The HTTP query API alone.
    QueryApi(Services),
    /// The WebSocket push service alone.
    Push(Services),
    /// The relay (Postgres to JetStream) alone; one instance leads, others wait.
    Relay(Services),
    /// The projector alone; one instance per projection leads, others wait.
    Projector(Services),
    /// The admin HTTP API alone: audit and replay tools for admin tokens, and `/metrics`.
    AdminApi(Services),
    /// Applies the database migrations and exits.
    Migrate(Database),
    /// Prints a development token (HS256, signed with the configured secret) for a user.
    DevToken(DevToken),
    /// Lists events: by aggregate, user, type, time, position or request (audit).
    Events(crate::audit_cli::EventsArgs),
    /// Follows events as they commit: `events --follow` (audit).
    Tail(crate::audit_cli::EventsArgs),
    /// Prints an aggregate's state at a version, or what one event changed (audit).
    Aggregate(crate::audit_cli::AggregateArgs),
    /// Rebuilds every view into scratch tables and compares with the live ones (audit).
    Verify(crate::audit_cli::VerifyArgs),
    /// Prints each projection's and the relay's position and lag (audit).
    Status(crate::audit_cli::StatusArgs),
    /// Rebuilds one projection beside the live tables and switches it in (audit).
    Rebuild(crate::audit_cli::RebuildArgs),
}

#[derive(Debug, Args)]
pub struct Database {
    /// The Postgres server and database.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// Connections in the pool.
    #[arg(long, env = "PAGENOW_DB_POOL", default_value_t = 32)]
    pub db_pool: u32,
}

#[derive(Debug, Args)]
pub struct Services {
    #[command(flatten)]
    pub database: Database,
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats_url: String,
    #[command(flatten)]
    pub auth: AuthArgs,
    #[arg(long, env = "COMMAND_API_ADDR", default_value = "127.0.0.1:8081")]
    pub command_api_addr: SocketAddr,
    #[arg(long, env = "QUERY_API_ADDR", default_value = "127.0.0.1:8082")]
    pub query_api_addr: SocketAddr,
    #[arg(long, env = "PUSH_ADDR", default_value = "127.0.0.1:8083")]
    pub push_addr: SocketAddr,
    /// Where the admin API listens: `pagenow admin-api` uses 127.0.0.1:8084 when unset,
    /// `pagenow all` starts the admin API only when it is set.
    #[arg(long, env = "ADMIN_API_ADDR")]
    pub admin_api_addr: Option<SocketAddr>,
    #[command(flatten)]
    pub push: PushArgs,
    #[command(flatten)]
    pub http: HttpArgs,
    /// Where the relay and projector serve `/healthz` and `/readyz` (off when unset).
    #[arg(long, env = "PAGENOW_HEALTH_ADDR")]
    pub health_addr: Option<SocketAddr>,
    /// How long a query with `min_position` waits for the views, at most (ms).
    #[arg(long, env = "PAGENOW_CONSISTENCY_TIMEOUT_MS", default_value_t = 3000)]
    pub consistency_timeout_ms: u64,
    /// Domains a new account shares with friends (comma-separated).
    #[arg(long, env = "PAGENOW_DEFAULT_ALLOW", default_value = command_api::users::defaults::DEFAULT_ALLOW)]
    pub default_allow: String,
    /// Domains a new account never shows friends (comma-separated).
    #[arg(long, env = "PAGENOW_DEFAULT_DENY", default_value = command_api::users::defaults::DEFAULT_DENY)]
    pub default_deny: String,
}

impl Services {
    pub fn consistency_timeout(&self) -> Duration {
        Duration::from_millis(self.consistency_timeout_ms)
    }

    /// The sharing policy new accounts start with; an invalid list is a start-up error.
    pub fn sharing_defaults(&self) -> anyhow::Result<domain::user::SharingPolicy> {
        command_api::users::defaults::parse(&self.default_allow, &self.default_deny)
            .context("PAGENOW_DEFAULT_ALLOW / PAGENOW_DEFAULT_DENY")
    }
}

#[derive(Args)]
pub struct AuthArgs {
    /// HS256 secret. Without any key source, the development secret is used (with a warning).
    #[arg(long, env = "PAGENOW_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// A JWKS file with the identity provider's RS256/ES256 keys.
    #[arg(long, env = "PAGENOW_JWKS_FILE")]
    pub jwks_file: Option<PathBuf>,
    /// A JWKS URL with the identity provider's RS256/ES256 keys.
    #[arg(long, env = "PAGENOW_JWKS_URL")]
    pub jwks_url: Option<String>,
    /// The required `iss` claim, if any.
    #[arg(long, env = "PAGENOW_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// The required `aud` claim, if any.
    #[arg(long, env = "PAGENOW_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
}

impl fmt::Debug for AuthArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthArgs")
            .field(
                "jwt_secret",
                &self.jwt_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("jwks_file", &self.jwks_file)
            .field("jwks_url", &self.jwks_url)
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .finish()
    }
}

impl AuthArgs {
    /// The verifier's configuration; the development secret when nothing is configured.
    pub fn config(&self) -> auth::AuthConfig {
        let no_key_source =
            self.jwt_secret.is_none() && self.jwks_file.is_none() && self.jwks_url.is_none();
        if no_key_source {
            tracing::warn!("no PAGENOW_JWT_SECRET, PAGENOW_JWKS_FILE or PAGENOW_JWKS_URL: using the development secret");
        }
        auth::AuthConfig {
            hs256_secret: self
                .jwt_secret
                .clone()
                .or_else(|| no_key_source.then(|| auth::DEV_HS256_SECRET.to_owned())),
            jwks_file: self.jwks_file.clone(),
            jwks_url: self.jwks_url.clone(),
            issuer: self.jwt_issuer.clone(),
            audience: self.jwt_audience.clone(),
            ..Default::default()
        }
    }
}

#[derive(Debug, Args)]
pub struct DevToken {
    /// The user id (`sub`).
    pub user_id: String,
    /// Lifetime in hours.
    #[arg(long, default_value_t = 24)]
    pub ttl_hours: u64,
    /// Adds the `admin` claim.
    #[arg(long)]
    pub admin: bool,
    /// The HS256 secret to sign with.
    #[arg(long, env = "PAGENOW_JWT_SECRET", hide_env_values = true, default_value = auth::DEV_HS256_SECRET)]
    pub jwt_secret: String,
}

/// How long an HTTP client may take to send a request, and how many connections each
/// HTTP service (command, query, push, admin) serves at once.
#[derive(Debug, Args)]
pub struct HttpArgs {
    /// A request line and headers not received within this time close the connection (ms).
    #[arg(long, env = "PAGENOW_HTTP_HEADER_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub http_header_timeout_ms: u64,
    /// A body not received within this time after the headers gets 408 (ms).
    #[arg(long, env = "PAGENOW_HTTP_BODY_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub http_body_timeout_ms: u64,
    /// Connections each HTTP service serves at once; more wait to be accepted.
    #[arg(
        long,
        env = "PAGENOW_HTTP_MAX_CONNECTIONS",
        default_value_t = http_api::Limits::DEFAULT_MAX_CONNECTIONS,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    pub http_max_connections: usize,
}

impl HttpArgs {
    /// The limits every HTTP service of this process serves with.
    pub fn limits(&self) -> http_api::Limits {
        http_api::Limits {
            header_read_timeout: Duration::from_millis(self.http_header_timeout_ms),
            body_read_timeout: Duration::from_millis(self.http_body_timeout_ms),
            max_connections: self.http_max_connections,
        }
    }
}

/// The push service's limits and timings (`pagenow push` and `pagenow all`).
#[derive(Debug, Args)]
pub struct PushArgs {
    /// How often the push service pings each socket (ms).
    #[arg(long, env = "PUSH_PING_INTERVAL_MS", default_value_t = 20_000)]
    pub push_ping_interval_ms: u64,
    /// A socket that sends nothing (no pong, no ping) for this long is dropped (ms).
    #[arg(long, env = "PUSH_IDLE_TIMEOUT_MS", default_value_t = 40_000)]
    pub push_idle_timeout_ms: u64,
    /// The largest client message (bytes); a larger one closes the socket with 1009.
    #[arg(long, env = "PUSH_MAX_MESSAGE_BYTES", default_value_t = push::DEFAULT_MAX_MESSAGE_BYTES)]
    pub push_max_message_bytes: usize,
    /// Frames that may wait for a slow client; one more closes its socket with 4008.
    #[arg(long, env = "PUSH_QUEUE_FRAMES", default_value_t = push::DEFAULT_QUEUE_FRAMES)]
    pub push_queue_frames: usize,
    /// Sockets one user may have open on one node; more get 429.
    #[arg(long, env = "PUSH_MAX_SOCKETS_PER_USER", default_value_t = push::DEFAULT_MAX_SOCKETS_PER_USER)]
    pub push_max_sockets_per_user: usize,
    /// Sockets one node holds; more get 429.
    #[arg(long, env = "PUSH_MAX_SOCKETS", default_value_t = push::DEFAULT_MAX_SOCKETS)]
    pub push_max_sockets: usize,
    /// The most missed notices one reconnection recovers; more get `resync`.
    #[arg(long, env = "PUSH_MAX_RECOVERY", default_value_t = push::DEFAULT_MAX_RECOVERY)]
    pub push_max_recovery: usize,
    /// How long notices are kept for recovery (hours); older ones are deleted.
    #[arg(long, env = "PUSH_RETENTION_HOURS", default_value_t = 168)]
    pub push_retention_hours: u64,
    /// A user with no presence report or heartbeat for this long is offline (ms).
    #[arg(long, env = "PUSH_PRESENCE_TIMEOUT_MS", default_value_t = 60_000)]
    pub push_presence_timeout_ms: u64,
    /// How often the leading push node looks for expired presences (ms).
    #[arg(long, env = "PUSH_PRESENCE_SWEEP_MS", default_value_t = 5_000)]
    pub push_presence_sweep_ms: u64,
}

impl PushArgs {
    /// The push service's configuration, listening on `addr`.
    pub fn config(&self, addr: SocketAddr) -> push::Config {
        push::Config {
            ping_interval: Duration::from_millis(self.push_ping_interval_ms),
            idle_timeout: Duration::from_millis(self.push_idle_timeout_ms),
            max_message_bytes: self.push_max_message_bytes,
            queue_frames: self.push_queue_frames,
            max_sockets_per_user: self.push_max_sockets_per_user,
            max_sockets: self.push_max_sockets,
            max_recovery: self.push_max_recovery,
            retention: Duration::from_secs(self.push_retention_hours.saturating_mul(3600)),
            presence_timeout: Duration::from_millis(self.push_presence_timeout_ms),
            presence_sweep_interval: Duration::from_millis(self.push_presence_sweep_ms),
            ..push::Config::new(addr)
        }
    }
}
