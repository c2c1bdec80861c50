-- Webhooks: endpoints users register, and one delivery per endpoint and event. A trigger on the
-- outbox writes the deliveries in the transaction that writes the event, so no code path that
-- emits an event can skip its webhooks, and a delivery exists exactly when its event does.
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL REFERENCES users(id),
    url TEXT NOT NULL,
    description TEXT NOT NULL,
    -- Space-separated subscriptions: event types, families (order.*) or *.
    events TEXT NOT NULL,
    -- 1: every event of the marketplace, once (operators); 0: the events addressed to the owner.
    marketplace BIGINT NOT NULL,
    -- Kept in the clear: signing needs it.
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    disabled_at BIGINT
);
CREATE INDEX webhook_endpoints_owner ON webhook_endpoints (owner_id, id);

CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id),
    event_id TEXT NOT NULL,
    -- The outbox row the body is built from; deliveries of one order go out in this order.
    event_seq BIGINT NOT NULL,
    type TEXT NOT NULL,
    order_id TEXT,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    -- While an attempt is in flight this is its lease: past it, another round may try again.
    next_attempt_at BIGINT NOT NULL,
    -- Retries stop three days after this: the first attempt, or the last manual replay.
    window_start BIGINT NOT NULL,
    last_status BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (endpoint_id, order_id, event_seq);

CREATE TABLE webhook_attempts (
    delivery_id BIGINT NOT NULL REFERENCES webhook_deliveries(id),
    attempt BIGINT NOT NULL,
    at BIGINT NOT NULL,
    -- The receiver's HTTP status; NULL when none came (refused, timed out).
    status BIGINT,
    error TEXT,
    -- The start of the receiver's answer, for the owner's debugging.
    response TEXT,
    duration_ms BIGINT NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);

-- A marketplace endpoint sees an event once although the outbox holds a row per recipient:
-- the unique (endpoint, event) keeps the first.
CREATE TRIGGER events_webhooks AFTER INSERT ON events
BEGIN
    INSERT OR IGNORE INTO webhook_deliveries
        (endpoint_id, event_id, event_seq, type, order_id, state, attempts, next_attempt_at, window_start, created_at)
    SELECT w.id, NEW.id, NEW.seq, NEW.type, NEW.order_id, 'pending', 0, NEW.created_at, NEW.created_at, NEW.created_at
    FROM webhook_endpoints w
    WHERE w.disabled_at IS NULL AND (w.owner_id = NEW.user_id OR w.marketplace = 1)
      AND (instr(' ' || w.events || ' ', ' * ') > 0
           OR instr(' ' || w.events || ' ', ' ' || NEW.type || ' ') > 0
           OR instr(' ' || w.events || ' ', ' ' || substr(NEW.type, 1, instr(NEW.type, '.')) || '* ') > 0);
END;
