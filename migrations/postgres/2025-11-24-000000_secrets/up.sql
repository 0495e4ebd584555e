-- mlguard's secret store. Values are never stored in the clear: secret_values
-- holds them sealed under a per-secret data key, and that key wrapped by a KEK.
-- COLLATE "C" on ids and keys: byte order, as on SQLite, so listings and
-- pagination agree on both backends whatever the locale.

-- Metadata. `created_by` is a name, not a foreign key: a secret outlives its creator.
CREATE TABLE secrets (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    provider TEXT,
    description TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Listing order and keyset pagination.
CREATE INDEX secrets_listing_idx ON secrets (created_at, id);

-- The sealed value and its wrapped data key. `kek_id` names the KEK that
-- wraps the data key, so a rotation finds what is left to re-wrap.
CREATE TABLE secret_values (
    secret_id TEXT COLLATE "C" PRIMARY KEY REFERENCES secrets (id) ON DELETE CASCADE,
    ciphertext BYTEA NOT NULL,
    wrapped_key BYTEA NOT NULL,
    kek_id TEXT COLLATE "C" NOT NULL
);

CREATE INDEX secret_values_kek_idx ON secret_values (kek_id, secret_id);

-- Routes: a provider model reached with a secret.
CREATE TABLE secret_routes (
    id TEXT COLLATE "C" PRIMARY KEY,
    secret_id TEXT COLLATE "C" NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    provider TEXT NOT NULL,
    model_name TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX secret_routes_secret_idx ON secret_routes (secret_id);

-- Where a secret is used. The key holds one secret; bindings belong to no user.
CREATE TABLE secret_bindings (
    resource_type TEXT COLLATE "C" NOT NULL,
    resource_id TEXT COLLATE "C" NOT NULL,
    field_name TEXT COLLATE "C" NOT NULL,
    secret_id TEXT COLLATE "C" NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (resource_type, resource_id, field_name)
);

CREATE INDEX secret_bindings_secret_idx ON secret_bindings (secret_id);

-- Per-secret grants; they go with their secret and with their user.
CREATE TABLE secret_grants (
    secret_id TEXT COLLATE "C" NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (secret_id, user_id)
);

CREATE INDEX secret_grants_user_idx ON secret_grants (user_id);

-- Admin bypasses of a secret permission check. No foreign keys: the trail
-- outlives the secrets and accounts it names.
CREATE TABLE secret_audit (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    operation TEXT NOT NULL,
    secret_id TEXT COLLATE "C"
);

CREATE INDEX secret_audit_secret_idx ON secret_audit (secret_id, id);
