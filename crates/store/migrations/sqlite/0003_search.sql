-- Search: the catalog's change feed, which every process's index follows, and product traffic.

-- Triggers write the feed, so no code path that changes a product, its stock, its traffic or
-- its store can forget to. Readers re-read the current state, so a row only says "look again".
CREATE TABLE catalog_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id TEXT,
    store_id TEXT
);

CREATE TABLE product_stats (
    product_id TEXT PRIMARY KEY,
    impressions BIGINT NOT NULL DEFAULT 0,
    views BIGINT NOT NULL DEFAULT 0,
    purchases BIGINT NOT NULL DEFAULT 0
);

-- SKU changes touch their product's updated_at, so products' own triggers cover them.
CREATE TRIGGER products_inserted AFTER INSERT ON products
BEGIN INSERT INTO catalog_changes (product_id) VALUES (NEW.id); END;
CREATE TRIGGER products_updated AFTER UPDATE ON products
BEGIN INSERT INTO catalog_changes (product_id) VALUES (NEW.id); END;
CREATE TRIGGER products_deleted AFTER DELETE ON products
BEGIN INSERT INTO catalog_changes (product_id) VALUES (OLD.id); END;
CREATE TRIGGER stock_updated AFTER UPDATE ON stock
BEGIN INSERT INTO catalog_changes (product_id) SELECT product_id FROM skus WHERE id = NEW.sku_id; END;
-- Impressions alone do not change the ranking, so they do not re-index.
CREATE TRIGGER product_stats_inserted AFTER INSERT ON product_stats WHEN NEW.views > 0 OR NEW.purchases > 0
BEGIN INSERT INTO catalog_changes (product_id) VALUES (NEW.product_id); END;
CREATE TRIGGER product_stats_updated AFTER UPDATE OF views, purchases ON product_stats
BEGIN INSERT INTO catalog_changes (product_id) VALUES (NEW.product_id); END;
CREATE TRIGGER stores_inserted AFTER INSERT ON stores
BEGIN INSERT INTO catalog_changes (store_id) VALUES (NEW.id); END;
CREATE TRIGGER stores_updated AFTER UPDATE ON stores
BEGIN INSERT INTO catalog_changes (store_id) VALUES (NEW.id); END;
