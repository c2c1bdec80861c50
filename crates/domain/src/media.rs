//! Uploaded images: what is accepted, and the links that name them. Souk keeps each image under
//! the SHA-256 of its cleaned bytes, so a link is `/media/<64 hex>.<ext>` and its thumbnail
//! `/media/thumbs/<64 hex>.jpg`; links to images elsewhere stay possible.

/// The largest file accepted, in bytes.
pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;
/// The widest or tallest picture accepted, in pixels (a small file can claim a huge picture).
pub const MAX_SIDE_PX: u32 = 8_000;
/// The longer side of a thumbnail, in pixels.
pub const THUMB_SIDE_PX: u32 = 320;

/// Where the server serves uploaded images.
pub const PREFIX: &str = "/media/";

/// The kinds of image accepted, by what their bytes are (never by what the sender says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Jpeg,
    Png,
    Webp,
}

impl Kind {
    pub fn extension(self) -> &'static str {
        match self {
            Kind::Jpeg => "jpg",
            Kind::Png => "png",
            Kind::Webp => "webp",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Kind::Jpeg => "image/jpeg",
            Kind::Png => "image/png",
            Kind::Webp => "image/webp",
        }
    }

    pub fn from_extension(ext: &str) -> Option<Kind> {
        match ext {
            "jpg" => Some(Kind::Jpeg),
            "png" => Some(Kind::Png),
            "webp" => Some(Kind::Webp),
            _ => None,
        }
    }
}

/// The stored name of an image: its hash and kind, `<64 hex>.<ext>`.
pub fn file_name(sha256_hex: &str, kind: Kind) -> String {
    format!("{sha256_hex}.{}", kind.extension())
}

/// The kind of a stored name, when it is one (`<64 lower-case hex>.<ext>`): what the server
/// agrees to serve.
pub fn parse_file_name(name: &str) -> Option<Kind> {
    let (hash, ext) = name.split_once('.')?;
    let hex = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if hex {
        Kind::from_extension(ext)
    } else {
        None
    }
}

/// The thumbnail link of an uploaded image's link; `None` for images elsewhere.
pub fn thumbnail_of(link: &str) -> Option<String> {
    let name = link.strip_prefix(PREFIX)?;
    parse_file_name(name)?;
    let hash = name.split_once('.')?.0;
    Some(format!("{PREFIX}thumbs/{hash}.jpg"))
}

/// Whether `link` may name an image: an http(s) URL of at most `max_chars` without spaces or
/// markup characters, or the link of an uploaded image.
pub fn is_image_link(link: &str, max_chars: usize) -> bool {
    if let Some(name) = link.strip_prefix(PREFIX) {
        return parse_file_name(name).is_some();
    }
    (link.starts_with("https://") || link.starts_with("http://"))
        && link.len() > "https://".len()
        && link.len() <= max_chars
        && !link.chars().any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '<' || c == '>')
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn uploaded_links_are_hash_and_kind_only() {
        assert_eq!(parse_file_name(&file_name(HASH, Kind::Png)), Some(Kind::Png));
        assert!(is_image_link(&format!("/media/{HASH}.jpg"), 500));
        assert_eq!(thumbnail_of(&format!("/media/{HASH}.webp")), Some(format!("/media/thumbs/{HASH}.jpg")));
        for bad in [
            format!("/media/{HASH}.gif"),
            format!("/media/{}.jpg", HASH.to_uppercase()),
            format!("/media/{}.jpg", &HASH[1..]),
            format!("/media/../{HASH}.jpg"),
            "/media/thumbs/x.jpg".to_string(),
        ] {
            assert!(!is_image_link(&bad, 500), "{bad}");
            assert_eq!(thumbnail_of(&bad), None);
        }
        assert!(is_image_link("https://img.example.com/a.jpg", 500));
        assert!(!is_image_link("javascript:alert(1)", 500));
        assert!(!is_image_link("https://", 500));
        assert!(!is_image_link("https://x.com/a b.jpg", 500));
        assert!(!is_image_link(&format!("https://x.com/{}", "a".repeat(600)), 500));
        assert_eq!(thumbnail_of("https://img.example.com/a.jpg"), None);
    }
}
