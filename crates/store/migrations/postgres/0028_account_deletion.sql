-- When a person deleted their account: the row stays, anonymised, for the orders and the books.
ALTER TABLE users ADD COLUMN deleted_at BIGINT;
