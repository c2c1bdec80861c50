-- Two-step sign-in (RFC 6238). `totp_secret` is set when enrolment starts and counts once
-- `totp_enabled_at` is; `totp_last_step` is the time step of the last code used, so that no
-- code is accepted twice.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_enabled_at BIGINT;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;

-- Codes that stand in for the authenticator once each, kept hashed.
CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, code_hash)
);
