//! The OpenAPI 3.1 document. Paths come from the `#[utoipa::path]` annotations beside each
//! handler, collected as the router is built, so the document cannot miss a route.

use std::sync::OnceLock;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
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
    DOC.get_or_init(|| crate::api_router().1)
}
