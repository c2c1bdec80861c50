//! Users, roles, log-in sessions and email-verification tokens.

use crate::{is_unique_violation, Conflict, Result, Store, StoreError, Tx};
use souk_domain::account::Role;
use souk_domain::id::Kind;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    pub email_verified: bool,
    pub created_at: i64,
    /// Granted roles; `buyer` is implied for everyone and not stored.
    pub roles: Vec<Role>,
    /// Signs in with a second step (a code from an authenticator, or a recovery code).
    pub two_factor: bool,
    /// Banned by an operator: signing in is refused.
    pub banned: bool,
    /// Staff roles granted but not in force until two-step sign-in is on (see `souk_app`).
    pub held_back: Vec<Role>,
    /// The language, currency and time zone chosen for the account, if any.
    pub locale: Option<String>,
    pub currency: Option<String>,
    pub time_zone: Option<String>,
}

/// A live session as its owner sees it in the list of devices signed in.
#[derive(Debug, Clone)]
pub struct SessionRow {
    /// Names the session to its owner: the start of its token's hash, never the token.
    pub id: String,
    pub device: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: i64,
}

/// Characters of a session token's hash that name it (64 bits: unique among a user's sessions).
pub const SESSION_ID_CHARS: usize = 16;

/// What an emailed token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    Verify,
    EmailChange,
    PasswordReset,
    /// Not emailed: a sign-in whose password was right, waiting for its second step.
    SignIn,
}

impl TokenPurpose {
    fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::Verify => "verify",
            TokenPurpose::EmailChange => "email_change",
            TokenPurpose::PasswordReset => "password_reset",
            TokenPurpose::SignIn => "sign_in",
        }
    }
}

/// How long a session's last use may be out of date in its list (and writes of it rare).
const LAST_USE_PRECISION_MS: i64 = 5 * 60_000;

impl User {
    pub fn has(&self, role: Role) -> bool {
        role == Role::Buyer || self.roles.contains(&role)
    }
}

const USER_COLUMNS: &str =
    "id, email, display_name, password_hash, email_verified_at, created_at, locale, currency, time_zone, totp_enabled_at, banned_at";

fn user_from_row(row: &sqlx::any::AnyRow) -> Result<User> {
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        display_name: row.try_get("display_name")?,
        password_hash: row.try_get("password_hash")?,
        email_verified: row.try_get::<Option<i64>, _>("email_verified_at")?.is_some(),
        created_at: row.try_get("created_at")?,
        roles: Vec::new(),
        two_factor: row.try_get::<Option<i64>, _>("totp_enabled_at")?.is_some(),
        banned: row.try_get::<Option<i64>, _>("banned_at")?.is_some(),
        held_back: Vec::new(),
        locale: row.try_get("locale")?,
        currency: row.try_get("currency")?,
        time_zone: row.try_get("time_zone")?,
    })
}

async fn load_roles(conn: &mut AnyConnection, user: &mut User) -> Result<()> {
    let rows = sqlx::query("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
        .bind(&user.id)
        .fetch_all(&mut *conn)
        .await?;
    user.roles =
        rows.iter().filter_map(|r| r.try_get::<String, _>("role").ok()).filter_map(|r| Role::parse(&r)).collect();
    Ok(())
}

/// A write of a user's address: one another account has already is a conflict.
fn email_unique<T>(res: std::result::Result<T, sqlx::Error>) -> Result<T> {
    match res {
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict {
            kind: Conflict::EmailTaken,
            message: "an account with this email already exists".into(),
        }),
        other => Ok(other?),
    }
}

async fn user_where(conn: &mut AnyConnection, clause: &str, value: &str) -> Result<User> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE {clause} = $1");
    let row = sqlx::query(&sql).bind(value).fetch_optional(&mut *conn).await?.ok_or(StoreError::NotFound)?;
    let mut user = user_from_row(&row)?;
    load_roles(conn, &mut user).await?;
    Ok(user)
}

