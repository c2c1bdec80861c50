//! Products, SKUs and stock. A product's SKUs share its currency; each SKU has one stock row.

use crate::bulk::Q;
use crate::{is_unique_violation, placeholders, Conflict, Page, Result, Store, StoreError, Tx};
use souk_domain::catalog::{
    validate_category, validate_description, validate_images, validate_moq, validate_price, validate_stock,
    validate_tiers, validate_title, CategoryRef, PriceTier, Product, ProductDraft, ProductPatch, ProductStatus, Sku,
    SkuDraft, SkuInput, SkuPatch,
};
use souk_domain::category::Category;
use souk_domain::geo::ShipsTo;
use souk_domain::id::Kind;
use souk_domain::time::Timestamp;
use souk_domain::{Currency, Invalid, Money};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, HashMap};

const PRODUCT_COLUMNS: &str =
    "id, store_id, title, description, category, attributes, images, ships_to, moq, status, currency, created_at, updated_at";

/// Which products a listing shows.
#[derive(Debug, Clone, Default)]
pub struct ProductFilter {
    pub store_id: Option<String>,
    pub status: Option<ProductStatus>,
    /// A category id; its descendants match too.
    pub category: Option<String>,
    /// Words the title contains, in any case (with a store: a seller finding a listing).
    pub title: Option<String>,
}

/// What an import did with one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    Created,
    Updated,
}

fn sku_from_row(row: &AnyRow) -> Result<(String, Sku)> {
    let currency_code: String = row.try_get("currency")?;
    let currency = crate::currency(&currency_code)?;
    let options: String = row.try_get("options")?;
    let tiers: String = row.try_get("tiers")?;
    let on_hand: i64 = row.try_get("on_hand")?;
    let reserved: i64 = row.try_get("reserved")?;
    Ok((
        row.try_get("product_id")?,
        Sku {
            id: row.try_get("id")?,
            sku: row.try_get("code")?,
            options: serde_json::from_str(&options)?,
            price: Money::new(row.try_get("price_minor")?, currency),
            price_tiers: serde_json::from_str(&tiers)?,
            stock: on_hand - reserved,
        },
    ))
}

fn product_from_row(row: &AnyRow) -> Result<Product> {
    let category: Option<String> = row.try_get("category")?;
    let attributes: String = row.try_get("attributes")?;
    let images: String = row.try_get("images")?;
    let ships_to: String = row.try_get("ships_to")?;
    let status: String = row.try_get("status")?;
    Ok(Product {
        id: row.try_get("id")?,
        store_id: row.try_get("store_id")?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        category: category.as_deref().and_then(Category::by_id).map(CategoryRef::from),
        attributes: serde_json::from_str(&attributes)?,
        images: serde_json::from_str(&images)?,
        ships_to: ships_to.split(';').map(str::to_string).collect(),
        moq: row.try_get("moq")?,
        status: ProductStatus::parse(&status).unwrap_or(ProductStatus::Draft),
        currency: row.try_get("currency")?,
        skus: Vec::new(),
        created_at: Timestamp(row.try_get("created_at")?),
        updated_at: Timestamp(row.try_get("updated_at")?),
    })
}

/// Attaches SKUs (with available stock) to products, in position order.
async fn attach_skus(conn: &mut AnyConnection, products: &mut [Product]) -> Result<()> {
    if products.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "SELECT s.id, s.product_id, s.code, s.options, s.price_minor, s.currency, s.tiers, k.on_hand, k.reserved \
         FROM skus s JOIN stock k ON k.sku_id = s.id WHERE s.product_id IN ({}) ORDER BY s.product_id, s.position",
        placeholders(0, products.len())
    );
    let mut q = sqlx::query(&sql);
    for p in products.iter() {
        q = q.bind(&p.id);
    }
    let rows = q.fetch_all(conn).await?;
    let mut by_product: HashMap<String, Vec<Sku>> = HashMap::new();
    for row in &rows {
        let (pid, sku) = sku_from_row(row)?;
        by_product.entry(pid).or_default().push(sku);
    }
    for p in products.iter_mut() {
        p.skus = by_product.remove(&p.id).unwrap_or_default();
    }
    Ok(())
}

