-- Single sign-on (OpenID Connect): browser sessions kept server-side, so they work
-- across replicas and end when deleted. The cookie holds a random secret; only its
-- SHA-256 is stored, so the table alone opens no session.
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    secret_sha256 TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Whether the provider's groups made the user an admin at login.
    admin_from_provider BOOLEAN NOT NULL,
    -- The account's credential version at login: a change ends the session.
    credential_version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expiry_idx ON sessions (expires_at);

-- Logins under way: what the callback must match (state, by its SHA-256), each
-- usable once, until it expires.
CREATE TABLE pending_logins (
    state_sha256 TEXT PRIMARY KEY NOT NULL,
    nonce TEXT NOT NULL,
    code_verifier TEXT NOT NULL,
    next_path TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX pending_logins_expiry_idx ON pending_logins (expires_at);

-- The provider identity (issuer, subject) each account was made for: only that
-- identity signs in as it, so a provider name never takes over a local account.
CREATE TABLE provider_identities (
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (issuer, subject)
);

CREATE INDEX provider_identities_user_idx ON provider_identities (user_id);

-- Which role assignments the provider's groups made: only these does a later login
-- or bearer request take away again.
CREATE TABLE provider_role_assignments (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id BIGINT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, role_id)
);
