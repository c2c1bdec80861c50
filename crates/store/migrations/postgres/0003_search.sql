-- Search: the catalog's change feed, which every process's index follows, and product traffic.

-- Triggers write the feed, so no code path that changes a product, its stock, its traffic or
-- its store can forget to. Readers re-read the current state, so a row only says "look again".
CREATE TABLE catalog_changes (
    seq BIGSERIAL PRIMARY KEY,
    product_id TEXT,
    store_id TEXT
);

CREATE TABLE product_stats (
    product_id TEXT PRIMARY KEY,
    impressions BIGINT NOT NULL DEFAULT 0,
    views BIGINT NOT NULL DEFAULT 0,
    purchases BIGINT NOT NULL DEFAULT 0
);

CREATE FUNCTION souk_catalog_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'products' AND TG_OP = 'DELETE' THEN
        INSERT INTO catalog_changes (product_id) VALUES (OLD.id);
    ELSIF TG_TABLE_NAME = 'products' THEN
        INSERT INTO catalog_changes (product_id) VALUES (NEW.id);
    ELSIF TG_TABLE_NAME = 'stock' THEN
        INSERT INTO catalog_changes (product_id) SELECT product_id FROM skus WHERE id = NEW.sku_id;
    ELSIF TG_TABLE_NAME = 'product_stats' THEN
        INSERT INTO catalog_changes (product_id) VALUES (NEW.product_id);
    ELSIF TG_TABLE_NAME = 'stores' THEN
        INSERT INTO catalog_changes (store_id) VALUES (NEW.id);
    END IF;
    RETURN NULL;
END $$;

-- SKU changes touch their product's updated_at, so products' own trigger covers them.
CREATE TRIGGER products_changed AFTER INSERT OR UPDATE OR DELETE ON products
    FOR EACH ROW EXECUTE FUNCTION souk_catalog_changed();
CREATE TRIGGER stock_changed AFTER UPDATE ON stock
    FOR EACH ROW EXECUTE FUNCTION souk_catalog_changed();
-- Impressions alone do not change the ranking, so they do not re-index.
CREATE TRIGGER product_stats_inserted AFTER INSERT ON product_stats
    FOR EACH ROW WHEN (NEW.views > 0 OR NEW.purchases > 0) EXECUTE FUNCTION souk_catalog_changed();
CREATE TRIGGER product_stats_updated AFTER UPDATE OF views, purchases ON product_stats
    FOR EACH ROW EXECUTE FUNCTION souk_catalog_changed();
CREATE TRIGGER stores_changed AFTER INSERT OR UPDATE ON stores
    FOR EACH ROW EXECUTE FUNCTION souk_catalog_changed();