pub(crate) async fn load_product(conn: &mut AnyConnection, id: &str) -> Result<Product> {
    let sql = format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(&mut *conn).await?.ok_or(StoreError::NotFound)?;
    let mut products = [product_from_row(&row)?];
    attach_skus(conn, &mut products).await?;
    let [p] = products;
    Ok(p)
}

impl Store {
    pub async fn product(&self, id: &str) -> Result<Product> {
        load_product(&mut *self.reader().await?, id).await
    }

    /// Products newest first, after the cursor (a product id).
    pub async fn list_products(
        &self,
        filter: &ProductFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<Product>> {
        // Only the filters given, so that an index can serve them (`store_id = $n OR $n = ''`
        // hid the store's index and read every product of the marketplace).
        let mut conditions = Vec::new();
        let mut values: Vec<String> = Vec::new();
        let mut bind = |value: String| {
            values.push(value);
            format!("${}", values.len())
        };
        if let Some(c) = cursor {
            conditions.push(format!("id < {}", bind(c.to_string())));
        }
        if let Some(store) = &filter.store_id {
            conditions.push(format!("store_id = {}", bind(store.clone())));
        }
        if let Some(status) = filter.status {
            conditions.push(format!("status = {}", bind(status.as_str().to_string())));
        }
        if let Some(category) = &filter.category {
            let (exact, under) = (bind(category.clone()), bind(format!("{category}/%")));
            conditions.push(format!("(category = {exact} OR category LIKE {under})"));
        }
        if let Some(title) = filter.title.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            let escaped = title.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            conditions.push(format!("LOWER(title) LIKE {} ESCAPE '\\'", bind(format!("%{escaped}%"))));
        }
        let filters = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
        let sql =
            format!("SELECT {PRODUCT_COLUMNS} FROM products {filters} ORDER BY id DESC LIMIT ${}", values.len() + 1);
        let mut conn = self.reader().await?;
        let mut q = sqlx::query(&sql);
        for value in &values {
            q = q.bind(value);
        }
        let rows = q.bind(limit as i64 + 1).fetch_all(&mut *conn).await?;
        let mut items = rows.iter().map(product_from_row).collect::<Result<Vec<_>>>()?;
        attach_skus(&mut conn, &mut items).await?;
        Ok(Page::from_rows(items, limit, |p| p.id.clone()))
    }

