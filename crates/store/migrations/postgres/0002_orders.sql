-- Orders with escrow: the ledger, carts, orders, durable deadlines and the outbox.

CREATE TABLE ledger_accounts (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('wallet', 'escrow', 'revenue', 'provider')),
    owner TEXT NOT NULL,
    currency TEXT NOT NULL,
    balance BIGINT NOT NULL DEFAULT 0,
    -- Only the outside world (provider accounts) may be negative.
    CHECK (kind = 'provider' OR balance >= 0)
);
CREATE INDEX ledger_accounts_owner ON ledger_accounts (owner, kind);

CREATE TABLE ledger_transfers (
    id TEXT PRIMARY KEY,
    debit_account TEXT NOT NULL REFERENCES ledger_accounts(key),
    credit_account TEXT NOT NULL REFERENCES ledger_accounts(key),
    amount BIGINT NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    kind TEXT NOT NULL,
    order_id TEXT,
    reference TEXT,
    created_at BIGINT NOT NULL,
    CHECK (debit_account <> credit_account)
);
CREATE INDEX ledger_transfers_debit ON ledger_transfers (debit_account, id);
CREATE INDEX ledger_transfers_credit ON ledger_transfers (credit_account, id);

CREATE TABLE top_ups (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    provider TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed')),
    card_last4 TEXT NOT NULL,
    failure_reason TEXT,
    created_at BIGINT NOT NULL,
    completed_at BIGINT
);
CREATE INDEX top_ups_user ON top_ups (user_id, id);

CREATE TABLE payouts (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    provider TEXT NOT NULL,
    destination TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE cart_items (
    user_id TEXT NOT NULL REFERENCES users(id),
    sku_id TEXT NOT NULL REFERENCES skus(id) ON DELETE CASCADE,
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    added_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, sku_id)
);

CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    checkout_id TEXT NOT NULL,
    buyer_id TEXT NOT NULL REFERENCES users(id),
    store_id TEXT NOT NULL REFERENCES stores(id),
    seller_id TEXT NOT NULL REFERENCES users(id),
    currency TEXT NOT NULL,
    total BIGINT NOT NULL CHECK (total > 0),
    commission BIGINT NOT NULL CHECK (commission >= 0),
    state TEXT NOT NULL,
    ship_country TEXT NOT NULL,
    carrier TEXT,
    tracking_number TEXT,
    confirmation_extended BIGINT NOT NULL DEFAULT 0,
    confirm_by BIGINT,
    cancel_reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX orders_buyer ON orders (buyer_id, id);
CREATE INDEX orders_store ON orders (store_id, id);
CREATE INDEX orders_checkout ON orders (checkout_id);

CREATE TABLE order_lines (
    order_id TEXT NOT NULL REFERENCES orders(id),
    position BIGINT NOT NULL,
    sku_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    title TEXT NOT NULL,
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    unit_price BIGINT NOT NULL CHECK (unit_price > 0),
    commission_bps BIGINT NOT NULL,
    PRIMARY KEY (order_id, position)
);

-- Deadlines: one row per order and kind, done in the same transaction as its effect.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    order_id TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'cancelled')),
    UNIQUE (order_id, kind)
);
CREATE INDEX jobs_due ON jobs (state, due_at);

-- The outbox: one row per recipient of each event, in commit order.
CREATE TABLE events (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    type TEXT NOT NULL,
    order_id TEXT,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX events_user ON events (user_id, seq);
