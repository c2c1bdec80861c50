//! Accounts' secrets: password hashes, session and email tokens, and how they are written down.

use crate::error::{Error, ErrorKind, Result};
use crate::App;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use sha2::{Digest, Sha256};
use souk_domain::account::{normalize_email, validate_password};
use souk_domain::time::{DAY_MS, MINUTE_MS};
use souk_domain::Invalid;
use souk_store::accounts::User;
use souk_store::{StoreError, Tx};
use std::sync::OnceLock;

/// 256 random bits, URL-safe: session and email tokens.
pub fn random_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// The SHA-256 of a secret token, as stored: tokens themselves are never written down.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Lower-case hex of `bytes`, as digests are written down (one allocation, not one a byte).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// Hashes with argon2id (the crate's defaults: 19 MiB, 2 passes) off the async threads.
pub async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string())
    })
    .await
    .map_err(|e| Error::internal("hashing task", e))?
    .map_err(|e| Error::internal("hashing a password", e))
}

/// Whether `password` is the one `hash` was made from. With no hash (an unknown email) a decoy
/// is checked, so both cases take the same time.
pub async fn password_matches(password: String, hash: Option<String>) -> bool {
    let hash = hash.unwrap_or_else(decoy_hash);
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
    })
    .await
    .unwrap_or(false)
}

fn decoy_hash() -> String {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY
        .get_or_init(|| {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default().hash_password(b"decoy password", &salt).map(|h| h.to_string()).unwrap_or_default()
        })
        .clone()
}

/// An account about to be opened (everyone is a buyer): checked, the email normalised for
/// sign-in, the display name the email's local part unless one is given, and the password
/// hashed, which is slow, so it happens before any transaction.
pub struct NewAccount {
    email: String,
    email_norm: String,
    password_hash: String,
    display_name: String,
}

impl NewAccount {
    pub async fn check(email: &str, password: String, display_name: Option<&str>) -> Result<NewAccount> {
        let email_norm = normalize_email(email)?;
        validate_password(&password)?;
        let display_name = match display_name.map(str::trim) {
            Some(n) if !n.is_empty() => {
                if n.chars().count() > 100 || n.chars().any(char::is_control) {
                    return Err(Invalid::new(
                        "invalid",
                        "display_name",
                        "at most 100 characters, no control characters",
                    )
                    .into());
                }
                n.to_string()
            }
            _ => email_norm.split('@').next().unwrap_or("").to_string(),
        };
        let password_hash = hash_password(password).await?;
        Ok(NewAccount { email: email.trim().to_string(), email_norm, password_hash, display_name })
    }

    /// Opens the account; an email taken already is a conflict.
    pub async fn open(&self, tx: &mut Tx) -> Result<User> {
        Ok(tx.create_user(&self.email, &self.email_norm, &self.password_hash, &self.display_name).await?)
    }
}

/// How long a session lasts.
pub const SESSION_TTL_MS: i64 = 30 * DAY_MS;