    /// The products with these ids that exist, in the order given.
    pub async fn products_by_ids(&self, ids: &[String]) -> Result<Vec<Product>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT {PRODUCT_COLUMNS} FROM products WHERE id IN ({})", placeholders(0, ids.len()));
        let mut q = sqlx::query(&sql);
        for id in ids {
            q = q.bind(id);
        }
        let mut conn = self.reader().await?;
        let rows = q.fetch_all(&mut *conn).await?;
        let mut found = rows.iter().map(product_from_row).collect::<Result<Vec<_>>>()?;
        attach_skus(&mut conn, &mut found).await?;
        let mut by_id: HashMap<String, Product> = found.into_iter().map(|p| (p.id.clone(), p)).collect();
        Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
    }

    /// Whether anyone has signed up or anything is listed: the demo is seeded only into a
    /// marketplace with neither.
    pub async fn is_empty(&self) -> Result<bool> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM users LIMIT 1) u) + (SELECT COUNT(*) FROM (SELECT 1 FROM products LIMIT 1) p) AS n",
        )
        .fetch_one(&mut *self.reader().await?)
        .await?;
        Ok(row.try_get::<i64, _>("n")? == 0)
    }

    pub async fn count_products(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM products").fetch_one(&mut *self.reader().await?).await?;
        Ok(row.try_get("n")?)
    }

    /// Inserts many new products in a few large statements: how `seed` reaches a million rows
    /// in minutes. Each batch is one transaction.
    pub async fn insert_products_bulk(&self, store_id: &str, drafts: &[ProductDraft]) -> Result<()> {
        const CHUNK: usize = 200;
        let mut tx = self.begin().await?;
        let now = self.now_ms();
        for chunk in drafts.chunks(CHUNK) {
            let mut product_rows = Vec::with_capacity(chunk.len());
            let mut sku_rows = Vec::new();
            for d in chunk {
                let pid = self.new_id(Kind::Product);
                for (pos, s) in d.skus.iter().enumerate() {
                    sku_rows.push((pid.clone(), self.new_id(Kind::Sku), pos as i64, s));
                }
                product_rows.push((pid, d));
            }
            let values = (0..product_rows.len())
                .map(|i| format!("({})", placeholders(i * 13, 13)))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!("INSERT INTO products ({PRODUCT_COLUMNS}) VALUES {values}");
            let mut q = sqlx::query(&sql);
            for (pid, d) in &product_rows {
                q = bind_product(q, pid, store_id, d, now)?;
            }
            q.execute(tx.conn()).await?;
            let values =
                (0..sku_rows.len()).map(|i| format!("({})", placeholders(i * 9, 9))).collect::<Vec<_>>().join(", ");
            let sql = format!("INSERT INTO skus ({SKU_INSERT_COLUMNS}) VALUES {values}");
            let mut q = sqlx::query(&sql);
            for (pid, sid, pos, s) in &sku_rows {
                q = bind_sku(q, sid, pid, store_id, s, *pos)?;
            }
            q.execute(tx.conn()).await.map_err(sku_conflict)?;
            let values =
                (0..sku_rows.len()).map(|i| format!("({}, 0)", placeholders(i * 2, 2))).collect::<Vec<_>>().join(", ");
            let sql = format!("INSERT INTO stock (sku_id, on_hand, reserved) VALUES {values}");
            let mut q = sqlx::query(&sql);
            for (_, sid, _, s) in &sku_rows {
                q = q.bind(sid.as_str()).bind(s.stock);
            }
            q.execute(tx.conn()).await?;
        }
        tx.commit().await
    }
}

/// The JSON and text forms of a draft's columns.
struct ProductColumns {
    attributes: String,
    images: String,
    ships_to: String,
}

impl ProductColumns {
    fn of(d: &ProductDraft) -> Result<Self> {
        Ok(Self {
            attributes: serde_json::to_string(&d.attributes)?,
            images: serde_json::to_string(&d.images)?,
            ships_to: d.ships_to.to_text(),
        })
    }
}

/// Binds a new product's row, in the order of `PRODUCT_COLUMNS`.
fn bind_product<'q>(q: Q<'q>, id: &'q str, store_id: &'q str, d: &'q ProductDraft, now: i64) -> Result<Q<'q>> {
    let cols = ProductColumns::of(d)?;
    Ok(q.bind(id)
        .bind(store_id)
        .bind(&d.title)
        .bind(&d.description)
        .bind(d.category.map(|c| c.id))
        .bind(cols.attributes)
        .bind(cols.images)
        .bind(cols.ships_to)
        .bind(d.moq)
        .bind(d.status.as_str())
        .bind(d.currency.code())
        .bind(now)
        .bind(now))
}

/// The columns a new SKU's row gives, in the order [`bind_sku`] binds them.
const SKU_INSERT_COLUMNS: &str = "id, product_id, store_id, code, options, price_minor, currency, tiers, position";

fn bind_sku<'q>(
    q: Q<'q>,
    id: &'q str,
    product_id: &'q str,
    store_id: &'q str,
    s: &'q SkuDraft,
    position: i64,
) -> Result<Q<'q>> {
    Ok(q.bind(id)
        .bind(product_id)
        .bind(store_id)
        .bind(s.code.as_deref())
        .bind(serde_json::to_string(&s.options)?)
        .bind(s.price.amount)
        .bind(s.price.currency.code())
        .bind(serde_json::to_string(&s.tiers)?)
        .bind(position))
}

