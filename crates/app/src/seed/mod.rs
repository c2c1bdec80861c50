//! Demo and synthetic data. `seed_demo` fills an empty marketplace with believable sellers and
//! products (deterministic, so every demo looks the same); `seed_synthetic` adds N products fast
//! for benchmarks.

pub mod flash;
mod history;
pub mod market;

use crate::accounts::hash_password;
use crate::error::{Error, Result};
use souk_domain::account::{normalize_email, Role, StoreInput};
use souk_domain::catalog::{PriceTier, ProductDraft, ProductStatus, SkuDraft};
use souk_domain::category::Category;
use souk_domain::clock::ManualClock;
use souk_domain::geo::ShipsTo;
use souk_domain::order::Policy;
use souk_domain::time::DAY_MS;
use souk_domain::{Currency, Money};
use souk_store::Store;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A small, fast, deterministic generator (SplitMix64): demo data must not depend on the OS.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// The log-ins the demo prints at start.
pub struct DemoLogin {
    pub role: &'static str,
    pub email: &'static str,
    pub password: &'static str,
}

pub const DEMO_LOGINS: [DemoLogin; 4] = [
    DemoLogin { role: "buyer", email: "buyer@demo.souk", password: "demo-buyer-pass" },
    DemoLogin { role: "seller", email: "seller@demo.souk", password: "demo-seller-pass" },
    DemoLogin { role: "mediator", email: "mediator@demo.souk", password: "demo-mediator-pass" },
    DemoLogin { role: "admin", email: "admin@demo.souk", password: "demo-admin-pass" },
];

/// (country, currency, city-flavoured store names)
const MARKETS: &[(&str, &str, &[&str])] = &[
    (
        "CN",
        "CNY",
        &[
            "Shenzhen Gadget Works",
            "Yiwu Home Goods",
            "Hangzhou Silk House",
            "Guangzhou Trend Closet",
            "Fujian Tea Garden",
            "Ningbo Industrial Supply",
            "Dongguan Toy Factory",
            "Shanghai Beauty Lab",
        ],
    ),
    (
        "US",
        "USD",
        &["Brooklyn Makers", "Austin Outdoor Co", "Seattle Coffee Roasters", "Denver Bike Shop", "Portland Book Nook"],
    ),
    ("DE", "EUR", &["Berliner Werkstatt", "Hamburg Küchenhaus", "München Sport", "Kölner Kamera"]),
    ("JP", "JPY", &["Tokyo Denki", "Kyoto Tea Ceremony", "Osaka Stationery", "Nagoya Auto Parts"]),
    ("GB", "GBP", &["London Leather Goods", "Manchester Kits", "Edinburgh Woollens"]),
    ("FR", "EUR", &["Paris Parfumerie", "Lyon Cuisine", "Marseille Savonnerie"]),
    ("KR", "KRW", &["Seoul Skin Studio", "Busan Mobile"]),
    ("IN", "INR", &["Jaipur Textiles", "Bangalore Electronics Bazaar", "Kerala Spice Route"]),
    ("TR", "TRY", &["Istanbul Carpet House", "Izmir Ceramics"]),
    ("BR", "BRL", &["São Paulo Moda", "Rio Beachwear"]),
    ("MX", "MXN", &["Oaxaca Artesanías", "Monterrey Herramientas"]),
    ("VN", "VND", &["Hanoi Lacquer", "Saigon Coffee Beans"]),
    ("KW", "KWD", &["Kuwait Gold Souk"]),
];

