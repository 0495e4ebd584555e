DROP TABLE provider_role_assignments;
DROP INDEX provider_identities_user_idx;
DROP TABLE provider_identities;
DROP INDEX pending_logins_expiry_idx;
DROP TABLE pending_logins;
DROP INDEX sessions_expiry_idx;
DROP INDEX sessions_user_idx;
DROP TABLE sessions;
