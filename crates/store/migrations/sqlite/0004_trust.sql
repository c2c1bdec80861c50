-- Shipping and tracking, reviews, and what each store's trust score is computed from.

ALTER TABLE orders ADD COLUMN paid_at BIGINT;
ALTER TABLE orders ADD COLUMN shipped_at BIGINT;
ALTER TABLE orders ADD COLUMN delivered_at BIGINT;
ALTER TABLE orders ADD COLUMN completed_at BIGINT;
CREATE INDEX orders_tracking ON orders (carrier, tracking_number);

-- Events carriers post; the carrier's own event id makes a repeated post a no-op.
CREATE TABLE tracking_events (
    carrier TEXT NOT NULL,
    event_id TEXT NOT NULL,
    order_id TEXT NOT NULL REFERENCES orders(id),
    type TEXT NOT NULL CHECK (type IN ('picked_up', 'in_transit', 'out_for_delivery', 'delivered', 'exception')),
    occurred_at BIGINT NOT NULL,
    location TEXT,
    description TEXT,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (carrier, event_id, order_id)
);
CREATE INDEX tracking_events_order ON tracking_events (order_id, occurred_at);

-- One review per order line, by the order's buyer; the seller may reply once.
CREATE TABLE reviews (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders(id),
    position BIGINT NOT NULL,
    product_id TEXT NOT NULL,
    store_id TEXT NOT NULL REFERENCES stores(id),
    buyer_id TEXT NOT NULL REFERENCES users(id),
    stars BIGINT NOT NULL CHECK (stars BETWEEN 1 AND 5),
    described BIGINT NOT NULL CHECK (described BETWEEN 1 AND 5),
    communication BIGINT NOT NULL CHECK (communication BETWEEN 1 AND 5),
    shipping BIGINT NOT NULL CHECK (shipping BETWEEN 1 AND 5),
    body TEXT NOT NULL,
    reply TEXT,
    replied_at BIGINT,
    created_at BIGINT NOT NULL,
    UNIQUE (order_id, position)
);
CREATE INDEX reviews_product ON reviews (product_id, id);
CREATE INDEX reviews_store ON reviews (store_id, id);

-- Running totals per store, kept in the same transaction as the change that moves them.
CREATE TABLE store_stats (
    store_id TEXT PRIMARY KEY REFERENCES stores(id),
    completed_orders BIGINT NOT NULL DEFAULT 0,
    reviews BIGINT NOT NULL DEFAULT 0,
    stars_sum BIGINT NOT NULL DEFAULT 0,
    described_sum BIGINT NOT NULL DEFAULT 0,
    communication_sum BIGINT NOT NULL DEFAULT 0,
    shipping_sum BIGINT NOT NULL DEFAULT 0,
    shipped_orders BIGINT NOT NULL DEFAULT 0,
    shipped_on_time BIGINT NOT NULL DEFAULT 0,
    delivered_orders BIGINT NOT NULL DEFAULT 0,
    delivery_ms_sum BIGINT NOT NULL DEFAULT 0,
    disputes_lost BIGINT NOT NULL DEFAULT 0,
    refunds BIGINT NOT NULL DEFAULT 0
);

-- Trust feeds search: a change of the totals is a change of the store.
CREATE TRIGGER store_stats_inserted AFTER INSERT ON store_stats
BEGIN INSERT INTO catalog_changes (store_id) VALUES (NEW.store_id); END;
CREATE TRIGGER store_stats_updated AFTER UPDATE ON store_stats
BEGIN INSERT INTO catalog_changes (store_id) VALUES (NEW.store_id); END;
