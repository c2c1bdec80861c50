//! Running searches. A query's words must all match (each word in the title, counted double, or
//! in the description, attributes and category names; words of five or more letters also match
//! with one typo); when nothing matches all of them, any word will do. Filters never add to the
//! score. BM25 then picks up to [`CANDIDATES`] products, which the domain's composite re-ranks.
//! Without words, the composite ranks every product that passes the filters.
//!
//! Facets count every match, not only the candidates.

use crate::collect::{
    bucket_bounds, key, Columns, FacetCounts, Gather, Gathered, Order, Signals, CATEGORY_KEYS, CURRENCY_KEYS,
};
use crate::text::{self, PLAIN_ANALYZER};
use crate::{ff, SearchError, SearchIndex, StoreInfo, MAX_LIMIT};
use serde::{Deserialize, Serialize};
use souk_domain::category::Category;
use souk_domain::ranking::{self, Explained, Inputs, Weights, PRICE_PEERS};
use souk_domain::Money;
use std::collections::HashMap;
use std::ops::Bound;
use std::sync::Arc;
use tantivy::columnar::ColumnValues;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, EmptyQuery, FuzzyTermQuery, Occur, Query, RangeQuery,
    TermQuery, TermSetQuery,
};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocAddress, Score, Searcher, SegmentOrdinal, TantivyDocument, Term};

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
    /// Computes the ranking afresh even when a cached one is current: for measuring.
    pub no_cache: bool,
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
    /// A category's path in Chinese (a product's title is in its seller's words).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_zh: Option<String>,
}

/// One word of a query: it matches when any of its terms does.
pub(crate) struct Word {
    pub(crate) terms: Vec<String>,
    /// Forms that match with one typo: the stemmed term and the unstemmed one, since a typo can
    /// change what the stemmer strips (`wireles` stems to `wirel`).
    pub(crate) fuzzy: Vec<String>,
}

/// A product on its way to the page.
#[derive(Clone)]
struct Candidate {
    addr: DocAddress,
    store: Option<Arc<StoreInfo>>,
    category: u64,
    currency: u64,
    inputs: Inputs,
    explained: Explained,
}

/// A ranked order's full result, shared by every page of it.
pub(crate) struct Ranking {
    candidates: Vec<Candidate>,
    total: usize,
    facets: Facets,
    matched_all_words: bool,
}

/// What a ranking depends on: the request, the index's state and the stores' signals.
#[derive(Clone, PartialEq)]
pub(crate) struct CacheKey {
    request: String,
    generation: u64,
    signals: u64,
}

/// The most recent rankings, so that paging, popular queries and browsing by category do not
/// recompute them until the index or the signals change.
#[derive(Default)]
pub(crate) struct RankingCache(std::sync::Mutex<std::collections::VecDeque<(CacheKey, Arc<Ranking>)>>);

const CACHED_RANKINGS: usize = 128;

impl RankingCache {
    fn get(&self, key: &CacheKey) -> Option<Arc<Ranking>> {
        let mut entries = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let i = entries.iter().position(|(k, _)| k == key)?;
        let entry = entries.remove(i)?;
        let found = entry.1.clone();
        entries.push_front(entry);
        Some(found)
    }

    fn put(&self, key: CacheKey, ranking: Arc<Ranking>) {
        let mut entries = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Entries of an older index state can never match again.
        entries.retain(|(k, _)| k.generation == key.generation && k.signals == key.signals);
        entries.push_front((key, ranking));
        entries.truncate(CACHED_RANKINGS);
    }
}

