//! Product search: an embedded tantivy index under the data directory, kept in step with the
//! catalog. Title matches count double; description, attributes and category path count once.

use souk_domain::catalog::{Product, ProductStatus};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::QueryParser;
use tantivy::schema::{Field, Schema, Value, STORED, STRING, TEXT};
use tantivy::{doc, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

/// Bumped whenever the schema or the text analysis changes; an index of another version is
/// rebuilt at start.
pub const SCHEMA_VERSION: u32 = 1;
/// The most hits one query returns.
pub const MAX_LIMIT: usize = 100;
const WRITER_MEMORY_BYTES: usize = 50_000_000;

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

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    title: Field,
    body: Field,
}

/// One search result: the product id and its text-relevance score (BM25).
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: String,
    pub score: f32,
}

pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let id = b.add_text_field("id", STRING | STORED);
    let title = b.add_text_field("title", TEXT);
    let body = b.add_text_field("body", TEXT);
    (b.build(), Fields { id, title, body })
}

fn version_file(dir: &Path) -> PathBuf {
    dir.join("souk-schema-version")
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
        let writer = index.writer(WRITER_MEMORY_BYTES).map_err(|e| match e {
            tantivy::TantivyError::LockFailure(..) => {
                SearchError(format!("the search index in {} is in use by another souk process", dir.display()))
            }
            e => e.into(),
        })?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        std::fs::write(version_file(dir), SCHEMA_VERSION.to_string())?;
        Ok((SearchIndex { index, reader, writer: Mutex::new(writer), fields }, fresh))
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, IndexWriter> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add(&self, w: &IndexWriter, p: &Product) -> Result<(), SearchError> {
        w.delete_term(Term::from_field_text(self.fields.id, &p.id));
        if p.status != ProductStatus::Active {
            return Ok(());
        }
        let mut body = p.description.clone();
        for (k, v) in &p.attributes {
            body.push_str(&format!("\n{k} {v}"));
        }
        if let Some(c) = &p.category {
            body.push('\n');
            body.push_str(&c.path);
        }
        w.add_document(
            doc!(self.fields.id => p.id.as_str(), self.fields.title => p.title.as_str(), self.fields.body => body),
        )?;
        Ok(())
    }

    /// Indexes (or re-indexes) products and makes them searchable. Inactive products are removed.
    pub fn upsert(&self, products: &[Product]) -> Result<(), SearchError> {
        let mut w = self.writer();
        for p in products {
            self.add(&w, p)?;
        }
        w.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    pub fn delete(&self, id: &str) -> Result<(), SearchError> {
        let mut w = self.writer();
        w.delete_term(Term::from_field_text(self.fields.id, id));
        w.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// Empties the index; follow with `append` batches and `commit` to rebuild it.
    pub fn clear(&self) -> Result<(), SearchError> {
        self.writer().delete_all_documents()?;
        Ok(())
    }

    /// Adds a batch without committing: for rebuilds.
    pub fn append(&self, products: &[Product]) -> Result<(), SearchError> {
        let w = self.writer();
        for p in products {
            self.add(&w, p)?;
        }
        Ok(())
    }

    pub fn commit(&self) -> Result<(), SearchError> {
        self.writer().commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// Products matching `q` (words; query syntax is treated as text), best first, with the
    /// total number of matches.
    pub fn search(&self, q: &str, limit: usize) -> Result<(Vec<Hit>, usize), SearchError> {
        let limit = limit.clamp(1, MAX_LIMIT);
        let searcher = self.reader.searcher();
        let mut parser = QueryParser::for_index(&self.index, vec![self.fields.title, self.fields.body]);
        parser.set_field_boost(self.fields.title, 2.0);
        // Only letters and digits reach the parser, so `+`, `"`, `:` and friends are plain text.
        let words: String = q.chars().map(|c| if c.is_alphanumeric() { c } else { ' ' }).collect();
        let (query, _) = parser.parse_query_lenient(&words);
        let (top, total) = searcher.search(&query, &(TopDocs::with_limit(limit), Count))?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let doc: TantivyDocument = searcher.doc(addr)?;
            if let Some(id) = doc.get_first(self.fields.id).and_then(|v| v.as_str()) {
                hits.push(Hit { id: id.to_string(), score });
            }
        }
        Ok((hits, total))
    }

    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use souk_domain::catalog::Sku;
    use souk_domain::{Currency, Money};

    fn product(id: &str, title: &str, description: &str, status: ProductStatus) -> Product {
        Product {
            id: id.into(),
            store_id: "sto_1".into(),
            title: title.into(),
            description: description.into(),
            category: None,
            attributes: [("material".to_string(), "bamboo".to_string())].into(),
            images: vec![],
            ships_to: vec!["*".into()],
            moq: 1,
            status,
            currency: "USD".into(),
            skus: vec![Sku {
                id: "sku_1".into(),
                sku: None,
                options: Default::default(),
                price: Money::new(100, Currency::from_code("USD").unwrap()),
                price_tiers: vec![],
                stock: 1,
            }],
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn finds_ranks_updates_and_forgets() {
        let dir = tempfile::tempdir().unwrap();
        let (index, fresh) = SearchIndex::open(&dir.path().join("index")).unwrap();
        assert!(fresh);
        index
            .upsert(&[
                product("prd_a", "Bluetooth speaker", "Loud", ProductStatus::Active),
                product("prd_b", "Speaker stand", "Holds a bluetooth speaker", ProductStatus::Active),
                product("prd_c", "Bluetooth draft", "", ProductStatus::Draft),
            ])
            .unwrap();
        let (hits, total) = index.search("bluetooth", 10).unwrap();
        assert_eq!(total, 2, "drafts are not indexed");
        assert_eq!(hits[0].id, "prd_a", "a title match outranks a description match");
        assert_eq!(index.search("bamboo", 10).unwrap().1, 2, "attributes are searchable");
        assert_eq!(index.search("title:\"+(", 10).unwrap().1, 0, "syntax is text, not an error");
        index.upsert(&[product("prd_a", "Bluetooth speaker", "Loud", ProductStatus::Archived)]).unwrap();
        assert_eq!(index.search("bluetooth", 10).unwrap().1, 1);
        index.delete("prd_b").unwrap();
        assert_eq!(index.search("speaker", 10).unwrap().1, 0);
        drop(index);
        let (reopened, fresh) = SearchIndex::open(&dir.path().join("index")).unwrap();
        assert!(!fresh, "an index of the current version is kept");
        assert_eq!(reopened.num_docs(), 0);
    }
}
