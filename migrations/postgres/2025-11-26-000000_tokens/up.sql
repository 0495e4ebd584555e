-- Keys that sign bearer tokens, when none is configured. Newest first by created_at;
-- a retired key still verifies during the rotation grace period.
CREATE TABLE signing_keys (
    key_id TEXT PRIMARY KEY NOT NULL,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);

-- Tokens revoked one by one, kept until they would have expired anyway.
CREATE TABLE revoked_tokens (
    token_id TEXT PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL
);
