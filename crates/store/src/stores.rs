//! Stores (a seller's shop) and their identity-verification requests.

use crate::{is_unique_violation, Conflict, Page, Result, Store, StoreError, Tx};
use souk_domain::account::{
    DocumentType, Role, StoreDraft, StorePatch, StoreProfile, Verification, VerificationInput, VerificationRequest,
    VerificationStatus,
};
use souk_domain::id::Kind;
use souk_domain::time::Timestamp;
use souk_domain::time::{rfc3339, DAY_MS};
use souk_domain::Invalid;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

const STORE_COLUMNS: &str = "id, owner_id, name, slug, country, currency, description, verification, created_at";

fn profile_from_row(row: &AnyRow, now: i64) -> Result<StoreProfile> {
    let created_at: i64 = row.try_get("created_at")?;
    let verification: String = row.try_get("verification")?;
    Ok(StoreProfile {
        id: row.try_get("id")?,
        owner_id: row.try_get("owner_id")?,
        name: row.try_get("name")?,
        slug: row.try_get("slug")?,
        country: row.try_get("country")?,
        currency: row.try_get("currency")?,
        description: row.try_get("description")?,
        verification: Verification::parse(&verification).unwrap_or(Verification::None),
        created_at: Timestamp(created_at),
        tenure_days: (now - created_at).max(0) / DAY_MS,
    })
}

pub(crate) async fn store_where(conn: &mut AnyConnection, clause: &str, value: &str, now: i64) -> Result<StoreProfile> {
    let sql = format!("SELECT {STORE_COLUMNS} FROM stores WHERE {clause} = $1");
    let row = sqlx::query(&sql).bind(value).fetch_optional(conn).await?.ok_or(StoreError::NotFound)?;
    profile_from_row(&row, now)
}

const VERIFICATION_COLUMNS: &str =
    "id, store_id, status, legal_name, document_type, document_number, document_urls, reason, submitted_at, decided_at";

fn verification_from_row(row: &AnyRow) -> Result<VerificationRequest> {
    let status: String = row.try_get("status")?;
    let doc: String = row.try_get("document_type")?;
    let urls: String = row.try_get("document_urls")?;
    Ok(VerificationRequest {
        id: row.try_get("id")?,
        store_id: row.try_get("store_id")?,
        status: VerificationStatus::parse(&status).unwrap_or(VerificationStatus::Pending),
        legal_name: row.try_get("legal_name")?,
        document_type: DocumentType::parse(&doc).unwrap_or(DocumentType::Passport),
        document_number: row.try_get("document_number")?,
        document_urls: serde_json::from_str(&urls)?,
        reason: row.try_get("reason")?,
        submitted_at: Timestamp(row.try_get("submitted_at")?),
        decided_at: row.try_get::<Option<i64>, _>("decided_at")?.map(rfc3339),
    })
}

impl Store {
    pub async fn store_by_id(&self, id: &str) -> Result<StoreProfile> {
        store_where(&mut *self.reader().await?, "id", id, self.now_ms()).await
    }

    pub async fn store_by_slug(&self, slug: &str) -> Result<StoreProfile> {
        store_where(&mut *self.reader().await?, "slug", slug, self.now_ms()).await
    }

    pub async fn store_by_owner(&self, owner_id: &str) -> Result<StoreProfile> {
        store_where(&mut *self.reader().await?, "owner_id", owner_id, self.now_ms()).await
    }