fn sku_conflict(e: sqlx::Error) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Conflict {
            kind: Conflict::DuplicateSku,
            message: "a SKU with this code already exists in the store".into(),
        }
    } else {
        e.into()
    }
}

impl Tx {
    pub async fn product(&mut self, id: &str) -> Result<Product> {
        load_product(self.conn(), id).await
    }

    pub async fn create_product(&mut self, store_id: &str, draft: &ProductDraft) -> Result<Product> {
        let id = self.store().new_id(Kind::Product);
        let now = self.store().now_ms();
        let sql = format!("INSERT INTO products ({PRODUCT_COLUMNS}) VALUES ({})", placeholders(0, 13));
        bind_product(sqlx::query(&sql), &id, store_id, draft, now)?.execute(self.conn()).await?;
        for (pos, sku) in draft.skus.iter().enumerate() {
            self.insert_sku(&id, store_id, pos as i64, sku).await?;
        }
        self.product(&id).await
    }

    async fn insert_sku(&mut self, product_id: &str, store_id: &str, position: i64, s: &SkuDraft) -> Result<String> {
        let id = self.store().new_id(Kind::Sku);
        let sql = format!("INSERT INTO skus ({SKU_INSERT_COLUMNS}) VALUES ({})", placeholders(0, 9));
        bind_sku(sqlx::query(&sql), &id, product_id, store_id, s, position)?
            .execute(self.conn())
            .await
            .map_err(sku_conflict)?;
        sqlx::query("INSERT INTO stock (sku_id, on_hand, reserved) VALUES ($1, $2, 0)")
            .bind(&id)
            .bind(s.stock)
            .execute(self.conn())
            .await?;
        Ok(id)
    }

    /// Applies a patch to the product's own fields, validating each given field.
    pub async fn update_product(&mut self, id: &str, patch: &ProductPatch) -> Result<Product> {
        let current = self.product(id).await?;
        let title = patch.title.as_deref().map(|t| validate_title(t, "title")).transpose()?.unwrap_or(current.title);
        let description = patch
            .description
            .as_deref()
            .map(|d| validate_description(d, "description"))
            .transpose()?
            .unwrap_or(current.description);
        let category = match &patch.category {
            Some(c) => validate_category(Some(c), "category")?.map(|c| c.id.to_string()),
            None => current.category.map(|c| c.id),
        };
        let attributes = patch.attributes.clone().unwrap_or(current.attributes);
        souk_domain::catalog::validate_attributes(&attributes, "attributes")?;
        let images = patch.images.clone().unwrap_or(current.images);
        validate_images(&images, "images")?;
        let ships_to = match &patch.ships_to {
            Some(list) => ShipsTo::from_list(list, "ships_to")?.to_text(),
            None => current.ships_to.join(";"),
        };
        let moq = validate_moq(patch.moq.unwrap_or(current.moq), "moq")?;
        let status = patch.status.unwrap_or(current.status);
        sqlx::query(
            "UPDATE products SET title = $1, description = $2, category = $3, attributes = $4, images = $5, \
             ships_to = $6, moq = $7, status = $8, updated_at = $9 WHERE id = $10",
        )
        .bind(&title)
        .bind(&description)
        .bind(category)
        .bind(serde_json::to_string(&attributes)?)
        .bind(serde_json::to_string(&images)?)
        .bind(ships_to)
        .bind(moq)
        .bind(status.as_str())
        .bind(self.store().now_ms())
        .bind(id)
        .execute(self.conn())
        .await?;
        self.product(id).await
    }

