-- What people report: a listing, a store, a review or a message, with a reason and their words.
CREATE TABLE reports (
    id TEXT PRIMARY KEY,
    reporter_id TEXT NOT NULL REFERENCES users(id),
    target_kind TEXT NOT NULL CHECK (target_kind IN ('product', 'store', 'review', 'message')),
    target_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    details TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'actioned', 'dismissed')),
    created_at BIGINT NOT NULL,
    handled_by TEXT,
    handled_at BIGINT,
    note TEXT
);
CREATE INDEX reports_by_state ON reports (state, id);
CREATE INDEX reports_by_target ON reports (target_kind, target_id);
CREATE INDEX reports_by_reporter ON reports (reporter_id, id);

-- What operators did, each with its reason, until reversed (with the reversal's reason). A
-- listing of a store below identity verification may be held for review (`hold_for_review`)
-- when the marketplace asks for it. `restore` lists the listings an action hid and the status
-- each had (`prd_..=active` lines). The person concerned may appeal once.
CREATE TABLE moderation_actions (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('take_down', 'suspend_store', 'ban_user', 'hide_review', 'hold_for_review')),
    target_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    restore TEXT NOT NULL,
    reversed_at BIGINT,
    reversed_by TEXT,
    reversal_reason TEXT,
    appeal TEXT,
    appealed_at BIGINT,
    appeal_answer TEXT
);
CREATE INDEX moderation_appeals ON moderation_actions (appealed_at) WHERE appeal IS NOT NULL AND appeal_answer IS NULL AND reversed_at IS NULL;
CREATE INDEX moderation_by_kind ON moderation_actions (kind, id) WHERE reversed_at IS NULL;
CREATE UNIQUE INDEX moderation_in_force ON moderation_actions (kind, target_id) WHERE reversed_at IS NULL;
CREATE INDEX moderation_by_target ON moderation_actions (target_id, id);

ALTER TABLE stores ADD COLUMN suspended_at BIGINT;
ALTER TABLE users ADD COLUMN banned_at BIGINT;
-- A hidden review counts in no rating and no trust score.
ALTER TABLE reviews ADD COLUMN hidden_at BIGINT;

-- Marketplace settings operators change from the console (`listing_review`: `on` or `off`).
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
