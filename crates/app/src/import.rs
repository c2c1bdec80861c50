//! Bulk catalog import from CSV, shared by `souk import products` and the HTTP endpoint.

use crate::error::{Error, Result};
use serde::Serialize;
use souk_domain::import::{Columns, MAX_ROWS};
use souk_store::catalog::ImportOutcome;
use souk_store::{Store, StoreError};

/// Rows per transaction: large enough to be fast, small enough not to hold the writer long.
const BATCH_ROWS: usize = 500;
/// Bad rows listed in a report; the count covers all of them.
const MAX_REPORTED_ERRORS: usize = 1000;

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub created: u64,
    pub updated: u64,
    pub failed: u64,
    /// The bad rows, by line number in the file (the header is line 1).
    pub errors: Vec<RowError>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RowError {
    pub line: u64,
    pub message: String,
}

impl ImportReport {
    fn fail(&mut self, line: u64, message: String) {
        self.failed += 1;
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(RowError { line, message });
        }
    }
}

/// Imports `data` into the store `store_id`. `progress(done_bytes, total_bytes)` is called after
/// each batch. A bad header refuses the whole file; a bad row is reported and skipped.
impl crate::App {
    /// [`import_csv`] into one of this marketplace's stores.
    pub async fn import_csv(
        &self,
        store_id: &str,
        data: &[u8],
        progress: impl FnMut((u64, u64)),
    ) -> Result<ImportReport> {
        // A suspended store lists nothing new; new listings of a store below identity
        // verification wait for review when the marketplace asks for it.
        if let Some(a) = self.store.action_in_force(souk_domain::moderation::Action::SuspendStore, store_id).await? {
            let message = format!("an operator suspended this store: {}", a.reason);
            return Err(crate::error::Error::conflict("store_suspended", message));
        }
        let verified =
            self.store.store_by_id(store_id).await?.verification == souk_domain::account::Verification::Identity;
        let hold_new = !verified && crate::moderation::listing_review(self).await?;
        import_rows(&self.store, store_id, data, hold_new, progress).await
    }
}

pub async fn import_csv(
    store: &Store,
    store_id: &str,
    data: &[u8],
    progress: impl FnMut((u64, u64)),
) -> Result<ImportReport> {
    import_rows(store, store_id, data, false, progress).await
}

/// [`import_csv`], holding the listings it creates for review when `hold_new`.
async fn import_rows(
    store: &Store,
    store_id: &str,
    data: &[u8],
    hold_new: bool,
    mut progress: impl FnMut((u64, u64)),
) -> Result<ImportReport> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::None).from_reader(data);
    let header =
        reader.headers().map_err(|e| Error::invalid("invalid_csv", format!("cannot read the header: {e}")))?.clone();
    let columns =
        Columns::from_header(header.iter()).map_err(|m| Error::invalid("invalid_csv", m).with_field("header"))?;
    let total = data.len() as u64;
    let mut report = ImportReport::default();
    let mut batch = Vec::with_capacity(BATCH_ROWS);
    let mut rows = 0usize;
    for record in reader.records() {
        rows += 1;
        if rows > MAX_ROWS {
            return Err(Error::too_many("rows", MAX_ROWS).with_field("rows"));
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                report.fail(line, format!("unreadable row: {e}"));
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let fields: Vec<&str> = record.iter().collect();
        if fields.len() != header.len() {
            report.fail(line, format!("expected {} fields, found {}", header.len(), fields.len()));
            continue;
        }
        match columns.parse_row(&fields) {
            Ok(draft) => batch.push((line, record.position().map(|p| p.byte()).unwrap_or(0), draft)),
            Err(message) => report.fail(line, message),
        }
        if batch.len() == BATCH_ROWS {
            write_batch(store, store_id, hold_new, &mut batch, &mut report, total, &mut progress).await?;
        }
    }
    write_batch(store, store_id, hold_new, &mut batch, &mut report, total, &mut progress).await?;
    progress((total, total));
    Ok(report)
}

async fn write_batch(
    store: &Store,
    store_id: &str,
    hold_new: bool,
    batch: &mut Vec<(u64, u64, souk_domain::catalog::ProductDraft)>,
    report: &mut ImportReport,
    total: u64,
    progress: &mut impl FnMut((u64, u64)),
) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let mut tx = store.begin().await?;
    let mut last_byte = 0;
    for (line, byte, draft) in batch.drain(..) {
        last_byte = byte;
        match tx.import_product(store_id, &draft).await {
            Ok((ImportOutcome::Created, id)) => {
                report.created += 1;
                if hold_new {
                    let reason =
                        "new listings of stores without identity verification are reviewed before they are public";
                    tx.hold_for_review(&id, reason, souk_store::audit::SYSTEM_ACTOR).await?;
                }
            }
            Ok((ImportOutcome::Updated, _)) => report.updated += 1,
            Err(StoreError::Invalid(e)) => report.fail(line, e.to_string()),
            Err(StoreError::Conflict { message, .. }) => report.fail(line, message),
            Err(e) => return Err(e.into()),
        }
    }
    tx.commit().await?;
    progress((last_byte, total));
    Ok(())
}

/// Imports started from the pages, by job id: how far each has read and, once done, its report.
/// Only progress lives here; the rows are committed batch by batch as they are read, and a file
/// imported again updates what it created, so a restart mid-import loses only the display.
#[derive(Default)]
pub struct ImportJobs(std::sync::Mutex<std::collections::HashMap<String, ImportJob>>);

#[derive(Clone)]
pub struct ImportJob {
    /// The user who started it: nobody else sees it.
    pub owner: String,
    pub done_bytes: u64,
    pub total_bytes: u64,
    /// The report, or why the file was refused.
    pub result: Option<Result<ImportReport, String>>,
    started: std::time::Instant,
}

/// Finished jobs are shown for this long.
const JOB_KEPT: std::time::Duration = std::time::Duration::from_secs(3600);

impl ImportJobs {
    fn jobs(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, ImportJob>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a job of `total_bytes` for `owner` under `id`.
    pub fn start(&self, id: &str, owner: &str, total_bytes: u64) {
        let mut jobs = self.jobs();
        jobs.retain(|_, j| j.result.is_none() || j.started.elapsed() < JOB_KEPT);
        let job = ImportJob {
            owner: owner.to_string(),
            done_bytes: 0,
            total_bytes,
            result: None,
            started: std::time::Instant::now(),
        };
        jobs.insert(id.to_string(), job);
    }

    pub fn progress(&self, id: &str, done_bytes: u64) {
        if let Some(j) = self.jobs().get_mut(id) {
            j.done_bytes = done_bytes;
        }
    }

    pub fn finish(&self, id: &str, result: Result<ImportReport, String>) {
        if let Some(j) = self.jobs().get_mut(id) {
            j.done_bytes = j.total_bytes;
            j.result = Some(result);
        }
    }

    /// The job `id` if `owner` started it.
    pub fn get(&self, id: &str, owner: &str) -> Option<ImportJob> {
        self.jobs().get(id).filter(|j| j.owner == owner).cloned()
    }
}
