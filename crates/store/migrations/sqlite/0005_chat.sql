-- Conversations between a buyer and a store, their messages, blocks, the seller's response
-- times, and offers negotiated in a conversation.

-- One conversation per buyer, store and subject ('' when about nothing in particular).
CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    buyer_id TEXT NOT NULL REFERENCES users(id),
    store_id TEXT NOT NULL REFERENCES stores(id),
    product_id TEXT NOT NULL DEFAULT '',
    order_id TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    last_message_at BIGINT NOT NULL,
    -- Messages are numbered 1, 2, ... within the conversation; last_seq is the newest.
    last_seq BIGINT NOT NULL DEFAULT 0,
    buyer_read_seq BIGINT NOT NULL DEFAULT 0,
    seller_read_seq BIGINT NOT NULL DEFAULT 0,
    -- The buyer's first message the seller has not answered yet.
    awaiting_since BIGINT,
    UNIQUE (buyer_id, store_id, product_id, order_id)
);
CREATE INDEX conversations_store ON conversations (store_id, last_message_at);
CREATE INDEX conversations_buyer ON conversations (buyer_id, last_message_at);

CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    seq BIGINT NOT NULL,
    sender_id TEXT NOT NULL REFERENCES users(id),
    side TEXT NOT NULL CHECK (side IN ('buyer', 'seller')),
    body TEXT NOT NULL,
    images TEXT NOT NULL,
    offer_id TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (conversation_id, seq)
);

-- blocker_id will not hear from blocked_id.
CREATE TABLE blocks (
    blocker_id TEXT NOT NULL REFERENCES users(id),
    blocked_id TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
);

-- Time from a buyer's first unanswered message to the seller's reply; the newest per store count.
CREATE TABLE response_times (
    store_id TEXT NOT NULL REFERENCES stores(id),
    answered_at BIGINT NOT NULL,
    response_ms BIGINT NOT NULL,
    conversation_id TEXT NOT NULL
);
CREATE INDEX response_times_store ON response_times (store_id, answered_at);

-- An offer in a conversation; a counter-offer points at the offer it answers. At most one open
-- offer per conversation. "expired" is never stored: an open offer past valid_until is expired.
CREATE TABLE offers (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    sku_id TEXT NOT NULL REFERENCES skus(id),
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    unit_price BIGINT NOT NULL CHECK (unit_price > 0),
    currency TEXT NOT NULL,
    ship_to TEXT,
    valid_until BIGINT NOT NULL,
    made_by TEXT NOT NULL CHECK (made_by IN ('buyer', 'seller')),
    state TEXT NOT NULL CHECK (state IN ('open', 'accepted', 'declined', 'countered', 'superseded')),
    counters TEXT,
    order_id TEXT,
    created_at BIGINT NOT NULL,
    decided_at BIGINT
);
CREATE UNIQUE INDEX offers_one_open ON offers (conversation_id) WHERE state = 'open';
CREATE INDEX offers_conversation ON offers (conversation_id, created_at);
