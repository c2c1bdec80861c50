//! Product search: an embedded tantivy index under the data directory. It holds what queries
//! need without a database round trip: the searchable text, the filters (category, ships-to,
//! currency, price, stock, store) and the ranking signals as fast fields. Per-store signals (trust,
//! delivery speed, country, verification) live in memory beside it, so a change of trust applies
//! at once to every product of the store without re-indexing them.
//!
//! [`query`] runs searches: BM25 picks candidates, `souk_domain::ranking` re-ranks them.

mod collect;
pub mod query;
mod suggest;
pub mod text;

use souk_domain::catalog::{Product, ProductStatus};
use souk_domain::category::Category;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED, STORED, STRING,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

pub use query::{Facets, Hit, Results, Sort, Suggestion};

/// Bumped whenever the schema or the text analysis changes; an index of another version is
/// rebuilt at start.
pub const SCHEMA_VERSION: u32 = 3;
/// The most hits one query returns.
pub const MAX_LIMIT: usize = 100;
const WRITER_MEMORY_BYTES: usize = 100_000_000;

#[derive(Debug)]
pub struct SearchError(pub String);

impl std::fmt::Display for SearchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SearchError {}

impl From<tantivy::TantivyError> for SearchError {
    fn from(e: tantivy::TantivyError) -> Self {
        SearchError(e.to_string())
    }
}

impl From<std::io::Error> for SearchError {
    fn from(e: std::io::Error) -> Self {
        SearchError(e.to_string())
    }
}

/// A stable 64-bit key of a string (FNV-1a). Stores, categories and currencies are kept as
/// these in single-valued fast fields, which read far faster than string columns; the index
/// maps them back through its store table and the domain's category and currency tables.
pub fn key(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// A hasher for maps keyed by [`key`]s, which are already well mixed.
#[derive(Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub type KeyMap<V> = HashMap<u64, V, std::hash::BuildHasherDefault<KeyHasher>>;

/// Names of the fast fields, which queries read by name.
pub(crate) mod ff {
    pub const STORE: &str = "store_key";
    pub const CATEGORY: &str = "category_key";
    pub const CURRENCY: &str = "currency_key";
    pub const PRICE: &str = "price";
    pub const AVAILABLE: &str = "available";
    pub const MOQ: &str = "moq";
    pub const CREATED: &str = "created";
    pub const VIEWS: &str = "views";
    pub const PURCHASES: &str = "purchases";
}

#[derive(Clone, Copy)]
pub(crate) struct Fields {
    pub id: Field,
    pub title: Field,
    pub body: Field,
    pub description: Field,
    pub image: Field,
    pub store: Field,
    pub store_key: Field,
    /// The category and all its ancestors, for filtering.
    pub categories: Field,
    pub category_key: Field,
    pub ships_to: Field,
    pub currency: Field,
    pub currency_key: Field,
    pub price: Field,
    pub buyable: Field,
    pub available: Field,
    pub moq: Field,
    pub created: Field,
    pub views: Field,
    pub purchases: Field,
}

/// What search knows about a store: shown with every hit and read by the ranking.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoreInfo {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub country: String,
    /// none, email or identity.
    pub verification: String,
    /// 0 to 100; absent until the store has one (it then ranks as the neutral prior).
    pub trust_score: Option<f64>,
    /// Median days from shipping to delivery, once known.
    pub delivery_days: Option<f64>,
}

/// A product to index, with its traffic.
#[derive(Debug, Clone)]
pub struct IndexDoc {
    pub product: Product,
    pub views: u64,
    pub purchases: u64,
}

