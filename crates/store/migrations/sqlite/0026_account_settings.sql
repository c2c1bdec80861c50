-- What a person chooses for their account: the language, currency and time zone that pages,
-- notifications and email use (NULL: decided by the browser).
ALTER TABLE users ADD COLUMN locale TEXT;
ALTER TABLE users ADD COLUMN currency TEXT;
ALTER TABLE users ADD COLUMN time_zone TEXT;

-- A session as its owner sees it in the list of devices signed in.
ALTER TABLE sessions ADD COLUMN device TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN last_used_at BIGINT;

-- Emailed tokens prove an address (`verify`), change it once proven (`email_change`, the new
-- address kept here until then), or reset a password (`password_reset`).
ALTER TABLE email_tokens ADD COLUMN purpose TEXT NOT NULL DEFAULT 'verify';
ALTER TABLE email_tokens ADD COLUMN new_email TEXT;
CREATE INDEX email_tokens_user ON email_tokens (user_id);
