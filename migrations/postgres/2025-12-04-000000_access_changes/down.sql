DROP TRIGGER revoked_tokens_access_changed ON revoked_tokens;
DROP TRIGGER user_role_assignments_access_changed ON user_role_assignments;
DROP TRIGGER role_permissions_access_changed ON role_permissions;
DROP TRIGGER roles_access_changed ON roles;
DROP TRIGGER users_access_changed ON users;
DROP FUNCTION mlguard_access_changed();
DROP FUNCTION mlguard_access_announce(TEXT, JSONB);
