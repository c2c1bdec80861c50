-- Notification email: one row per recipient of an event worth an email (`notify::EMAILED`),
-- written by a trigger in the event's own transaction, then sent, retried and marked by the
-- server's mail sender. A row exists exactly when its event does, so no email is forgotten by a
-- crash, and a claimed row that was never marked is sent again: at least once.
CREATE TABLE email_outbox (
    id BIGSERIAL PRIMARY KEY,
    event_seq BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    -- While a send is in flight this is its lease.
    next_attempt_at BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX email_outbox_due ON email_outbox (next_attempt_at) WHERE state = 'pending';

CREATE FUNCTION events_email() RETURNS trigger AS $$
BEGIN
    INSERT INTO email_outbox (event_seq, user_id, state, attempts, next_attempt_at, window_start, created_at)
    SELECT e.seq, e.user_id, 'pending', 0, e.created_at, e.created_at, e.created_at
    FROM fresh e
    WHERE e.type IN (
        'order.paid',
        'order.shipped',
        'order.delivered',
        'order.ship_reminder',
        'order.confirm_reminder',
        'order.completed',
        'order.cancelled',
        'order.refunded',
        'order.partially_refunded',
        'dispute.opened',
        'dispute.refund_offered',
        'dispute.return_requested',
        'dispute.rejected',
        'dispute.mediation',
        'dispute.resolved',
        'dispute.response_reminder',
        'offer.created',
        'offer.countered',
        'offer.accepted',
        'rfq.quoted',
        'rfq.awarded'
    )
    ORDER BY e.seq;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER events_email AFTER INSERT ON events REFERENCING NEW TABLE AS fresh
    FOR EACH STATEMENT EXECUTE FUNCTION events_email();
