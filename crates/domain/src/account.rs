//! Accounts and stores: who may do what, and what a valid email, password or store looks like.

use crate::error::Invalid;
use crate::geo::parse_country;
use crate::money::Currency;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

pub const MIN_PASSWORD_CHARS: usize = 10;
pub const MAX_PASSWORD_BYTES: usize = 1024;
pub const MAX_EMAIL_BYTES: usize = 254;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Buyer,
    Seller,
    Mediator,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Buyer => "buyer",
            Role::Seller => "seller",
            Role::Mediator => "mediator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "buyer" => Some(Role::Buyer),
            "seller" => Some(Role::Seller),
            "mediator" => Some(Role::Mediator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// Normalises an email for uniqueness: trimmed and lower-cased, so `Ann@X.com` and `ann@x.com`
/// are one account. Checks the shape only; ownership is proven by the verification link.
pub fn normalize_email(email: &str) -> Result<String, Invalid> {
    let e = email.trim();
    let bad = || Invalid::new("invalid_email", "email", "must be an email address like name@example.com");
    if e.is_empty() || e.len() > MAX_EMAIL_BYTES || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = e.rsplit_once('@').ok_or_else(bad)?;
    if local.is_empty() || local.contains('@') || domain.len() < 3 || !domain.contains('.') {
        return Err(bad());
    }
    if domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
        return Err(bad());
    }
    Ok(e.to_lowercase())
}

pub fn validate_password(password: &str) -> Result<(), Invalid> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(Invalid::new(
            "weak_password",
            "password",
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Invalid::new("too_long", "password", format!("must be at most {MAX_PASSWORD_BYTES} bytes")));
    }
    Ok(())
}

/// The languages the pages, notifications and email speak.
pub const LOCALES: [&str; 2] = ["en", "zh"];
pub const MAX_DISPLAY_NAME_CHARS: usize = 100;

/// How a person is named to others: trimmed, 1 to 100 characters, no control characters.
pub fn validate_display_name(name: &str) -> Result<String, Invalid> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > MAX_DISPLAY_NAME_CHARS || n.chars().any(char::is_control) {
        return Err(Invalid::new("invalid", "display_name", "1 to 100 characters, no control characters"));
    }
    Ok(n.to_string())
}

/// A preferred language: one of [`LOCALES`].
pub fn validate_locale(locale: &str) -> Result<String, Invalid> {
    LOCALES
        .iter()
        .find(|l| **l == locale.trim())
        .map(|l| l.to_string())
        .ok_or_else(|| Invalid::new("invalid", "locale", "en or zh"))
}

/// A time zone by its IANA name (`Asia/Shanghai`, `Europe/Berlin`, `UTC`), as written there.
pub fn validate_time_zone(name: &str) -> Result<String, Invalid> {
    let name = name.trim();
    match jiff::tz::TimeZone::get(name) {
        Ok(_) if !name.is_empty() => Ok(jiff::tz::db()
            .available()
            .find(|n| n.as_str().eq_ignore_ascii_case(name))
            .map_or_else(|| name.to_string(), |n| n.to_string())),
        _ => Err(Invalid::new("invalid", "time_zone", "a time zone name such as Asia/Shanghai or Europe/Berlin")),
    }
}

/// A session's device as its owner recognises it ("Chrome on Android", "Safari on iPhone"), from
/// what the client called itself (its `User-Agent`); empty when it said nothing.
pub fn device_label(user_agent: &str) -> String {
    let ua = user_agent.trim();
    if ua.is_empty() {
        return String::new();
    }
    let has = |s: &str| ua.contains(s);
    let browser = if has("Edg/") {
        "Edge"
    } else if has("OPR/") {
        "Opera"
    } else if has("Firefox/") {
        "Firefox"
    } else if has("Chrome/") || has("Chromium/") || has("CriOS/") {
        "Chrome"
    } else if has("Safari/") && has("Version/") {
        "Safari"
    } else {
        // A program: its own name ("curl/8.5.0" → "curl").
        return ua.split(['/', ' ']).next().unwrap_or(ua).chars().take(40).collect();
    };
    let system = if has("iPhone") {
        "iPhone"
    } else if has("iPad") {
        "iPad"
    } else if has("Android") {
        "Android"
    } else if has("Windows") {
        "Windows"
    } else if has("Mac OS X") || has("Macintosh") {
        "macOS"
    } else if has("CrOS") {
        "ChromeOS"
    } else if has("Linux") {
        "Linux"
    } else {
        return browser.to_string();
    };
    format!("{browser} on {system}")
}

