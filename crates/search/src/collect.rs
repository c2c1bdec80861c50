//! Collectors over fast fields: the composite ranking of every match (for queries without
//! words) and facet counts.

use crate::query::Sort;
use crate::{ff, KeyMap, StoreInfo};
use souk_domain::category::Category;
use souk_domain::ranking::{self, Explained, Inputs, Weights};
use souk_domain::Currency;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::{Arc, LazyLock};
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::ColumnValues;
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

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
        let fast = reader.fast_fields();
        Ok(Columns {
            store: fast.column_first_or_default(ff::STORE)?,
            category: fast.column_first_or_default(ff::CATEGORY)?,
            currency: fast.column_first_or_default(ff::CURRENCY)?,
            price: fast.column_first_or_default(ff::PRICE)?,
            available: fast.column_first_or_default(ff::AVAILABLE)?,
            moq: fast.column_first_or_default(ff::MOQ)?,
            views: fast.column_first_or_default(ff::VIEWS)?,
            purchases: fast.column_first_or_default(ff::PURCHASES)?,
        })
    }
}

/// Category and currency keys back to their ids.
pub(crate) static CATEGORY_KEYS: LazyLock<KeyMap<&'static str>> =
    LazyLock::new(|| Category::all().iter().map(|c| (crate::key(c.id), c.id)).collect());
pub(crate) static CURRENCY_KEYS: LazyLock<KeyMap<Currency>> =
    LazyLock::new(|| Currency::all().map(|c| (crate::key(c.code()), c)).collect());

/// What the ranking reads besides the documents, fixed for one query.
pub(crate) struct Signals {
    pub(crate) stores: Arc<KeyMap<Arc<StoreInfo>>>,
    pub(crate) conversion: Option<f64>,
    pub(crate) weights: Weights,
}

impl Signals {
    /// Everything but the text relevance and the peer prices, which need all candidates.
    pub(crate) fn inputs(&self, cols: &Columns, doc: DocId) -> Inputs {
        let store = self.stores.get(&cols.store.get_val(doc));
        Inputs {
            bm25: None,
            trust_score: store.and_then(|s| s.trust_score),
            views: cols.views.get_val(doc),
            purchases: cols.purchases.get_val(doc),
            marketplace_conversion: self.conversion,
            delivery_days: store.and_then(|s| s.delivery_days),
            price_minor: cols.price.get_val(doc) as i64,
            peer_median_minor: None,
            available: cols.available.get_val(doc),
            moq: cols.moq.get_val(doc),
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

/// Without a query: the best `k` matches by the composite, computed from fast fields.
pub(crate) struct SignalTop {
    pub(crate) k: usize,
    pub(crate) sort: Sort,
    pub(crate) signals: Arc<Signals>,
}

pub(crate) struct SignalTopSegment {
    pub(crate) k: usize,
    pub(crate) sort: Sort,
    pub(crate) segment: SegmentOrdinal,
    pub(crate) cols: Columns,
    pub(crate) signals: Arc<Signals>,
    pub(crate) heap: BinaryHeap<Reverse<(Key, DocId)>>,
}

impl Collector for SignalTop {
    type Fruit = Vec<(Key, DocAddress)>;
    type Child = SignalTopSegment;

    fn for_segment(&self, segment: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<SignalTopSegment> {
        Ok(SignalTopSegment {
            k: self.k,
            sort: self.sort,
            segment,
            cols: Columns::open(reader)?,
            signals: self.signals.clone(),
            heap: BinaryHeap::with_capacity(self.k + 1),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<(Key, DocAddress)>>) -> tantivy::Result<Vec<(Key, DocAddress)>> {
        let mut all: Vec<(Key, DocAddress)> = fruits.into_iter().flatten().collect();
        all.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        all.truncate(self.k);
        Ok(all)
    }
}

impl SegmentCollector for SignalTopSegment {
    type Fruit = Vec<(Key, DocAddress)>;

    fn collect(&mut self, doc: DocId, _: Score) {
        let inputs = self.signals.inputs(&self.cols, doc);
        let k = key(self.sort, &ranking::explain(ranking::features(&inputs), &self.signals.weights));
        if self.heap.len() < self.k {
            self.heap.push(Reverse((k, doc)));
        } else if let Some(Reverse((worst, _))) = self.heap.peek() {
            if k > *worst {
                self.heap.pop();
                self.heap.push(Reverse((k, doc)));
            }
        }
    }

    fn harvest(self) -> Vec<(Key, DocAddress)> {
        let segment = self.segment;
        self.heap.into_iter().map(|Reverse((k, doc))| (k, DocAddress::new(segment, doc))).collect()
    }
}

/// Number of 1-2-5 price buckets: up to 10^20 minor units.
pub(crate) const BUCKETS: usize = 60;

pub(crate) fn bucket_of(price: u64) -> usize {
    if price == 0 {
        return 0;
    }
    let exp = price.ilog10();
    let lead = price / 10u64.pow(exp);
    let step = match lead {
        1 => 0,
        2..=4 => 1,
        _ => 2,
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
pub(crate) struct FacetCounter;

#[derive(Default)]
pub(crate) struct FacetCounts {
    pub(crate) categories: KeyMap<u64>,
    pub(crate) stores: KeyMap<u64>,
    /// Currency key → counts per bucket.
    pub(crate) prices: KeyMap<[u64; BUCKETS]>,
}

pub(crate) struct FacetSegment {
    pub(crate) cols: Columns,
    pub(crate) counts: FacetCounts,
}

impl Collector for FacetCounter {
    type Fruit = FacetCounts;
    type Child = FacetSegment;

    fn for_segment(&self, _: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<FacetSegment> {
        Ok(FacetSegment { cols: Columns::open(reader)?, counts: FacetCounts::default() })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<FacetCounts>) -> tantivy::Result<FacetCounts> {
        let mut out = FacetCounts::default();
        for f in fruits {
            for (k, v) in f.categories {
                *out.categories.entry(k).or_default() += v;
            }
            for (k, v) in f.stores {
                *out.stores.entry(k).or_default() += v;
            }
            for (k, buckets) in f.prices {
                let total = out.prices.entry(k).or_insert([0; BUCKETS]);
                for (t, n) in total.iter_mut().zip(buckets) {
                    *t += n;
                }
            }
        }
        Ok(out)
    }
}

impl SegmentCollector for FacetSegment {
    type Fruit = FacetCounts;

    fn collect(&mut self, doc: DocId, _: Score) {
        let c = &mut self.counts;
        *c.categories.entry(self.cols.category.get_val(doc)).or_default() += 1;
        *c.stores.entry(self.cols.store.get_val(doc)).or_default() += 1;
        let bucket = bucket_of(self.cols.price.get_val(doc));
        let currency = self.cols.currency.get_val(doc);
        match c.prices.get_mut(&currency) {
            Some(buckets) => buckets[bucket] += 1,
            None => {
                let mut buckets = [0; BUCKETS];
                buckets[bucket] = 1;
                c.prices.insert(currency, buckets);
            }
        }
    }

    fn harvest(self) -> FacetCounts {
        self.counts
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
