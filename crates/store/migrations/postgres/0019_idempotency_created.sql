-- Keys are kept for a retention period (`--idempotency-retention-h`); the sweep that forgets
-- older ones finds them by age. Keys are stamped with the time they were claimed, so new
-- entries land on the index's last page.
CREATE INDEX idempotency_created ON idempotency (created_at);