/// English (adjectives, nouns) and Chinese (prefixes, nouns) per root category.
fn vocabulary(root: &str) -> (&'static [&'static str], &'static [&'static str], &'static [&'static str]) {
    match root {
        "electronics" => (
            &["Wireless", "Portable", "Smart", "Fast-Charging", "Noise-Cancelling", "4K", "Bluetooth 5.3", "USB-C"],
            &[
                "Earbuds",
                "Power Bank",
                "Phone Case",
                "Charger",
                "Speaker",
                "Webcam",
                "Keyboard",
                "Smartwatch",
                "Router",
            ],
            &["蓝牙耳机", "充电宝", "手机壳", "快充充电器", "智能手表", "无线鼠标"],
        ),
        "fashion" => (
            &["Floral", "Slim-Fit", "Linen", "Vintage", "Oversized", "Leather", "Cotton", "Summer"],
            &["Dress", "Shirt", "Sneakers", "Handbag", "Jacket", "Scarf", "Watch", "Earrings"],
            &["碎花连衣裙女", "纯棉T恤", "休闲运动鞋", "真皮手提包", "羊毛围巾", "牛仔外套"],
        ),
        "home" => (
            &["Ceramic", "Bamboo", "Stainless Steel", "Nordic", "Handmade", "Cast Iron", "Linen"],
            &["Mug Set", "Cutting Board", "Frying Pan", "Lamp", "Duvet Cover", "Planter", "Tool Kit", "Vase"],
            &["陶瓷茶杯套装", "竹制砧板", "不粘锅", "北欧台灯", "四件套床品"],
        ),
        "beauty" => (
            &["Hydrating", "Organic", "Vitamin C", "Matte", "Gentle", "Anti-Aging"],
            &["Face Serum", "Lipstick", "Sunscreen SPF50", "Shampoo", "Face Mask", "Moisturizer"],
            &["补水面膜", "保湿精华液", "防晒霜", "哑光口红"],
        ),
        "sports" => (
            &["Lightweight", "Waterproof", "Adjustable", "Foldable", "Breathable"],
            &["Yoga Mat", "Dumbbells", "Tent", "Cycling Jersey", "Running Shorts", "Camping Stove"],
            &["瑜伽垫", "速干运动服", "户外帐篷", "骑行手套"],
        ),
        "toys" => (
            &["Educational", "Wooden", "Soft", "Remote-Control", "Magnetic"],
            &["Building Blocks", "Plush Bear", "RC Car", "Puzzle", "Baby Carrier"],
            &["益智积木", "毛绒玩具", "遥控汽车", "婴儿背带"],
        ),
        "food" => (
            &["Premium", "Organic", "Single-Origin", "Spicy", "Roasted"],
            &["Green Tea", "Oolong Tea", "Coffee Beans", "Dried Mango", "Mixed Nuts"],
            &["西湖龙井绿茶", "安溪铁观音", "云南普洱茶", "手工牛肉干"],
        ),
        "automotive" => (
            &["Universal", "LED", "Heavy-Duty", "Leather"],
            &["Seat Cover", "Headlight Bulb", "Dash Cam", "Phone Mount", "Floor Mats"],
            &["汽车座套", "行车记录仪", "车载手机支架"],
        ),
        "industrial" => (
            &["Industrial", "Wholesale", "Custom", "Bulk"],
            &["Corrugated Boxes", "Bubble Wrap", "Copper Wire", "Gear Motor", "Steel Sheet", "Circuit Breaker"],
            &["瓦楞纸箱", "气泡膜", "铜线", "减速电机"],
        ),
        _ => (
            &["Classic", "Illustrated", "Collector's", "Signed"],
            &["Novel", "Cookbook", "Vinyl Record", "Art Book"],
            &["精装小说", "黑胶唱片"],
        ),
    }
}

/// Builds one believable product draft for `category` priced in `currency`.
pub fn product_draft(rng: &mut Rng, category: Category, currency: Currency, chinese: bool) -> ProductDraft {
    let root = category.lineage().next().map(|c| c.id).unwrap_or("books");
    let (adjectives, nouns, zh_nouns) = vocabulary(root);
    let title = if chinese {
        let prefixes = ["2024新款", "夏季", "爆款", "厂家直销", "高品质", "包邮"];
        format!("{}{}{}", rng.pick(&prefixes), rng.pick(&prefixes), rng.pick(zh_nouns))
    } else {
        let colors = ["Black", "White", "Navy", "Red", "Green", "Beige", "Grey"];
        format!("{} {} {}", rng.pick(adjectives), rng.pick(&colors), rng.pick(nouns))
    };
    // A base price of roughly 1 to 300 major units, scaled to the currency's minor units and to
    // its purchasing power (yen, won and dong prices are larger numbers).
    let scale: i64 = match currency.code() {
        "JPY" => 150,
        "KRW" => 1300,
        "VND" => 24000,
        "INR" => 80,
        "TRY" => 30,
        "MXN" => 17,
        "BRL" | "CNY" => 6,
        _ => 1,
    };
    let major = 1 + rng.below(300) as i64;
    let cents = [0, 49, 90, 99][rng.below(4) as usize];
    let unit = 10i64.pow(u32::from(currency.exponent()));
    let amount = (major * unit + cents * unit / 100) * scale;
    let price = Money::new(amount.max(1), currency);
    let b2b = root == "industrial";
    let tiers = if b2b || rng.below(5) == 0 {
        vec![
            PriceTier { min_qty: 10, price: Money::new((amount * 9 / 10).max(1), currency) },
            PriceTier { min_qty: 100, price: Money::new((amount * 3 / 4).max(1), currency) },
        ]
        .into_iter()
        .filter(|t| t.price.amount < amount)
        .collect()
    } else {
        Vec::new()
    };
    let mut attributes = BTreeMap::new();
    attributes.insert(
        "material".to_string(),
        rng.pick(&["cotton", "steel", "plastic", "bamboo", "leather", "glass"]).to_string(),
    );
    attributes.insert("origin".to_string(), rng.pick(&["CN", "US", "DE", "JP", "IN", "VN"]).to_string());
    let ships_to = if rng.below(3) == 0 {
        ShipsTo::Everywhere
    } else {
        let mut c: Vec<String> = ["US", "CN", "DE", "GB", "FR", "JP", "KR", "IN", "BR"]
            .iter()
            .filter(|_| rng.below(2) == 0)
            .map(|s| s.to_string())
            .collect();
        if c.is_empty() {
            c.push("US".into());
        }
        c.sort();
        ShipsTo::Countries(c)
    };
    ProductDraft {
        description: format!("{title}. Quality checked before shipping; ask the seller in chat for bulk pricing."),
        title,
        category: Some(category),
        attributes,
        images: vec![format!("https://img.souk.example/p/{}.jpg", rng.below(100_000))],
        ships_to,
        moq: if b2b { 10 } else { 1 },
        status: ProductStatus::Active,
        currency,
        skus: vec![SkuDraft { code: None, options: BTreeMap::new(), price, stock: rng.below(500) as i64, tiers }],
    }
}

