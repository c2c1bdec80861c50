//! Uploaded images: recognised by their bytes (never by the name or type the sender gives),
//! turned upright, re-encoded without their metadata (camera, place, time), given a thumbnail,
//! and kept under the SHA-256 of their cleaned bytes: in the data directory, or in an
//! S3-compatible bucket so that several server processes share them.

use crate::error::{Error, ErrorKind, Result};
use crate::{App, Config};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use object_store::path::Path as Key;
use object_store::{GetOptions, ObjectStore, PutOptions, PutPayload};
use serde::Serialize;
use sha2::{Digest, Sha256};
use souk_domain::media::{self, Kind, MAX_SIDE_PX, MAX_UPLOAD_BYTES, PREFIX, THUMB_SIDE_PX};
use std::sync::Arc;

/// An S3-compatible bucket for uploads. Unset fields come from the standard `AWS_*`
/// environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
/// `AWS_ENDPOINT`).
#[derive(Debug, Clone, Default)]
pub struct S3Media {
    pub bucket: String,
    /// For stores other than AWS (MinIO, Ceph, ...): their address.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Allow an `http://` endpoint (a store on the same host or network).
    pub allow_http: bool,
}

/// Where uploads are kept.
pub struct MediaStore(Arc<dyn ObjectStore>);

impl MediaStore {
    pub fn open(config: &Config) -> std::result::Result<MediaStore, String> {
        let store: Arc<dyn ObjectStore> = match &config.media_s3 {
            None => {
                let dir = config.data_dir.join("media");
                std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                let local = object_store::local::LocalFileSystem::new_with_prefix(&dir)
                    .map_err(|e| format!("cannot keep uploads in {}: {e}", dir.display()))?;
                Arc::new(local)
            }
            Some(s3) => {
                let mut b = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(&s3.bucket);
                if let Some(v) = &s3.endpoint {
                    b = b.with_endpoint(v);
                }
                if let Some(v) = &s3.region {
                    b = b.with_region(v);
                }
                if let Some(v) = &s3.access_key_id {
                    b = b.with_access_key_id(v);
                }
                if let Some(v) = &s3.secret_access_key {
                    b = b.with_secret_access_key(v);
                }
                let bucket = b.with_allow_http(s3.allow_http).build();
                Arc::new(bucket.map_err(|e| format!("cannot use the bucket '{}': {e}", s3.bucket))?)
            }
        };
        Ok(MediaStore(store))
    }
}

/// An image as it is kept: re-encoded in its own format, and a JPEG thumbnail.
#[derive(Debug)]
pub struct Cleaned {
    pub kind: Kind,
    pub bytes: Vec<u8>,
    pub thumbnail: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

fn unusable(why: impl Into<String>) -> Error {
    Error::invalid("unsupported_image", why).with_field("file")
}

/// Reads an upload's pixels under limits (a small file may claim a huge picture), upright, and
/// writes them again without any metadata, with a thumbnail. CPU work: run it off the runtime.
pub fn clean(bytes: &[u8]) -> Result<Cleaned> {
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(too_large());
    }
    let reader = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| unusable("the file could not be read"))?;
    let kind = match reader.format() {
        Some(ImageFormat::Jpeg) => Kind::Jpeg,
        Some(ImageFormat::Png) => Kind::Png,
        Some(ImageFormat::WebP) => Kind::Webp,
        _ => return Err(unusable("a JPEG, PNG or WebP image")),
    };
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE_PX);
    limits.max_image_height = Some(MAX_SIDE_PX);
    limits.max_alloc = Some(512 * 1024 * 1024);
    let mut reader = reader;
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| unusable(format!("not a readable image: {e}")))?;
    let orientation = decoder.orientation().map_err(|e| unusable(format!("not a readable image: {e}")))?;
    let mut picture =
        DynamicImage::from_decoder(decoder).map_err(|e| unusable(format!("not a readable image: {e}")))?;
    picture.apply_orientation(orientation);
    let encoded = |what: image::ImageResult<()>| what.map_err(|e| Error::internal("encoding an upload", e));
    let mut out = Vec::new();
    match kind {
        Kind::Jpeg => encoded(picture.to_rgb8().write_with_encoder(JpegEncoder::new_with_quality(&mut out, 88)))?,
        Kind::Png => encoded(picture.write_with_encoder(PngEncoder::new(&mut out)))?,
        Kind::Webp => encoded(picture.to_rgba8().write_with_encoder(WebPEncoder::new_lossless(&mut out)))?,
    }
    let mut thumbnail = Vec::new();
    let small = picture.thumbnail(THUMB_SIDE_PX, THUMB_SIDE_PX).to_rgb8();
    encoded(small.write_with_encoder(JpegEncoder::new_with_quality(&mut thumbnail, 80)))?;
    Ok(Cleaned { kind, bytes: out, thumbnail, width: picture.width(), height: picture.height() })
}