/// Checks an email and password under the log-in throttles (per IP and per account); an
/// unknown email costs the same time as a wrong password.
pub async fn authenticate(app: &App, email: &str, password: String, ip: std::net::IpAddr) -> Result<User> {
    let now = app.store.now_ms();
    let email_norm = normalize_email(email).unwrap_or_else(|_| email.trim().to_lowercase());
    let ip_key = format!("ip:{ip}");
    let account_key = format!("account:{email_norm}");
    let limits = &app.config.login;
    if let Some(s) = app.limiter.blocked_for(&ip_key, limits.per_ip, 5 * MINUTE_MS, now) {
        return Err(Error::rate_limited(s));
    }
    if let Some(s) = app.limiter.blocked_for(&account_key, limits.per_account, 15 * MINUTE_MS, now) {
        return Err(Error::rate_limited(s));
    }
    app.limiter.hit(&ip_key, 5 * MINUTE_MS, now);
    let user = match app.store.user_by_email(&email_norm).await {
        Ok(u) => Some(u),
        Err(StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    let password_ok = password_matches(password, user.as_ref().map(|u| u.password_hash.clone())).await;
    let Some(user) = user.filter(|_| password_ok) else {
        app.limiter.hit(&account_key, 15 * MINUTE_MS, now);
        return Err(Error::new(ErrorKind::Unauthenticated, "invalid_credentials", "wrong email or password"));
    };
    app.limiter.reset(&account_key);
    Ok(user)
}

/// The user a session token belongs to; an unknown or expired token is `invalid_token`.
pub async fn session_user(app: &App, token: &str) -> Result<User> {
    match app.store.user_by_session(&token_hash(token)).await {
        Err(StoreError::NotFound) => Err(Error::new(
            ErrorKind::Unauthenticated,
            "invalid_token",
            "the session token is unknown or expired; log in again",
        )),
        found => Ok(found?),
    }
}

/// The owner of an API key, when the key's scopes cover a read (`GET`, `HEAD`) or a write of
/// `path` (`insufficient_scope` when they do not; `invalid_token` for an unknown or revoked key).
pub async fn api_key_user(app: &App, key: &str, method: &str, path: &str) -> Result<User> {
    let (user, scopes) = match app.store.user_by_api_key(&token_hash(key)).await {
        Err(StoreError::NotFound) => {
            return Err(Error::new(ErrorKind::Unauthenticated, "invalid_token", "the API key is unknown or revoked"))
        }
        found => found?,
    };
    let read = matches!(method, "GET" | "HEAD");
    if !souk_domain::apikey::allows(&scopes, read, path) {
        let message = format!("this API key's scopes ({}) do not cover {method} {path}", scopes.join(" "));
        return Err(Error::new(ErrorKind::Forbidden, "insufficient_scope", message));
    }
    Ok(user)
}

/// The id of the store the user opened, if any.
pub async fn own_store_id(app: &App, user: &User) -> Result<Option<String>> {
    match app.store.store_by_owner(&user.id).await {
        Ok(s) => Ok(Some(s.id)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Ends the session with this token.
pub async fn end_session(tx: &mut Tx, token: &str) -> Result<()> {
    Ok(tx.delete_session(&token_hash(token)).await?)
}

/// How long an emailed verification token works.
const EMAIL_TOKEN_TTL_MS: i64 = 2 * DAY_MS;

/// Emails the user a one-time token proving they own their address (kept, hashed, in `tx`).
pub async fn send_email_token(app: &App, tx: &mut Tx, user: &User) -> Result<()> {
    if user.email_verified {
        return Err(Error::conflict("already_verified", "this email address is already verified"));
    }
    let token = random_token();
    tx.create_email_token(&user.id, &token_hash(&token), EMAIL_TOKEN_TTL_MS).await?;
    let body = format!(
        "Confirm your Souk email address by sending this token to POST /api/v1/email-verification:\n\n{token}\n\nIt expires in 48 hours."
    );
    app.send_mail(&user.email, "Confirm your email address", &body)
        .await
        .map_err(|e| Error::internal("sending mail", e))
}

/// Confirms an email address with its emailed token: the user, and the id of their store (which
/// rises to `email` verification).
pub async fn confirm_email(tx: &mut Tx, token: &str) -> Result<(User, Option<String>)> {
    let user_id = match tx.use_email_token(&token_hash(token.trim())).await {
        Err(StoreError::NotFound) => return Err(Error::not_found("verification token")),
        found => found?,
    };
    let user = tx.user_by_id(&user_id).await?;
    let store_id = tx.store_of_owner(&user_id).await?.map(|s| s.id);
    Ok((user, store_id))
}

/// A new session for the user: its token (only its hash is stored) and when it expires.
pub async fn start_session(tx: &mut Tx, user_id: &str) -> Result<(String, i64)> {
    let token = random_token();
    let expires_at = tx.create_session(user_id, &token_hash(&token), SESSION_TTL_MS).await?;
    Ok((token, expires_at))
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_writes_each_byte_as_two_digits() {
        assert_eq!(super::hex(&[0x00, 0x0f, 0xab, 0xff]), "000fabff");
        assert_eq!(super::token_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