impl Store {
    /// Every user with their roles, oldest first.
    pub async fn list_users(&self, cursor: Option<&str>, limit: usize) -> Result<crate::Page<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id > $1 ORDER BY id LIMIT $2");
        let mut conn = self.reader().await?;
        let rows = sqlx::query(&sql).bind(cursor.unwrap_or("")).bind(limit as i64 + 1).fetch_all(&mut *conn).await?;
        let mut users = rows.iter().map(user_from_row).collect::<Result<Vec<_>>>()?;
        for u in users.iter_mut().take(limit) {
            load_roles(&mut conn, u).await?;
        }
        Ok(crate::Page::from_rows(users, limit, |u| u.id.clone()))
    }

    pub async fn user_by_id(&self, id: &str) -> Result<User> {
        user_where(&mut *self.reader().await?, "id", id).await
    }

    /// Looks a user up by normalised email.
    pub async fn user_by_email(&self, email_norm: &str) -> Result<User> {
        user_where(&mut *self.reader().await?, "email_norm", email_norm).await
    }

    /// The user behind a live session token hash.
    /// Served from [`SessionCache`] when it can be.
    pub async fn user_by_session(&self, token_hash: &str) -> Result<User> {
        let now = self.now_ms();
        if self.sessions.epoch_due(now) {
            self.check_auth_epoch(now).await;
        }
        let generation = match self.sessions.get(token_hash, now) {
            Ok(user) => return Ok(user),
            Err(generation) => generation,
        };
        let mut conn = self.reader().await?;
        let row = sqlx::query(
            "SELECT user_id, expires_at, last_used_at FROM sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound)?;
        let user_id: String = row.try_get("user_id")?;
        let expires_at: i64 = row.try_get("expires_at")?;
        let last_used_at: Option<i64> = row.try_get("last_used_at")?;
        let user = user_where(&mut conn, "id", &user_id).await?;
        drop(conn);
        if last_used_at.is_none_or(|t| now - t >= LAST_USE_PRECISION_MS) {
            // Only the list of sessions reads this: a failed write costs nothing else.
            if let Err(e) = self.touch_session(token_hash, now).await {
                tracing::debug!(error = %e, "could not record a session's last use");
            }
        }
        self.sessions.put(token_hash, &user, (now + SESSION_CACHE_MS).min(expires_at), generation);
        Ok(user)
    }

    async fn touch_session(&self, token_hash: &str, now: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE sessions SET last_used_at = $1 WHERE token_hash = $2")
            .bind(now)
            .bind(token_hash)
            .execute(tx.conn())
            .await?;
        tx.commit().await
    }

    /// The user's authenticator secret (base32), whether it is in force, and the time step of the
    /// last code used.
    pub async fn totp_of(&self, user_id: &str) -> Result<(Option<String>, bool, Option<i64>)> {
        let row = sqlx::query("SELECT totp_secret, totp_enabled_at, totp_last_step FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&mut *self.reader().await?)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok((row.try_get(0)?, row.try_get::<Option<i64>, _>(1)?.is_some(), row.try_get(2)?))
    }

    /// How many unused recovery codes the user has.
    pub async fn recovery_codes_left(&self, user_id: &str) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
            .bind(user_id)
            .fetch_one(&mut *self.reader().await?)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// The user an unused, unexpired token for `purpose` belongs to, without using it.
    pub async fn email_token_user(&self, token_hash: &str, purpose: TokenPurpose) -> Result<String> {
        let row = sqlx::query(
            "SELECT user_id FROM email_tokens WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
        )
        .bind(token_hash)
        .bind(purpose.as_str())
        .bind(self.now_ms())
        .fetch_optional(&mut *self.reader().await?)
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(row.try_get(0)?)
    }

    /// The user's live sessions, the most recently used first.
    pub async fn sessions_of(&self, user_id: &str) -> Result<Vec<SessionRow>> {
        let rows = sqlx::query(
            "SELECT token_hash, device, created_at, last_used_at, expires_at FROM sessions
             WHERE user_id = $1 AND expires_at > $2 ORDER BY COALESCE(last_used_at, created_at) DESC, token_hash",
        )
        .bind(user_id)
        .bind(self.now_ms())
        .fetch_all(&mut *self.reader().await?)
        .await?;
        rows.iter()
            .map(|r| {
                let hash: String = r.try_get("token_hash")?;
                Ok(SessionRow {
                    id: hash.chars().take(SESSION_ID_CHARS).collect(),
                    device: r.try_get("device")?,
                    created_at: r.try_get("created_at")?,
                    last_used_at: r.try_get("last_used_at")?,
                    expires_at: r.try_get("expires_at")?,
                })
            })
            .collect()
    }

    /// Reads `auth_epoch`: when another process has moved it, the cached sessions go.
    async fn check_auth_epoch(&self, now: i64) {
        let read = async {
            let row =
                sqlx::query("SELECT n FROM auth_epoch WHERE id = 1").fetch_one(&mut *self.reader().await?).await?;
            Ok::<i64, StoreError>(row.try_get(0)?)
        };
        match read.await {
            Ok(n) => self.sessions.epoch_seen(n, now),
            // The next look-up tries again; meanwhile entries still expire on their own.
            Err(e) => {
                self.sessions.epoch_unread();
                tracing::warn!(error = %e, "could not read the session epoch");
            }
        }
    }
}

/// How long a looked-up session is served from memory at most, by the store's clock.
pub const SESSION_CACHE_MS: i64 = 60_000;
/// How often a process reads `auth_epoch` to learn of log-outs, role grants and verified
/// emails committed by other processes: the longest such a change goes unseen here.
pub const EPOCH_CHECK_MS: i64 = 500;
/// How long a started epoch read may take before another look-up starts one again.
const EPOCH_CHECK_TIMEOUT_MS: i64 = 5_000;
/// Sessions cached at most; past it, expired ones go, and if that is not enough, all.
const SESSION_CACHE_CAPACITY: usize = 1 << 16;

/// Sessions recently looked up with their users, so that a busy client costs no reads a
/// request (two reads on another thread were a sixth of the server's work under a flash sale).
/// An entry lives [`SESSION_CACHE_MS`], never past its session's expiry. A commit that logs
/// out, adds a role or verifies an email moves `auth_epoch` and, in this process, empties the
/// cache at once; other processes sharing the database read the epoch every
/// [`EPOCH_CHECK_MS`] and empty theirs when it has moved.
#[derive(Default)]
pub(crate) struct SessionCache {
    inner: std::sync::Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    /// Counts invalidations: a look-up that began before one must not be cached after it.
    generation: u64,
    entries: HashMap<String, (User, i64)>,
    /// `auth_epoch` as last read, and when.
    epoch: Option<i64>,
    epoch_read_ms: i64,
    /// When a look-up began reading the epoch, while one does.
    epoch_reading_since: Option<i64>,
}

impl SessionCache {
    /// The cached user of a live entry, or the generation a look-up starts in.
    fn get(&self, token_hash: &str, now_ms: i64) -> std::result::Result<User, u64> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        match inner.entries.get(token_hash) {
            Some((user, until)) if now_ms < *until => Ok(user.clone()),
            _ => Err(inner.generation),
        }
    }

    fn put(&self, token_hash: &str, user: &User, until_ms: i64, generation: u64) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.generation != generation {
            return;
        }
        if inner.entries.len() >= SESSION_CACHE_CAPACITY {
            let now = until_ms - SESSION_CACHE_MS;
            inner.entries.retain(|_, (_, until)| *until > now);
            if inner.entries.len() >= SESSION_CACHE_CAPACITY {
                inner.entries.clear();
            }
        }
        inner.entries.insert(token_hash.to_string(), (user.clone(), until_ms));
    }

    pub(crate) fn invalidate(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.generation += 1;
        inner.entries.clear();
    }

    /// Whether the epoch is due to be read; if so, the caller reads it (one at a time).
    fn epoch_due(&self, now_ms: i64) -> bool {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let due = inner.epoch.is_none() || now_ms - inner.epoch_read_ms >= EPOCH_CHECK_MS;
        let reading = inner.epoch_reading_since.is_some_and(|t| now_ms - t < EPOCH_CHECK_TIMEOUT_MS);
        if due && !reading {
            inner.epoch_reading_since = Some(now_ms);
        }
        due && !reading
    }

    /// A read of the epoch failed: the next look-up tries again.
    fn epoch_unread(&self) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).epoch_reading_since = None;
    }

    /// The epoch as just read at `now_ms`: entries cached under an earlier one go.
    fn epoch_seen(&self, epoch: i64, now_ms: i64) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.epoch.is_some_and(|e| e != epoch) {
            inner.generation += 1;
            inner.entries.clear();
        }
        inner.epoch = Some(epoch);
        inner.epoch_read_ms = now_ms;
        inner.epoch_reading_since = None;
    }
}