fn too_large() -> Error {
    Error::new(ErrorKind::TooLarge, "too_large", format!("an image of at most {} MB", MAX_UPLOAD_BYTES / 1024 / 1024))
        .with_field("file")
}

/// An image as kept, and where it is served.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Upload {
    /// The image's link, to put in a listing, review, dispute or verification.
    pub url: String,
    pub thumbnail_url: String,
    pub content_type: String,
    pub width: u32,
    pub height: u32,
    /// The size kept, in bytes (metadata removed).
    pub bytes: usize,
}

/// Cleans and keeps an upload. The same picture uploaded twice is kept once.
pub async fn upload(app: &App, bytes: Vec<u8>) -> Result<Upload> {
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(too_large());
    }
    let cleaned = tokio::task::spawn_blocking(move || clean(&bytes))
        .await
        .map_err(|e| Error::internal("cleaning an upload", e))??;
    let hash: String = Sha256::digest(&cleaned.bytes).iter().map(|b| format!("{b:02x}")).collect();
    let name = media::file_name(&hash, cleaned.kind);
    let keep = |key: String, data: Vec<u8>| async move {
        app.media
            .0
            .put_opts(&Key::from(key), PutPayload::from(data), PutOptions::default())
            .await
            .map_err(|e| Error::internal("keeping an upload", e))
    };
    let thumb = format!("thumbs/{hash}.jpg");
    keep(thumb.clone(), cleaned.thumbnail).await?;
    let size = cleaned.bytes.len();
    keep(name.clone(), cleaned.bytes).await?;
    Ok(Upload {
        url: format!("{PREFIX}{name}"),
        thumbnail_url: format!("{PREFIX}{thumb}"),
        content_type: cleaned.kind.content_type().to_string(),
        width: cleaned.width,
        height: cleaned.height,
        bytes: size,
    })
}

/// A kept image's bytes and type, by its served name (`<hash>.<ext>`, or `thumbs/<hash>.jpg`);
/// `None` for a name that is not one or an image not kept.
pub async fn fetch(app: &App, name: &str) -> Result<Option<(Vec<u8>, &'static str)>> {
    let (file, kind) = match name.strip_prefix("thumbs/") {
        Some(file) => (file, media::parse_file_name(file).filter(|k| *k == Kind::Jpeg)),
        None => (name, media::parse_file_name(name)),
    };
    let Some(kind) = kind else { return Ok(None) };
    let key = if file.len() == name.len() { Key::from(file) } else { Key::from(name) };
    match app.media.0.get_opts(&key, GetOptions::default()).await {
        Ok(found) => {
            let bytes = found.bytes().await.map_err(|e| Error::internal("reading an upload", e))?;
            Ok(Some((bytes.to_vec(), kind.content_type())))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(Error::internal("reading an upload", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JPEG with an EXIF block (a camera's orientation and maker): 3 by 2 pixels on its side.
    fn photo_with_exif() -> Vec<u8> {
        use image::ImageEncoder;
        let mut out = Vec::new();
        let mut encoder = JpegEncoder::new(&mut out);
        // Orientation 6: the pixels are to be turned a quarter clockwise.
        let mut exif = b"II\x2a\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0".to_vec();
        exif.extend_from_slice(&[6, 0, 0, 0, 0, 0, 0, 0]);
        encoder.set_exif_metadata(exif).unwrap();
        encoder.write_image(&[200; 3 * 2 * 3], 3, 2, image::ExtendedColorType::Rgb8).unwrap();
        out
    }

    #[test]
    fn uploads_are_read_by_their_bytes_cleaned_and_upright() {
        let photo = photo_with_exif();
        assert!(photo.windows(4).any(|w| w == b"Exif"), "the fixture carries metadata");
        let c = clean(&photo).unwrap();
        assert_eq!((c.kind, c.width, c.height), (Kind::Jpeg, 2, 3), "turned upright");
        assert!(!c.bytes.windows(4).any(|w| w == b"Exif"), "no metadata is kept");
        assert!(image::load_from_memory(&c.thumbnail).is_ok());
        for bad in [&b"GIF89a...."[..], b"not an image at all", b"\x89PNG\r\n\x1a\nbroken"] {
            assert_eq!(clean(bad).unwrap_err().code, "unsupported_image");
        }
        assert_eq!(clean(&vec![0; MAX_UPLOAD_BYTES + 1]).unwrap_err().code, "too_large");
    }

    #[test]
    fn a_small_file_claiming_a_huge_picture_is_refused_before_decoding() {
        use image::ImageEncoder;
        let mut png = Vec::new();
        PngEncoder::new(&mut png).write_image(&[0; 4], 2, 2, image::ExtendedColorType::L8).unwrap();
        // Claim 60000 × 60000 in the header (bytes 16..24 are width and height).
        png[16..20].copy_from_slice(&60_000u32.to_be_bytes());
        png[20..24].copy_from_slice(&60_000u32.to_be_bytes());
        assert_eq!(clean(&png).unwrap_err().code, "unsupported_image");
    }
}
