-- Accounts. BIGSERIAL: an id is never reused, so nothing keyed by an old id
-- (a grant, a cache entry) can ever point at a new account.
CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    is_admin BOOLEAN NOT NULL DEFAULT FALSE,
    credential_version BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

-- Explicit grants of a user on a resource. COLLATE "C": byte order, the same as
-- SQLite's, so listings sort identically on both backends whatever the locale.
CREATE TABLE grants (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    resource_kind TEXT COLLATE "C" NOT NULL,
    resource_key TEXT COLLATE "C" NOT NULL,
    permission TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, resource_kind, resource_key)
);

-- Finds every grant on one resource (cascading a model delete or rename).
CREATE INDEX grants_resource_idx ON grants (resource_kind, resource_key);
