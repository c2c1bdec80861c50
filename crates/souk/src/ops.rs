//! Operator commands on the data itself: `backup` and `restore` of the embedded database, and
//! `export orders` to CSV.

use crate::config::Config;
use souk_store::orders::OrderScope;
use souk_store::{Store, SystemClock};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// Online backup of the embedded database into `file`, while a server may be serving.
pub async fn backup(store: &Store, file: &Path) -> Result<serde_json::Value, String> {
    store.backup_sqlite(file).await.map_err(|e| e.to_string())?;
    let bytes = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    Ok(serde_json::json!({"backup": file.display().to_string(), "bytes": bytes}))
}

/// Puts the backup `file` in place of the data directory's database, with the server stopped.
/// The backup is checked first (integrity, the books), on a copy; the database it replaces is
/// kept beside it as `souk.db.replaced-<ms>`; the search index is dropped so that it is rebuilt
/// from the restored catalog.
pub async fn restore(config: &Config, file: &Path, force: bool) -> Result<serde_json::Value, String> {
    if config.database_url.is_some() {
        return Err("souk restore is for the embedded SQLite database; restore PostgreSQL with pg_restore".into());
    }
    let live = config.data_dir.join("souk.db");
    if live.exists() && !force {
        return Err(format!(
            "{} exists; stop the server and pass --force to replace it (it is kept as souk.db.replaced-*)",
            live.display()
        ));
    }
    // Check a copy: opening a database runs migrations and may write to it.
    let scratch = tempdir_near(&config.data_dir)?;
    std::fs::copy(file, scratch.join("souk.db")).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let checked = Store::open_sqlite(&scratch, Arc::new(SystemClock))
        .await
        .map_err(|e| format!("{} is not a Souk database: {e}", file.display()))?;
    let integrity = checked.integrity_check().await.map_err(|e| e.to_string())?;
    let books = checked.ledger_check().await.map_err(|e| e.to_string())?;
    checked.close().await;
    if integrity != "ok" || !books.sound {
        let _ = std::fs::remove_dir_all(&scratch);
        return Err(format!("refusing {}: integrity {integrity}, books sound: {}", file.display(), books.sound));
    }
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    for suffix in ["", "-wal", "-shm"] {
        let old = config.data_dir.join(format!("souk.db{suffix}"));
        if old.exists() {
            let kept = config.data_dir.join(format!("souk.db.replaced-{stamp}{suffix}"));
            std::fs::rename(&old, &kept).map_err(|e| format!("cannot move {} aside: {e}", old.display()))?;
        }
    }
    // The checked copy is now a complete database (its WAL checkpointed on close).
    std::fs::rename(scratch.join("souk.db"), &live).map_err(|e| format!("cannot put the backup in place: {e}"))?;
    let _ = std::fs::remove_dir_all(&scratch);
    let index = config.data_dir.join("index");
    if index.exists() {
        std::fs::remove_dir_all(&index).map_err(|e| format!("cannot drop the old search index: {e}"))?;
    }
    Ok(serde_json::json!({"restored": file.display().to_string(), "accounts": books.accounts,
                          "transfers": books.transfers, "ledger_sound": books.sound}))
}

/// A fresh directory inside `data_dir` (same file system, so the final move is a rename).
fn tempdir_near(data_dir: &Path) -> Result<std::path::PathBuf, String> {
    std::fs::create_dir_all(data_dir).map_err(|e| e.to_string())?;
    let dir = data_dir.join(format!("restore-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}

/// Every order of the store `slug` as CSV, newest first: amounts in minor units with their
/// currency (exact), and a readable list of lines.
pub async fn export_orders(store: &Store, slug: &str, out: &mut dyn Write) -> Result<usize, String> {
    let shop = store.store_by_slug(slug).await.map_err(|_| format!("no store '{slug}'"))?;
    let mut w = csv::Writer::from_writer(out);
    let header = [
        "order_id",
        "created_at",
        "state",
        "buyer_id",
        "ship_country",
        "currency",
        "total",
        "commission",
        "lines",
        "carrier",
        "tracking_number",
        "paid_at",
        "shipped_at",
        "delivered_at",
        "completed_at",
    ];
    w.write_record(header).map_err(|e| e.to_string())?;
    let (mut cursor, mut rows) = (None::<String>, 0);
    loop {
        let page =
            store.list_orders(OrderScope::Store(&shop.id), cursor.as_deref(), 100).await.map_err(|e| e.to_string())?;
        for o in &page.items {
            let lines: Vec<String> = o
                .lines
                .iter()
                .map(|l| format!("{} x{} @{} ({})", l.title, l.quantity, l.unit_price.amount, l.sku_id))
                .collect();
            let opt = |v: &Option<String>| v.clone().unwrap_or_default();
            let at = |t: Option<souk_domain::time::Timestamp>| t.map(|t| t.to_string()).unwrap_or_default();
            w.write_record([
                o.id.clone(),
                o.created_at.to_string(),
                o.state.as_str().to_string(),
                o.buyer_id.clone(),
                o.ship_country.clone(),
                o.total.currency.code().to_string(),
                o.total.amount.to_string(),
                o.commission.amount.to_string(),
                lines.join("; "),
                opt(&o.carrier),
                opt(&o.tracking_number),
                at(o.paid_at),
                at(o.shipped_at),
                at(o.delivered_at),
                at(o.completed_at),
            ])
            .map_err(|e| e.to_string())?;
            rows += 1;
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    w.flush().map_err(|e| e.to_string())?;
    Ok(rows)
}
