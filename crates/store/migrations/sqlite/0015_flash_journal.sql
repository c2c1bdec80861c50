-- Flash-sale orders as the order engine commits them. A batch's commit is the purchase: stock,
-- the promotion's counters, the buyer's wallet and the payment transfer (into the promotion's
-- escrow account) are all written with this row. Writing the order out in full (order, line,
-- its own escrow, deadline, events) happens shortly after, in a transaction that also deletes
-- the row here; so a row exists exactly while its order is paid but not yet written out.
CREATE TABLE flash_orders (
    order_id TEXT PRIMARY KEY,
    promotion_id TEXT NOT NULL,
    buyer_id TEXT NOT NULL,
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    unit_price BIGINT NOT NULL CHECK (unit_price > 0),
    currency TEXT NOT NULL,
    ship_country TEXT NOT NULL,
    created_at BIGINT NOT NULL
) WITHOUT ROWID;
