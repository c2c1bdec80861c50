-- Who holds a claim that is still `started`: the process (`boot`, alive while it holds its
-- boot lock) and the claim itself (`token`). A claim whose process died is taken over at once;
-- finishing or releasing a claim is guarded on its token, so a claim taken over cannot be
-- finished by the request that lost it.
ALTER TABLE idempotency ADD COLUMN boot TEXT;
ALTER TABLE idempotency ADD COLUMN token TEXT;