pub struct SearchIndex {
    pub(crate) index: Index,
    pub(crate) reader: IndexReader,
    writer: Mutex<IndexWriter>,
    pub(crate) fields: Fields,
    /// By [`key`] of the store id; replaced, never changed in place, so queries hold a snapshot.
    pub(crate) stores: RwLock<Arc<KeyMap<Arc<StoreInfo>>>>,
    /// Purchases per view across the marketplace: the prior of every product's conversion.
    pub(crate) conversion: RwLock<Option<f64>>,
    /// Bumped whenever stores or the conversion prior change: rankings cached before are stale.
    signals_version: std::sync::atomic::AtomicU64,
    pub(crate) cache: query::RankingCache,
    pub(crate) segment_cache: collect::SegmentCache,
    dir: PathBuf,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = |stored: bool| {
        let indexing = TextFieldIndexing::default()
            .set_tokenizer(text::ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions);
        let options = TextOptions::default().set_indexing_options(indexing);
        if stored {
            options.set_stored()
        } else {
            options
        }
    };
    let number = || NumericOptions::default() | FAST;
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        title: b.add_text_field("title", text(true)),
        body: b.add_text_field("body", text(false)),
        description: b.add_text_field("description", STORED),
        image: b.add_text_field("image", STORED),
        store: b.add_text_field("store", STRING),
        store_key: b.add_u64_field(ff::STORE, number()),
        categories: b.add_text_field("categories", STRING),
        category_key: b.add_u64_field(ff::CATEGORY, number()),
        ships_to: b.add_text_field("ships_to", STRING),
        currency: b.add_text_field("currency", STRING),
        currency_key: b.add_u64_field(ff::CURRENCY, number()),
        price: b.add_u64_field(ff::PRICE, INDEXED | FAST),
        buyable: b.add_u64_field("buyable", INDEXED),
        available: b.add_u64_field(ff::AVAILABLE, number()),
        moq: b.add_u64_field(ff::MOQ, number()),
        created: b.add_i64_field(ff::CREATED, number()),
        views: b.add_u64_field(ff::VIEWS, number()),
        purchases: b.add_u64_field(ff::PURCHASES, number()),
    };
    (b.build(), fields)
}

fn version_file(dir: &Path) -> PathBuf {
    dir.join("souk-schema-version")
}

fn position_file(dir: &Path) -> PathBuf {
    dir.join("souk-feed-position")
}

