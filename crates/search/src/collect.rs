//! Collectors over fast fields: the composite ranking of every match (for queries without
//! words) and facet counts.

use crate::query::Sort;
use crate::{ff, KeyMap, StoreInfo};
use souk_domain::category::Category;
use souk_domain::ranking::{self, Explained, Inputs, Weights};
use souk_domain::Currency;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Cardinality, Column, ColumnValues};
use tantivy::query::Weight;
use tantivy::{DocAddress, DocId, Score, SegmentId, SegmentOrdinal, SegmentReader};

/// Fast-field columns of one segment: all single-valued numbers, the fastest kind to read.
pub(crate) struct Columns {
    pub(crate) store: Arc<dyn ColumnValues<u64>>,
    pub(crate) category: Arc<dyn ColumnValues<u64>>,
    pub(crate) currency: Arc<dyn ColumnValues<u64>>,
    pub(crate) price: Arc<dyn ColumnValues<u64>>,
    pub(crate) available: Arc<dyn ColumnValues<u64>>,
    pub(crate) moq: Arc<dyn ColumnValues<u64>>,
    pub(crate) views: Arc<dyn ColumnValues<u64>>,
    pub(crate) purchases: Arc<dyn ColumnValues<u64>>,
}

impl Columns {
    pub(crate) fn open(reader: &SegmentReader) -> tantivy::Result<Columns> {
        let u64s =
            |name: &str| -> tantivy::Result<Arc<dyn ColumnValues<u64>>> { Ok(values(reader.fast_fields().u64(name)?)) };
        Ok(Columns {
            store: u64s(ff::STORE)?,
            category: u64s(ff::CATEGORY)?,
            currency: u64s(ff::CURRENCY)?,
            price: u64s(ff::PRICE)?,
            available: u64s(ff::AVAILABLE)?,
            moq: u64s(ff::MOQ)?,
            views: u64s(ff::VIEWS)?,
            purchases: u64s(ff::PURCHASES)?,
        })
    }
}

/// A column's values by document. Every document has exactly one value of these fields, so
/// the values are read directly, without a lookup through the column's index per document.
fn values<T>(column: Column<T>) -> Arc<dyn ColumnValues<T>>
where
    T: PartialOrd + Copy + Default + std::fmt::Debug + Send + Sync + 'static,
{
    if column.get_cardinality() == Cardinality::Full {
        column.values
    } else {
        column.first_or_default_col(T::default())
    }
}

/// Category and currency keys back to their ids.
pub(crate) static CATEGORY_KEYS: LazyLock<KeyMap<&'static str>> =
    LazyLock::new(|| Category::all().iter().map(|c| (crate::key(c.id), c.id)).collect());
pub(crate) static CURRENCY_KEYS: LazyLock<KeyMap<Currency>> =
    LazyLock::new(|| Currency::all().map(|c| (crate::key(c.code()), c)).collect());

/// What the ranking reads besides the documents, fixed for one query.
pub(crate) struct Signals {
    /// Changes whenever the stores or the conversion prior do.
    pub(crate) version: u64,
    pub(crate) stores: Arc<KeyMap<Arc<StoreInfo>>>,
    pub(crate) conversion: Option<f64>,
    pub(crate) weights: Weights,
}

impl Signals {
    /// Everything but the text relevance and the peer prices, which need all candidates.
    pub(crate) fn inputs(&self, cols: &Columns, doc: DocId) -> Inputs {
        let store = self.stores.get(&cols.store.get_val(doc));
        self.inputs_of(
            store.map(|s| &**s),
            cols.price.get_val(doc),
            cols.views.get_val(doc),
            cols.purchases.get_val(doc),
            cols.available.get_val(doc),
            cols.moq.get_val(doc),
        )
    }

    pub(crate) fn inputs_of(
        &self,
        store: Option<&StoreInfo>,
        price: u64,
        views: u64,
        purchases: u64,
        available: u64,
        moq: u64,
    ) -> Inputs {
        Inputs {
            bm25: None,
            trust_score: store.and_then(|s| s.trust_score),
            views,
            purchases,
            marketplace_conversion: self.conversion,
            delivery_days: store.and_then(|s| s.delivery_days),
            price_minor: price as i64,
            peer_median_minor: None,
            available,
            moq,
        }
    }
}

/// Sort key of the ranked orders: (primary, composite), compared as numbers.
#[derive(Clone, Copy, PartialEq)]
pub(crate) struct Key(pub(crate) f64, pub(crate) f64);

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.total_cmp(&other.1))
    }
}

