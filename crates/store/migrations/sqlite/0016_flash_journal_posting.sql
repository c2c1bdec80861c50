-- A journal row is now itself the payment's ledger posting (the buyer's wallet into the
-- promotion's escrow): the batch that commits it writes no transfer row. The transfer is
-- written, under this id and with the row's time, when the order is written out, straight
-- from the wallet into the order's own escrow. Rows already here had their payment written as
-- a transfer; that transfer is folded back into its row so both kinds read the same.
ALTER TABLE flash_orders ADD COLUMN transfer_id TEXT NOT NULL DEFAULT '';
UPDATE flash_orders SET transfer_id = (SELECT t.id FROM ledger_transfers t
    WHERE t.order_id = flash_orders.order_id AND t.kind = 'payment');
DELETE FROM ledger_transfers WHERE kind = 'payment' AND order_id IN (SELECT order_id FROM flash_orders);

-- `promotion_buyers` now counts written-out orders only: what a buyer bought in a promotion is
-- that plus their rows here, so a batch appends its journal rows and touches no per-buyer row.
DELETE FROM promotion_buyers WHERE quantity = (SELECT SUM(f.quantity) FROM flash_orders f
    WHERE f.promotion_id = promotion_buyers.promotion_id AND f.buyer_id = promotion_buyers.buyer_id);
UPDATE promotion_buyers SET quantity = quantity - (SELECT COALESCE(SUM(f.quantity), 0) FROM flash_orders f
    WHERE f.promotion_id = promotion_buyers.promotion_id AND f.buyer_id = promotion_buyers.buyer_id);
