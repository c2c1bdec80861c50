//! Flash sales: a promotion's rules and countdown, and the decision the order engine takes for
//! a batch of buy requests against in-memory state (promotion stock, the SKU's stock, each
//! buyer's purchases under the limit, wallet balances). Deciding a request changes that state,
//! so the requests of one batch see each other exactly as if they had run one after another.

use crate::time::DAY_MS;
use crate::{Invalid, Money};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The longest a flash sale may run.
pub const MAX_DURATION_MS: i64 = 7 * DAY_MS;
/// How far back a promotion may say it starts: "now" as a client's clock sees it.
const START_SLACK_MS: i64 = 60_000;

/// A promotion's terms as a seller schedules them; [`check`] holds them to the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromotionDraft {
    pub sku_id: String,
    pub starts_ms: i64,
    pub ends_ms: i64,
    pub price: Money,
    /// Units sold at the promotion price; at most the SKU's stock when scheduled.
    pub stock: i64,
    pub per_buyer_limit: i64,
}

/// Checks a promotion's terms against the SKU it discounts (`base` price, `available` units).
pub fn check(t: &PromotionDraft, base: Money, available: i64, now_ms: i64) -> Result<(), Invalid> {
    if t.starts_ms < now_ms - START_SLACK_MS {
        return Err(Invalid::new("invalid", "starts_at", "now or later"));
    }
    if t.ends_ms <= t.starts_ms || t.ends_ms - t.starts_ms > MAX_DURATION_MS {
        return Err(Invalid::new("invalid", "ends_at", "after the start, and at most 7 days later"));
    }
    if t.price.currency != base.currency {
        return Err(Invalid::new("currency_mismatch", "price.currency", format!("the SKU sells in {}", base.currency)));
    }
    if t.price.amount <= 0 || t.price.amount >= base.amount {
        return Err(Invalid::new("invalid", "price.amount", format!("above 0 and below the SKU's price of {base}")));
    }
    if t.stock < 1 || t.stock > available {
        return Err(Invalid::new("invalid", "stock", format!("1 to the {available} units available")));
    }
    if t.per_buyer_limit < 1 || t.per_buyer_limit > t.stock {
        return Err(Invalid::new("invalid", "per_buyer_limit", "1 to the promotion's stock"));
    }
    Ok(())
}

/// Where a promotion stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Scheduled,
    Live,
    SoldOut,
    Ended,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Scheduled => "scheduled",
            Phase::Live => "live",
            Phase::SoldOut => "sold_out",
            Phase::Ended => "ended",
        }
    }
}

/// The phase at `now_ms`, and the milliseconds until the next change of phase by the clock
/// (the start, or the end), if one is coming.
pub fn phase(starts_ms: i64, ends_ms: i64, stock: i64, sold: i64, now_ms: i64) -> (Phase, Option<i64>) {
    if now_ms >= ends_ms {
        (Phase::Ended, None)
    } else if sold >= stock {
        (Phase::SoldOut, None)
    } else if now_ms < starts_ms {
        (Phase::Scheduled, Some(starts_ms - now_ms))
    } else {
        (Phase::Live, Some(ends_ms - now_ms))
    }
}