/// Every time zone name people pick from, sorted.
pub fn time_zones() -> Vec<String> {
    let mut names: Vec<String> = jiff::tz::db()
        .available()
        .map(|n| n.to_string())
        .filter(|n| n.contains('/') && !n.starts_with("Etc/") && !n.starts_with("SystemV/") || n == "UTC")
        .collect();
    names.sort_unstable();
    names
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Verification {
    None,
    Email,
    Identity,
}

impl Verification {
    pub fn as_str(self) -> &'static str {
        match self {
            Verification::None => "none",
            Verification::Email => "email",
            Verification::Identity => "identity",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Self::None),
            "email" => Some(Self::Email),
            "identity" => Some(Self::Identity),
            _ => None,
        }
    }
}

/// A store as its owner opens it.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StoreInput {
    pub name: String,
    /// Lower-case letters, digits and hyphens; unique; used in URLs.
    pub slug: String,
    /// ISO-3166-1 alpha-2.
    pub country: String,
    /// ISO-4217; the store's default for new products.
    pub currency: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreDraft {
    pub name: String,
    pub slug: String,
    pub country: String,
    pub currency: Currency,
    pub description: String,
}

/// Changes to a store; absent fields stay as they are. The slug never changes: links use it.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StorePatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub country: Option<String>,
    pub currency: Option<String>,
}

pub const MAX_STORE_NAME_CHARS: usize = 100;
pub const MAX_STORE_DESCRIPTION_CHARS: usize = 5_000;

pub fn validate_store_name(name: &str) -> Result<String, Invalid> {
    let n = name.trim();
    if n.is_empty() {
        return Err(Invalid::new("required", "name", "must not be empty"));
    }
    if n.chars().count() > MAX_STORE_NAME_CHARS || n.chars().any(char::is_control) {
        return Err(Invalid::new(
            "invalid",
            "name",
            format!("at most {MAX_STORE_NAME_CHARS} characters, no control characters"),
        ));
    }
    Ok(n.to_string())
}

pub fn validate_slug(slug: &str) -> Result<String, Invalid> {
    let ok = (3..=48).contains(&slug.len())
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if !ok {
        return Err(Invalid::new(
            "invalid_slug",
            "slug",
            "3 to 48 characters of a-z, 0-9 and '-', not starting or ending with '-'",
        ));
    }
    Ok(slug.to_string())
}

pub fn validate_store_description(d: &str) -> Result<String, Invalid> {
    if d.chars().count() > MAX_STORE_DESCRIPTION_CHARS {
        return Err(Invalid::new(
            "too_long",
            "description",
            format!("must be at most {MAX_STORE_DESCRIPTION_CHARS} characters"),
        ));
    }
    Ok(d.trim().to_string())
}

