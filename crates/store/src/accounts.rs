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
}

impl User {
    pub fn has(&self, role: Role) -> bool {
        role == Role::Buyer || self.roles.contains(&role)
    }
}

const USER_COLUMNS: &str = "id, email, display_name, password_hash, email_verified_at, created_at";

fn user_from_row(row: &sqlx::any::AnyRow) -> Result<User> {
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        display_name: row.try_get("display_name")?,
        password_hash: row.try_get("password_hash")?,
        email_verified: row.try_get::<Option<i64>, _>("email_verified_at")?.is_some(),
        created_at: row.try_get("created_at")?,
        roles: Vec::new(),
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
        let row = sqlx::query("SELECT user_id, expires_at FROM sessions WHERE token_hash = $1 AND expires_at > $2")
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(StoreError::NotFound)?;
        let user_id: String = row.try_get("user_id")?;
        let expires_at: i64 = row.try_get("expires_at")?;
        let user = user_where(&mut conn, "id", &user_id).await?;
        self.sessions.put(token_hash, &user, (now + SESSION_CACHE_MS).min(expires_at), generation);
        Ok(user)
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
        match res {
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict {
                kind: Conflict::EmailTaken,
                message: "an account with this email already exists".into(),
            }),
            Err(e) => Err(e.into()),
            Ok(_) => user_where(self.conn(), "id", &id).await,
        }
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

    pub async fn create_session(&mut self, user_id: &str, token_hash: &str, ttl_ms: i64) -> Result<i64> {
        let now = self.store().now_ms();
        let expires_at = now + ttl_ms;
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .execute(self.conn())
            .await?;
        Ok(expires_at)
    }

    pub async fn delete_session(&mut self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(self.conn()).await?;
        self.users_changed = true;
        Ok(())
    }

    pub async fn create_email_token(&mut self, user_id: &str, token_hash: &str, ttl_ms: i64) -> Result<()> {
        let expires_at = self.store().now_ms() + ttl_ms;
        sqlx::query("INSERT INTO email_tokens (token_hash, user_id, expires_at) VALUES ($1, $2, $3)")
            .bind(token_hash)
            .bind(user_id)
            .bind(expires_at)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Uses an email token once: marks the owner's email verified and lifts their store to
    /// `email` verification unless it already has more. Returns the user id.
    pub async fn use_email_token(&mut self, token_hash: &str) -> Result<String> {
        let now = self.store().now_ms();
        let row = sqlx::query(
            "UPDATE email_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING user_id",
        )
        .bind(now)
        .bind(token_hash)
        .fetch_optional(self.conn())
        .await?
        .ok_or(StoreError::NotFound)?;
        let user_id: String = row.try_get("user_id")?;
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
