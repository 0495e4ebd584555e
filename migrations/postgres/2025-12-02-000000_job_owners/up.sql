-- Who submitted each MLflow job through mlguard: MLflow 3.17 lets only a job's
-- creator read or cancel it, and an upstream without auth records no creator.
CREATE TABLE job_owners (
    job_id TEXT PRIMARY KEY NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);

CREATE INDEX job_owners_user_idx ON job_owners (user_id);