impl Tx {
    /// Creates a user; a taken email (case-insensitively) is a conflict.
    pub async fn create_user(
        &mut self,
        email: &str,
        email_norm: &str,
        password_hash: &str,
        display_name: &str,
    ) -> Result<User> {
        let id = self.store().new_id(Kind::User);
        let now = self.store().now_ms();
        let res = sqlx::query(
            "INSERT INTO users (id, email, email_norm, password_hash, display_name, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(email)
        .bind(email_norm)
        .bind(password_hash)
        .bind(display_name)
        .bind(now)
        .execute(self.conn())
        .await;
        email_unique(res)?;
        user_where(self.conn(), "id", &id).await
    }

    pub async fn user_by_id(&mut self, id: &str) -> Result<User> {
        user_where(self.conn(), "id", id).await
    }

    pub async fn user_by_email(&mut self, email_norm: &str) -> Result<User> {
        user_where(self.conn(), "email_norm", email_norm).await
    }

    /// Grants a role; granting one the user has is a no-op. `buyer` needs no grant.
    /// Grants `role`, recorded in the audit log as done by `granted_by` (a user id, or
    /// `audit::CLI_ACTOR` / `audit::SYSTEM_ACTOR`).
    pub async fn grant_role(&mut self, user_id: &str, role: Role, granted_by: &str) -> Result<()> {
        if self.add_role(user_id, role).await? {
            self.audit(granted_by, "role.granted", user_id, serde_json::json!({"role": role.as_str()})).await?;
        }
        Ok(())
    }

    /// Takes `role` away, recorded in the audit log as done by `revoked_by`; revoking one the
    /// user does not have is a no-op.
    pub async fn revoke_role(&mut self, user_id: &str, role: Role, revoked_by: &str) -> Result<()> {
        let removed = sqlx::query("DELETE FROM user_roles WHERE user_id = $1 AND role = $2")
            .bind(user_id)
            .bind(role.as_str())
            .execute(self.conn())
            .await?
            .rows_affected();
        if removed == 1 {
            self.users_changed = true;
            self.audit(revoked_by, "role.revoked", user_id, serde_json::json!({"role": role.as_str()})).await?;
        }
        Ok(())
    }

    /// Adds `role` unless the user has it; true when added. Opening a store adds `seller` this
    /// way: that is the user's own doing, not a privileged grant.
    pub(crate) async fn add_role(&mut self, user_id: &str, role: Role) -> Result<bool> {
        if role == Role::Buyer {
            return Ok(false);
        }
        let now = self.store().now_ms();
        let added = sqlx::query(
            "INSERT INTO user_roles (user_id, role, granted_at) VALUES ($1, $2, $3) ON CONFLICT (user_id, role) DO NOTHING",
        )
        .bind(user_id)
        .bind(role.as_str())
        .bind(now)
        .execute(self.conn())
        .await?
        .rows_affected();
        self.users_changed |= added == 1;
        Ok(added == 1)
    }

    /// A session from `device` (what its client calls itself), used from now on.
    pub async fn create_session(&mut self, user_id: &str, token_hash: &str, ttl_ms: i64, device: &str) -> Result<i64> {
        let now = self.store().now_ms();
        let expires_at = now + ttl_ms;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, device, last_used_at) VALUES ($1, $2, $3, $4, $5, $3)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(now)
        .bind(expires_at)
        .bind(device)
        .execute(self.conn())
        .await?;
        Ok(expires_at)
    }

