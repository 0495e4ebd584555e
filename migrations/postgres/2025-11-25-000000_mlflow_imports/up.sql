-- Accounts brought over by `mlguard import-mlflow`, so that a repeated import can
-- tell "this is still the password imported from MLflow" after the first login has
-- replaced the werkzeug hash by argon2id. Only SHA-256 fingerprints of hashes are
-- kept, never a hash itself.
CREATE TABLE mlflow_imported_users (
    user_id BIGINT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Fingerprint of the werkzeug hash read from MLflow's database.
    source_hash_sha256 TEXT NOT NULL,
    -- Fingerprint of the hash the import or the login rehash last wrote; differs
    -- from the account's current hash once its password has been changed.
    current_hash_sha256 TEXT NOT NULL,
    -- Milliseconds since the Unix epoch.
    imported_at BIGINT NOT NULL
);
