//! The demo marketplace's past. Shoppers buy from most stores; sellers ship (the careless ones
//! late, or not at all); the sandbox carrier delivers; buyers confirm and review. Every step goes
//! through the same store calls as the API, at the time it happened, so the books, stock, trust
//! totals and search signals are exactly what that history would have produced.

use super::{create_account, Rng};
use crate::error::Result;
use souk_domain::catalog::{Product, ProductStatus};
use souk_domain::chat::{MessageDraft, Side};
use souk_domain::checkout::Item;
use souk_domain::clock::{Clock, ManualClock};
use souk_domain::dispute::{Reason, Step as DisputeStep};
use souk_domain::order::{Action, Policy};
use souk_domain::rfq;
use souk_domain::shipping::EventType;
use souk_domain::time::{DAY_MS, HOUR_MS, MINUTE_MS};
use souk_domain::Money;
use souk_store::catalog::ProductFilter;
use souk_store::chat::OfferTerms;
use souk_store::disputes::{Actor, Evidence};
use souk_store::trust::{CarrierEvent, ReviewDraft};
use souk_store::{Store, Tx};
use std::collections::HashMap;

/// Demo shoppers besides the demo buyer; they share one password hash and are not printed.
const SHOPPERS: usize = 24;
/// Orders are bought until this long before the demo starts, so each has finished (shipping,
/// delivery, confirmation and review take at most about 15 days here).
const FINISHED_BY_MS: i64 = 18 * DAY_MS;

const PRAISE: &[&str] = &[
    "Exactly as pictured, and it arrived quickly.",
    "Great quality for the price. Will buy again.",
    "Well packed and the seller answered every question.",
    "质量很好，物流很快，好评！",
];
const MIXED: &[&str] =
    &["Fine, but shipping took longer than promised.", "Does the job. The colour is a bit different from the photos."];
const COMPLAINTS: &[&str] = &[
    "Arrived late and the box was damaged.",
    "Not as described: smaller than the listing says.",
    "The seller took days to ship and never replied.",
];
const QUESTIONS: &[&str] = &[
    "Hi! Is this in stock, and how soon can you ship?",
    "Can you do a better price for two?",
    "请问有现货吗？几天发货？",
    "What are the exact dimensions?",
];
const ANSWERS: &[&str] = &[
    "Yes, in stock: it ships within a day of payment.",
    "Hello! It is in stock. Dimensions are in the description; anything else, just ask.",
    "有现货，付款后24小时内发货。",
];
const REPLIES: &[&str] = &["Thank you for your order!", "Thanks for the feedback; we have spoken to our courier."];

#[derive(Clone, Copy)]
enum Step {
    /// The buyer asks about the product before buying; the seller answers later.
    Ask,
    Answer,
    Buy,
    Cancel,
    Ship,
    Deliver,
    Confirm,
    Review,
}

/// One planned order: who buys what from which store, and the store's care.
struct Plan {
    buyer: usize,
    product: usize,
    store: usize,
    order_id: Option<String>,
    tracking: String,
}

/// A store's products that can be bought, and how careful the seller is (1 to 5).
struct Shop {
    id: String,
    products: Vec<Product>,
    care: i64,
}

