-- Counts commits that ended a session or changed a user's roles or email. Every process keeps
-- recently looked-up sessions in memory and reads this number every half second: when it has
-- moved, that process forgets them all, so a log-out anywhere takes effect everywhere at once.
CREATE TABLE auth_epoch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n BIGINT NOT NULL
);
INSERT INTO auth_epoch (id, n) VALUES (1, 0);
