//! Image uploads: the file's bytes in, a link to the cleaned image and its thumbnail out.

use crate::error::{AppError, AppResult};
use crate::extract::Authed;
use crate::App;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use souk_app::media::{self, Upload};
use souk_domain::media::MAX_UPLOAD_BYTES;

/// Uploads an image: the file's bytes as the body, with `Content-Type: image/jpeg`,
/// `image/png` or `image/webp`, at most 10 MB and 8000 pixels a side. The image is recognised by
/// its bytes, turned upright, re-encoded without its metadata (camera, place, time) and given a
/// thumbnail; its `url` goes into a product's `images`, a dispute's evidence or a
/// verification's `document_urls`. The same picture uploaded twice has the same link.
#[utoipa::path(post, path = "/api/v1/uploads", tag = "media", security(("bearer" = [])),
    params(crate::openapi::IdempotencyKey),
    request_body(content = Vec<u8>, content_type = "image/jpeg", description = "the image file"),
    responses((status = 201, body = Upload), (status = 401, body = crate::error::ErrorBody),
        (status = 413, body = crate::error::ErrorBody), (status = 415, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
pub async fn upload(
    State(app): State<App>,
    Authed(_user): Authed,
    headers: HeaderMap,
    body: axum::body::Body,
) -> AppResult<(StatusCode, Json<Upload>)> {
    require_image_type(&headers)?;
    let bytes = crate::extract::read_body(body, MAX_UPLOAD_BYTES).await?;
    Ok((StatusCode::CREATED, Json(media::upload(&app, bytes.to_vec()).await?)))
}

/// An upload says it is an image; its bytes decide which.
pub(crate) fn require_image_type(headers: &HeaderMap) -> AppResult<()> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if ct.trim().to_ascii_lowercase().starts_with("image/") {
        Ok(())
    } else {
        Err(AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the image with Content-Type: image/jpeg, image/png or image/webp",
        ))
    }
}
