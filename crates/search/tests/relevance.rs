//! Relevance, filters, facets and suggestions on a small fixed corpus.

use souk_domain::catalog::{CategoryRef, Product, ProductStatus, Sku};
use souk_domain::category::Category;
use souk_domain::time::{parse_rfc3339, Timestamp};
use souk_domain::{Currency, Money};
use souk_search::query::Request;
use souk_search::{IndexDoc, SearchIndex, Sort, StoreInfo};

struct P {
    id: &'static str,
    store: &'static str,
    title: &'static str,
    description: &'static str,
    category: &'static str,
    price: i64,
    currency: &'static str,
    stock: i64,
    ships_to: &'static [&'static str],
    created: &'static str,
}

const BASE: P = P {
    id: "",
    store: "sto_a",
    title: "",
    description: "A good product.",
    category: "home/kitchen",
    price: 1000,
    currency: "USD",
    stock: 10,
    ships_to: &["*"],
    created: "2026-01-01T00:00:00.000Z",
};

fn product(p: &P) -> IndexDoc {
    let category = Category::by_id(p.category).unwrap();
    IndexDoc {
        product: Product {
            id: p.id.into(),
            store_id: p.store.into(),
            title: p.title.into(),
            description: p.description.into(),
            category: Some(CategoryRef::from(category)),
            attributes: Default::default(),
            images: vec![format!("https://img.example/{}.jpg", p.id)],
            ships_to: p.ships_to.iter().map(|s| s.to_string()).collect(),
            moq: 1,
            status: ProductStatus::Active,
            currency: p.currency.into(),
            skus: vec![Sku {
                id: format!("sku_{}", p.id),
                sku: None,
                options: Default::default(),
                price: Money::new(p.price, Currency::from_code(p.currency).unwrap()),
                price_tiers: vec![],
                stock: p.stock,
            }],
            created_at: Timestamp(parse_rfc3339(p.created).unwrap()),
            updated_at: Timestamp(parse_rfc3339(p.created).unwrap()),
        },
        views: 0,
        purchases: 0,
    }
}

fn store(id: &str, country: &str, verification: &str, trust: Option<f64>) -> StoreInfo {
    StoreInfo {
        id: id.into(),
        name: format!("Store {id}"),
        slug: id.replace('_', "-"),
        country: country.into(),
        verification: verification.into(),
        trust_score: trust,
        delivery_days: None,
    }
}

fn corpus() -> Vec<IndexDoc> {
    [
        P { id: "p_board", title: "Bamboo cutting board", price: 1500, ..BASE },
        P {
            id: "p_board_oil",
            title: "Mineral oil for bamboo cutting board care, cutting board conditioner",
            price: 900,
            ..BASE
        },
        P {
            id: "p_dress",
            title: "2024新款夏季碎花连衣裙女",
            category: "fashion/womens-clothing",
            currency: "CNY",
            price: 12_900,
            store: "sto_b",
            ships_to: &["CN", "HK"],
            ..BASE
        },
        P {
            id: "p_case",
            title: "iPhone 15 透明手机壳",
            category: "electronics/phone-accessories",
            store: "sto_b",
            price: 2_000,
            ..BASE
        },
        P {
            id: "p_phones_a",
            title: "Wireless Headphones",
            category: "electronics/audio",
            store: "sto_a",
            price: 5_000,
            ..BASE
        },
        P {
            id: "p_phones_b",
            title: "Wireless Headphones",
            category: "electronics/audio",
            store: "sto_c",
            price: 5_000,
            ..BASE
        },
        P {
            id: "p_table",
            title: "Café table",
            category: "home/furniture",
            stock: 0,
            ships_to: &["DE", "FR"],
            created: "2026-06-01T00:00:00.000Z",
            ..BASE
        },
        P { id: "p_mug", title: "Stoneware mug", price: 700, created: "2026-03-01T00:00:00.000Z", ..BASE },
    ]
    .iter()
    .map(product)
    .collect()
}

fn open() -> (tempfile::TempDir, SearchIndex) {
    let dir = tempfile::tempdir().unwrap();
    let (index, fresh) = SearchIndex::open(&dir.path().join("index")).unwrap();
    assert!(fresh);
    index.set_stores(vec![
        store("sto_a", "US", "identity", Some(90.0)),
        store("sto_b", "CN", "email", None),
        store("sto_c", "DE", "none", Some(20.0)),
    ]);
    index.apply(&corpus(), &[], Some(7)).unwrap();
    (dir, index)
}

