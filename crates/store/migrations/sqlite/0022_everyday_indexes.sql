-- Statements on the everyday paths find their rows through an index (see tests/plans.rs).
-- Due deadlines are looked for among the pending ones only, and an order's deadlines by its
-- key: an index that leads with `state` invited plans that walked every pending job.
DROP INDEX jobs_due;
CREATE INDEX jobs_pending ON jobs (due_at) WHERE state = 'pending';
-- Top-ups the sandbox still has to confirm.
CREATE INDEX top_ups_pending ON top_ups (created_at) WHERE state = 'pending';
-- A new or removed store is checked against the rows that name it.
CREATE INDEX disputes_store ON disputes (store_id);
CREATE INDEX verifications_store ON verifications (store_id, id);
CREATE INDEX quotes_store ON quotes (store_id);
-- Orders that hold escrow, by buyer and by seller: the wallet's held and incoming sums.
CREATE INDEX orders_buyer_open ON orders (buyer_id) WHERE state IN ('paid', 'shipped', 'delivered', 'disputed');
CREATE INDEX orders_seller_open ON orders (seller_id) WHERE state IN ('paid', 'shipped', 'delivered', 'disputed');
-- A product's promotions (its page shows the live one).
CREATE INDEX promotions_product ON promotions (product_id, id);
