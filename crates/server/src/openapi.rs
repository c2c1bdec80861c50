//! The OpenAPI 3.1 document. Paths come from the `#[utoipa::path]` annotations beside each
//! handler, collected as the router is built, so the document cannot miss a route.

use std::sync::OnceLock;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Souk",
        description = "A self-hostable marketplace: stores, catalog, escrowed orders. Money is \
            `{\"amount\": <integer minor units>, \"currency\": \"<ISO-4217>\"}`. Errors are \
            `{\"error\": {\"code\", \"message\", \"field\"}}`. Every mutating request accepts an \
            `Idempotency-Key` header; a retry with the same key and body returns the first response.",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerAuth),
    components(schemas(crate::error::ErrorBody, souk_domain::Money))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The `Idempotency-Key` request header, documented on every mutating endpoint.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IdempotencyKey {
    /// Any unique string up to 255 characters (a UUID is good). Retries with the same key and
    /// body return the first response; the same key with another body is 422.
    #[param(rename = "Idempotency-Key")]
    idempotency_key: Option<String>,
}

/// A path's operations with their methods, upper case.
pub fn operations(item: &PathItem) -> impl Iterator<Item = (&'static str, &Operation)> {
    [
        ("GET", &item.get),
        ("PUT", &item.put),
        ("POST", &item.post),
        ("DELETE", &item.delete),
        ("OPTIONS", &item.options),
        ("HEAD", &item.head),
        ("PATCH", &item.patch),
        ("TRACE", &item.trace),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.as_ref().map(|op| (method, op)))
}

/// The document, built once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = crate::api_router().1;
        document_errors(&mut doc);
        doc
    })
}

/// Adds to every operation the error statuses that the machinery every request passes through
/// can answer (log-in, the body and query extractors, the text guard, idempotency, the request
/// timeout), each with the error body, where the operation's own annotation has not said more.
fn document_errors(doc: &mut utoipa::openapi::OpenApi) {
    for item in doc.paths.paths.values_mut() {
        for (method, op) in operations_mut(item) {
            let params = op.parameters.iter().flatten();
            let in_path = params.clone().any(|p| matches!(p.parameter_in, ParameterIn::Path));
            let in_query = params.clone().any(|p| matches!(p.parameter_in, ParameterIn::Query));
            let body = op.request_body.is_some();
            let mutating = matches!(method, "POST" | "PUT" | "PATCH" | "DELETE");
            // A bearer token that is sent is checked on every operation.
            let mut errors = vec![
                (401, "Not logged in where this needs it, or the token sent is unknown or expired."),
                (403, "The caller may not do this (a role, ownership, or the scopes of the API key sent)."),
            ];
            if in_path {
                errors.push((404, "Not found, or not visible to the caller."));
            }
            if body || mutating {
                errors.push((400, "The body is not valid JSON, or the Idempotency-Key is malformed."));
            }
            if body {
                errors.push((413, "The body is too large."));
                errors.push((415, "The body is not of the content type this operation reads."));
            }
            if body || mutating || in_path || in_query {
                errors.push((
                    422,
                    "A value breaks a rule (`field` names it), text holds a control character, or the \
                     Idempotency-Key was used with another request.",
                ));
            }
            if mutating {
                errors.push((409, "A request with this Idempotency-Key is still running (retry after Retry-After)."));
            }
            errors.push((503, "The request timed out, or the database is busy; retry after Retry-After."));
            for (status, why) in errors {
                op.responses.responses.entry(status.to_string()).or_insert_with(|| error_response(why).into());
            }
        }
    }
}

fn error_response(description: &str) -> Response {
    let schema = utoipa::openapi::Ref::from_schema_name("ErrorBody");
    ResponseBuilder::new().description(description).content("application/json", Content::new(Some(schema))).build()
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("GET", &mut item.get),
        ("PUT", &mut item.put),
        ("POST", &mut item.post),
        ("DELETE", &mut item.delete),
        ("OPTIONS", &mut item.options),
        ("HEAD", &mut item.head),
        ("PATCH", &mut item.patch),
        ("TRACE", &mut item.trace),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.as_mut().map(|op| (method, op)))
}