fn ask(q: &str) -> Request {
    Request { q: q.into(), limit: 20, ..Default::default() }
}

fn ids(index: &SearchIndex, r: &Request) -> Vec<String> {
    index.search(r).unwrap().hits.into_iter().map(|h| h.id).collect()
}

#[test]
fn the_exact_title_ranks_first() {
    let (_d, index) = open();
    let found = ids(&index, &ask("bamboo cutting board"));
    assert_eq!(found.first().map(String::as_str), Some("p_board"), "{found:?}");
    assert!(found.contains(&"p_board_oil".to_string()));
}

#[test]
fn a_trusted_seller_outranks_an_equally_relevant_untrusted_one() {
    let (_d, index) = open();
    let found = ids(&index, &ask("wireless headphones"));
    assert_eq!(found, vec!["p_phones_a", "p_phones_b"]);
    // Trust moves the ranking at once, without re-indexing the products.
    index.upsert_stores(vec![store("sto_c", "DE", "none", Some(99.0)), store("sto_a", "US", "identity", Some(10.0))]);
    assert_eq!(ids(&index, &ask("wireless headphones")), vec!["p_phones_b", "p_phones_a"]);
}

#[test]
fn chinese_mixed_language_accents_and_typos_find_their_products() {
    let (_d, index) = open();
    assert_eq!(ids(&index, &ask("连衣裙")), vec!["p_dress"]);
    assert_eq!(ids(&index, &ask("碎花 连衣裙")), vec!["p_dress"]);
    assert_eq!(ids(&index, &ask("iphone 手机壳")), vec!["p_case"]);
    assert_eq!(ids(&index, &ask("IPHONE")), vec!["p_case"]);
    assert_eq!(ids(&index, &ask("cafe")), vec!["p_table"]);
    assert_eq!(ids(&index, &ask("CAFÉ tables")), vec!["p_table"], "stemmed and folded");
    assert_eq!(ids(&index, &ask("headphnes")).len(), 2, "one typo in a long word");
    assert_eq!(ids(&index, &ask("wireles")).len(), 2);
    assert!(ids(&index, &ask("mgu")).is_empty(), "short words must be exact");
    let r = index.search(&ask("title:\"+( AND OR -*")).unwrap();
    assert_eq!(r.total, 0, "query syntax is plain text");
}

#[test]
fn when_no_product_has_every_word_any_word_will_do() {
    let (_d, index) = open();
    let r = index.search(&ask("stoneware unicorn")).unwrap();
    assert!(!r.matched_all_words);
    assert_eq!(r.hits[0].id, "p_mug");
    assert!(index.search(&ask("stoneware mug")).unwrap().matched_all_words);
}

#[test]
fn filters_never_leak() {
    let (_d, index) = open();
    let all = |r: Request| index.search(&r).unwrap();
    let de = all(Request { ships_to: Some("DE".into()), ..ask("") });
    assert!(!de.hits.iter().any(|h| h.id == "p_dress"), "the dress ships to CN and HK only");
    assert_eq!(de.total, 7);
    let cn = all(Request { ships_to: Some("CN".into()), ..ask("") });
    assert!(!cn.hits.iter().any(|h| h.id == "p_table"));
    let stocked = all(Request { in_stock: true, ..ask("") });
    assert!(stocked.hits.iter().all(|h| h.in_stock && h.id != "p_table"));
    assert_eq!(stocked.total, 7);
    let kitchen = all(Request { category: Some("home".into()), ..ask("") });
    assert_eq!(kitchen.total, 4, "a category includes its subcategories");
    let cheap = all(Request { currency: Some("USD".into()), price_max: Some(1000), ..ask("") });
    let mut cheap_ids: Vec<String> = cheap.hits.into_iter().map(|h| h.id).collect();
    cheap_ids.sort();
    assert_eq!(cheap_ids, vec!["p_board_oil", "p_mug", "p_table"]);
    let range = all(Request { currency: Some("USD".into()), price_min: Some(1500), price_max: Some(2000), ..ask("") });
    assert_eq!(range.total, 2);
    let store_b = all(Request { store: Some("sto_b".into()), ..ask("") });
    assert_eq!(store_b.total, 2);
    let trusted = all(Request { min_seller_rating: Some(60.0), ..ask("") });
    assert!(trusted.hits.iter().all(|h| h.store.as_ref().unwrap().id == "sto_a"));
    let neutral = all(Request { min_seller_rating: Some(50.0), ..ask("") });
    assert_eq!(neutral.total, 7, "unscored stores count as the neutral prior");
    assert_eq!(all(Request { min_seller_rating: Some(100.0), ..ask("") }).total, 0);
}

