-- Every change a decision depends on, in commit order (SQLite has one writer at a
-- time, so `seq` order is commit order), written by the writing transaction itself:
-- the server's in-process view replays what it has not seen, whoever wrote it (the
-- API, the offline commands, the import or plain SQL). The server prunes what it
-- applied. Texts: u:USER_ID, r:ROLE_ID, g:ROLE_ID:TYPE:PATTERN, t:TOKEN_ID.
CREATE TABLE access_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    change TEXT NOT NULL
);

CREATE TRIGGER users_insert_access_changed AFTER INSERT ON users
BEGIN
    INSERT INTO access_changes (change) VALUES ('u:' || NEW.id);
END;

CREATE TRIGGER users_update_access_changed AFTER UPDATE ON users
BEGIN
    INSERT INTO access_changes (change) VALUES ('u:' || NEW.id);
END;

CREATE TRIGGER users_delete_access_changed AFTER DELETE ON users
BEGIN
    INSERT INTO access_changes (change) VALUES ('u:' || OLD.id);
END;

CREATE TRIGGER roles_insert_access_changed AFTER INSERT ON roles
BEGIN
    INSERT INTO access_changes (change) VALUES ('r:' || NEW.id);
END;

CREATE TRIGGER roles_delete_access_changed AFTER DELETE ON roles
BEGIN
    INSERT INTO access_changes (change) VALUES ('r:' || OLD.id);
END;

CREATE TRIGGER role_permissions_insert_access_changed AFTER INSERT ON role_permissions
BEGIN
    INSERT INTO access_changes (change) VALUES ('g:' || NEW.role_id || ':' || NEW.resource_type || ':' || NEW.resource_pattern);
END;

CREATE TRIGGER role_permissions_update_access_changed AFTER UPDATE ON role_permissions
BEGIN
    INSERT INTO access_changes (change) VALUES ('g:' || OLD.role_id || ':' || OLD.resource_type || ':' || OLD.resource_pattern);
    INSERT INTO access_changes (change) VALUES ('g:' || NEW.role_id || ':' || NEW.resource_type || ':' || NEW.resource_pattern);
END;

CREATE TRIGGER role_permissions_delete_access_changed AFTER DELETE ON role_permissions
BEGIN
    INSERT INTO access_changes (change) VALUES ('g:' || OLD.role_id || ':' || OLD.resource_type || ':' || OLD.resource_pattern);
END;

CREATE TRIGGER user_role_assignments_insert_access_changed AFTER INSERT ON user_role_assignments
BEGIN
    INSERT INTO access_changes (change) VALUES ('u:' || NEW.user_id);
END;

CREATE TRIGGER user_role_assignments_update_access_changed AFTER UPDATE ON user_role_assignments
BEGIN
    INSERT INTO access_changes (change) VALUES ('u:' || OLD.user_id);
    INSERT INTO access_changes (change) VALUES ('u:' || NEW.user_id);
END;

CREATE TRIGGER user_role_assignments_delete_access_changed AFTER DELETE ON user_role_assignments
BEGIN
    INSERT INTO access_changes (change) VALUES ('u:' || OLD.user_id);
END;

CREATE TRIGGER revoked_tokens_insert_access_changed AFTER INSERT ON revoked_tokens
BEGIN
    INSERT INTO access_changes (change) VALUES ('t:' || NEW.token_id);
END;

CREATE TRIGGER revoked_tokens_update_access_changed AFTER UPDATE ON revoked_tokens
BEGIN
    INSERT INTO access_changes (change) VALUES ('t:' || OLD.token_id);
    INSERT INTO access_changes (change) VALUES ('t:' || NEW.token_id);
END;

CREATE TRIGGER revoked_tokens_delete_access_changed AFTER DELETE ON revoked_tokens
BEGIN
    INSERT INTO access_changes (change) VALUES ('t:' || OLD.token_id);
END;
