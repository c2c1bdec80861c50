-- Disputes: at most one per order. The order is 'disputed' while its dispute is open; the
-- dispute ends in one outcome, settled with the order in one transaction.

CREATE TABLE disputes (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL UNIQUE REFERENCES orders(id),
    buyer_id TEXT NOT NULL REFERENCES users(id),
    store_id TEXT NOT NULL REFERENCES stores(id),
    reason TEXT NOT NULL CHECK (reason IN ('not_received', 'not_as_described', 'damaged', 'wrong_item', 'other')),
    description TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('awaiting_seller', 'refund_offered', 'return_requested', 'return_shipped',
                                         'rejected', 'mediation', 'resolved')),
    -- The partial refund the seller offered, in the order's minor units.
    offered BIGINT,
    return_carrier TEXT,
    return_tracking TEXT,
    outcome TEXT CHECK (outcome IN ('refund', 'partial_refund', 'release')),
    refund BIGINT,
    -- 'system' for automatic rules and deadlines, else the user who decided.
    decided_by TEXT,
    decision_reason TEXT,
    opened_at BIGINT NOT NULL,
    escalated_at BIGINT,
    resolved_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX disputes_state ON disputes (state, escalated_at);
CREATE INDEX disputes_return ON disputes (return_carrier, return_tracking);

-- What each side (and mediators) put on record: text and image URLs, never edited.
CREATE TABLE dispute_evidence (
    id TEXT PRIMARY KEY,
    dispute_id TEXT NOT NULL REFERENCES disputes(id),
    -- NULL for the automatic rules.
    author_id TEXT REFERENCES users(id),
    role TEXT NOT NULL CHECK (role IN ('buyer', 'seller', 'mediator', 'system')),
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    images TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX dispute_evidence_dispute ON dispute_evidence (dispute_id, created_at);