/// Writes the history up to `now_ms`, the real time the demo starts, with `clock` (at the
/// marketplace's opening) driving `store`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn seed(
    store: &Store,
    clock: &ManualClock,
    now_ms: i64,
    rng: &mut Rng,
    store_ids: &[String],
    demo_buyer: &str,
    shopper_hash: &str,
    policy: &Policy,
) -> Result<()> {
    let mut buyers = vec![demo_buyer.to_string()];
    for i in 1..=SHOPPERS {
        let email = format!("shopper{i}@buyers.demo.souk");
        buyers.push(create_account(store, &email, shopper_hash, &format!("Shopper {i}"), &[]).await?);
    }
    let mut shops = Vec::new();
    for id in store_ids {
        let filter =
            ProductFilter { store_id: Some(id.clone()), status: Some(ProductStatus::Active), ..Default::default() };
        let products = store.list_products(&filter, None, 100).await?.items;
        let care = *rng.pick(&[2, 3, 4, 4, 5, 5]);
        shops.push(Shop { id: id.clone(), products, care });
    }

    // Plan every step of every order, then play them in time order.
    // Two days in, so questions asked before a purchase come after the last store opened.
    let start = clock.now_ms() + 2 * DAY_MS;
    let span = (now_ms - FINISHED_BY_MS - start).max(DAY_MS);
    let mut plans = Vec::new();
    let mut steps: Vec<(i64, usize, Step)> = Vec::new();
    for (s, shop) in shops.iter().enumerate() {
        if shop.products.is_empty() {
            continue;
        }
        // The demo seller has a steady trade; a few other stores are brand new and unrated.
        let orders = if s == 0 { 14 } else { rng.below(16) as usize };
        for _ in 0..orders {
            let i = plans.len();
            plans.push(Plan {
                buyer: rng.below(buyers.len() as u64) as usize,
                product: rng.below(shop.products.len() as u64) as usize,
                store: s,
                order_id: None,
                tracking: format!("SBX-DEMO-{i:05}"),
            });
            let bought = start + rng.below(span as u64) as i64;
            steps.push((bought, i, Step::Buy));
            if rng.below(3) == 0 {
                // Careful sellers answer within the hour; careless ones the next day.
                let answer_minutes = match shop.care {
                    5 => 5 + rng.below(25),
                    4 => 20 + rng.below(100),
                    3 => 60 + rng.below(300),
                    _ => 360 + rng.below(1440),
                } as i64;
                let asked = bought - answer_minutes * MINUTE_MS - HOUR_MS;
                steps.push((asked, i, Step::Ask));
                steps.push((asked + answer_minutes * MINUTE_MS, i, Step::Answer));
            }
            if shop.care <= 2 && rng.below(4) == 0 {
                steps.push((bought + HOUR_MS * (2 + rng.below(40) as i64), i, Step::Cancel));
                continue;
            }
            // Careless sellers ship later, sometimes after the ship-by deadline.
            let ship_hours = match shop.care {
                5 => 2 + rng.below(22),
                4 => 6 + rng.below(40),
                3 => 12 + rng.below(60),
                _ => 24 + rng.below(80),
            } as i64;
            let shipped = bought + ship_hours * HOUR_MS;
            let delivered =
                shipped + DAY_MS * (1 + rng.below(7 - shop.care as u64 + 1) as i64) + rng.below(12) as i64 * HOUR_MS;
            let confirmed = delivered + rng.below(2 * DAY_MS as u64) as i64;
            steps.push((shipped, i, Step::Ship));
            steps.push((delivered, i, Step::Deliver));
            steps.push((confirmed, i, Step::Confirm));
            if rng.below(4) != 0 {
                steps.push((confirmed + HOUR_MS + rng.below(DAY_MS as u64) as i64, i, Step::Review));
            }
        }
    }
    steps.sort_by_key(|(t, i, _)| (*t, *i));

    let mut stock: HashMap<String, i64> =
        shops.iter().flat_map(|s| &s.products).flat_map(|p| &p.skus).map(|k| (k.id.clone(), k.stock)).collect();
    let mut tx = store.begin().await?;
    for (at, i, step) in steps {
        clock.set_ms(at);
        play(&mut tx, rng, &mut plans[i], &shops, &buyers, &mut stock, step, policy).await?;
    }
    // Today: the demo seller has orders to ship (one already on its way with the sandbox
    // carrier), and the demo buyer has money to spend.
    let demo_shop = &shops[0].products;
    for (ago, ship) in [(3 * HOUR_MS, false), (2 * HOUR_MS, false), (DAY_MS, true)] {
        clock.set_ms(now_ms - ago);
        let product = rng.pick(demo_shop);
        tx.add_traffic(&product.id, 0, 10 + rng.below(30) as i64).await?;
        if let Some(order) = buy(&mut tx, demo_buyer, product, &mut stock, policy).await? {
            if ship {
                tx.set_tracking(&order, "sandbox", "SBX-DEMO-TODAY").await?;
                tx.act(&order, Action::Ship, policy).await?;
            }
        }
    }
    today_negotiations(&mut tx, clock, now_ms, &shops[0], demo_buyer, &buyers[1]).await?;
    today_disputes(&mut tx, clock, now_ms, &shops, &buyers, &mut stock, policy).await?;
    clock.set_ms(now_ms);
    let cny = souk_domain::Currency::from_code("CNY").expect("CNY is a currency");
    let top_up = tx.create_top_up(demo_buyer, Money::new(200_000, cny), crate::payments::SANDBOX, "4242").await?;
    tx.settle_top_up(&top_up.id, true, None).await?;
    tx.commit().await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn play(
    tx: &mut Tx,
    rng: &mut Rng,
    plan: &mut Plan,
    shops: &[Shop],
    buyers: &[String],
    stock: &mut HashMap<String, i64>,
    step: Step,
    policy: &Policy,
) -> Result<()> {
    let shop = &shops[plan.store];
    let buyer = &buyers[plan.buyer];
    if let Step::Ask | Step::Answer = step {
        let product = &shop.products[plan.product];
        let c = tx.open_conversation(buyer, &shop.id, Some(&product.id), None).await?;
        let (side, text) = match step {
            Step::Ask => (Side::Buyer, *rng.pick(QUESTIONS)),
            _ => (Side::Seller, *rng.pick(ANSWERS)),
        };
        tx.post_message(&c, side, &MessageDraft { text: text.to_string(), images: Vec::new() }, None).await?;
        return Ok(());
    }
    let Some(order_id) = plan.order_id.clone() else {
        if let Step::Buy = step {
            // A purchase follows some browsing: the analytics' conversion comes out near 5%.
            tx.add_traffic(&shop.products[plan.product].id, 0, 10 + rng.below(30) as i64).await?;
            plan.order_id = buy(tx, buyer, &shop.products[plan.product], stock, policy).await?;
        }
        return Ok(());
    };
    match step {
        Step::Buy | Step::Ask | Step::Answer => {}
        Step::Cancel => {
            tx.act(&order_id, Action::SellerCancel, policy).await?;
        }
        Step::Ship => {
            tx.set_tracking(&order_id, "sandbox", &plan.tracking).await?;
            tx.act(&order_id, Action::Ship, policy).await?;
        }
        Step::Deliver => {
            let now = tx.store().now_ms();
            for (kind, at) in [(EventType::PickedUp, now - DAY_MS / 2), (EventType::Delivered, now)] {
                let event = CarrierEvent {
                    carrier: "sandbox".into(),
                    event_id: format!("demo-{}-{}", plan.tracking, kind.as_str()),
                    tracking_number: plan.tracking.clone(),
                    kind,
                    occurred_at_ms: at,
                    location: None,
                    description: None,
                };
                tx.record_carrier_event(&event).await?;
            }
            tx.act(&order_id, Action::Deliver, policy).await?;
        }
        Step::Confirm => {
            tx.act(&order_id, Action::Confirm, policy).await?;
        }
        Step::Review => {
            // Reviews scatter around the seller's care: careful sellers mostly get five stars.
            let stars = |rng: &mut Rng| (shop.care + rng.below(3) as i64 - 1).clamp(1, 5);
            let overall = stars(rng);
            let texts = match overall {
                5 | 4 => PRAISE,
                3 => MIXED,
                _ => COMPLAINTS,
            };
            let draft = ReviewDraft {
                order_id: order_id.clone(),
                position: 0,
                stars: overall,
                described: stars(rng),
                communication: stars(rng),
                shipping: stars(rng),
                text: rng.pick(texts).to_string(),
                images: Vec::new(),
            };
            let review = tx.create_review(buyer, &draft).await?;
            if rng.below(3) == 0 {
                tx.reply_to_review(&review.id, rng.pick::<&str>(REPLIES)).await?;
            }
        }
    }
    Ok(())
}

/// Checks out one unit (or the product's minimum), tops the buyer's wallet up by the total
/// through the sandbox, and pays. Returns the order, or `None` when the product has too little
/// stock left: the plan is skipped rather than let a failed checkout into the one transaction.
async fn buy(
    tx: &mut Tx,
    buyer: &str,
    product: &Product,
    stock: &mut HashMap<String, i64>,
    policy: &Policy,
) -> Result<Option<String>> {
    let quantity = product.moq.max(1);
    let Some(sku) = product.skus.iter().find(|s| stock.get(&s.id).is_some_and(|left| *left >= quantity)) else {
        return Ok(None);
    };
    *stock.entry(sku.id.clone()).or_default() -= quantity;
    let country = product.ships_to.iter().find(|c| c.as_str() != "*").map_or("US", String::as_str);
    let (_, orders) = tx.checkout(buyer, country, &[Item { sku_id: sku.id.clone(), quantity }], policy).await?;
    let order = &orders[0];
    let top_up = tx.create_top_up(buyer, order.total, crate::payments::SANDBOX, "4242").await?;
    tx.settle_top_up(&top_up.id, true, None).await?;
    tx.act(&order.id, Action::Pay, policy).await?;
    Ok(Some(order.id.clone()))
}

/// Today's disputes: a shopper's complaint waits for the demo seller's answer, and another,
/// rejected by its seller and escalated by its buyer, waits in the mediators' queue.
async fn today_disputes(
    tx: &mut Tx,
    clock: &ManualClock,
    now_ms: i64,
    shops: &[Shop],
    buyers: &[String],
    stock: &mut HashMap<String, i64>,
    policy: &Policy,
) -> Result<()> {
    let cases = [
        (0, 2, Reason::Damaged, "The lid arrived cracked; photos attached in the chat.", false),
        (1, 3, Reason::NotAsDescribed, "Much smaller than the listing says.", true),
    ];
    for (i, (shop, buyer, reason, complaint, escalated)) in cases.into_iter().enumerate() {
        let (Some(shop), Some(buyer)) = (shops.get(shop), buyers.get(buyer)) else { continue };
        let opened = now_ms - if escalated { 6 * DAY_MS } else { DAY_MS };
        clock.set_ms(opened - 2 * DAY_MS);
        let Some(product) = shop.products.first() else { continue };
        let Some(order) = buy(tx, buyer, product, stock, policy).await? else { continue };
        tx.set_tracking(&order, "sandbox", &format!("SBX-DEMO-DSP-{i}")).await?;
        tx.act(&order, Action::Ship, policy).await?;
        clock.set_ms(opened);
        let d = tx.open_dispute(&order, reason, complaint, &Evidence::default(), policy).await?;
        if escalated {
            clock.set_ms(opened + DAY_MS);
            let owner = tx.store().store_by_id(&shop.id).await?.owner_id;
            let answer = Evidence { text: "The item matches the listing's measurements.".into(), images: Vec::new() };
            tx.dispute_step(&d.view.id, DisputeStep::SellerRejects, &Actor::Seller(owner), &answer, None, policy)
                .await?;
            clock.set_ms(now_ms - DAY_MS);
            let buyer = Actor::Buyer(buyer.clone());
            tx.dispute_step(&d.view.id, DisputeStep::BuyerEscalates, &buyer, &Evidence::default(), None, policy)
                .await?;
        }
    }
    Ok(())
}

/// Today's talk: the demo buyer asked the demo seller for a better price and has an open offer
/// to accept, decline or counter; the demo buyer's RFQ has the demo seller's quote; and a shopper's
/// RFQ waits in the demo seller's feed.
async fn today_negotiations(
    tx: &mut Tx,
    clock: &ManualClock,
    now_ms: i64,
    shop: &Shop,
    demo_buyer: &str,
    shopper: &str,
) -> Result<()> {
    // Something the demo buyer's 2,000 CNY covers, so the offer can be accepted and paid.
    let affordable = |p: &&Product| {
        p.category.is_some() && p.skus.first().is_some_and(|k| k.price.amount * p.moq.max(1) * 2 <= 150_000)
    };
    let Some(product) = shop.products.iter().find(affordable) else { return Ok(()) };
    let sku = &product.skus[0];
    let quantity = product.moq.max(1) * 2;
    let discounted = Money::new((sku.price.amount * 9 / 10).max(1), sku.price.currency);
    let ship_to = product.ships_to.iter().find(|c| c.as_str() != "*").cloned().unwrap_or_else(|| "US".into());
    clock.set_ms(now_ms - 90 * MINUTE_MS);
    let c = tx.open_conversation(demo_buyer, &shop.id, Some(&product.id), None).await?;
    let ask = MessageDraft { text: format!("Hello! What is your best price for {quantity}?"), images: Vec::new() };
    tx.post_message(&c, Side::Buyer, &ask, None).await?;
    clock.set_ms(now_ms - 60 * MINUTE_MS);
    let terms = OfferTerms {
        sku_id: sku.id.clone(),
        quantity,
        unit_price: discounted,
        valid_until_ms: now_ms + 3 * DAY_MS,
        ship_to: Some(ship_to.clone()),
    };
    tx.make_offer(&c, Side::Seller, &terms, None).await?;

    let category = product.category.as_ref().map(|c| c.id.clone()).unwrap_or_default();
    let rfq = |title: &str, quantity: i64| {
        rfq::draft(title, "Retail packaging, please.", &category, quantity, None, &ship_to, now_ms + 5 * DAY_MS, now_ms)
    };
    let wanted = rfq(&format!("{} × {}", product.title, quantity * 4), quantity * 4)?;
    let mine = tx.create_rfq(demo_buyer, &wanted).await?;
    clock.set_ms(now_ms - 30 * MINUTE_MS);
    let offer = rfq::quote(&sku.id, discounted, quantity, 10, "Mixed colours possible; ships in 10 days.")?;
    tx.create_quote(&mine.id, &shop.id, &offer).await?;
    let theirs = rfq(&format!("Wholesale enquiry: {}", product.title), quantity * 20)?;
    tx.create_rfq(shopper, &theirs).await?;
    Ok(())
}