impl SearchIndex {
    /// Opens the index in `dir`. Returns it and whether it must be rebuilt: it was missing, or
    /// of another schema version (then it is emptied).
    pub fn open(dir: &Path) -> Result<(SearchIndex, bool), SearchError> {
        let current = std::fs::read_to_string(version_file(dir)).ok().and_then(|v| v.trim().parse::<u32>().ok());
        let fresh = current != Some(SCHEMA_VERSION);
        if fresh && dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        std::fs::create_dir_all(dir)?;
        let (schema, fields) = schema();
        let directory = tantivy::directory::MmapDirectory::open(dir).map_err(|e| SearchError(e.to_string()))?;
        let index = Index::open_or_create(directory, schema)?;
        index.tokenizers().register(text::ANALYZER, text::analyzer());
        index.tokenizers().register(text::PLAIN_ANALYZER, text::plain_analyzer());
        let writer = index.writer(WRITER_MEMORY_BYTES).map_err(|e| match e {
            tantivy::TantivyError::LockFailure(..) => {
                SearchError(format!("the search index in {} is in use by another souk process", dir.display()))
            }
            e => e.into(),
        })?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        std::fs::write(version_file(dir), SCHEMA_VERSION.to_string())?;
        let index = SearchIndex {
            index,
            reader,
            writer: Mutex::new(writer),
            fields,
            stores: RwLock::default(),
            conversion: RwLock::default(),
            signals_version: Default::default(),
            cache: Default::default(),
            segment_cache: Default::default(),
            dir: dir.to_path_buf(),
        };
        Ok((index, fresh))
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, IndexWriter> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn document(&self, d: &IndexDoc) -> TantivyDocument {
        let f = self.fields;
        let p = &d.product;
        let mut doc = TantivyDocument::default();
        doc.add_text(f.id, &p.id);
        doc.add_text(f.title, &p.title);
        let mut body = p.description.clone();
        for (k, v) in &p.attributes {
            body.push_str(&format!("\n{k} {v}"));
        }
        let category = p.category.as_ref().and_then(|c| Category::by_id(&c.id));
        if let Some(c) = category {
            for a in c.lineage() {
                body.push_str(&format!("\n{} {}", a.name, a.name_zh));
                doc.add_text(f.categories, a.id);
            }
            doc.add_u64(f.category_key, key(c.id));
        }
        doc.add_text(f.body, &body);
        doc.add_text(f.description, &p.description);
        if let Some(image) = p.images.first() {
            doc.add_text(f.image, image);
        }
        doc.add_text(f.store, &p.store_id);
        doc.add_u64(f.store_key, key(&p.store_id));
        for c in &p.ships_to {
            doc.add_text(f.ships_to, c);
        }
        doc.add_text(f.currency, &p.currency);
        doc.add_u64(f.currency_key, key(&p.currency));
        let price = p.skus.iter().map(|s| s.price.amount).min().unwrap_or(0).max(0) as u64;
        let available: u64 = p.skus.iter().map(|s| s.stock.max(0) as u64).sum();
        let moq = p.moq.max(1) as u64;
        doc.add_u64(f.price, price);
        doc.add_u64(f.buyable, u64::from(available >= moq));
        doc.add_u64(f.available, available);
        doc.add_u64(f.moq, moq);
        doc.add_i64(f.created, p.created_at.ms());
        doc.add_u64(f.views, d.views);
        doc.add_u64(f.purchases, d.purchases);
        doc
    }

    fn add(&self, w: &IndexWriter, d: &IndexDoc) -> Result<(), SearchError> {
        w.delete_term(Term::from_field_text(self.fields.id, &d.product.id));
        if d.product.status == ProductStatus::Active {
            w.add_document(self.document(d))?;
        }
        Ok(())
    }

    /// Indexes (or re-indexes) products and removes `deleted` ones in one commit, then records
    /// how far through the change feed the index is. Inactive products are removed.
    pub fn apply(&self, docs: &[IndexDoc], deleted: &[String], position: Option<i64>) -> Result<(), SearchError> {
        let mut w = self.writer();
        for id in deleted {
            w.delete_term(Term::from_field_text(self.fields.id, id));
        }
        for d in docs {
            self.add(&w, d)?;
        }
        w.commit()?;
        self.reader.reload()?;
        if let Some(p) = position {
            self.set_position(p)?;
        }
        Ok(())
    }

    /// Empties the index; follow with `append` batches and `apply` (or `commit`) to rebuild it.
    pub fn clear(&self) -> Result<(), SearchError> {
        self.writer().delete_all_documents()?;
        let _ = std::fs::remove_file(position_file(&self.dir));
        Ok(())
    }

    /// Adds a batch without committing: for rebuilds.
    pub fn append(&self, docs: &[IndexDoc]) -> Result<(), SearchError> {
        let w = self.writer();
        for d in docs {
            self.add(&w, d)?;
        }
        Ok(())
    }

    pub fn commit(&self) -> Result<(), SearchError> {
        self.apply(&[], &[], None)
    }

    /// The change-feed sequence number the index reflects, if it has followed the feed.
    pub fn position(&self) -> Option<i64> {
        std::fs::read_to_string(position_file(&self.dir)).ok().and_then(|s| s.trim().parse().ok())
    }

    /// Written after the commit it describes, by rename, so a crash leaves the old value.
    fn set_position(&self, position: i64) -> Result<(), SearchError> {
        let tmp = self.dir.join("souk-feed-position.tmp");
        std::fs::write(&tmp, position.to_string())?;
        std::fs::rename(tmp, position_file(&self.dir))?;
        Ok(())
    }

    /// Replaces what search knows about every store.
    pub fn set_stores(&self, stores: Vec<StoreInfo>) {
        let map = stores.into_iter().map(|s| (key(&s.id), Arc::new(s))).collect();
        *self.stores.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(map);
        self.bump_signals();
    }

    fn bump_signals(&self) {
        self.signals_version.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    pub(crate) fn signals_version(&self) -> u64 {
        self.signals_version.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Adds or replaces some stores.
    pub fn upsert_stores(&self, stores: Vec<StoreInfo>) {
        if stores.is_empty() {
            return;
        }
        let mut guard = self.stores.write().unwrap_or_else(|p| p.into_inner());
        let map = Arc::make_mut(&mut guard);
        for s in stores {
            map.insert(key(&s.id), Arc::new(s));
        }
        drop(guard);
        self.bump_signals();
    }

    pub fn store(&self, id: &str) -> Option<Arc<StoreInfo>> {
        self.stores_snapshot().get(&key(id)).cloned()
    }

    pub(crate) fn stores_snapshot(&self) -> Arc<KeyMap<Arc<StoreInfo>>> {
        self.stores.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Sets the marketplace's conversion rate (purchases per view), the prior against which
    /// each product's own rate is smoothed; `None` while there is too little traffic to know.
    pub fn set_conversion_prior(&self, rate: Option<f64>) {
        let rate = rate.filter(|r| r.is_finite() && *r > 0.0);
        let mut current = self.conversion.write().unwrap_or_else(|p| p.into_inner());
        if *current != rate {
            *current = rate;
            drop(current);
            self.bump_signals();
        }
    }

    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Bytes the index takes on disk.
    pub fn size_bytes(&self) -> u64 {
        std::fs::read_dir(&self.dir)
            .map(|entries| entries.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod key_tests {
    #[test]
    fn keys_are_stable_and_distinct() {
        assert_eq!(super::key(""), 0xcbf2_9ce4_8422_2325, "FNV-1a's offset basis: the same in every process");
        assert_ne!(super::key("sto_a"), super::key("sto_b"));
    }
}