async fn create_account(store: &Store, email: &str, password_hash: &str, name: &str, roles: &[Role]) -> Result<String> {
    let norm = normalize_email(email)?;
    let mut tx = store.begin().await?;
    let user = tx.create_user(email, &norm, password_hash, name).await?;
    for role in roles {
        tx.grant_role(&user.id, *role, souk_store::audit::SYSTEM_ACTOR).await?;
    }
    tx.commit().await?;
    Ok(user.id)
}

/// How far back the demo marketplace opened: its stores have tenure and its orders a past.
const DEMO_AGE_MS: i64 = 120 * DAY_MS;

/// Seeds the demo marketplace into an empty store; does nothing if any user exists.
/// Returns whether it seeded. The marketplace is written as if it opened `DEMO_AGE_MS` ago:
/// stores open over its first weeks, then shoppers buy, sellers ship, carriers deliver and
/// buyers review, so trust scores, ratings and search ranking differ from the start.
pub async fn seed_demo(store: &Store, products_per_store: usize, policy: &Policy) -> Result<bool> {
    if !store.is_empty().await? {
        return Ok(false);
    }
    let now_ms = store.now_ms();
    let clock = Arc::new(ManualClock::new(now_ms - DEMO_AGE_MS));
    let past = store.with_clock(clock.clone());
    let mut rng = Rng::new(0x50_0C);
    let leaves: Vec<Category> = Category::leaves().collect();
    let mut stores = Vec::new();
    let mut buyer_id = String::new();
    for login in &DEMO_LOGINS {
        let hash = hash_password(login.password.to_string()).await?;
        let roles: &[Role] = match login.role {
            "mediator" => &[Role::Mediator],
            "admin" => &[Role::Admin],
            _ => &[],
        };
        let name = format!("Demo {}", login.role);
        let user_id = create_account(&past, login.email, &hash, &name, roles).await?;
        match login.role {
            "buyer" => buyer_id = user_id,
            "seller" => stores.push(
                open_store(
                    &past,
                    &user_id,
                    "Demo Seller Store",
                    "demo-seller",
                    "CN",
                    "CNY",
                    &mut rng,
                    &leaves,
                    products_per_store,
                )
                .await?,
            ),
            _ => {}
        }
    }
    // Other sellers share one password hash: they exist to fill the catalog, not to log in.
    let seller_hash = hash_password("demo-seller-pass".to_string()).await?;
    for (country, currency, names) in MARKETS {
        for name in names.iter() {
            // Stores open over the marketplace's first weeks, so their tenures differ.
            clock.advance_ms(rng.below(DAY_MS as u64) as i64);
            let slug: String = slugify(name);
            let email = format!("{slug}@sellers.demo.souk");
            let user_id = create_account(&past, &email, &seller_hash, name, &[]).await?;
            let s = open_store(&past, &user_id, name, &slug, country, currency, &mut rng, &leaves, products_per_store)
                .await?;
            stores.push(s);
        }
    }
    history::seed(&past, &clock, now_ms, &mut rng, &stores, &buyer_id, &seller_hash, policy).await?;
    flash::demo_flash_sale(store, &stores[0]).await?;
    Ok(true)
}