impl StoreInput {
    pub fn validate(&self) -> Result<StoreDraft, Invalid> {
        Ok(StoreDraft {
            name: validate_store_name(&self.name)?,
            slug: validate_slug(&self.slug)?,
            country: parse_country(&self.country, "country")?,
            currency: Currency::parse(&self.currency, "currency")?,
            description: validate_store_description(&self.description)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_read_as_people_know_them() {
        let phone = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36";
        assert_eq!(device_label(phone), "Chrome on Android");
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(device_label(iphone), "Safari on iPhone");
        assert_eq!(
            device_label("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"),
            "Firefox on Windows"
        );
        assert_eq!(device_label("curl/8.5.0"), "curl");
        assert_eq!(device_label(""), "");
    }

    #[test]
    fn profile_choices_are_checked() {
        assert_eq!(validate_time_zone("asia/shanghai").unwrap(), "Asia/Shanghai");
        assert_eq!(validate_time_zone("UTC").unwrap(), "UTC");
        for bad in ["", "Mars/Olympus", "../../etc/passwd", "+08:00"] {
            assert!(validate_time_zone(bad).is_err(), "{bad:?}");
        }
        let zones = time_zones();
        assert!(zones.iter().any(|z| z == "Europe/Berlin") && zones.len() > 300, "{}", zones.len());
        assert!(zones.iter().all(|z| validate_time_zone(z).is_ok()));
        assert_eq!(validate_locale(" zh ").unwrap(), "zh");
        assert!(validate_locale("fr").is_err());
        assert_eq!(validate_display_name("  Ann Lee ").unwrap(), "Ann Lee");
        assert!(validate_display_name(" ").is_err() && validate_display_name("a\u{7}b").is_err());
        assert!(validate_display_name(&"x".repeat(101)).is_err());
    }

    #[test]
    fn emails_normalise_case_insensitively() {
        assert_eq!(normalize_email(" Ann@Example.COM ").unwrap(), "ann@example.com");
        for bad in ["", "ann", "ann@", "@x.com", "a b@x.com", "ann@x", "ann@.x.com", "ann@x..com"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stores_validate_each_field() {
        let good = StoreInput {
            name: "Shenzhen Gadgets".into(),
            slug: "sz-gadgets".into(),
            country: "CN".into(),
            currency: "CNY".into(),
            description: String::new(),
        };
        assert!(good.validate().is_ok());
        let field = |f: fn(&mut StoreInput)| {
            let mut s = good.clone();
            f(&mut s);
            s.validate().unwrap_err().field.unwrap()
        };
        assert_eq!(field(|s| s.slug = "Bad Slug".into()), "slug");
        assert_eq!(field(|s| s.slug = "-x-".into()), "slug");
        assert_eq!(field(|s| s.country = "XX".into()), "country");
        assert_eq!(field(|s| s.currency = "ABC".into()), "currency");
        assert_eq!(field(|s| s.name = "   ".into()), "name");
    }
}

/// A store as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoreProfile {
    pub id: String,
    pub owner_id: String,
    pub name: String,
    pub slug: String,
    pub country: String,
    pub currency: String,
    pub description: String,
    pub verification: Verification,
    pub created_at: Timestamp,
    /// Whole days since the store opened.
    pub tenure_days: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DocumentType {
    Passport,
    NationalId,
    BusinessLicense,
}

impl DocumentType {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentType::Passport => "passport",
            DocumentType::NationalId => "national_id",
            DocumentType::BusinessLicense => "business_license",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "passport" => Some(Self::Passport),
            "national_id" => Some(Self::NationalId),
            "business_license" => Some(Self::BusinessLicense),
            _ => None,
        }
    }
}

/// A KYC request as the store owner submits it.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct VerificationInput {
    pub legal_name: String,
    pub document_type: DocumentType,
    pub document_number: String,
    /// Links to scans of the documents.
    #[serde(default)]
    pub document_urls: Vec<String>,
}

impl VerificationInput {
    pub fn validate(&self) -> Result<(), Invalid> {
        let name = self.legal_name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(Invalid::new("invalid", "legal_name", "1 to 200 characters"));
        }
        let number = self.document_number.trim();
        if number.is_empty()
            || number.len() > 64
            || !number.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b' ')
        {
            return Err(Invalid::new("invalid", "document_number", "1 to 64 letters, digits, spaces or '-'"));
        }
        if self.document_urls.len() > 5 {
            return Err(Invalid::new("too_many", "document_urls", "at most 5 documents"));
        }
        crate::catalog::validate_images(&self.document_urls, "document_urls")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum VerificationStatus {
    Pending,
    Approved,
    Rejected,
}

impl VerificationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "approved" => Some(Self::Approved),
            "rejected" => Some(Self::Rejected),
            _ => None,
        }
    }
}

/// A KYC request as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VerificationRequest {
    pub id: String,
    pub store_id: String,
    pub status: VerificationStatus,
    pub legal_name: String,
    pub document_type: DocumentType,
    pub document_number: String,
    pub document_urls: Vec<String>,
    /// Why it was rejected (or a note on approval).
    pub reason: Option<String>,
    pub submitted_at: Timestamp,
    pub decided_at: Option<String>,
}
