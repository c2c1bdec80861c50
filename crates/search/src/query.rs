//! Running searches. A query's words must all match (each word in the title, counted double, or
//! in the description, attributes and category names; words of five or more letters also match
//! with one typo); when nothing matches all of them, any word will do. Filters never add to the
//! score. BM25 then picks up to [`CANDIDATES`] products, which the domain's composite re-ranks.
//! Without words, the composite ranks every product that passes the filters.
//!
//! Facets count every match, not only the candidates.

use crate::text::{self, PLAIN_ANALYZER};
use crate::{ff, SearchError, SearchIndex, StoreInfo, MAX_LIMIT};
use serde::{Deserialize, Serialize};
use souk_domain::category::Category;
use souk_domain::ranking::{self, Explained, Inputs, Weights, PRICE_PEERS};
use souk_domain::{Currency, Money};
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::ops::Bound;
use std::sync::Arc;
use tantivy::collector::{Collector, Count, SegmentCollector, TopDocs};
use tantivy::columnar::{ColumnValues, StrColumn};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, EmptyQuery, FuzzyTermQuery, Occur, Query, RangeQuery,
    TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocAddress, DocId, Order, Score, Searcher, SegmentOrdinal, SegmentReader, TantivyDocument, Term};

/// How many products BM25 hands to the re-ranking; relevance paging ends there.
pub const CANDIDATES: usize = 1000;
/// Deepest offset of the price and date orders.
pub const MAX_OFFSET: usize = 10_000;
/// Words at least this long (in characters) also match with one typo.
pub const FUZZY_MIN_CHARS: usize = 5;
const TITLE_BOOST: Score = 2.0;
const SNIPPET_CHARS: usize = 160;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// The ranking composite (text relevance, trust, conversion, delivery, price, stock).
    #[default]
    Relevance,
    PriceAsc,
    PriceDesc,
    Newest,
    /// The seller's trust score, then the composite.
    Rating,
}