    /// Ends the user's session named `id` ([`SessionRow::id`]); whether there was one.
    pub async fn end_session_of(&mut self, user_id: &str, id: &str) -> Result<bool> {
        // Written into the statement: PostgreSQL's substr takes an int4, which sqlx does not bind.
        let sql = format!("DELETE FROM sessions WHERE user_id = $1 AND substr(token_hash, 1, {SESSION_ID_CHARS}) = $2");
        let ended = sqlx::query(&sql).bind(user_id).bind(id).execute(self.conn()).await?.rows_affected();
        self.users_changed |= ended > 0;
        Ok(ended > 0)
    }

    /// Ends every session of the user but the one with `keep` (a token hash); how many.
    pub async fn end_sessions_of(&mut self, user_id: &str, keep: Option<&str>) -> Result<u64> {
        let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(user_id)
            .bind(keep.unwrap_or(""))
            .execute(self.conn())
            .await?
            .rows_affected();
        self.users_changed |= ended > 0;
        Ok(ended)
    }

    /// Starts enrolling an authenticator with `secret` (base32); two-step sign-in is off until
    /// [`Tx::enable_totp`].
    pub async fn start_totp(&mut self, user_id: &str, secret: &str) -> Result<()> {
        sqlx::query("UPDATE users SET totp_secret = $1, totp_enabled_at = NULL, totp_last_step = NULL WHERE id = $2")
            .bind(secret)
            .bind(user_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Puts two-step sign-in in force with the code of time step `step` just checked, and
    /// `recovery` (hashes) as the only recovery codes.
    pub async fn enable_totp(&mut self, user_id: &str, step: i64, recovery: &[String]) -> Result<()> {
        let now = self.store().now_ms();
        sqlx::query(
            "UPDATE users SET totp_enabled_at = $1, totp_last_step = $2 WHERE id = $3 AND totp_secret IS NOT NULL",
        )
        .bind(now)
        .bind(step)
        .bind(user_id)
        .execute(self.conn())
        .await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(self.conn()).await?;
        for hash in recovery {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                .bind(user_id)
                .bind(hash)
                .execute(self.conn())
                .await?;
        }
        self.users_changed = true;
        Ok(())
    }

    pub async fn disable_totp(&mut self, user_id: &str) -> Result<()> {
        sqlx::query("UPDATE users SET totp_secret = NULL, totp_enabled_at = NULL, totp_last_step = NULL WHERE id = $1")
            .bind(user_id)
            .execute(self.conn())
            .await?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(self.conn()).await?;
        self.users_changed = true;
        Ok(())
    }

    /// Records the code of time step `step` as used; false if it or a later one was already.
    pub async fn use_totp_step(&mut self, user_id: &str, step: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
        )
        .bind(step)
        .bind(user_id)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Uses a recovery code once; false if the user has no such unused code.
    pub async fn use_recovery_code(&mut self, user_id: &str, code_hash: &str) -> Result<bool> {
        let now = self.store().now_ms();
        let done = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .bind(code_hash)
        .execute(self.conn())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn set_password(&mut self, user_id: &str, password_hash: &str) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(user_id)
            .execute(self.conn())
            .await?;
        self.users_changed = true;
        Ok(())
    }

    /// Writes the account's display name and choices (`None`: the browser decides).
    pub async fn set_profile(
        &mut self,
        user_id: &str,
        display_name: &str,
        locale: Option<&str>,
        currency: Option<&str>,
        time_zone: Option<&str>,
    ) -> Result<User> {
        sqlx::query("UPDATE users SET display_name = $1, locale = $2, currency = $3, time_zone = $4 WHERE id = $5")
            .bind(display_name)
            .bind(locale)
            .bind(currency)
            .bind(time_zone)
            .bind(user_id)
            .execute(self.conn())
            .await?;
        self.users_changed = true;
        user_where(self.conn(), "id", user_id).await
    }

    pub async fn delete_session(&mut self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(self.conn()).await?;
        self.users_changed = true;
        Ok(())
    }

    /// Keeps an emailed token's hash for `purpose` (with the address to change to).
    pub async fn create_email_token(
        &mut self,
        user_id: &str,
        token_hash: &str,
        ttl_ms: i64,
        purpose: TokenPurpose,
        new_email: Option<&str>,
    ) -> Result<()> {
        let expires_at = self.store().now_ms() + ttl_ms;
        sqlx::query(
            "INSERT INTO email_tokens (token_hash, user_id, expires_at, purpose, new_email) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(expires_at)
        .bind(purpose.as_str())
        .bind(new_email)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// Uses a live, unused token for `purpose` once: its user id and the address it carries.
    /// Using one for a password reset ends the user's other reset links too.
    pub async fn take_email_token(
        &mut self,
        token_hash: &str,
        purpose: TokenPurpose,
    ) -> Result<(String, Option<String>)> {
        let now = self.store().now_ms();
        let row = sqlx::query(
            "UPDATE email_tokens SET used_at = $1
             WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1 RETURNING user_id, new_email",
        )
        .bind(now)
        .bind(token_hash)
        .bind(purpose.as_str())
        .fetch_optional(self.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
        let user_id: String = row.try_get("user_id")?;
        if purpose == TokenPurpose::PasswordReset {
            sqlx::query("UPDATE email_tokens SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL")
                .bind(now)
                .bind(&user_id)
                .bind(purpose.as_str())
                .execute(self.conn())
                .await?;
        }
        Ok((user_id, row.try_get("new_email")?))
    }

    /// Moves the user to a new, proven address; one another account has is a conflict.
    pub async fn change_email(&mut self, user_id: &str, email: &str, email_norm: &str) -> Result<()> {
        let now = self.store().now_ms();
        let res = sqlx::query("UPDATE users SET email = $1, email_norm = $2, email_verified_at = $3 WHERE id = $4")
            .bind(email)
            .bind(email_norm)
            .bind(now)
            .bind(user_id)
            .execute(self.conn())
            .await;
        email_unique(res)?;
        self.users_changed = true;
        Ok(())
    }

    /// Uses an email token once: marks the owner's email verified and lifts their store to
    /// `email` verification unless it already has more. Returns the user id.
    pub async fn use_email_token(&mut self, token_hash: &str) -> Result<String> {
        let now = self.store().now_ms();
        let (user_id, _) = self.take_email_token(token_hash, TokenPurpose::Verify).await?;
        sqlx::query("UPDATE users SET email_verified_at = $1 WHERE id = $2 AND email_verified_at IS NULL")
            .bind(now)
            .bind(&user_id)
            .execute(self.conn())
            .await?;
        self.users_changed = true;
        sqlx::query(
            "UPDATE stores SET verification = 'email', updated_at = $1 WHERE owner_id = $2 AND verification = 'none'",
        )
        .bind(now)
        .bind(&user_id)
        .execute(self.conn())
        .await?;
        Ok(user_id)
    }
}