    /// Stores, oldest first, after the cursor (a store id).
    pub async fn list_stores(&self, cursor: Option<&str>, limit: usize) -> Result<Page<StoreProfile>> {
        let sql = format!("SELECT {STORE_COLUMNS} FROM stores WHERE id > $1 ORDER BY id LIMIT $2");
        let rows = sqlx::query(&sql)
            .bind(cursor.unwrap_or(""))
            .bind(limit as i64 + 1)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        let now = self.now_ms();
        let items = rows.iter().map(|r| profile_from_row(r, now)).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(items, limit, |s| s.id.clone()))
    }

    pub async fn verification(&self, id: &str) -> Result<VerificationRequest> {
        let sql = format!("SELECT {VERIFICATION_COLUMNS} FROM verifications WHERE id = $1");
        let row =
            sqlx::query(&sql).bind(id).fetch_optional(&mut *self.reader().await?).await?.ok_or(StoreError::NotFound)?;
        verification_from_row(&row)
    }

    /// Verification requests, optionally of one status or one store, oldest first.
    pub async fn list_verifications(
        &self,
        status: Option<VerificationStatus>,
        store_id: Option<&str>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<VerificationRequest>> {
        let sql = format!(
            "SELECT {VERIFICATION_COLUMNS} FROM verifications WHERE id > $1 AND ($2 = '' OR status = $2) \
             AND ($3 = '' OR store_id = $3) ORDER BY id LIMIT $4"
        );
        let rows = sqlx::query(&sql)
            .bind(cursor.unwrap_or(""))
            .bind(status.map(|s| s.as_str()).unwrap_or(""))
            .bind(store_id.unwrap_or(""))
            .bind(limit as i64 + 1)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        let items = rows.iter().map(verification_from_row).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(items, limit, |v| v.id.clone()))
    }
}

impl Tx {
    /// Opens the owner's one store and makes them a seller. A verified email starts the store
    /// at `email` verification.
    pub async fn create_store(&mut self, owner_id: &str, draft: &StoreDraft) -> Result<StoreProfile> {
        if self.store_of_owner(owner_id).await?.is_some() {
            return Err(StoreError::Conflict {
                kind: Conflict::StoreExists,
                message: "you already have a store".into(),
            });
        }
        let id = self.store().new_id(Kind::Store);
        let now = self.store().now_ms();
        let res = sqlx::query(
            "INSERT INTO stores (id, owner_id, name, slug, country, currency, description, verification, created_at, updated_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, \
                    CASE WHEN email_verified_at IS NULL THEN 'none' ELSE 'email' END, $8, $8 \
             FROM users WHERE id = $2",
        )
        .bind(&id)
        .bind(owner_id)
        .bind(&draft.name)
        .bind(&draft.slug)
        .bind(&draft.country)
        .bind(draft.currency.code())
        .bind(&draft.description)
        .bind(now)
        .execute(self.conn())
        .await;
        match res {
            // On PostgreSQL the failed insert aborts the transaction, so the violated constraint
            // is read from the error itself rather than by another query.
            Err(e) if is_unique_violation(&e) => {
                let on_slug = match &e {
                    sqlx::Error::Database(d) => {
                        d.constraint().is_some_and(|c| c.contains("slug")) || d.message().contains("slug")
                    }
                    _ => false,
                };
                return Err(if on_slug {
                    StoreError::Conflict {
                        kind: Conflict::SlugTaken,
                        message: format!("the slug '{}' is taken", draft.slug),
                    }
                } else {
                    StoreError::Conflict { kind: Conflict::StoreExists, message: "you already have a store".into() }
                });
            }
            Err(e) => return Err(e.into()),
            Ok(r) if r.rows_affected() == 0 => return Err(StoreError::NotFound),
            Ok(_) => {}
        }
        self.add_role(owner_id, Role::Seller).await?;
        store_where(self.conn(), "id", &id, now).await
    }