pub(crate) fn key(sort: Sort, e: &Explained) -> Key {
    match sort {
        Sort::Rating => Key(e.features.trust, e.score),
        _ => Key(e.score, 0.0),
    }
}

/// Number of 1-2-5 price buckets: up to 10^20 minor units.
pub(crate) const BUCKETS: usize = 60;

pub(crate) fn bucket_of(price: u64) -> usize {
    if price == 0 {
        return 0;
    }
    // Without dividing: this runs for every match.
    let exp = price.ilog10();
    let pow = 10u64.pow(exp);
    let reaches = |lead: u64| pow.checked_mul(lead).is_some_and(|bound| price >= bound);
    let step = if reaches(5) {
        2
    } else if reaches(2) {
        1
    } else {
        0
    };
    (3 * exp as usize + step).min(BUCKETS - 1)
}

/// `[from, to)` of a bucket.
pub(crate) fn bucket_bounds(b: usize) -> (u64, u64) {
    let at = |i: usize| -> u64 {
        let pow = 10u64.saturating_pow((i / 3) as u32);
        pow.saturating_mul([1, 2, 5][i % 3])
    };
    (at(b), at(b + 1))
}

/// Counts per category, store and price bucket over every match, by key.
#[derive(Default, Clone)]
pub(crate) struct FacetCounts {
    pub(crate) categories: KeyMap<u64>,
    pub(crate) stores: KeyMap<u64>,
    /// Currency key → counts per bucket.
    pub(crate) prices: KeyMap<[u64; BUCKETS]>,
}

impl FacetCounts {
    fn add(&mut self, other: FacetCounts) {
        for (k, v) in other.categories {
            *self.categories.entry(k).or_default() += v;
        }
        for (k, v) in other.stores {
            *self.stores.entry(k).or_default() += v;
        }
        for (k, buckets) in other.prices {
            let total = self.prices.entry(k).or_insert([0; BUCKETS]);
            for (t, n) in total.iter_mut().zip(buckets) {
                *t += n;
            }
        }
    }
}

/// Which matches a search keeps, best first.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Order {
    /// By BM25, for the composite to re-rank.
    Bm25,
    /// By the composite computed from fast fields: searches without words.
    Composite(Sort),
    PriceAsc,
    PriceDesc,
    Newest,
}

/// One pass over every match: the count, the facet counts and the best `k` by `order`.
///
/// Matches are read in blocks, each column with one batched call, which is several times
/// faster than a collector per concern reading value by value.
pub(crate) struct Gather<'a> {
    pub(crate) order: Order,
    pub(crate) k: usize,
    pub(crate) signals: Arc<Signals>,
    /// Where segments' results are kept, with the key of this search; `None` to recompute.
    pub(crate) cache: Option<(&'a SegmentCache, String)>,
}

#[derive(Clone)]
pub(crate) struct Gathered {
    pub(crate) top: Vec<(Key, DocAddress)>,
    pub(crate) total: usize,
    pub(crate) facets: FacetCounts,
}

const BLOCK: usize = tantivy::COLLECT_BLOCK_BUFFER_LEN;

/// Column values of one block of matches.
struct Block {
    store: [u64; BLOCK],
    category: [u64; BLOCK],
    currency: [u64; BLOCK],
    price: [u64; BLOCK],
    /// The order's own value where it needs one more column.
    extra: [[u64; BLOCK]; 4],
    created: [i64; BLOCK],
}

pub(crate) struct GatherSegment {
    order: Order,
    segment: SegmentOrdinal,
    cols: Columns,
    created: Option<Arc<dyn ColumnValues<i64>>>,
    signals: Arc<Signals>,
    top: Top,
    total: usize,
    facets: FacetCounts,
    block: Box<Block>,
    /// The last store looked up: a store's products tend to sit together.
    last_store: Option<(u64, Option<Arc<StoreInfo>>)>,
}

/// What one segment's result depends on. A segment's documents never change, and it only
/// gains deletions, so their count tells its states apart; without text scoring (which reads
/// statistics of the whole index) nothing else outside the segment matters but the signals.
#[derive(PartialEq)]
struct SegmentKey {
    search: String,
    signals: u64,
    segment: SegmentId,
    deleted: u32,
}

/// Recent per-segment results of searches that do not score text. A change to the catalog
/// adds a small segment and deletes from one other, so a search after it recomputes those two
/// and reuses the rest, as Lucene's query cache does.
#[derive(Default)]
pub(crate) struct SegmentCache(Mutex<VecDeque<(SegmentKey, Arc<Gathered>)>>);