    /// Deletes a product with its SKUs and stock rows.
    /// Deletes a product nothing refers to. One with a history (orders, reviews, offers,
    /// quotes, promotions, conversations about it) is archived instead, so that what refers to
    /// it stays whole: it leaves search, its store's pages and every cart all the same.
    pub async fn delete_product(&mut self, id: &str) -> Result<()> {
        let history: i64 = sqlx::query(
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM order_lines WHERE product_id = $1) \
                OR EXISTS (SELECT 1 FROM reviews WHERE product_id = $1) \
                OR EXISTS (SELECT 1 FROM conversations WHERE product_id = $1) \
                OR EXISTS (SELECT 1 FROM promotions WHERE sku_id IN (SELECT id FROM skus WHERE product_id = $1)) \
                OR EXISTS (SELECT 1 FROM offers WHERE sku_id IN (SELECT id FROM skus WHERE product_id = $1)) \
                OR EXISTS (SELECT 1 FROM quotes WHERE sku_id IN (SELECT id FROM skus WHERE product_id = $1)) \
                THEN 1 ELSE 0 END AS n",
        )
        .bind(id)
        .fetch_one(self.conn())
        .await?
        .try_get("n")?;
        let res = if history == 0 {
            sqlx::query("DELETE FROM products WHERE id = $1").bind(id).execute(self.conn()).await?
        } else {
            sqlx::query("DELETE FROM cart_items WHERE sku_id IN (SELECT id FROM skus WHERE product_id = $1)")
                .bind(id)
                .execute(self.conn())
                .await?;
            sqlx::query("UPDATE products SET status = 'archived', updated_at = $1 WHERE id = $2")
                .bind(self.store.now_ms())
                .bind(id)
                .execute(self.conn())
                .await?
        };
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Adds a variant to a product; its price must be in the product's currency.
    pub async fn add_sku(&mut self, product_id: &str, input: &SkuInput) -> Result<Product> {
        let product = self.product(product_id).await?;
        if product.skus.len() >= souk_domain::catalog::MAX_SKUS {
            return Err(Invalid::new("too_many", "skus", "a product has at most 100 SKUs").into());
        }
        let currency = Currency::parse(&product.currency, "currency")?;
        let draft = input.validate(currency)?;
        self.insert_sku(product_id, &product.store_id, product.skus.len() as i64, &draft).await?;
        self.touch(product_id).await?;
        self.product(product_id).await
    }

    /// Changes one SKU. `stock` sets units on hand, which may not drop below what is reserved.
    pub async fn update_sku(&mut self, product_id: &str, sku_id: &str, patch: &SkuPatch) -> Result<Product> {
        let product = self.product(product_id).await?;
        let sku = product.skus.iter().find(|s| s.id == sku_id).ok_or(StoreError::NotFound)?;
        let currency = Currency::parse(&product.currency, "currency")?;
        let price = match patch.price {
            Some(p) => validate_price(p, currency, "price")?,
            None => sku.price,
        };
        let tiers: Vec<PriceTier> = patch.price_tiers.clone().unwrap_or_else(|| sku.price_tiers.clone());
        let tiers = validate_tiers(&tiers, price, "price_tiers")?;
        let options: BTreeMap<String, String> = patch.options.clone().unwrap_or_else(|| sku.options.clone());
        souk_domain::catalog::validate_options(&options, "options")?;
        sqlx::query("UPDATE skus SET price_minor = $1, tiers = $2, options = $3 WHERE id = $4")
            .bind(price.amount)
            .bind(serde_json::to_string(&tiers)?)
            .bind(serde_json::to_string(&options)?)
            .bind(sku_id)
            .execute(self.conn())
            .await?;
        if let Some(stock) = patch.stock {
            self.set_on_hand(sku_id, validate_stock(stock, "stock")?).await?;
        }
        self.touch(product_id).await?;
        self.product(product_id).await
    }