    pub async fn update_store(&mut self, id: &str, patch: &StorePatch) -> Result<StoreProfile> {
        let now = self.store().now_ms();
        let current = store_where(self.conn(), "id", id, now).await?;
        let name = match &patch.name {
            Some(n) => souk_domain::account::validate_store_name(n)?,
            None => current.name,
        };
        let description = match &patch.description {
            Some(d) => souk_domain::account::validate_store_description(d)?,
            None => current.description,
        };
        let country = match &patch.country {
            Some(c) => souk_domain::geo::parse_country(c, "country")?,
            None => current.country,
        };
        let currency = match &patch.currency {
            Some(c) => souk_domain::Currency::parse(c, "currency")?.code().to_string(),
            None => current.currency,
        };
        sqlx::query(
            "UPDATE stores SET name = $1, description = $2, country = $3, currency = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(&name)
        .bind(&description)
        .bind(&country)
        .bind(&currency)
        .bind(now)
        .bind(id)
        .execute(self.conn())
        .await?;
        store_where(self.conn(), "id", id, now).await
    }

    /// The owner's store, if they have opened one.
    pub async fn store_of_owner(&mut self, owner_id: &str) -> Result<Option<StoreProfile>> {
        let now = self.store().now_ms();
        match store_where(self.conn(), "owner_id", owner_id, now).await {
            Ok(s) => Ok(Some(s)),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn store_by_slug(&mut self, slug: &str) -> Result<StoreProfile> {
        let now = self.store().now_ms();
        store_where(self.conn(), "slug", slug, now).await
    }

    /// Submits a KYC request; a store has at most one pending at a time.
    pub async fn submit_verification(
        &mut self,
        store_id: &str,
        input: &VerificationInput,
    ) -> Result<VerificationRequest> {
        input.validate()?;
        let id = self.store().new_id(Kind::Verification);
        let now = self.store().now_ms();
        let res = sqlx::query(
            "INSERT INTO verifications (id, store_id, status, legal_name, document_type, document_number, document_urls, submitted_at) \
             VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(store_id)
        .bind(input.legal_name.trim())
        .bind(input.document_type.as_str())
        .bind(input.document_number.trim())
        .bind(serde_json::to_string(&input.document_urls)?)
        .bind(now)
        .execute(self.conn())
        .await;
        match res {
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict {
                kind: Conflict::VerificationPending,
                message: "this store already has a verification request waiting for a decision".into(),
            }),
            Err(e) => Err(e.into()),
            Ok(_) => self.verification(&id).await,
        }
    }

    pub async fn verification(&mut self, id: &str) -> Result<VerificationRequest> {
        let sql = format!("SELECT {VERIFICATION_COLUMNS} FROM verifications WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(self.conn()).await?.ok_or(StoreError::NotFound)?;
        verification_from_row(&row)
    }

    /// Approves or rejects a pending request. Approval lifts the store to `identity`.
    /// Deciding twice is a conflict: the first decision stands.
    pub async fn decide_verification(
        &mut self,
        id: &str,
        approve: bool,
        reason: Option<&str>,
        admin_id: &str,
    ) -> Result<VerificationRequest> {
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if !approve && reason.is_none() {
            return Err(Invalid::new("required", "reason", "a rejection needs a reason the seller can act on").into());
        }
        if reason.is_some_and(|r| r.chars().count() > 2000) {
            return Err(Invalid::new("too_long", "reason", "at most 2000 characters").into());
        }
        let now = self.store().now_ms();
        let status = if approve { VerificationStatus::Approved } else { VerificationStatus::Rejected };
        let row = sqlx::query(
            "UPDATE verifications SET status = $1, reason = $2, decided_at = $3, decided_by = $4 \
             WHERE id = $5 AND status = 'pending' RETURNING store_id",
        )
        .bind(status.as_str())
        .bind(reason)
        .bind(now)
        .bind(admin_id)
        .bind(id)
        .fetch_optional(self.conn())
        .await?;
        let Some(row) = row else {
            let current = self.verification(id).await?;
            return Err(StoreError::Conflict {
                kind: Conflict::InvalidState,
                message: format!("this request is already {}", current.status.as_str()),
            });
        };
        let store_id: String = row.try_get("store_id")?;
        if approve {
            sqlx::query("UPDATE stores SET verification = 'identity', updated_at = $1 WHERE id = $2")
                .bind(now)
                .bind(&store_id)
                .execute(self.conn())
                .await?;
        }
        let action = if approve { "verification.approved" } else { "verification.rejected" };
        self.audit(admin_id, action, id, serde_json::json!({"store_id": store_id, "reason": reason})).await?;
        self.verification(id).await
    }
}
