-- Product page views per day, for sellers' analytics (product_stats keeps only the totals).
CREATE TABLE product_views_daily (
    product_id TEXT NOT NULL,
    store_id TEXT NOT NULL,
    -- Days since the Unix epoch (UTC).
    day BIGINT NOT NULL,
    views BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (product_id, day)
);
CREATE INDEX product_views_daily_store ON product_views_daily (store_id, day);
CREATE INDEX orders_store_paid ON orders (store_id, paid_at);
