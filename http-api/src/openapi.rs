//! The OpenAPI 3 document of a service, generated from its handlers' `#[utoipa::path]`
//! annotations (never written by hand), and the routes that publish it: `/openapi.json`
//! and an interactive page at `/docs` (Swagger UI, served from the binary: no CDN).
//!
//! A handler's annotation names its success answer and the errors particular to it;
//! [`finish`] adds what every operation shares: the bearer token, and the error answers
//! any request can get (a malformed request, a missing token, an unavailable store, a
//! body too large, …), all in the [`ErrorEnvelope`] shape.

use axum::http::StatusCode;
use axum::Router;
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, InfoBuilder, OpenApi, Ref};
use utoipa::{IntoResponses, PartialSchema, ToSchema};
use utoipa_swagger_ui::SwaggerUi;

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/openapi.json";
/// Where the interactive page is served.
pub const PAGE_PATH: &str = "/docs";

const BEARER: &str = "bearer";

/// The body of every error answer: `{"error": {"code": "…", "message": "…"}}`.
#[derive(ToSchema)]
#[schema(as = Error)]
#[allow(dead_code)] // describes the shape `ApiError` serializes; never built
pub struct ErrorEnvelope {
    error: ErrorBody,
}

/// A stable, dotted error code (`user.not_found`) and a message for people.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    code: String,
    message: String,
}

/// `403`, for an operation that checks who may do or see what:
/// `responses((status = OK, …), http_api::openapi::Forbidden)`.
#[derive(IntoResponses)]
#[response(
    status = 403,
    description = "Not allowed for this caller (the code says why)"
)]
#[allow(dead_code)] // describes an answer; never built
pub struct Forbidden(ErrorEnvelope);

/// `404`, for an operation about a user, share, conversation or domain that may not
/// exist, or not for this caller.
#[derive(IntoResponses)]
#[response(
    status = 404,
    description = "No such user, share, conversation or domain (for this caller)"
)]
#[allow(dead_code)] // describes an answer; never built
pub struct NotFound(ErrorEnvelope);

/// Completes `api`, as collected from a service's annotated handlers: its title and
/// description, the bearer-token scheme required by every operation, and the error answers
/// every operation shares (those an annotation already names are kept as written).
pub fn finish(mut api: OpenApi, title: &str, description: &str) -> OpenApi {
    api.info = InfoBuilder::new()
        .title(title)
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(description))
        .build();
    let components = api.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    components
        .schemas
        .insert(ErrorEnvelope::name().into_owned(), ErrorEnvelope::schema());
    components
        .schemas
        .insert(ErrorBody::name().into_owned(), ErrorBody::schema());
    api.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
    for item in api.paths.paths.values_mut() {
        if let Some(operation) = item.get.as_mut() {
            add_shared_errors(operation, HttpMethod::Get);
        }
        if let Some(operation) = item.post.as_mut() {
            add_shared_errors(operation, HttpMethod::Post);
        }
    }
    api
}

/// The errors any operation can answer, whatever it does.
const ANY_REQUEST: &[(StatusCode, &str)] = &[
    (
        StatusCode::BAD_REQUEST,
        "A malformed request: path, query or JSON syntax",
    ),
    (
        StatusCode::UNAUTHORIZED,
        "No token, or a token that is not valid",
    ),
    (
        StatusCode::REQUEST_TIMEOUT,
        "The request was not received in time",
    ),
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        "A value that does not fit the schema or breaks a rule (its code says which)",
    ),
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "The store or a view is unavailable or behind; retry shortly",
    ),
];

/// The errors any operation with a JSON body (a command) can answer besides.
const WITH_BODY: &[(StatusCode, &str)] = &[
    (
        StatusCode::CONFLICT,
        "The resource kept changing under the command; try again",
    ),
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        "The body is larger than 64 KiB",
    ),
    (
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "The body is not `application/json`",
    ),
];

fn add_shared_errors(operation: &mut Operation, method: HttpMethod) {
    let with_body = matches!(
        method,
        HttpMethod::Post | HttpMethod::Put | HttpMethod::Patch
    );
    let extra: &[_] = if with_body { WITH_BODY } else { &[] };
    for (status, description) in ANY_REQUEST.iter().chain(extra) {
        operation
            .responses
            .responses
            .entry(status.as_str().to_owned())
            .or_insert_with(|| error_response(description).into());
    }
}

/// An error answer with the envelope as its body.
pub fn error_response(description: &str) -> utoipa::openapi::response::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(ErrorEnvelope::name())))
                .build(),
        )
        .build()
}

/// `GET /openapi.json` (the document) and `GET /docs` (the interactive page that sends
/// requests with a token the reader pastes in).
pub fn routes<S: Clone + Send + Sync + 'static>(api: OpenApi) -> Router<S> {
    SwaggerUi::new(PAGE_PATH).url(DOCUMENT_PATH, api).into()
}
