//! The HTTP conventions every PageNow API shares.
//!
//! - [`error`]: [`ApiError`], the one JSON envelope for every error a client sees:
//!   `{"error": {"code": "…", "message": "…"}}`, with a stable code.
//! - [`extract`]: `Json`, `Path` and `Query` extractors whose rejections use that envelope.
//! - [`layers`]: request ids, request tracing, CORS for the extension, body limits, the
//!   fallback for unknown routes.
//! - [`health`]: `/healthz` (the process is up) and the shape of `/readyz`.
//! - [`serve`]: the accept loop every service runs, with header and body timeouts and a
//!   connection cap ([`serve::Limits`]); [`listen`]: its listening socket.
//! - [`openapi`]: the OpenAPI document generated from the handlers, `/openapi.json` and `/docs`.
//! - [`time`]: timestamps in answers, written as chrono writes them, faster.
//!
//! It knows nothing of the domain: each service maps its own errors to [`ApiError`].

pub mod error;
pub mod extract;
pub mod health;
pub mod layers;
pub mod listen;
pub mod openapi;
pub mod serve;
pub mod time;

pub use error::ApiError;
pub use extract::{Json, Path, Query};
pub use serve::{serve, Limits};
