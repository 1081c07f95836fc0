//! The layers every HTTP service wraps its router in.

use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::http::{header, HeaderName, HeaderValue, Method, Request, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tower::ServiceBuilder;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::serve::Limits;
use crate::ApiError;

/// The header that carries the request id; a client may set it, otherwise one is made.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Bodies above this size are refused with `request.body_too_large`.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Wraps `router` in request ids, a tracing span per request (with its id), CORS for
/// browser extensions, a body limit, a body deadline ([`read_body`]) and the JSON 404
/// for unknown routes.
///
/// The layers are applied as one stack (outermost first): each `Router::layer` call
/// would wrap every route in a boxed service of its own, a clone and an allocation per
/// layer per request.
pub fn standard<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router.fallback(unknown_route).layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(TraceLayer::new_for_http().make_span_with(request_span))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(cors())
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(middleware::from_fn(read_body)),
    )
}

fn request_span<B>(request: &Request<B>) -> tracing::Span {
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str)
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        http.method = %request.method(),
        http.route = route,
        request.id = request_id,
    )
}

/// Extensions call from `chrome-extension://…` (and `moz-extension://…`) origins.
fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(|origin: &HeaderValue, _| {
            origin.as_bytes().starts_with(b"chrome-extension://")
                || origin.as_bytes().starts_with(b"moz-extension://")
        }))
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-requested-with"),
            HeaderName::from_static("x-api-key"),
            REQUEST_ID,
        ])
        .expose_headers([
            REQUEST_ID,
            HeaderName::from_static("x-pagenow-stale"),
            HeaderName::from_static("x-pagenow-view-position"),
        ])
        .max_age(Duration::from_secs(600))
}

/// Reads the whole body before the handler runs: it must be at most [`MAX_BODY_BYTES`]
/// (413 `request.body_too_large`, at once when its declared length is larger) and arrive
/// within the body timeout of the [`Limits`] the server put in the request's extensions
/// (408 `request.timeout`). A client that sends its body a byte a second is cut off at
/// the deadline, which a per-read timeout (tower-http's `RequestBodyTimeout`) would not
/// do.
async fn read_body(request: Request<Body>, next: Next) -> Response {
    let deadline = request
        .extensions()
        .get::<Limits>()
        .map_or(Limits::DEFAULT_BODY_READ_TIMEOUT, |l| l.body_read_timeout);
    let (parts, body) = request.into_parts();
    if body.size_hint().lower() > MAX_BODY_BYTES as u64 {
        return body_too_large().into_response();
    }
    let read = Limited::new(body, MAX_BODY_BYTES).collect();
    match tokio::time::timeout(deadline, read).await {
        Ok(Ok(body)) => {
            let body = Body::from(body.to_bytes());
            next.run(Request::from_parts(parts, body)).await
        }
        Ok(Err(error)) if error.is::<LengthLimitError>() => body_too_large().into_response(),
        Ok(Err(_)) => {
            ApiError::bad_request("request.unreadable_body", "the body could not be read")
                .into_response()
        }
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request.timeout",
            "the request was not received in time",
        )
        .into_response(),
    }
}

fn body_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "request.body_too_large",
        "the body is too large",
    )
}

async fn unknown_route() -> ApiError {
    ApiError::not_found("route.not_found", "no such route")
}

/// The request id of the current request, for event metadata.
pub fn request_id(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
