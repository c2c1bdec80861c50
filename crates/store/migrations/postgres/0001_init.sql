-- Souk schema, PostgreSQL dialect. Integers are BIGINT (read as i64 on both backends); times are
-- Unix milliseconds; money is integer minor units beside an ISO-4217 code.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    email_norm TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    display_name TEXT NOT NULL,
    email_verified_at BIGINT,
    created_at BIGINT NOT NULL
);

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('seller', 'mediator', 'admin')),
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, role)
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE email_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE TABLE stores (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL UNIQUE REFERENCES users(id),
    name TEXT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    country TEXT NOT NULL,
    currency TEXT NOT NULL,
    description TEXT NOT NULL,
    verification TEXT NOT NULL DEFAULT 'none' CHECK (verification IN ('none', 'email', 'identity')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE verifications (
    id TEXT PRIMARY KEY,
    store_id TEXT NOT NULL REFERENCES stores(id),
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    legal_name TEXT NOT NULL,
    document_type TEXT NOT NULL,
    document_number TEXT NOT NULL,
    document_urls TEXT NOT NULL,
    reason TEXT,
    submitted_at BIGINT NOT NULL,
    decided_at BIGINT,
    decided_by TEXT REFERENCES users(id)
);
CREATE UNIQUE INDEX verifications_one_pending ON verifications (store_id) WHERE status = 'pending';
CREATE INDEX verifications_status ON verifications (status, id);

CREATE TABLE products (
    id TEXT PRIMARY KEY,
    store_id TEXT NOT NULL REFERENCES stores(id),
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    category TEXT,
    attributes TEXT NOT NULL,
    images TEXT NOT NULL,
    ships_to TEXT NOT NULL,
    moq BIGINT NOT NULL CHECK (moq >= 1),
    status TEXT NOT NULL CHECK (status IN ('draft', 'active', 'archived')),
    currency TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX products_store ON products (store_id, id);
CREATE INDEX products_status ON products (status, id);
-- Imports without SKU codes match on the title within the store.
CREATE INDEX products_store_title ON products (store_id, title);

CREATE TABLE skus (
    id TEXT PRIMARY KEY,
    product_id TEXT NOT NULL REFERENCES products(id) ON DELETE CASCADE,
    store_id TEXT NOT NULL REFERENCES stores(id),
    code TEXT,
    options TEXT NOT NULL,
    price_minor BIGINT NOT NULL CHECK (price_minor > 0),
    currency TEXT NOT NULL,
    tiers TEXT NOT NULL,
    position BIGINT NOT NULL
);
CREATE INDEX skus_product ON skus (product_id, position);
CREATE UNIQUE INDEX skus_store_code ON skus (store_id, code);

-- One row per SKU: what later order flows reserve against.
CREATE TABLE stock (
    sku_id TEXT PRIMARY KEY REFERENCES skus(id) ON DELETE CASCADE,
    on_hand BIGINT NOT NULL CHECK (on_hand >= 0),
    reserved BIGINT NOT NULL DEFAULT 0 CHECK (reserved >= 0 AND reserved <= on_hand)
);

CREATE TABLE idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('started', 'done')),
    status BIGINT,
    body TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