/// A validated search. Values must already be known to exist (categories, currencies, stores).
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub q: String,
    pub category: Option<String>,
    pub ships_to: Option<String>,
    pub in_stock: bool,
    pub currency: Option<String>,
    /// Minor units of `currency`, inclusive.
    pub price_min: Option<u64>,
    pub price_max: Option<u64>,
    /// 0..=100; stores without a score count as the neutral prior.
    pub min_seller_rating: Option<f64>,
    pub store: Option<String>,
    pub sort: Sort,
    pub offset: usize,
    pub limit: usize,
    pub explain: bool,
    pub weights: Weights,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Hit {
    pub id: String,
    pub title: String,
    pub image: Option<String>,
    /// The lowest price of the product's SKUs.
    pub price: Money,
    /// At least the minimum order quantity can be bought now.
    pub in_stock: bool,
    pub store: Option<StoreInfo>,
    /// A passage of the description (or the title) with the query's words in `<b>…</b>`;
    /// everything else is HTML-escaped.
    pub snippet: String,
    /// The ranking composite, 0 to 1.
    pub score: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<Explained>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ValueCount {
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CategoryCount {
    pub id: String,
    pub name: String,
    pub name_zh: String,
    pub count: u64,
}

/// Matches priced from `from` (inclusive) to `to` (exclusive), in minor units of `currency`.
/// Bounds follow the 1-2-5 series, so they read well in any currency.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PriceBucket {
    pub currency: String,
    pub from: u64,
    pub to: u64,
    pub count: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Facets {
    /// Counts per category one level below the `category` filter (top level without one).
    pub categories: Vec<CategoryCount>,
    pub price: Vec<PriceBucket>,
    pub seller_country: Vec<ValueCount>,
    pub verification: Vec<ValueCount>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Results {
    pub hits: Vec<Hit>,
    /// Every product matching the query and filters.
    pub total: usize,
    /// Where the next page starts, while there is one.
    pub next_offset: Option<usize>,
    /// False when no product had every word, so products with any of them are shown.
    pub matched_all_words: bool,
    pub facets: Facets,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Suggestion {
    /// `category` or `product`.
    pub kind: String,
    pub text: String,
    /// The category or product id.
    pub id: String,
}

/// One word of a query: it matches when any of its terms does.
struct Word {
    terms: Vec<String>,
    /// Forms that match with one typo: the stemmed term and the unstemmed one, since a typo can
    /// change what the stemmer strips (`wireles` stems to `wirel`).
    fuzzy: Vec<String>,
}

/// Fast-field columns of one segment.
struct Columns {
    store: Option<StrColumn>,
    category: Option<StrColumn>,
    currency: Option<StrColumn>,
    price: Arc<dyn ColumnValues<u64>>,
    available: Arc<dyn ColumnValues<u64>>,
    moq: Arc<dyn ColumnValues<u64>>,
    views: Arc<dyn ColumnValues<u64>>,
    purchases: Arc<dyn ColumnValues<u64>>,
}

fn ord(col: &Option<StrColumn>, doc: DocId) -> Option<u64> {
    col.as_ref().and_then(|c| c.ords().first(doc))
}

fn ord_str(col: &Option<StrColumn>, ord: u64) -> String {
    let mut s = String::new();
    if let Some(c) = col {
        let _ = c.ord_to_str(ord, &mut s);
    }
    s
}

impl Columns {
    fn open(reader: &SegmentReader) -> tantivy::Result<Columns> {
        let fast = reader.fast_fields();
        Ok(Columns {
            store: fast.str(ff::STORE)?,
            category: fast.str(ff::CATEGORY)?,
            currency: fast.str(ff::CURRENCY)?,
            price: fast.column_first_or_default(ff::PRICE)?,
            available: fast.column_first_or_default(ff::AVAILABLE)?,
            moq: fast.column_first_or_default(ff::MOQ)?,
            views: fast.column_first_or_default(ff::VIEWS)?,
            purchases: fast.column_first_or_default(ff::PURCHASES)?,
        })
    }

    fn str_of(&self, col: &Option<StrColumn>, doc: DocId) -> String {
        ord(col, doc).map(|o| ord_str(col, o)).unwrap_or_default()
    }
}

/// The stores' signals, looked up once per query.
struct Signals {
    stores: HashMap<String, Arc<StoreInfo>>,
    conversion: Option<f64>,
    weights: Weights,
}

impl Signals {
    fn inputs(&self, cols: &Columns, store: Option<&StoreInfo>, doc: DocId) -> Inputs {
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

    /// The store of each store ordinal of a segment.
    fn stores_by_ord(&self, cols: &Columns) -> Vec<Option<Arc<StoreInfo>>> {
        let n = cols.store.as_ref().map(|c| c.num_terms()).unwrap_or(0);
        (0..n as u64).map(|o| self.stores.get(&ord_str(&cols.store, o)).cloned()).collect()
    }
}

/// Sort key of the signal scan: (primary, composite), compared as numbers.
#[derive(Clone, Copy, PartialEq)]
struct Key(f64, f64);

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

fn key(sort: Sort, trust: f64, score: f64) -> Key {
    match sort {
        Sort::Rating => Key(trust, score),
        _ => Key(score, 0.0),
    }
}

/// Without a query: the best `k` matches by the composite, computed from fast fields.
struct SignalTop<'a> {
    k: usize,
    sort: Sort,
    signals: &'a Signals,
}

struct SignalTopSegment {
    k: usize,
    sort: Sort,
    segment: SegmentOrdinal,
    cols: Columns,
    stores: Vec<Option<Arc<StoreInfo>>>,
    conversion: Option<f64>,
    weights: Weights,
    heap: BinaryHeap<Reverse<(Key, DocId)>>,
}

impl Collector for SignalTop<'_> {
    type Fruit = Vec<(Key, DocAddress)>;
    type Child = SignalTopSegment;

    fn for_segment(&self, segment: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<SignalTopSegment> {
        let cols = Columns::open(reader)?;
        let stores = self.signals.stores_by_ord(&cols);
        Ok(SignalTopSegment {
            k: self.k,
            sort: self.sort,
            segment,
            cols,
            stores,
            conversion: self.signals.conversion,
            weights: self.signals.weights,
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
        let store = ord(&self.cols.store, doc).and_then(|o| self.stores.get(o as usize).cloned().flatten());
        let cols = &self.cols;
        let inputs = Inputs {
            bm25: None,
            trust_score: store.as_ref().and_then(|s| s.trust_score),
            views: cols.views.get_val(doc),
            purchases: cols.purchases.get_val(doc),
            marketplace_conversion: self.conversion,
            delivery_days: store.as_ref().and_then(|s| s.delivery_days),
            price_minor: cols.price.get_val(doc) as i64,
            peer_median_minor: None,
            available: cols.available.get_val(doc),
            moq: cols.moq.get_val(doc),
        };
        let f = ranking::features(&inputs);
        let k = key(self.sort, f.trust, ranking::explain(f, &self.weights).score);
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
const BUCKETS: usize = 60;

fn bucket_of(price: u64) -> usize {
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
fn bucket_bounds(b: usize) -> (u64, u64) {
    let at = |i: usize| -> u64 {
        let pow = 10u64.saturating_pow((i / 3) as u32);
        pow.saturating_mul([1, 2, 5][i % 3])
    };
    (at(b), at(b + 1))
}

/// Counts per category, store and price bucket over every match.
struct FacetCounter;

struct FacetSegment {
    cols: Columns,
    categories: Vec<u64>,
    stores: Vec<u64>,
    prices: Vec<[u64; BUCKETS]>,
}

#[derive(Default)]
struct FacetCounts {
    categories: HashMap<String, u64>,
    stores: HashMap<String, u64>,
    prices: HashMap<(String, usize), u64>,
}

impl Collector for FacetCounter {
    type Fruit = FacetCounts;
    type Child = FacetSegment;

    fn for_segment(&self, _: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<FacetSegment> {
        let cols = Columns::open(reader)?;
        let terms = |c: &Option<StrColumn>| c.as_ref().map(|c| c.num_terms()).unwrap_or(0);
        Ok(FacetSegment {
            categories: vec![0; terms(&cols.category)],
            stores: vec![0; terms(&cols.store)],
            prices: vec![[0; BUCKETS]; terms(&cols.currency)],
            cols,
        })
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
            for (k, v) in f.prices {
                *out.prices.entry(k).or_default() += v;
            }
        }
        Ok(out)
    }
}

impl SegmentCollector for FacetSegment {
    type Fruit = FacetCounts;

    fn collect(&mut self, doc: DocId, _: Score) {
        if let Some(o) = ord(&self.cols.category, doc) {
            self.categories[o as usize] += 1;
        }
        if let Some(o) = ord(&self.cols.store, doc) {
            self.stores[o as usize] += 1;
        }
        if let Some(o) = ord(&self.cols.currency, doc) {
            self.prices[o as usize][bucket_of(self.cols.price.get_val(doc))] += 1;
        }
    }

    fn harvest(self) -> FacetCounts {
        let named = |col: &Option<StrColumn>, counts: &[u64]| -> HashMap<String, u64> {
            counts.iter().enumerate().filter(|(_, n)| **n > 0).map(|(o, n)| (ord_str(col, o as u64), *n)).collect()
        };
        let mut prices = HashMap::new();
        for (o, buckets) in self.prices.iter().enumerate() {
            let currency = ord_str(&self.cols.currency, o as u64);
            for (b, n) in buckets.iter().enumerate().filter(|(_, n)| **n > 0) {
                prices.insert((currency.clone(), b), *n);
            }
        }
        FacetCounts {
            categories: named(&self.cols.category, &self.categories),
            stores: named(&self.cols.store, &self.stores),
            prices,
        }
    }
}

/// A product on its way to the page.
struct Candidate {
    addr: DocAddress,
    bm25: Option<f32>,
    store: Option<Arc<StoreInfo>>,
    category: String,
    currency: String,
    inputs: Inputs,
    explained: Option<Explained>,
}

fn by_count(mut map: HashMap<String, u64>) -> Vec<ValueCount> {
    let mut v: Vec<ValueCount> = map.drain().map(|(value, count)| ValueCount { value, count }).collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then(a.value.cmp(&b.value)));
    v
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn truncate_chars(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map(|(i, _)| &s[..i]).unwrap_or(s)
}

impl SearchIndex {
    fn plain_analyzer(&self) -> Result<tantivy::tokenizer::TextAnalyzer, SearchError> {
        self.index.tokenizers().get(PLAIN_ANALYZER).ok_or_else(|| SearchError("the plain analyzer is missing".into()))
    }

    fn words(&self, q: &str) -> Result<Vec<Word>, SearchError> {
        let mut analyzer = self.index.tokenizer_for_field(self.fields.title)?;
        let mut plain = self.plain_analyzer()?;
        let mut out = Vec::new();
        for w in text::query_words(q) {
            let mut terms = text::terms(&mut analyzer, w);
            terms.dedup();
            if terms.is_empty() {
                continue;
            }
            let chars = w.chars().count();
            let mut fuzzy = Vec::new();
            if chars >= FUZZY_MIN_CHARS && w.chars().all(|c| c.is_alphabetic() && !text::is_cjk(c)) {
                fuzzy = terms.clone();
                fuzzy.extend(text::terms(&mut plain, w));
                fuzzy.sort();
                fuzzy.dedup();
            }
            out.push(Word { terms, fuzzy });
        }
        Ok(out)
    }

    fn word_query(&self, w: &Word) -> Box<dyn Query> {
        let f = self.fields;
        let mut any: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for t in &w.terms {
            for (field, boost) in [(f.title, TITLE_BOOST), (f.body, 1.0)] {
                let term = Term::from_field_text(field, t);
                let q: Box<dyn Query> = Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs));
                any.push((Occur::Should, Box::new(BoostQuery::new(q, boost))));
            }
        }
        for t in &w.fuzzy {
            for (field, boost) in [(f.title, TITLE_BOOST), (f.body, 1.0)] {
                // A typo match counts less than the word itself.
                let fuzzy: Box<dyn Query> = Box::new(FuzzyTermQuery::new(Term::from_field_text(field, t), 1, true));
                any.push((Occur::Should, Box::new(BoostQuery::new(fuzzy, 0.5 * boost))));
            }
        }
        Box::new(BooleanQuery::new(any))
    }

    fn filters(&self, r: &Request) -> Vec<(Occur, Box<dyn Query>)> {
        let f = self.fields;
        let term = |field: Field, value: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic))
        };
        let mut out: Vec<Box<dyn Query>> = Vec::new();
        if let Some(c) = &r.category {
            out.push(term(f.categories, c));
        }
        if let Some(c) = &r.ships_to {
            out.push(Box::new(BooleanQuery::new(vec![
                (Occur::Should, term(f.ships_to, c)),
                (Occur::Should, term(f.ships_to, "*")),
            ])));
        }
        if r.in_stock {
            out.push(Box::new(TermQuery::new(Term::from_field_u64(f.buyable, 1), IndexRecordOption::Basic)));
        }
        if let Some(c) = &r.currency {
            out.push(term(f.currency, c));
        }
        if r.price_min.is_some() || r.price_max.is_some() {
            let lower = r.price_min.map(Bound::Included).unwrap_or(Bound::Unbounded);
            let upper = r.price_max.map(Bound::Included).unwrap_or(Bound::Unbounded);
            out.push(Box::new(RangeQuery::new_u64_bounds(ff::PRICE.to_string(), lower, upper)));
        }
        if let Some(s) = &r.store {
            out.push(term(f.store, s));
        }
        if let Some(min) = r.min_seller_rating {
            let stores = self.stores.read().unwrap_or_else(|p| p.into_inner());
            let terms: Vec<Term> = stores
                .values()
                .filter(|s| s.trust_score.unwrap_or(ranking::NEUTRAL_TRUST) >= min)
                .map(|s| Term::from_field_text(f.store, &s.id))
                .collect();
            if terms.len() < stores.len() {
                out.push(if terms.is_empty() { Box::new(EmptyQuery) } else { Box::new(TermSetQuery::new(terms)) });
            }
        }
        out.into_iter().map(|q| (Occur::Must, Box::new(ConstScoreQuery::new(q, 0.0)) as Box<dyn Query>)).collect()
    }

    fn signals(&self, weights: Weights) -> Signals {
        Signals {
            stores: self.stores.read().unwrap_or_else(|p| p.into_inner()).clone(),
            conversion: *self.conversion.read().unwrap_or_else(|p| p.into_inner()),
            weights,
        }
    }

    pub fn search(&self, r: &Request) -> Result<Results, SearchError> {
        let searcher = self.reader.searcher();
        let limit = r.limit.clamp(1, MAX_LIMIT);
        let words = self.words(&r.q)?;
        let signals = self.signals(r.weights);
        let with_filters = |text: Option<Box<dyn Query>>| -> Box<dyn Query> {
            let mut clauses = self.filters(r);
            clauses.push((Occur::Must, text.unwrap_or_else(|| Box::new(AllQuery))));
            Box::new(BooleanQuery::new(clauses))
        };
        let mut matched_all_words = true;
        let mut query = if words.is_empty() {
            with_filters(None)
        } else {
            let all = words.iter().map(|w| (Occur::Must, self.word_query(w))).collect();
            with_filters(Some(Box::new(BooleanQuery::new(all))))
        };
        if words.len() > 1 && searcher.search(&*query, &Count)? == 0 {
            matched_all_words = false;
            let any = words.iter().map(|w| (Occur::Should, self.word_query(w))).collect();
            query = with_filters(Some(Box::new(BooleanQuery::new(any))));
        }
        let ranked = matches!(r.sort, Sort::Relevance | Sort::Rating);
        let offset = r.offset.min(if ranked { CANDIDATES } else { MAX_OFFSET });
        let (mut page, total, counts) = if !ranked {
            let page_size = TopDocs::with_limit(limit).and_offset(offset);
            let (addrs, total, counts): (Vec<DocAddress>, usize, FacetCounts) = match r.sort {
                Sort::Newest => {
                    let (top, n, c) = searcher.search(
                        &*query,
                        &(page_size.order_by_fast_field::<i64>(ff::CREATED, Order::Desc), Count, FacetCounter),
                    )?;
                    (top.into_iter().map(|(_, a)| a).collect(), n, c)
                }
                _ => {
                    let order = if r.sort == Sort::PriceAsc { Order::Asc } else { Order::Desc };
                    let (top, n, c) = searcher.search(
                        &*query,
                        &(page_size.order_by_fast_field::<u64>(ff::PRICE, order), Count, FacetCounter),
                    )?;
                    (top.into_iter().map(|(_, a)| a).collect(), n, c)
                }
            };
            let mut page = self.candidates(&searcher, &signals, addrs.into_iter().map(|a| (None, a)).collect())?;
            self.rank(&mut page, &signals);
            (page, total, counts)
        } else {
            let (scored, total, counts): (Vec<(Option<f32>, DocAddress)>, usize, FacetCounts) = if words.is_empty() {
                let top = SignalTop { k: CANDIDATES, sort: r.sort, signals: &signals };
                let (top, n, c) = searcher.search(&*query, &(top, Count, FacetCounter))?;
                (top.into_iter().map(|(_, a)| (None, a)).collect(), n, c)
            } else {
                let (top, n, c) = searcher.search(&*query, &(TopDocs::with_limit(CANDIDATES), Count, FacetCounter))?;
                (top.into_iter().map(|(s, a)| (Some(s), a)).collect(), n, c)
            };
            let mut all = self.candidates(&searcher, &signals, scored)?;
            self.rank(&mut all, &signals);
            all.sort_by(|a, b| {
                let ka = key(r.sort, a.explained.map(|e| e.features.trust).unwrap_or(0.0), score_of(a));
                let kb = key(r.sort, b.explained.map(|e| e.features.trust).unwrap_or(0.0), score_of(b));
                kb.cmp(&ka).then(a.addr.cmp(&b.addr))
            });
            let page: Vec<Candidate> = all.into_iter().skip(offset).take(limit).collect();
            (page, total, counts)
        };
        let reachable = if ranked { total.min(CANDIDATES) } else { total.min(MAX_OFFSET) };
        let next_offset = Some(offset + page.len()).filter(|n| *n < reachable && !page.is_empty());
        let hits = self.hits(&searcher, &mut page, &query, !words.is_empty(), r.explain)?;
        Ok(Results { hits, total, next_offset, matched_all_words, facets: self.facets(counts, r) })
    }

    fn candidates(
        &self,
        searcher: &Searcher,
        signals: &Signals,
        scored: Vec<(Option<f32>, DocAddress)>,
    ) -> Result<Vec<Candidate>, SearchError> {
        let mut columns: HashMap<SegmentOrdinal, Columns> = HashMap::new();
        let mut out = Vec::with_capacity(scored.len());
        for (bm25, addr) in scored {
            let cols = match columns.entry(addr.segment_ord) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(Columns::open(searcher.segment_reader(addr.segment_ord))?)
                }
            };
            let doc = addr.doc_id;
            let store = signals.stores.get(&cols.str_of(&cols.store, doc)).cloned();
            let inputs = signals.inputs(cols, store.as_deref(), doc);
            out.push(Candidate {
                addr,
                bm25,
                store,
                category: cols.str_of(&cols.category, doc),
                currency: cols.str_of(&cols.currency, doc),
                inputs,
                explained: None,
            });
        }
        Ok(out)
    }

    /// Scores candidates against each other: text relevance relative to the best, prices
    /// against the median of their category peers.
    fn rank(&self, candidates: &mut [Candidate], signals: &Signals) {
        let best = candidates.iter().filter_map(|c| c.bm25).fold(0.0f32, f32::max);
        let mut peers: HashMap<(&str, &str), Vec<i64>> = HashMap::new();
        for c in candidates.iter().filter(|c| !c.category.is_empty()) {
            peers.entry((&c.category, &c.currency)).or_default().push(c.inputs.price_minor);
        }
        let medians: HashMap<(String, String), i64> = peers
            .into_iter()
            .filter(|(_, prices)| prices.len() > PRICE_PEERS)
            .filter_map(|((cat, cur), mut prices)| ranking::median(&mut prices).map(|m| ((cat.into(), cur.into()), m)))
            .collect();
        for c in candidates.iter_mut() {
            c.inputs.bm25 = c.bm25.map(|s| (s, best));
            c.inputs.peer_median_minor = medians.get(&(c.category.clone(), c.currency.clone())).copied();
            c.explained = Some(ranking::explain(ranking::features(&c.inputs), &signals.weights));
        }
    }

    fn hits(
        &self,
        searcher: &Searcher,
        page: &mut [Candidate],
        query: &dyn Query,
        has_words: bool,
        explain: bool,
    ) -> Result<Vec<Hit>, SearchError> {
        let f = self.fields;
        let generators = if has_words {
            let mut body = SnippetGenerator::create(searcher, query, f.body)?;
            body.set_max_num_chars(SNIPPET_CHARS);
            let mut title = SnippetGenerator::create(searcher, query, f.title)?;
            title.set_max_num_chars(SNIPPET_CHARS);
            Some((body, title))
        } else {
            None
        };
        let mut hits = Vec::with_capacity(page.len());
        for c in page.iter_mut() {
            let doc: TantivyDocument = searcher.doc(c.addr)?;
            let text = |field: Field| doc.get_first(field).and_then(|v| v.as_str()).unwrap_or_default().to_string();
            let (id, title, description) = (text(f.id), text(f.title), text(f.description));
            let snippet = match &generators {
                Some((body, title_gen)) => {
                    let s = body.snippet(&description);
                    if !s.highlighted().is_empty() {
                        s.to_html()
                    } else {
                        let t = title_gen.snippet(&title);
                        if t.highlighted().is_empty() {
                            escape_html(truncate_chars(&description, SNIPPET_CHARS))
                        } else {
                            t.to_html()
                        }
                    }
                }
                None => escape_html(truncate_chars(&description, SNIPPET_CHARS)),
            };
            let Some(currency) = Currency::from_code(&c.currency) else { continue };
            let explained =
                c.explained.unwrap_or_else(|| ranking::explain(ranking::features(&c.inputs), &Weights::default()));
            hits.push(Hit {
                id,
                title,
                image: Some(text(f.image)).filter(|s| !s.is_empty()),
                price: Money::new(c.inputs.price_minor, currency),
                in_stock: c.inputs.available >= c.inputs.moq.max(1),
                store: c.store.as_deref().cloned(),
                snippet,
                score: explained.score,
                explain: explain.then_some(explained),
            });
        }
        Ok(hits)
    }

    fn facets(&self, counts: FacetCounts, r: &Request) -> Facets {
        let parent = r.category.as_deref();
        let mut categories: HashMap<&'static str, u64> = HashMap::new();
        for (leaf, n) in &counts.categories {
            let Some(c) = Category::by_id(leaf) else { continue };
            if let Some(level) = c.lineage().find(|a| a.parent().map(|p| p.id) == parent) {
                *categories.entry(level.id).or_default() += n;
            }
        }
        let mut categories: Vec<CategoryCount> = categories
            .into_iter()
            .filter_map(|(id, count)| {
                Category::by_id(id).map(|c| CategoryCount {
                    id: c.id.into(),
                    name: c.name.into(),
                    name_zh: c.name_zh.into(),
                    count,
                })
            })
            .collect();
        categories.sort_by(|a, b| b.count.cmp(&a.count).then(a.id.cmp(&b.id)));
        let mut price: Vec<PriceBucket> = counts
            .prices
            .into_iter()
            .map(|((currency, b), count)| {
                let (from, to) = bucket_bounds(b);
                PriceBucket { currency, from, to, count }
            })
            .collect();
        price.sort_by(|a, b| a.currency.cmp(&b.currency).then(a.from.cmp(&b.from)));
        let mut country: HashMap<String, u64> = HashMap::new();
        let mut verification: HashMap<String, u64> = HashMap::new();
        for (store, n) in counts.stores {
            if let Some(s) = self.store(&store) {
                *country.entry(s.country.clone()).or_default() += n;
                *verification.entry(s.verification.clone()).or_default() += n;
            }
        }
        Facets { categories, price, seller_country: by_count(country), verification: by_count(verification) }
    }

    /// Completions of what a searcher is typing: categories whose name has a word starting
    /// with it, then product titles with every word and the last one as a prefix.
    pub fn suggest(&self, q: &str, limit: usize) -> Result<Vec<Suggestion>, SearchError> {
        let limit = limit.clamp(1, 20);
        let needle = q.trim().to_lowercase();
        if needle.is_empty() {
            return Ok(Vec::new());
        }
        let mut out: Vec<Suggestion> = Category::all()
            .iter()
            .filter(|c| {
                let name = c.name.to_lowercase();
                name.starts_with(&needle)
                    || name.split(|ch: char| !ch.is_alphanumeric()).any(|w| w.starts_with(&needle))
                    || c.name_zh.contains(q.trim())
            })
            .take(limit.div_ceil(3))
            .map(|c| Suggestion { kind: "category".into(), text: c.path(), id: c.id.into() })
            .collect();
        let mut words = text::query_words(q);
        let typing = !q.ends_with(|c: char| !c.is_alphanumeric());
        let last = if typing { words.pop() } else { None };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = words
            .iter()
            .filter_map(|w| self.words(w).ok())
            .flatten()
            .map(|w| (Occur::Must, self.word_query(&Word { fuzzy: Vec::new(), ..w })))
            .collect();
        if let Some(last) = last {
            let mut plain = self.plain_analyzer()?;
            let mut stemmed = self.index.tokenizer_for_field(self.fields.title)?;
            let prefixes: Vec<String> = [text::terms(&mut plain, last), text::terms(&mut stemmed, last)]
                .into_iter()
                .filter_map(|mut t| t.pop())
                .collect();
            let any: Vec<(Occur, Box<dyn Query>)> = prefixes
                .into_iter()
                .map(|p| {
                    let q: Box<dyn Query> =
                        Box::new(FuzzyTermQuery::new_prefix(Term::from_field_text(self.fields.title, &p), 0, false));
                    (Occur::Should, q)
                })
                .collect();
            if !any.is_empty() {
                clauses.push((Occur::Must, Box::new(BooleanQuery::new(any))));
            }
        }
        if clauses.is_empty() {
            return Ok(out);
        }
        let searcher = self.reader.searcher();
        let top = searcher.search(&BooleanQuery::new(clauses), &TopDocs::with_limit(limit * 4))?;
        let mut seen: Vec<String> = Vec::new();
        for (_, addr) in top {
            if out.len() >= limit {
                break;
            }
            let doc: TantivyDocument = searcher.doc(addr)?;
            let get = |f: Field| doc.get_first(f).and_then(|v| v.as_str()).unwrap_or_default().to_string();
            let title = get(self.fields.title);
            if seen.contains(&title.to_lowercase()) {
                continue;
            }
            seen.push(title.to_lowercase());
            out.push(Suggestion { kind: "product".into(), text: title, id: get(self.fields.id) });
        }
        Ok(out)
    }
}

fn score_of(c: &Candidate) -> f64 {
    c.explained.map(|e| e.score).unwrap_or(0.0)
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
