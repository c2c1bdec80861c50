-- Keys first in the primary key: keys that sort by time (UUIDv7, ULIDs, a counter) then land
-- on the index's last pages, where a flash-sale batch of a few hundred buys dirtied a page
-- each when the index was ordered by user. Every look-up is by both, so nothing else changes.
CREATE TABLE idempotency_by_key (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('started', 'done')),
    status BIGINT,
    body TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (key, scope)
);
INSERT INTO idempotency_by_key (scope, key, request_hash, state, status, body, created_at)
    SELECT scope, key, request_hash, state, status, body, created_at FROM idempotency;
DROP TABLE idempotency;
ALTER TABLE idempotency_by_key RENAME TO idempotency;