/// A map keyed by ids, hashed with FxHash (a multiply and a rotate per 8 bytes) rather than
/// SipHash: the engine looks up every request's buyer and promotion several times, and
/// SipHash's keyed rounds were a tenth of its time. Only ids the server issued and the store
/// holds (promotions, buyers of this engine's sales) become keys, so no one can choose keys that
/// collide.
pub type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// FxHash, as in rustc.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl IdHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]));
        }
        let mut tail = [0u8; 8];
        let rest = chunks.remainder();
        tail[..rest.len()].copy_from_slice(rest);
        self.add(u64::from_le_bytes(tail) ^ rest.len() as u64);
    }

    fn write_u8(&mut self, n: u8) {
        self.add(n as u64);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// One promotion as the engine holds it for a batch.
#[derive(Debug, Clone)]
pub struct PromoBook {
    pub sku_id: String,
    pub price: Money,
    pub starts_ms: i64,
    pub ends_ms: i64,
    /// Promotion units left.
    pub left: i64,
    /// The SKU's units that can still be bought (on hand minus reserved).
    pub available: i64,
    pub per_buyer_limit: i64,
    pub ships_to: crate::geo::ShipsTo,
    /// Units each buyer has bought in this promotion.
    pub bought: IdMap<String, i64>,
}

/// What a batch is decided against: its promotions and its buyers' wallets (in minor units of
/// each promotion's currency, keyed by buyer and currency code).
#[derive(Debug, Clone, Default)]
pub struct Book {
    pub promotions: IdMap<String, PromoBook>,
    pub wallets: IdMap<(String, &'static str), i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuyRequest {
    pub buyer_id: String,
    pub promotion_id: String,
    pub quantity: i64,
    /// Where it ships: a country the product ships to.
    pub country: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    UnknownPromotion,
    InvalidQuantity,
    DoesNotShip,
    NotStarted,
    Ended,
    SoldOut,
    /// The buyer may buy only this many more.
    LimitReached {
        left: i64,
    },
    /// The wallet is short by this many minor units.
    InsufficientFunds {
        missing: i64,
    },
}

impl Rejection {
    pub fn code(self) -> &'static str {
        match self {
            Rejection::UnknownPromotion => "not_found",
            Rejection::InvalidQuantity => "invalid",
            Rejection::DoesNotShip => "does_not_ship",
            Rejection::NotStarted => "promotion_not_started",
            Rejection::Ended => "promotion_ended",
            Rejection::SoldOut => "sold_out",
            Rejection::LimitReached { .. } => "limit_reached",
            Rejection::InsufficientFunds { .. } => "insufficient_funds",
        }
    }
}

/// An accepted request: what the order is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    pub unit_price: Money,
    pub total: Money,
}

/// The most units one request may buy.
pub const MAX_QUANTITY: i64 = 100;

/// Decides one request against `book` at `now_ms`, taking what it buys out of the book.
pub fn decide(book: &mut Book, req: &BuyRequest, now_ms: i64) -> Result<Accepted, Rejection> {
    if req.quantity < 1 || req.quantity > MAX_QUANTITY {
        return Err(Rejection::InvalidQuantity);
    }
    let promo = book.promotions.get_mut(&req.promotion_id).ok_or(Rejection::UnknownPromotion)?;
    if !promo.ships_to.ships_to(&req.country) {
        return Err(Rejection::DoesNotShip);
    }
    if now_ms < promo.starts_ms {
        return Err(Rejection::NotStarted);
    }
    if now_ms >= promo.ends_ms {
        return Err(Rejection::Ended);
    }
    if promo.left < req.quantity || promo.available < req.quantity {
        return Err(Rejection::SoldOut);
    }
    let bought = promo.bought.get(&req.buyer_id).copied().unwrap_or(0);
    if bought + req.quantity > promo.per_buyer_limit {
        return Err(Rejection::LimitReached { left: (promo.per_buyer_limit - bought).max(0) });
    }
    let total = promo.price.amount.checked_mul(req.quantity).ok_or(Rejection::InvalidQuantity)?;
    let wallet = book.wallets.entry((req.buyer_id.clone(), promo.price.currency.code())).or_insert(0);
    if *wallet < total {
        return Err(Rejection::InsufficientFunds { missing: total - *wallet });
    }
    *wallet -= total;
    promo.left -= req.quantity;
    promo.available -= req.quantity;
    match promo.bought.get_mut(&req.buyer_id) {
        Some(n) => *n += req.quantity,
        None => {
            promo.bought.insert(req.buyer_id.clone(), req.quantity);
        }
    }
    Ok(Accepted { unit_price: promo.price, total: Money::new(total, promo.price.currency) })
}

