-- Requests for quotation and the quotes sellers send. An RFQ is stored open, awarded or
-- cancelled; "closed" (deadline passed or ten quotes) is computed when read.

CREATE TABLE rfqs (
    id TEXT PRIMARY KEY,
    buyer_id TEXT NOT NULL REFERENCES users(id),
    title TEXT NOT NULL,
    details TEXT NOT NULL,
    category TEXT NOT NULL,
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    target_price BIGINT,
    target_currency TEXT,
    ship_to TEXT NOT NULL,
    deadline BIGINT NOT NULL,
    quotes BIGINT NOT NULL DEFAULT 0 CHECK (quotes BETWEEN 0 AND 10),
    state TEXT NOT NULL CHECK (state IN ('open', 'awarded', 'cancelled')),
    order_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX rfqs_buyer ON rfqs (buyer_id, id);
CREATE INDEX rfqs_open ON rfqs (state, deadline);

-- One quote per store and RFQ; a quote may be revised once.
CREATE TABLE quotes (
    id TEXT PRIMARY KEY,
    rfq_id TEXT NOT NULL REFERENCES rfqs(id),
    store_id TEXT NOT NULL REFERENCES stores(id),
    sku_id TEXT NOT NULL REFERENCES skus(id),
    unit_price BIGINT NOT NULL CHECK (unit_price > 0),
    currency TEXT NOT NULL,
    moq BIGINT NOT NULL CHECK (moq > 0),
    lead_time_days BIGINT NOT NULL CHECK (lead_time_days >= 0),
    note TEXT NOT NULL,
    edits BIGINT NOT NULL DEFAULT 0 CHECK (edits BETWEEN 0 AND 1),
    state TEXT NOT NULL CHECK (state IN ('submitted', 'accepted', 'not_selected')),
    order_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (rfq_id, store_id)
);