const CACHED_SEGMENTS: usize = 1024;

impl SegmentCache {
    fn get(&self, key: &SegmentKey) -> Option<Arc<Gathered>> {
        let entries = self.0.lock().unwrap_or_else(|p| p.into_inner());
        entries.iter().find(|(k, _)| k == key).map(|(_, g)| g.clone())
    }

    fn put(&self, key: SegmentKey, gathered: Arc<Gathered>) {
        let mut entries = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Older states of this segment can never match again.
        entries.retain(|(k, _)| !(k.segment == key.segment && k.search == key.search));
        entries.push_front((key, gathered));
        entries.truncate(CACHED_SEGMENTS);
    }
}

impl Collector for Gather<'_> {
    type Fruit = Gathered;
    type Child = GatherSegment;

    fn for_segment(&self, segment: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<GatherSegment> {
        let created = match self.order {
            Order::Newest => Some(values(reader.fast_fields().i64(ff::CREATED)?)),
            _ => None,
        };
        Ok(GatherSegment {
            order: self.order,
            segment,
            cols: Columns::open(reader)?,
            created,
            signals: self.signals.clone(),
            top: Top { k: self.k, heap: BinaryHeap::with_capacity(self.k + 1) },
            total: 0,
            facets: FacetCounts::default(),
            block: Box::new(Block {
                store: [0; BLOCK],
                category: [0; BLOCK],
                currency: [0; BLOCK],
                price: [0; BLOCK],
                extra: [[0; BLOCK]; 4],
                created: [0; BLOCK],
            }),
            last_store: None,
        })
    }

    fn requires_scoring(&self) -> bool {
        self.order == Order::Bm25
    }

    fn merge_fruits(&self, fruits: Vec<Gathered>) -> tantivy::Result<Gathered> {
        let mut out = Gathered { top: Vec::new(), total: 0, facets: FacetCounts::default() };
        for f in fruits {
            out.top.extend(f.top);
            out.total += f.total;
            out.facets.add(f.facets);
        }
        out.top.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        out.top.truncate(self.k);
        Ok(out)
    }

    /// Feeds the segment's live matches to [`GatherSegment::block`] in blocks.
    fn collect_segment(&self, weight: &dyn Weight, segment: u32, reader: &SegmentReader) -> tantivy::Result<Gathered> {
        let cache = self.cache.as_ref().filter(|_| !self.requires_scoring()).map(|(cache, search)| {
            let key = SegmentKey {
                search: search.clone(),
                signals: self.signals.version,
                segment: reader.segment_id(),
                deleted: reader.num_deleted_docs(),
            };
            (*cache, key)
        });
        if let Some((cache, key)) = &cache {
            if let Some(found) = cache.get(key) {
                let mut found = (*found).clone();
                // Segment ordinals are the searcher's own.
                for (_, addr) in found.top.iter_mut() {
                    addr.segment_ord = segment;
                }
                return Ok(found);
            }
        }
        let gathered = self.gather_segment(weight, segment, reader)?;
        if let Some((cache, key)) = cache {
            cache.put(key, Arc::new(gathered.clone()));
        }
        Ok(gathered)
    }
}

impl Gather<'_> {
    fn gather_segment(&self, weight: &dyn Weight, segment: u32, reader: &SegmentReader) -> tantivy::Result<Gathered> {
        let mut seg = self.for_segment(segment, reader)?;
        let alive = reader.alive_bitset();
        let is_alive = |doc: DocId| alive.is_none_or(|a| a.is_alive(doc));
        let mut docs: Vec<DocId> = Vec::with_capacity(BLOCK);
        let mut scores: Vec<Score> = Vec::with_capacity(BLOCK);
        if self.requires_scoring() {
            weight.for_each(reader, &mut |doc, score| {
                if is_alive(doc) {
                    docs.push(doc);
                    scores.push(score);
                    if docs.len() == BLOCK {
                        seg.block(&docs, &scores);
                        docs.clear();
                        scores.clear();
                    }
                }
            })?;
        } else {
            weight.for_each_no_score(reader, &mut |block| {
                if alive.is_none() {
                    seg.block(block, &[]);
                } else {
                    docs.clear();
                    docs.extend(block.iter().copied().filter(|d| is_alive(*d)));
                    seg.block(&docs, &[]);
                }
            })?;
            docs.clear();
        }
        if !docs.is_empty() {
            seg.block(&docs, &scores);
        }
        Ok(seg.harvest())
    }
}