#[test]
fn facets_count_every_match() {
    let (_d, index) = open();
    let r = index.search(&ask("")).unwrap();
    let f = &r.facets;
    let cat = |id: &str| f.categories.iter().find(|c| c.id == id).map(|c| c.count);
    assert_eq!((cat("home"), cat("electronics"), cat("fashion")), (Some(4), Some(3), Some(1)));
    let within = index.search(&Request { category: Some("electronics".into()), ..ask("") }).unwrap();
    let sub: Vec<(String, u64)> = within.facets.categories.iter().map(|c| (c.id.clone(), c.count)).collect();
    assert_eq!(sub, vec![("electronics/audio".to_string(), 2), ("electronics/phone-accessories".to_string(), 1)]);
    let country = |c: &str| f.seller_country.iter().find(|v| v.value == c).map(|v| v.count);
    assert_eq!((country("US"), country("CN"), country("DE")), (Some(5), Some(2), Some(1)));
    let verified = f.verification.iter().find(|v| v.value == "identity").map(|v| v.count);
    assert_eq!(verified, Some(5));
    let usd: u64 = f.price.iter().filter(|b| b.currency == "USD").map(|b| b.count).sum();
    assert_eq!(usd, 7);
    assert!(f.price.iter().any(|b| b.currency == "CNY" && b.from == 10_000 && b.to == 20_000 && b.count == 1));
}

#[test]
fn sorts_and_pages() {
    let (_d, index) = open();
    let usd = |sort: Sort| Request { sort, currency: Some("USD".into()), ..ask("") };
    let prices: Vec<i64> = index.search(&usd(Sort::PriceAsc)).unwrap().hits.iter().map(|h| h.price.amount).collect();
    assert!(prices.windows(2).all(|w| w[0] <= w[1]), "{prices:?}");
    let prices: Vec<i64> = index.search(&usd(Sort::PriceDesc)).unwrap().hits.iter().map(|h| h.price.amount).collect();
    assert!(prices.windows(2).all(|w| w[0] >= w[1]), "{prices:?}");
    assert_eq!(ids(&index, &usd(Sort::Newest))[..2], ["p_table".to_string(), "p_mug".to_string()]);
    let by_rating = ids(&index, &Request { sort: Sort::Rating, ..ask("headphones") });
    assert_eq!(by_rating, vec!["p_phones_a", "p_phones_b"]);
    for sort in [Sort::Relevance, Sort::PriceAsc, Sort::Newest] {
        let mut seen = Vec::new();
        let mut offset = 0;
        loop {
            let r = index.search(&Request { sort, offset, limit: 3, ..ask("") }).unwrap();
            seen.extend(r.hits.into_iter().map(|h| h.id));
            match r.next_offset {
                Some(n) => offset = n,
                None => break,
            }
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!((seen.len(), unique.len()), (8, 8), "{sort:?}: every product once");
    }
}

#[test]
fn an_empty_query_ranks_by_the_signals_and_explains() {
    let (_d, index) = open();
    let r = index.search(&Request { explain: true, ..ask("") }).unwrap();
    assert_eq!(r.total, 8);
    let same_store: Vec<&str> =
        r.hits.iter().filter(|h| h.store.as_ref().unwrap().id == "sto_a").map(|h| h.id.as_str()).collect();
    assert_eq!(same_store.last(), Some(&"p_table"), "out of stock ranks below its store's stocked products");
    let e = r.hits[0].explain.unwrap();
    assert_eq!(e.features.text, 0.5, "no query is neutral text relevance");
    assert!((e.score - r.hits[0].score).abs() < 1e-12);
    let snippet = &index.search(&ask("mineral")).unwrap().hits[0].snippet;
    assert!(snippet.contains("<b>Mineral</b>"), "{snippet}");
}

#[test]
fn snippets_escape_html() {
    let (_d, index) = open();
    let p = P { id: "p_xss", title: "<script>alert(1)</script> lamp", description: "<b>bold</b> lamp", ..BASE };
    index.apply(&[product(&p)], &[], None).unwrap();
    let hit = index.search(&ask("lamp")).unwrap().hits.remove(0);
    assert_eq!(hit.title, "<script>alert(1)</script> lamp", "titles are data; pages escape them");
    assert!(hit.snippet.contains("&lt;b&gt;bold&lt;/b&gt;") && hit.snippet.contains("<b>lamp</b>"), "{}", hit.snippet);
}

#[test]
fn edits_and_deletes_apply_and_the_position_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    {
        let (index, _) = SearchIndex::open(&path).unwrap();
        index.apply(&corpus(), &[], Some(3)).unwrap();
        let mut mug = product(&P { id: "p_mug", title: "Porcelain teacup", ..BASE });
        index.apply(std::slice::from_ref(&mug), &["p_board".into()], Some(9)).unwrap();
        assert!(ids(&index, &ask("stoneware")).is_empty());
        assert_eq!(ids(&index, &ask("teacup")), vec!["p_mug"]);
        assert!(!ids(&index, &ask("bamboo")).contains(&"p_board".to_string()));
        mug.product.status = ProductStatus::Archived;
        index.apply(&[mug], &[], Some(10)).unwrap();
        assert!(ids(&index, &ask("teacup")).is_empty(), "archived products leave search");
    }
    let (index, fresh) = SearchIndex::open(&path).unwrap();
    assert!(!fresh);
    assert_eq!(index.position(), Some(10));
    assert_eq!(index.num_docs(), 6);
}

