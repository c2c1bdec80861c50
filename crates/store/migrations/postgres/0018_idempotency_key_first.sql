-- Keys first in the primary key: keys that sort by time (UUIDv7, ULIDs, a counter) then land
-- on the index's last pages, where a flash-sale batch of a few hundred buys dirtied a page
-- each when the index was ordered by user. Every look-up is by both, so nothing else changes.
ALTER TABLE idempotency DROP CONSTRAINT idempotency_pkey, ADD PRIMARY KEY (key, scope);