/// Everything of a request that decides its results, but the page.
fn search_key(r: &Request) -> String {
    format!(
        "{:?}|{:?}|{:?}|{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        r.q,
        r.category,
        r.ships_to,
        r.in_stock,
        r.currency,
        r.price_min,
        r.price_max,
        r.min_seller_rating,
        r.store,
        r.sort,
        r.weights
    )
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
    pub(crate) fn plain_analyzer(&self) -> Result<tantivy::tokenizer::TextAnalyzer, SearchError> {
        self.index.tokenizers().get(PLAIN_ANALYZER).ok_or_else(|| SearchError("the plain analyzer is missing".into()))
    }

    pub(crate) fn words(&self, q: &str) -> Result<Vec<Word>, SearchError> {
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

    pub(crate) fn word_query(&self, w: &Word) -> Box<dyn Query> {
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
            let stores = self.stores_snapshot();
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

    /// The version is read first: writers bump it after their change, so a snapshot is never
    /// older than the version it is filed under.
    fn signals(&self, weights: Weights) -> Arc<Signals> {
        Arc::new(Signals {
            version: self.signals_version(),
            stores: self.stores_snapshot(),
            conversion: *self.conversion.read().unwrap_or_else(|p| p.into_inner()),
            weights,
        })
    }

    /// The query for some words (all of them, or any) under the request's filters.
    fn query(&self, r: &Request, words: &[Word], all: bool) -> Box<dyn Query> {
        let mut clauses = self.filters(r);
        let text: Box<dyn Query> = if words.is_empty() {
            Box::new(AllQuery)
        } else {
            let occur = if all { Occur::Must } else { Occur::Should };
            Box::new(BooleanQuery::new(words.iter().map(|w| (occur, self.word_query(w))).collect()))
        };
        clauses.push((Occur::Must, text));
        Box::new(BooleanQuery::new(clauses))
    }

    pub fn search(&self, r: &Request) -> Result<Results, SearchError> {
        let searcher = self.reader.searcher();
        let limit = r.limit.clamp(1, MAX_LIMIT);
        let words = self.words(&r.q)?;
        let signals = self.signals(r.weights);
        let ranked = matches!(r.sort, Sort::Relevance | Sort::Rating);
        let offset = r.offset.min(if ranked { CANDIDATES } else { MAX_OFFSET });
        let (mut page, total, facets, matched_all_words) = if ranked {
            let cache_key = CacheKey {
                request: search_key(r),
                generation: searcher.generation().generation_id(),
                signals: signals.version,
            };
            let cached = if r.no_cache { None } else { self.cache.get(&cache_key) };
            let ranking = match cached {
                Some(c) => c,
                None => {
                    let c = Arc::new(self.rank(&searcher, r, &words, &signals)?);
                    if !r.no_cache {
                        self.cache.put(cache_key, c.clone());
                    }
                    c
                }
            };
            let page: Vec<Candidate> = ranking.candidates.iter().skip(offset).take(limit).cloned().collect();
            (page, ranking.total, ranking.facets.clone(), ranking.matched_all_words)
        } else {
            let order = match r.sort {
                Sort::Newest => Order::Newest,
                Sort::PriceAsc => Order::PriceAsc,
                _ => Order::PriceDesc,
            };
            let (g, all_words) = self.gather(&searcher, r, &words, order, offset + limit, &signals)?;
            let (total, counts) = (g.total, g.facets);
            let addrs: Vec<DocAddress> = g.top.into_iter().skip(offset).map(|(_, a)| a).collect();
            let page = self.candidates(&searcher, &signals, addrs.into_iter().map(|a| (None, a)).collect())?;
            (page, total, self.facets(counts, &signals, r), all_words)
        };
        let reachable = if ranked { total.min(CANDIDATES) } else { total.min(MAX_OFFSET) };
        let next_offset = Some(offset + page.len()).filter(|n| *n < reachable && !page.is_empty());
        let query = self.query(r, &words, matched_all_words);
        let hits = self.hits(&searcher, &mut page, &*query, !words.is_empty(), r.explain)?;
        Ok(Results { hits, total, next_offset, matched_all_words, facets })
    }

    /// Every match of all the words, or of any word when no product has all of them.
    fn gather(
        &self,
        searcher: &Searcher,
        r: &Request,
        words: &[Word],
        order: Order,
        k: usize,
        signals: &Arc<Signals>,
    ) -> Result<(Gathered, bool), SearchError> {
        let cache = (!r.no_cache).then(|| (&self.segment_cache, format!("{}|{k}", search_key(r))));
        let gather = Gather { order, k, signals: signals.clone(), cache };
        let all = searcher.search(&*self.query(r, words, true), &gather)?;
        if all.total > 0 || words.len() < 2 {
            return Ok((all, true));
        }
        Ok((searcher.search(&*self.query(r, words, false), &gather)?, false))
    }

    /// The ranked orders: candidates by BM25 (or, without words, by the composite over every
    /// match), re-ranked by the composite; facets over every match.
    fn rank(
        &self,
        searcher: &Searcher,
        r: &Request,
        words: &[Word],
        signals: &Arc<Signals>,
    ) -> Result<Ranking, SearchError> {
        let order = if words.is_empty() { Order::Composite(r.sort) } else { Order::Bm25 };
        let (g, matched_all_words) = self.gather(searcher, r, words, order, CANDIDATES, signals)?;
        let (total, counts) = (g.total, g.facets);
        let scored: Vec<(Option<f32>, DocAddress)> =
            g.top.into_iter().map(|(k, a)| ((order == Order::Bm25).then_some(k.0 as f32), a)).collect();
        let mut candidates = self.candidates(searcher, signals, scored)?;
        candidates.sort_by(|a, b| key(r.sort, &b.explained).cmp(&key(r.sort, &a.explained)).then(a.addr.cmp(&b.addr)));
        Ok(Ranking { candidates, total, facets: self.facets(counts, signals, r), matched_all_words })
    }

    /// Reads the candidates' signals and scores them against each other: text relevance
    /// relative to the best candidate, prices against the median of their category peers.
    fn candidates(
        &self,
        searcher: &Searcher,
        signals: &Signals,
        scored: Vec<(Option<f32>, DocAddress)>,
    ) -> Result<Vec<Candidate>, SearchError> {
        let mut columns: HashMap<SegmentOrdinal, Columns> = HashMap::new();
        let mut out = Vec::with_capacity(scored.len());
        let best = scored.iter().filter_map(|(s, _)| *s).fold(0.0f32, f32::max);
        for (bm25, addr) in scored {
            let cols = match columns.entry(addr.segment_ord) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(Columns::open(searcher.segment_reader(addr.segment_ord))?)
                }
            };
            let doc = addr.doc_id;
            let mut inputs = signals.inputs(cols, doc);
            inputs.bm25 = bm25.map(|s| (s, best));
            out.push(Candidate {
                addr,
                store: signals.stores.get(&cols.store.get_val(doc)).cloned(),
                category: cols.category.get_val(doc),
                currency: cols.currency.get_val(doc),
                inputs,
                explained: ranking::explain(Default::default(), &signals.weights),
            });
        }
        let mut peers: HashMap<(u64, u64), Vec<i64>> = HashMap::new();
        for c in out.iter().filter(|c| CATEGORY_KEYS.contains_key(&c.category)) {
            peers.entry((c.category, c.currency)).or_default().push(c.inputs.price_minor);
        }
        let medians: HashMap<(u64, u64), i64> = peers
            .into_iter()
            .filter(|(_, prices)| prices.len() > PRICE_PEERS)
            .filter_map(|(k, mut prices)| ranking::median(&mut prices).map(|m| (k, m)))
            .collect();
        for c in out.iter_mut() {
            c.inputs.peer_median_minor = medians.get(&(c.category, c.currency)).copied();
            c.explained = ranking::explain(ranking::features(&c.inputs), &signals.weights);
        }
        Ok(out)
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
            let Some(currency) = CURRENCY_KEYS.get(&c.currency).copied() else { continue };
            let explained = c.explained;
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

    fn facets(&self, counts: FacetCounts, signals: &Signals, r: &Request) -> Facets {
        let parent = r.category.as_deref();
        let mut categories: HashMap<&'static str, u64> = HashMap::new();
        for (leaf, n) in &counts.categories {
            let Some(c) = CATEGORY_KEYS.get(leaf).and_then(|id| Category::by_id(id)) else { continue };
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
        let mut price: Vec<PriceBucket> = Vec::new();
        for (currency, buckets) in &counts.prices {
            let Some(currency) = CURRENCY_KEYS.get(currency) else { continue };
            for (b, count) in buckets.iter().enumerate().filter(|(_, n)| **n > 0) {
                let (from, to) = bucket_bounds(b);
                price.push(PriceBucket { currency: currency.code().into(), from, to, count: *count });
            }
        }
        price.sort_by(|a, b| a.currency.cmp(&b.currency).then(a.from.cmp(&b.from)));
        let mut country: HashMap<String, u64> = HashMap::new();
        let mut verification: HashMap<String, u64> = HashMap::new();
        for (store, n) in counts.stores {
            if let Some(s) = signals.stores.get(&store) {
                *country.entry(s.country.clone()).or_default() += n;
                *verification.entry(s.verification.clone()).or_default() += n;
            }
        }
        Facets { categories, price, seller_country: by_count(country), verification: by_count(verification) }
    }
}
