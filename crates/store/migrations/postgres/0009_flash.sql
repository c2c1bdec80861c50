-- Flash sales: promotions on SKUs with their own stock and a per-buyer limit.
CREATE TABLE promotions (
    id TEXT PRIMARY KEY,
    store_id TEXT NOT NULL REFERENCES stores(id),
    product_id TEXT NOT NULL,
    sku_id TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    price BIGINT NOT NULL CHECK (price > 0),
    currency TEXT NOT NULL,
    stock BIGINT NOT NULL CHECK (stock > 0),
    -- Never past the promotion's stock, whoever writes: the last guard against overselling.
    sold BIGINT NOT NULL DEFAULT 0 CHECK (sold >= 0 AND sold <= stock),
    per_buyer_limit BIGINT NOT NULL CHECK (per_buyer_limit > 0),
    created_at BIGINT NOT NULL
);
CREATE INDEX promotions_sku ON promotions (sku_id, ends_at);
CREATE INDEX promotions_store ON promotions (store_id, id);

-- Units each buyer bought in a promotion, held under its limit.
CREATE TABLE promotion_buyers (
    promotion_id TEXT NOT NULL REFERENCES promotions(id),
    buyer_id TEXT NOT NULL,
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (promotion_id, buyer_id)
);

ALTER TABLE orders ADD COLUMN promotion_id TEXT;
