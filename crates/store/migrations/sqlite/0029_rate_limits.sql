-- Attempt counters (log-in, password resets, chat messages), kept here so that every server
-- process sharing the database counts the same attempts. Fixed windows; old rows are pruned.
CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    count BIGINT NOT NULL
);
CREATE INDEX rate_limits_window ON rate_limits (window_start);
