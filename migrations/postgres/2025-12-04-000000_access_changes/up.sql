-- Every change a decision depends on is announced on channel `mlguard_access` by
-- the writing transaction itself (PostgreSQL delivers it at commit, in commit
-- order), so every replica's in-process view reloads exactly what changed, whoever
-- wrote it: the API, the offline commands, the import or plain SQL.
-- Texts: u:USER_ID, r:ROLE_ID, g:ROLE_ID:TYPE:PATTERN, t:TOKEN_ID.
CREATE FUNCTION mlguard_access_announce(source TEXT, r JSONB) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    change TEXT;
BEGIN
    change := CASE source
        WHEN 'users' THEN 'u:' || (r->>'id')
        WHEN 'user_role_assignments' THEN 'u:' || (r->>'user_id')
        WHEN 'roles' THEN 'r:' || (r->>'id')
        WHEN 'role_permissions' THEN
            'g:' || (r->>'role_id') || ':' || (r->>'resource_type') || ':' || (r->>'resource_pattern')
        WHEN 'revoked_tokens' THEN 't:' || (r->>'token_id')
    END;
    -- A notification holds at most 8000 bytes: a row too long to name is announced
    -- as its whole role.
    IF octet_length(change) > 7000 THEN
        IF source = 'role_permissions' THEN
            change := 'r:' || (r->>'role_id');
        ELSE
            RAISE EXCEPTION 'access change too long to announce';
        END IF;
    END IF;
    PERFORM pg_notify('mlguard_access', change);
END $$;

CREATE FUNCTION mlguard_access_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM mlguard_access_announce(TG_TABLE_NAME, to_jsonb(OLD));
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM mlguard_access_announce(TG_TABLE_NAME, to_jsonb(NEW));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER users_access_changed AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION mlguard_access_changed();
CREATE TRIGGER roles_access_changed AFTER INSERT OR DELETE ON roles
    FOR EACH ROW EXECUTE FUNCTION mlguard_access_changed();
CREATE TRIGGER role_permissions_access_changed AFTER INSERT OR UPDATE OR DELETE ON role_permissions
    FOR EACH ROW EXECUTE FUNCTION mlguard_access_changed();
CREATE TRIGGER user_role_assignments_access_changed AFTER INSERT OR UPDATE OR DELETE ON user_role_assignments
    FOR EACH ROW EXECUTE FUNCTION mlguard_access_changed();
CREATE TRIGGER revoked_tokens_access_changed AFTER INSERT OR UPDATE OR DELETE ON revoked_tokens
    FOR EACH ROW EXECUTE FUNCTION mlguard_access_changed();
