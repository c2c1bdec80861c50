-- How far each user has read their notifications (the outbox's events, by seq).
CREATE TABLE notification_reads (
    user_id TEXT PRIMARY KEY,
    read_seq BIGINT NOT NULL
);