#[allow(clippy::too_many_arguments)]
async fn open_store(
    store: &Store,
    owner_id: &str,
    name: &str,
    slug: &str,
    country: &str,
    currency: &str,
    rng: &mut Rng,
    leaves: &[Category],
    products: usize,
) -> Result<String> {
    let draft = StoreInput {
        name: name.into(),
        slug: slug.into(),
        country: country.into(),
        currency: currency.into(),
        description: format!("{name}: trading from {country} since the demo began."),
    }
    .validate()?;
    let mut tx = store.begin().await?;
    let s = tx.create_store(owner_id, &draft).await?;
    tx.commit().await?;
    let cur = Currency::from_code(currency).ok_or_else(|| Error::internal("demo currency", currency))?;
    // Each store specialises in a few categories, as real sellers do.
    let specialties: Vec<Category> = (0..3).map(|_| *rng.pick(leaves)).collect();
    let chinese = country == "CN";
    let drafts: Vec<ProductDraft> =
        (0..products).map(|i| product_draft(rng, *rng_pick(&specialties, i), cur, chinese && i % 2 == 0)).collect();
    store.insert_products_bulk(&s.id, &drafts).await?;
    Ok(s.id)
}

fn rng_pick<T>(items: &[T], i: usize) -> &T {
    &items[i % items.len()]
}

fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// Adds `n` synthetic products to a dedicated store, in batches; calls `progress(done)` after
/// each batch.
pub async fn seed_synthetic(store: &Store, n: u64, mut progress: impl FnMut(u64)) -> Result<()> {
    const BATCH: u64 = 5_000;
    let owner_email = "synthetic@sellers.demo.souk";
    let owner_id = match store.user_by_email(owner_email).await {
        Ok(u) => u.id,
        Err(_) => {
            let hash = hash_password(crate::accounts::random_token()).await?;
            create_account(store, owner_email, &hash, "Synthetic Seller", &[]).await?
        }
    };
    let store_id = match store.store_by_owner(&owner_id).await {
        Ok(s) => s.id,
        Err(_) => {
            let draft = StoreInput {
                name: "Synthetic Goods".into(),
                slug: "synthetic-goods".into(),
                country: "US".into(),
                currency: "USD".into(),
                description: "Generated products for benchmarks.".into(),
            }
            .validate()?;
            let mut tx = store.begin().await?;
            let s = tx.create_store(&owner_id, &draft).await?;
            tx.commit().await?;
            s.id
        }
    };
    let leaves: Vec<Category> = Category::leaves().collect();
    let usd = Currency::from_code("USD").ok_or_else(|| Error::internal("currency table", "USD missing"))?;
    let mut rng = Rng::new(store.now_ms() as u64);
    let mut done = 0;
    while done < n {
        let count = BATCH.min(n - done);
        let drafts: Vec<ProductDraft> = (0..count)
            .map(|i| product_draft(&mut rng, leaves[((done + i) % leaves.len() as u64) as usize], usd, i % 7 == 0))
            .collect();
        store.insert_products_bulk(&store_id, &drafts).await?;
        done += count;
        progress(done);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_products_pass_the_catalog_rules() {
        let mut rng = Rng::new(7);
        let leaves: Vec<Category> = Category::leaves().collect();
        for (i, leaf) in leaves.iter().copied().enumerate().cycle().take(500) {
            for code in ["USD", "JPY", "KWD", "VND", "CNY"] {
                let d = product_draft(&mut rng, leaf, Currency::from_code(code).unwrap(), i % 2 == 0);
                assert!(souk_domain::catalog::validate_title(&d.title, "t").is_ok(), "{}", d.title);
                let s = &d.skus[0];
                assert!(souk_domain::catalog::validate_price(s.price, d.currency, "p").is_ok(), "{:?}", s.price);
                assert!(souk_domain::catalog::validate_tiers(&s.tiers, s.price, "t").is_ok(), "{:?}", s.tiers);
            }
        }
    }

    #[test]
    fn slugs_are_valid_store_slugs() {
        for (_, _, names) in MARKETS {
            for n in names.iter() {
                assert!(souk_domain::account::validate_slug(&slugify(n)).is_ok(), "{n}");
            }
        }
    }
}