/// Which of several server processes decides a promotion's buys: `index` of `count`. Each
/// process runs its own batching engine, so a hot promotion must have one owner to batch well;
/// a promotion's id hashes to its owner (FNV-1a, stable across builds and machines). A SKU has
/// at most one promotion at a time, so during a sale each hot SKU has one owner too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Reads `I/N`, e.g. `0/4`.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("flash shard '{s}': expected I/N with 0 <= I < N <= 1024, e.g. 0/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if count == 0 || count > 1024 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The shard that owns `promotion_id` among `count`.
    pub fn owner(promotion_id: &str, count: u32) -> u32 {
        let hash =
            promotion_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
        (hash % count.max(1) as u64) as u32
    }

    pub fn owns(&self, promotion_id: &str) -> bool {
        Shard::owner(promotion_id, self.count) == self.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;
    use proptest::prelude::*;

    fn cny(amount: i64) -> Money {
        Money::new(amount, Currency::from_code("CNY").unwrap())
    }

    #[test]
    fn drafts_check_window_price_stock_and_limit() {
        let ok = |starts_ms, ends_ms, price, stock, per_buyer_limit| {
            let t =
                PromotionDraft { sku_id: "sku".into(), starts_ms, ends_ms, price: cny(price), stock, per_buyer_limit };
            check(&t, cny(1000), 50, 0)
        };
        assert!(ok(0, DAY_MS, 500, 50, 2).is_ok());
        assert_eq!(ok(-120_000, DAY_MS, 500, 10, 2).unwrap_err().field.as_deref(), Some("starts_at"));
        assert_eq!(ok(0, 8 * DAY_MS, 500, 10, 2).unwrap_err().field.as_deref(), Some("ends_at"));
        assert_eq!(ok(0, DAY_MS, 1000, 10, 2).unwrap_err().field.as_deref(), Some("price.amount"));
        assert_eq!(ok(0, DAY_MS, 500, 51, 2).unwrap_err().field.as_deref(), Some("stock"));
        assert_eq!(ok(0, DAY_MS, 500, 10, 11).unwrap_err().field.as_deref(), Some("per_buyer_limit"));
    }

    #[test]
    fn phases_follow_the_clock_and_the_stock() {
        assert_eq!(phase(10, 20, 5, 0, 0), (Phase::Scheduled, Some(10)));
        assert_eq!(phase(10, 20, 5, 0, 12), (Phase::Live, Some(8)));
        assert_eq!(phase(10, 20, 5, 5, 12), (Phase::SoldOut, None));
        assert_eq!(phase(10, 20, 5, 0, 20), (Phase::Ended, None));
    }

    fn book(left: i64, available: i64, limit: i64, wallets: &[(usize, i64)]) -> Book {
        let promo = PromoBook {
            sku_id: "sku".into(),
            price: cny(300),
            starts_ms: 0,
            ends_ms: 100,
            left,
            available,
            per_buyer_limit: limit,
            ships_to: crate::geo::ShipsTo::parse("*", "ships_to").unwrap(),
            bought: IdMap::default(),
        };
        Book {
            promotions: IdMap::from_iter([("p".to_string(), promo)]),
            wallets: wallets.iter().map(|(b, w)| ((format!("b{b}"), "CNY"), *w)).collect(),
        }
    }

    #[test]
    fn the_id_hasher_tells_ids_apart() {
        let hash = |s: &str| {
            let mut h = IdHasher::default();
            h.write(s.as_bytes());
            h.finish()
        };
        // Ids share long prefixes and differ in their last characters or length.
        let ids: Vec<String> = (0..10_000).map(|i| format!("usr_01JD8Z3K{i:012}")).collect();
        let distinct: std::collections::HashSet<u64> = ids.iter().map(|s| hash(s)).collect();
        assert_eq!(distinct.len(), ids.len());
        assert_ne!(hash("ab"), hash("ab\0"), "trailing zero bytes count");
        assert_ne!(hash(""), hash("\0"));
        let map: IdMap<String, usize> = ids.iter().cloned().zip(0..).collect();
        assert!(ids.iter().enumerate().all(|(i, id)| map.get(id) == Some(&i)));
    }

    fn req(buyer: usize, quantity: i64) -> BuyRequest {
        BuyRequest { buyer_id: format!("b{buyer}"), promotion_id: "p".into(), quantity, country: "DE".into() }
    }

    #[test]
    fn requests_are_refused_for_the_right_reason() {
        let mut b = book(3, 10, 2, &[(0, 10_000), (1, 10_000), (2, 100)]);
        assert_eq!(decide(&mut b, &req(0, 2), 5), Ok(Accepted { unit_price: cny(300), total: cny(600) }));
        assert_eq!(decide(&mut b, &req(0, 1), 5), Err(Rejection::LimitReached { left: 0 }));
        assert_eq!(decide(&mut b, &req(2, 1), 5), Err(Rejection::InsufficientFunds { missing: 200 }));
        assert_eq!(decide(&mut b, &req(1, 2), 5), Err(Rejection::SoldOut), "one promotion unit left");
        assert_eq!(decide(&mut b, &req(1, 1), 200), Err(Rejection::Ended));
        assert_eq!(decide(&mut b, &req(1, 0), 5), Err(Rejection::InvalidQuantity));
        assert!(decide(&mut b, &req(1, 1), 5).is_ok());
        assert_eq!(b.wallets[&("b0".to_string(), "CNY")], 9_400);
    }

    proptest! {
        /// Whatever the order of requests: no promotion or SKU sells more than it has, no buyer
        /// passes the limit, no wallet goes negative, and what buyers paid is what was sold.
        #[test]
        fn batches_never_oversell_or_overspend(
            left in 0i64..40,
            available in 0i64..40,
            limit in 1i64..5,
            wallets in proptest::collection::vec(0i64..5_000, 1..12),
            reqs in proptest::collection::vec((0usize..12, 1i64..4), 0..120),
        ) {
            let funded: Vec<(usize, i64)> = wallets.iter().copied().enumerate().collect();
            let mut b = book(left, available, limit, &funded);
            let before: i64 = b.wallets.values().sum();
            let mut sold = 0;
            let mut paid = 0;
            for (buyer, q) in reqs {
                if let Ok(a) = decide(&mut b, &req(buyer % wallets.len(), q), 50) {
                    sold += q;
                    paid += a.total.amount;
                }
            }
            let p = &b.promotions["p"];
            prop_assert!(sold <= left.min(available));
            prop_assert_eq!(p.left, left - sold);
            prop_assert!(p.bought.values().all(|n| *n <= limit));
            prop_assert!(b.wallets.values().all(|w| *w >= 0));
            prop_assert_eq!(before - b.wallets.values().sum::<i64>(), paid);
            prop_assert_eq!(paid, sold * 300);
        }
    }

    #[test]
    fn shards_split_promotions_between_them() {
        assert_eq!(Shard::parse("1/4"), Ok(Shard { index: 1, count: 4 }));
        for bad in ["4/4", "1", "a/2", "0/0", "-1/2"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        // Stable: the same id goes to the same shard in every build.
        assert_eq!(
            Shard::owner("prm_01ARZ3NDEKTSV4RRFFQ69G5FAV", 1_000_000),
            Shard::owner("prm_01ARZ3NDEKTSV4RRFFQ69G5FAV", 1_000_000)
        );
        assert_eq!(Shard::owner("", 7), (0xcbf2_9ce4_8422_2325_u64 % 7) as u32);
        let shards: Vec<Shard> = (0..3).map(|index| Shard { index, count: 3 }).collect();
        let mut per = [0; 3];
        for n in 0..3000 {
            let id = format!("prm_{n:026}");
            let owners: Vec<u32> = shards.iter().filter(|s| s.owns(&id)).map(|s| s.index).collect();
            assert_eq!(owners.len(), 1, "exactly one owner");
            per[owners[0] as usize] += 1;
        }
        assert!(per.iter().all(|n| (800..1200).contains(n)), "spread evenly: {per:?}");
    }
}
