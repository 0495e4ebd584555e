DROP TABLE provider_role_assignments;
DROP TABLE pending_logins;
DROP INDEX sessions_user_idx;
DROP TABLE sessions;
