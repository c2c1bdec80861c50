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
