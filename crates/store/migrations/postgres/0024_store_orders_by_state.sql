-- A store's orders in one state (the seller's order list filtered), newest first.
CREATE INDEX orders_store_state ON orders (store_id, state, id);