/// Searches without text reuse per-segment results; every change must still show at once.
#[test]
fn reused_results_follow_edits_deletes_and_trust() {
    let (_d, index) = open();
    let browse = |sort: Sort| Request { sort, ..ask("") };
    let before = index.search(&browse(Sort::Newest)).unwrap();
    assert_eq!(before.total, 8);
    index.search(&browse(Sort::Relevance)).unwrap();
    let lamp = P { id: "p_new", title: "Newest lamp", created: "2027-01-01T00:00:00.000Z", ..BASE };
    index.apply(&[product(&lamp)], &["p_board".into()], None).unwrap();
    let after = index.search(&browse(Sort::Newest)).unwrap();
    assert_eq!(after.total, 8, "one added, one deleted");
    assert_eq!(after.hits[0].id, "p_new");
    assert!(!ids(&index, &browse(Sort::Relevance)).contains(&"p_board".to_string()));
    let facet_total: u64 = after.facets.categories.iter().map(|c| c.count).sum();
    assert_eq!(facet_total, 8);

    let rating = browse(Sort::Rating);
    assert_eq!(index.search(&rating).unwrap().hits[0].store.as_ref().unwrap().id, "sto_a");
    index.upsert_stores(vec![store("sto_c", "DE", "none", Some(99.0))]);
    assert_eq!(index.search(&rating).unwrap().hits[0].store.as_ref().unwrap().id, "sto_c", "trust applies at once");
}

#[test]
fn suggestions_complete_categories_and_titles() {
    let (_d, index) = open();
    let s = index.suggest("head", 8).unwrap();
    assert!(s.iter().any(|s| s.kind == "product" && s.text == "Wireless Headphones"), "{s:?}");
    assert_eq!(s.iter().filter(|s| s.text == "Wireless Headphones").count(), 1, "titles are not repeated");
    let s = index.suggest("pho", 8).unwrap();
    assert!(s.iter().any(|s| s.kind == "category" && s.id == "electronics/phones"), "{s:?}");
    let s = index.suggest("连衣", 8).unwrap();
    assert!(s.iter().any(|s| s.id == "p_dress"), "{s:?}");
    let s = index.suggest("wireless hea", 8).unwrap();
    assert!(s.iter().any(|s| s.text == "Wireless Headphones"), "{s:?}");
    assert!(index.suggest("  ", 8).unwrap().is_empty());
    assert!(index.suggest("\"(*", 8).is_ok());
}