    /// Sets what can still be bought of a SKU: units on hand become the reserved ones plus
    /// `available`, in one statement, so a concurrent reservation is never overwritten.
    pub async fn set_available(&mut self, sku_id: &str, available: i64) -> Result<()> {
        let available = validate_stock(available, "stock")?;
        let res = sqlx::query("UPDATE stock SET on_hand = reserved + $1 WHERE sku_id = $2")
            .bind(available)
            .bind(sku_id)
            .execute(self.conn())
            .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn set_on_hand(&mut self, sku_id: &str, on_hand: i64) -> Result<()> {
        let res = sqlx::query("UPDATE stock SET on_hand = $1 WHERE sku_id = $2 AND reserved <= $1")
            .bind(on_hand)
            .bind(sku_id)
            .execute(self.conn())
            .await?;
        if res.rows_affected() == 0 {
            return Err(Invalid::new(
                "below_reserved",
                "stock",
                "cannot be less than the units reserved by open orders",
            )
            .into());
        }
        Ok(())
    }

    async fn touch(&mut self, product_id: &str) -> Result<()> {
        sqlx::query("UPDATE products SET updated_at = $1 WHERE id = $2")
            .bind(self.store().now_ms())
            .bind(product_id)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Imports one single-SKU product: updates the product whose SKU has the same code (or,
    /// without a code, the same title) in this store, else creates it. Re-running a file
    /// therefore changes nothing twice.
    pub async fn import_product(&mut self, store_id: &str, draft: &ProductDraft) -> Result<(ImportOutcome, String)> {
        let sku = &draft.skus[0];
        let existing = match &sku.code {
            Some(code) => {
                sqlx::query("SELECT product_id, id FROM skus WHERE store_id = $1 AND code = $2")
                    .bind(store_id)
                    .bind(code)
                    .fetch_optional(self.conn())
                    .await?
            }
            None => {
                sqlx::query(
                    "SELECT s.product_id, s.id FROM products p JOIN skus s ON s.product_id = p.id \
                 WHERE p.store_id = $1 AND p.title = $2 ORDER BY p.id, s.position LIMIT 1",
                )
                .bind(store_id)
                .bind(&draft.title)
                .fetch_optional(self.conn())
                .await?
            }
        };
        let Some(row) = existing else {
            let created = self.create_product(store_id, draft).await?;
            return Ok((ImportOutcome::Created, created.id));
        };
        let product_id: String = row.try_get("product_id")?;
        let sku_id: String = row.try_get("id")?;
        let current = self.product(&product_id).await?;
        if current.currency != draft.currency.code() {
            return Err(Invalid::new(
                "currency_mismatch",
                "currency",
                format!("the existing product is priced in {}", current.currency),
            )
            .into());
        }
        // Every check comes before the first write, so a refused row leaves nothing behind and
        // the batch's transaction stays usable on PostgreSQL.
        let reserved: i64 = sqlx::query("SELECT reserved FROM stock WHERE sku_id = $1")
            .bind(&sku_id)
            .fetch_one(self.conn())
            .await?
            .try_get("reserved")?;
        if sku.stock < reserved {
            return Err(Invalid::new(
                "below_reserved",
                "stock",
                format!("{reserved} units are reserved by open orders"),
            )
            .into());
        }
        let cols = ProductColumns::of(draft)?;
        sqlx::query(
            "UPDATE products SET title = $1, description = $2, category = $3, attributes = $4, images = $5, \
             ships_to = $6, moq = $7, updated_at = $8 WHERE id = $9",
        )
        .bind(&draft.title)
        .bind(&draft.description)
        .bind(draft.category.map(|c| c.id))
        .bind(cols.attributes)
        .bind(cols.images)
        .bind(cols.ships_to)
        .bind(draft.moq)
        .bind(self.store().now_ms())
        .bind(&product_id)
        .execute(self.conn())
        .await?;
        sqlx::query("UPDATE skus SET price_minor = $1 WHERE id = $2")
            .bind(sku.price.amount)
            .bind(&sku_id)
            .execute(self.conn())
            .await?;
        self.set_on_hand(&sku_id, sku.stock).await?;
        Ok((ImportOutcome::Updated, product_id))
    }
}
