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
use souk_store::accounts::TokenPurpose;
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
            Some(n) if !n.is_empty() => souk_domain::account::validate_display_name(n)?,
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

/// The log-in throttles' keys: per client address and per account.
fn throttle_keys(email: &str, ip: std::net::IpAddr) -> (String, String) {
    let email_norm = normalize_email(email).unwrap_or_else(|_| email.trim().to_lowercase());
    (format!("ip:{ip}"), format!("account:{email_norm}"))
}

/// Checks an email and password under the log-in throttles (per IP and per account); an
/// unknown email costs the same time as a wrong password. A right password of an account with
/// two-step sign-in is only the first step (see [`sign_in`]).
pub async fn authenticate(app: &App, email: &str, password: String, ip: std::net::IpAddr) -> Result<User> {
    let now = app.store.now_ms();
    let (ip_key, account_key) = throttle_keys(email, ip);
    let limits = &app.config.login;
    if let Some(s) = crate::limiter::blocked_for(app, &ip_key, limits.per_ip, 5 * MINUTE_MS, now).await? {
        return Err(Error::rate_limited(s));
    }
    if let Some(s) = crate::limiter::blocked_for(app, &account_key, limits.per_account, 15 * MINUTE_MS, now).await? {
        return Err(Error::rate_limited(s));
    }
    crate::limiter::hit(app, &ip_key, 5 * MINUTE_MS, now).await?;
    let email_norm = account_key.trim_start_matches("account:");
    let user = match app.store.user_by_email(email_norm).await {
        Ok(u) => Some(u),
        Err(StoreError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    let password_ok = password_matches(password, user.as_ref().map(|u| u.password_hash.clone())).await;
    let Some(user) = user.filter(|_| password_ok) else {
        crate::limiter::hit(app, &account_key, 15 * MINUTE_MS, now).await?;
        return Err(Error::new(ErrorKind::Unauthenticated, "invalid_credentials", "wrong email or password"));
    };
    crate::limiter::reset(app, &account_key).await?;
    if user.banned {
        return Err(Error::new(ErrorKind::Forbidden, "account_banned", "an operator has suspended this account"));
    }
    Ok(crate::two_factor::in_force(app, user))
}

/// Both steps of signing in at once (the API): the password, and for an account with two-step
/// sign-in, `code` from its authenticator or a recovery code. A wrong code counts against the
/// account's log-in throttle like a wrong password.
pub async fn sign_in(
    app: &App,
    email: &str,
    password: String,
    code: Option<&str>,
    ip: std::net::IpAddr,
) -> Result<User> {
    let user = authenticate(app, email, password, ip).await?;
    if !user.two_factor {
        return Ok(user);
    }
    let Some(code) = code.filter(|c| !c.trim().is_empty()) else {
        return Err(Error::new(
            ErrorKind::Unauthenticated,
            "two_factor_required",
            "this account signs in with a second step: send two_factor_code, from the authenticator or a recovery code",
        ));
    };
    second_step(app, &user, code, "two_factor_code", &throttle_keys(email, ip).1).await?;
    Ok(user)
}

/// Checks a second step under the account's throttle, using the code up in its own commit.
async fn second_step(app: &App, user: &User, code: &str, field: &str, account_key: &str) -> Result<()> {
    let now = app.store.now_ms();
    if let Some(s) =
        crate::limiter::blocked_for(app, account_key, app.config.login.per_account, 15 * MINUTE_MS, now).await?
    {
        return Err(Error::rate_limited(s));
    }
    let mut tx = app.begin().await?;
    let checked = crate::two_factor::check(app, &mut tx, user, code, field).await;
    if checked.is_err() {
        // Counted in the same commit: this transaction holds the database's writer.
        crate::limiter::hit_in(&mut tx, account_key, 15 * MINUTE_MS, now).await?;
    }
    crate::commit(tx).await?;
    checked
}

/// How long a sign-in waits for its second step.
const SIGN_IN_TTL_MS: i64 = 5 * MINUTE_MS;

/// A right password of an account with two-step sign-in (the pages): a token that stands for it
/// for five minutes, while the code is asked for.
pub async fn await_second_step(app: &App, user: &User) -> Result<String> {
    let token = random_token();
    let mut tx = app.begin().await?;
    tx.create_email_token(&user.id, &token_hash(&token), SIGN_IN_TTL_MS, TokenPurpose::SignIn, None).await?;
    crate::commit(tx).await?;
    Ok(token)
}

/// The second step of a sign-in the pages began: the user, once the code is right. The waiting
/// sign-in is used up then, with a session started on `device`: its token and expiry.
pub async fn finish_sign_in(app: &App, waiting: &str, code: &str, device: &str) -> Result<(User, String)> {
    let hash = token_hash(waiting.trim());
    let user_id = match app.store.email_token_user(&hash, TokenPurpose::SignIn).await {
        Ok(id) => id,
        Err(StoreError::NotFound) => {
            return Err(Error::new(
                ErrorKind::Unauthenticated,
                "sign_in_expired",
                "the sign-in took too long; start again",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    let user = crate::two_factor::in_force(app, app.store.user_by_id(&user_id).await?);
    second_step(app, &user, code, "code", &format!("account:{}", normalize_email(&user.email).unwrap_or_default()))
        .await?;
    let mut tx = app.begin().await?;
    if let Err(StoreError::NotFound) = tx.take_email_token(&hash, TokenPurpose::SignIn).await {
        return Err(Error::new(
            ErrorKind::Unauthenticated,
            "sign_in_expired",
            "the sign-in took too long; start again",
        ));
    }
    let (token, _) = start_session(&mut tx, &user.id, device).await?;
    crate::commit(tx).await?;
    Ok((user, token))
}

/// The user a session token belongs to; an unknown or expired token is `invalid_token`.
pub async fn session_user(app: &App, token: &str) -> Result<User> {
    match app.store.user_by_session(&token_hash(token)).await {
        Err(StoreError::NotFound) => Err(Error::new(
            ErrorKind::Unauthenticated,
            "invalid_token",
            "the session token is unknown or expired; log in again",
        )),
        found => Ok(crate::two_factor::in_force(app, found?)),
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
    Ok(crate::two_factor::in_force(app, user))
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
/// How long a password-reset link works.
pub const RESET_TOKEN_TTL_MS: i64 = 30 * MINUTE_MS;

/// A sentence of an email in the account's language.
fn words(user: &User, en: &str, zh: &str) -> String {
    if user.locale.as_deref() == Some("zh") { zh } else { en }.to_string()
}

/// Emails a link, in the account's language, that proves the user owns `to`: their address
/// (`Verify`), or the one they asked to change to (`EmailChange`). The token is kept, hashed, in `tx`.
async fn send_proof(app: &App, tx: &mut Tx, user: &User, to: &str, purpose: TokenPurpose) -> Result<()> {
    let token = random_token();
    let new_email = (purpose == TokenPurpose::EmailChange).then_some(to);
    tx.create_email_token(&user.id, &token_hash(&token), EMAIL_TOKEN_TTL_MS, purpose, new_email).await?;
    let link = format!("{}/verify-email?token={token}", app.config.public_url.trim_end_matches('/'));
    let subject = words(user, "Confirm your email address", "请确认您的邮箱地址");
    let body = words(
        user,
        &format!(
            "Hello {name},\n\nOpen this link to confirm {to} as the email address of your Souk account:\n\n{link}\n\n\
             The link works once, for 48 hours. If you did not ask for this, ignore this email.\n\n\
             Programs may send this token to POST /api/v1/email-verification instead:\n\n{token}\n",
            name = user.display_name
        ),
        &format!(
            "{name}，您好：\n\n请打开以下链接，确认 {to} 为您 Souk 账户的邮箱地址：\n\n{link}\n\n\
             链接 48 小时内有效，只能使用一次。如果这不是您本人的操作，请忽略此邮件。\n\n\
             程序也可将以下令牌提交到 POST /api/v1/email-verification：\n\n{token}\n",
            name = user.display_name
        ),
    );
    app.send_mail(to, &subject, &body).await.map_err(|e| Error::internal("sending mail", e))
}

/// Emails the user a one-time link proving they own their address.
pub async fn send_email_token(app: &App, tx: &mut Tx, user: &User) -> Result<()> {
    if user.email_verified {
        return Err(Error::conflict("already_verified", "this email address is already verified"));
    }
    send_proof(app, tx, user, &user.email, TokenPurpose::Verify).await
}

/// Confirms an address with its emailed token: the user's own (their store rises to `email`
/// verification) or the one they asked to change to, which becomes theirs now. Returns the user
/// and the id of their store.
pub async fn confirm_email(tx: &mut Tx, token: &str) -> Result<(User, Option<String>)> {
    let hash = token_hash(token.trim());
    let user_id = match tx.use_email_token(&hash).await {
        Ok(user_id) => user_id,
        Err(StoreError::NotFound) => match tx.take_email_token(&hash, TokenPurpose::EmailChange).await {
            Ok((user_id, Some(email))) => {
                tx.change_email(&user_id, &email, &normalize_email(&email)?).await?;
                user_id
            }
            Ok((_, None)) | Err(StoreError::NotFound) => return Err(Error::not_found("verification token")),
            Err(e) => return Err(e.into()),
        },
        Err(e) => return Err(e.into()),
    };
    let user = tx.user_by_id(&user_id).await?;
    let store_id = tx.store_of_owner(&user_id).await?.map(|s| s.id);
    Ok((user, store_id))
}

/// A new session for the user on `device` (see [`souk_domain::account::device_label`]): its
/// token (only its hash is stored) and when it expires.
pub async fn start_session(tx: &mut Tx, user_id: &str, device: &str) -> Result<(String, i64)> {
    let token = random_token();
    let device: String = device.chars().take(60).collect();
    let expires_at = tx.create_session(user_id, &token_hash(&token), SESSION_TTL_MS, &device).await?;
    Ok((token, expires_at))
}

/// Reset links asked for from one address, and sent to one account, per quarter hour at most.
const RESETS_PER_IP: u32 = 30;
const RESETS_PER_ACCOUNT: u32 = 3;

/// Asks for a password-reset link for `email`. The answer is the same, and as quick, whether or
/// not an account uses the address: the look-up, the link and the email happen after it. Too
/// many asks from one address are refused; too many for one account are answered alike but
/// send nothing more.
pub async fn request_password_reset(app: &App, email: &str, ip: std::net::IpAddr) -> Result<String> {
    let email_norm = normalize_email(email)?;
    let now = app.store.now_ms();
    let window = 15 * MINUTE_MS;
    let ip_key = format!("reset-ip:{ip}");
    if let Some(s) = crate::limiter::blocked_for(app, &ip_key, RESETS_PER_IP, window, now).await? {
        return Err(Error::rate_limited(s));
    }
    crate::limiter::hit(app, &ip_key, window, now).await?;
    let account_key = format!("reset:{email_norm}");
    if crate::limiter::blocked_for(app, &account_key, RESETS_PER_ACCOUNT, window, now).await?.is_some() {
        return Ok(email_norm);
    }
    crate::limiter::hit(app, &account_key, window, now).await?;
    let app = app.clone();
    let to = email_norm.clone();
    tokio::spawn(async move {
        if let Err(e) = send_reset_link(&app, &to).await {
            tracing::warn!(error = %e, "could not send a password-reset link");
        }
    });
    Ok(email_norm)
}

async fn send_reset_link(app: &App, email_norm: &str) -> Result<()> {
    let user = match app.store.user_by_email(email_norm).await {
        Ok(u) => u,
        Err(StoreError::NotFound) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let token = random_token();
    let mut tx = app.begin().await?;
    tx.create_email_token(&user.id, &token_hash(&token), RESET_TOKEN_TTL_MS, TokenPurpose::PasswordReset, None).await?;
    tx.commit().await?;
    let link = format!("{}/reset-password?token={token}", app.config.public_url.trim_end_matches('/'));
    let subject = words(&user, "Reset your Souk password", "重置您的 Souk 密码");
    let body = words(
        &user,
        &format!(
            "Hello {name},\n\nOpen this link to choose a new password:\n\n{link}\n\n\
             The link works once, for 30 minutes; using it signs you out everywhere. If you did not ask \
             for this, ignore this email: your password stays as it is.\n",
            name = user.display_name
        ),
        &format!(
            "{name}，您好：\n\n请打开以下链接设置新密码：\n\n{link}\n\n\
             链接 30 分钟内有效，只能使用一次；使用后您的所有设备都将退出登录。如果这不是您本人的操作，\
             请忽略此邮件，您的密码不会改变。\n",
            name = user.display_name
        ),
    );
    app.send_mail(&user.email, &subject, &body).await.map_err(|e| Error::internal("sending mail", e))
}

/// The refusal of a reset link that is unknown, used or past its 30 minutes.
fn stale_link() -> Error {
    Invalid::new("invalid_token", "token", "this link is used, expired or unknown; ask for a new one").into()
}

/// Sets a new password with an emailed reset token, once and within 30 minutes; every session
/// of the account ends.
pub async fn reset_password(tx: &mut Tx, token: &str, password: String) -> Result<User> {
    validate_password(&password)?;
    let hash = hash_password(password).await?;
    let user_id = match tx.take_email_token(&token_hash(token.trim()), TokenPurpose::PasswordReset).await {
        Ok((user_id, _)) => user_id,
        Err(StoreError::NotFound) => return Err(stale_link()),
        Err(e) => return Err(e.into()),
    };
    tx.set_password(&user_id, &hash).await?;
    tx.end_sessions_of(&user_id, None).await?;
    Ok(tx.user_by_id(&user_id).await?)
}

/// Whether a reset link may still be used (the page asks before showing its form).
pub async fn reset_link_live(app: &App, token: &str) -> Result<bool> {
    match app.store.email_token_user(&token_hash(token.trim()), TokenPurpose::PasswordReset).await {
        Ok(_) => Ok(true),
        Err(StoreError::NotFound) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Refuses a change of password or email unless `password` is the user's current one.
async fn check_current(user: &User, password: String, field: &str) -> Result<()> {
    if password_matches(password, Some(user.password_hash.clone())).await {
        return Ok(());
    }
    Err(Invalid::new("wrong_password", field, "this is not your current password").into())
}

/// Changes the user's password, their current one required; every other session ends.
pub async fn change_password(
    tx: &mut Tx,
    user: &User,
    current: String,
    new: String,
    keep_session: Option<&str>,
) -> Result<()> {
    check_current(user, current, "current_password").await?;
    validate_password(&new).map_err(|e| Invalid::new(e.code, "new_password", e.message))?;
    let hash = hash_password(new).await?;
    tx.set_password(&user.id, &hash).await?;
    tx.end_sessions_of(&user.id, keep_session.map(token_hash).as_deref()).await?;
    Ok(())
}

/// Starts moving the account to `new_email`, the current password required: a link goes to the
/// new address, and the account keeps the old one until it is opened. Returns the new address.
pub async fn request_email_change(
    app: &App,
    tx: &mut Tx,
    user: &User,
    new_email: &str,
    password: String,
) -> Result<String> {
    check_current(user, password, "password").await?;
    let norm = normalize_email(new_email).map_err(|e| Invalid::new(e.code, "new_email", e.message))?;
    if norm == normalize_email(&user.email).unwrap_or_default() {
        return Err(Invalid::new("same_email", "new_email", "this is the address the account has").into());
    }
    let to = new_email.trim().to_string();
    send_proof(app, tx, user, &to, TokenPurpose::EmailChange).await?;
    Ok(to)
}

/// What a person chooses for their account; `None` leaves a choice as it is, an empty text
/// clears it (the browser decides again).
#[derive(Debug, Default, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileInput {
    pub display_name: Option<String>,
    /// `en` or `zh`: pages, notifications and email.
    pub locale: Option<String>,
    /// An ISO-4217 code, preselected where an amount is typed.
    pub currency: Option<String>,
    /// An IANA name such as `Asia/Shanghai`: times are shown in it.
    pub time_zone: Option<String>,
}

/// Saves the user's profile choices, each checked.
pub async fn update_profile(tx: &mut Tx, user: &User, input: &ProfileInput) -> Result<User> {
    use souk_domain::account::{validate_display_name, validate_locale, validate_time_zone};
    let choice = |given: &Option<String>,
                  kept: &Option<String>,
                  check: &dyn Fn(&str) -> std::result::Result<String, Invalid>| {
        match given.as_deref().map(str::trim) {
            None => Ok(kept.clone()),
            Some("") => Ok(None),
            Some(v) => check(v).map(Some),
        }
    };
    let display_name = match &input.display_name {
        Some(n) => validate_display_name(n)?,
        None => user.display_name.clone(),
    };
    let locale = choice(&input.locale, &user.locale, &validate_locale)?;
    let currency = choice(&input.currency, &user.currency, &|c| {
        souk_domain::Currency::parse(&c.to_ascii_uppercase(), "currency").map(|c| c.code().to_string())
    })?;
    let time_zone = choice(&input.time_zone, &user.time_zone, &validate_time_zone)?;
    Ok(tx.set_profile(&user.id, &display_name, locale.as_deref(), currency.as_deref(), time_zone.as_deref()).await?)
}

/// Ends one of the user's sessions, named as in their list.
pub async fn end_session_of(tx: &mut Tx, user: &User, id: &str) -> Result<()> {
    if tx.end_session_of(&user.id, id).await? {
        Ok(())
    } else {
        Err(Error::not_found("session"))
    }
}

/// Ends every session of the user but `keep` (a token); how many ended.
pub async fn end_other_sessions(tx: &mut Tx, user: &User, keep: Option<&str>) -> Result<u64> {
    Ok(tx.end_sessions_of(&user.id, keep.map(token_hash).as_deref()).await?)
}

/// Everything Souk holds about the user, as JSON by part: the account, its store and listings,
/// wallet, orders, messages, reviews, disputes, keys and more (secrets left out).
pub async fn export(app: &App, user: &User) -> Result<serde_json::Value> {
    Ok(app.store.export_user(&user.id).await?)
}

/// Deletes the user's account, their password required: refused while an order of theirs is
/// open, their wallet holds money or a top-up is pending; otherwise their personal data is
/// erased or anonymised, and orders and the ledger keep what the books need.
pub async fn delete_account(tx: &mut Tx, user: &User, password: String) -> Result<()> {
    if !password_matches(password, Some(user.password_hash.clone())).await {
        return Err(Invalid::new("wrong_password", "password", "this is not your current password").into());
    }
    let owed = tx.obligations(&user.id).await?;
    if owed.open_orders > 0 {
        let message = format!("{} of your orders are still open: finish or cancel them first", owed.open_orders);
        return Err(Error::conflict("orders_open", message));
    }
    if let Some((currency, _)) = owed.balances.first() {
        return Err(Error::conflict(
            "wallet_not_empty",
            format!("your wallet still holds {currency}: pay it out first"),
        ));
    }
    if owed.pending_top_ups > 0 {
        return Err(Error::conflict("top_up_pending", "a top-up is waiting for the card's provider"));
    }
    tx.erase_user(&user.id).await?;
    Ok(())
}

/// The user's live sessions, the most recently used first.
pub async fn sessions_of(app: &App, user_id: &str) -> Result<Vec<souk_store::accounts::SessionRow>> {
    Ok(app.store.sessions_of(user_id).await?)
}

/// The id the user's session with `token` has in their list.
pub fn session_id(token: &str) -> String {
    token_hash(token).chars().take(souk_store::accounts::SESSION_ID_CHARS).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_writes_each_byte_as_two_digits() {
        assert_eq!(super::hex(&[0x00, 0x0f, 0xab, 0xff]), "000fabff");
        assert_eq!(super::token_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
