//! The one place where text coming in is checked for characters that no field may hold
//! (`souk_domain::text`): path segments, query values and bodies (JSON, forms, CSV), for the
//! API and the pages alike, before any handler or idempotency claim sees them. PostgreSQL
//! refuses NUL in text, so without this the same input was stored on SQLite and a 500 on
//! PostgreSQL.

use crate::error::AppError;
use crate::App;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use souk_domain::{text, Invalid};

pub async fn guard(State(app): State<App>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let mut problem = check_path(parts.uri.path()).or_else(|| parts.uri.query().and_then(check_form));
    let body = match (problem.is_none(), Kind::of(&parts)) {
        (true, Some(kind)) => match crate::extract::read_body(body, kind.limit()).await {
            Ok(bytes) => {
                problem = kind.check(&bytes);
                Body::from(bytes)
            }
            Err(e) => return refuse(&app, &mut parts, e).await,
        },
        _ => body,
    };
    match problem {
        None => next.run(Request::from_parts(parts, body)).await,
        Some(invalid) => refuse(&app, &mut parts, invalid.into()).await,
    }
}

/// A JSON error for the API, a page in the reader's language for the pages.
async fn refuse(app: &App, parts: &mut Parts, e: AppError) -> Response {
    let path = parts.uri.path();
    if path.starts_with("/api/") || path == "/healthz" || path == "/metrics" {
        return e.into_response();
    }
    match crate::web::Ctx::from_request_parts(parts, app).await {
        Ok(ctx) => ctx.page(
            e.status,
            &e.status.as_u16().to_string(),
            maud::html! {
                p.error role="alert" { (ctx.t(PAGE_MESSAGE)) }
                p { a href="javascript:history.back()" { "← " (ctx.t("Go back")) } }
            },
        ),
        Err(res) => res,
    }
}

const PAGE_MESSAGE: &str = "The text contains a control character that cannot be saved; remove it and try again.";

/// The bodies whose text is looked at.
#[derive(Clone, Copy)]
enum Kind {
    Json,
    Form,
    Csv,
}

impl Kind {
    fn of(parts: &Parts) -> Option<Kind> {
        let ct = parts.headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
        let mime = ct.split(';').next()?.trim().to_ascii_lowercase();
        match mime.as_str() {
            "application/json" => Some(Kind::Json),
            "application/x-www-form-urlencoded" => Some(Kind::Form),
            "text/csv" => Some(Kind::Csv),
            _ => None,
        }
    }

    fn limit(self) -> usize {
        match self {
            Kind::Json | Kind::Form => crate::JSON_BODY_LIMIT_BYTES,
            Kind::Csv => crate::IMPORT_BODY_LIMIT_BYTES,
        }
    }

    fn check(self, bytes: &[u8]) -> Option<Invalid> {
        match self {
            Kind::Json => check_json(bytes),
            Kind::Form => check_form(&String::from_utf8_lossy(bytes)),
            Kind::Csv => check_csv(&String::from_utf8_lossy(bytes)),
        }
    }
}

/// Each segment of the path, percent-decoded.
fn check_path(path: &str) -> Option<Invalid> {
    let decoded = percent_decode(path);
    text::check("path", &String::from_utf8_lossy(&decoded)).err()
}

/// `name=value&...` (a query or a form body): names and values, decoded.
fn check_form(query: &str) -> Option<Invalid> {
    url::form_urlencoded::parse(query.as_bytes())
        .find_map(|(name, value)| text::check(&name, &name).and_then(|()| text::check(&name, &value)).err())
}

/// A control character in JSON text is escaped (`\u0000`; raw ones are a syntax error, which
/// parsing reports) or, for U+0080 to U+009F, raw UTF-8. A scan finds both without parsing;
/// only when it finds one is the body parsed, to name the field.
fn check_json(bytes: &[u8]) -> Option<Invalid> {
    if !json_has_control(bytes) {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let mut path = String::new();
    find_in_json(&value, &mut path)
}

fn json_has_control(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if bytes.get(i + 1) == Some(&b'u') => {
                let code = bytes.get(i + 2..i + 6).and_then(|h| std::str::from_utf8(h).ok());
                let code = code.and_then(|h| u32::from_str_radix(h, 16).ok()).and_then(char::from_u32);
                if code.is_some_and(|c| !text::allowed(c)) {
                    return true;
                }
                i += 6;
            }
            b'\\' => i += 2,
            0xC2 if bytes.get(i + 1).is_some_and(|b| (0x80..=0x9F).contains(b)) => return true,
            _ => i += 1,
        }
    }
    false
}

fn find_in_json(value: &serde_json::Value, path: &mut String) -> Option<Invalid> {
    use serde_json::Value;
    let field = |path: &str| if path.is_empty() { "body".to_string() } else { path.to_string() };
    match value {
        Value::String(s) => text::check(&field(path), s).err(),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let found = find_in_json(item, path);
            path.truncate(len);
            found
        }),
        Value::Object(map) => map.iter().find_map(|(name, item)| {
            let len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(name);
            let found = text::check(&field(path), name).err().or_else(|| find_in_json(item, path));
            path.truncate(len);
            found
        }),
        _ => None,
    }
}

/// A CSV file: the message names the line.
fn check_csv(csv: &str) -> Option<Invalid> {
    let (line, bad) = csv.lines().enumerate().find(|(_, l)| text::first_forbidden(l).is_some())?;
    let mut e = text::check("file", bad).err()?;
    e.message = format!("line {}: {}", line + 1, e.message);
    Some(e)
}

/// `%XX` decoded; anything else kept as it is.
fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_control_characters_are_found_with_their_field() {
        let e = check_json(br#"{"email":"a\u0000b@x.test","password":"x"}"#).unwrap();
        assert_eq!((e.code, e.field.as_deref()), ("invalid_text", Some("email")));
        let e = check_json(br#"{"skus":[{"sku":"ok"},{"sku":"b\u001bad"}]}"#).unwrap();
        assert_eq!(e.field.as_deref(), Some("skus[1].sku"));
        let e = check_json("{\"t\":\"\u{85}\"}".as_bytes()).unwrap();
        assert_eq!(e.field.as_deref(), Some("t"));
        assert!(check_json(br#"{"t":"tab\tline\nnot \\u0000 but a backslash","u":"\u00e9\u4e2d"}"#).is_none());
    }

    #[test]
    fn paths_queries_forms_and_csv_are_decoded_first() {
        assert!(check_path("/api/v1/stores/some%00slug").is_some());
        assert!(check_path("/api/v1/stores/%E4%B8%AD%20shop").is_none());
        assert_eq!(check_form("q=shoes&cursor=a%01").unwrap().field.as_deref(), Some("cursor"));
        assert!(check_form("q=line%0Abreak+and+tab%09").is_none());
        let e = check_csv("title,price\nok,1\nbad\u{0},2\n").unwrap();
        assert!(e.message.starts_with("line 3:"), "{}", e.message);
        assert!(check_csv("title,price\r\nok,1\r\n").is_none());
    }
}