impl GatherSegment {
    /// `scores` holds BM25 per document when the order is by it.
    fn block(&mut self, docs: &[DocId], scores: &[Score]) {
        let n = docs.len();
        if n == 0 {
            return;
        }
        self.total += n;
        let cols = &self.cols;
        let b = &mut *self.block;
        cols.store.get_vals(docs, &mut b.store[..n]);
        cols.category.get_vals(docs, &mut b.category[..n]);
        cols.currency.get_vals(docs, &mut b.currency[..n]);
        cols.price.get_vals(docs, &mut b.price[..n]);
        for i in 0..n {
            let f = &mut self.facets;
            *f.categories.entry(b.category[i]).or_default() += 1;
            *f.stores.entry(b.store[i]).or_default() += 1;
            let bucket = bucket_of(b.price[i]);
            f.prices.entry(b.currency[i]).or_insert([0; BUCKETS])[bucket] += 1;
        }
        if self.top.k == 0 {
            return;
        }
        match self.order {
            Order::Bm25 => {
                for (i, doc) in docs.iter().enumerate() {
                    self.top.offer(Key(f64::from(scores[i]), 0.0), *doc);
                }
            }
            Order::PriceAsc | Order::PriceDesc => {
                let sign = if self.order == Order::PriceAsc { -1.0 } else { 1.0 };
                for (i, doc) in docs.iter().enumerate() {
                    self.top.offer(Key(sign * b.price[i] as f64, 0.0), *doc);
                }
            }
            Order::Newest => {
                if let Some(created) = &self.created {
                    created.get_vals(docs, &mut b.created[..n]);
                }
                for (i, doc) in docs.iter().enumerate() {
                    self.top.offer(Key(b.created[i] as f64, 0.0), *doc);
                }
            }
            Order::Composite(sort) => {
                let [views, purchases, available, moq] = &mut b.extra;
                cols.views.get_vals(docs, &mut views[..n]);
                cols.purchases.get_vals(docs, &mut purchases[..n]);
                cols.available.get_vals(docs, &mut available[..n]);
                cols.moq.get_vals(docs, &mut moq[..n]);
                for (i, doc) in docs.iter().enumerate() {
                    let store = match &self.last_store {
                        Some((k, s)) if *k == b.store[i] => s.clone(),
                        _ => {
                            let s = self.signals.stores.get(&b.store[i]).cloned();
                            self.last_store = Some((b.store[i], s.clone()));
                            s
                        }
                    };
                    let [views, purchases, available, moq] = &b.extra;
                    let inputs = self.signals.inputs_of(
                        store.as_deref(),
                        b.price[i],
                        views[i],
                        purchases[i],
                        available[i],
                        moq[i],
                    );
                    let explained = ranking::explain(ranking::features(&inputs), &self.signals.weights);
                    self.top.offer(key(sort, &explained), *doc);
                }
            }
        }
    }
}

/// The best `k` documents of a segment, the worst on top; among equal keys the later document
/// counts as worse, so ties keep the index order.
struct Top {
    k: usize,
    heap: BinaryHeap<Reverse<(Key, Reverse<DocId>)>>,
}

impl Top {
    fn offer(&mut self, key: Key, doc: DocId) {
        let entry = Reverse((key, Reverse(doc)));
        if self.heap.len() < self.k {
            self.heap.push(entry);
        } else if self.heap.peek().is_some_and(|worst| entry < *worst) {
            self.heap.pop();
            self.heap.push(entry);
        }
    }
}

impl SegmentCollector for GatherSegment {
    type Fruit = Gathered;

    fn collect(&mut self, doc: DocId, score: Score) {
        self.block(&[doc], &[score]);
    }

    fn harvest(self) -> Gathered {
        let segment = self.segment;
        let top =
            self.top.heap.into_iter().map(|Reverse((k, Reverse(doc)))| (k, DocAddress::new(segment, doc))).collect();
        Gathered { top, total: self.total, facets: self.facets }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_buckets_follow_the_1_2_5_series() {
        assert_eq!(bucket_of(1), 0);
        assert_eq!(bucket_of(199), 6);
        assert_eq!(bucket_bounds(bucket_of(199)), (100, 200));
        assert_eq!(bucket_bounds(bucket_of(250)), (200, 500));
        assert_eq!(bucket_bounds(bucket_of(999)), (500, 1000));
        assert_eq!(bucket_of(u64::MAX), 57);
    }
}
