-- MLflow 3.17's permission model: roles in a workspace, their grant rows, and who
-- holds them. A per-user grant is a row on the user's synthetic role
-- `__user_<id>__` in workspace `default`. COLLATE "C": byte order, as SQLite's.
CREATE TABLE roles (
    id BIGSERIAL PRIMARY KEY,
    workspace TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    description TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (workspace, name)
);

-- The unique index (role_id, resource_type, resource_pattern) is also the hot
-- path's: a check reads the rows of the caller's roles on one type and pattern.
CREATE TABLE role_permissions (
    id BIGSERIAL PRIMARY KEY,
    role_id BIGINT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    resource_type TEXT COLLATE "C" NOT NULL,
    resource_pattern TEXT COLLATE "C" NOT NULL,
    permission TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (role_id, resource_type, resource_pattern)
);

-- Finds every row on one resource (cascading a delete or a rename).
CREATE INDEX role_permissions_resource_idx ON role_permissions (resource_type, resource_pattern);

-- The unique index (user_id, role_id) starts the hot path: the caller's roles.
CREATE TABLE user_role_assignments (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id BIGINT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    UNIQUE (user_id, role_id)
);

CREATE INDEX user_role_assignments_role_idx ON user_role_assignments (role_id);

-- Every existing grant becomes a row on its user's synthetic role. Rows of a
-- deleted user (SQLite without its foreign-key pragma) get no role, so they go.
INSERT INTO roles (workspace, name, description, created_at)
SELECT 'default', '__user_' || user_id || '__', NULL, MIN(created_at)
FROM grants
WHERE user_id IN (SELECT id FROM users)
GROUP BY user_id
ORDER BY user_id;

INSERT INTO user_role_assignments (user_id, role_id, created_at)
SELECT g.user_id, r.id, MIN(g.created_at)
FROM grants g
JOIN roles r ON r.workspace = 'default' AND r.name = '__user_' || g.user_id || '__'
GROUP BY g.user_id, r.id
ORDER BY g.user_id;

-- A scorer's id is `<experiment_id>/<name>` with the name URL-quoted as Python's
-- `quote(name, safe='')` does (MLflow 3.17's form), byte by byte. NO_PERMISSIONS
-- meant a denial; 3.17 spells that DENY.
WITH legacy_scorer_patterns AS (
    SELECT g.user_id, g.resource_key,
           substr(g.resource_key, 1, strpos(g.resource_key, '/')) || (
               SELECT string_agg(
                          CASE
                              WHEN b BETWEEN 48 AND 57 OR b BETWEEN 65 AND 90
                                OR b BETWEEN 97 AND 122 OR b IN (45, 46, 95, 126)
                              THEN chr(b)
                              ELSE '%' || upper(lpad(to_hex(b), 2, '0'))
                          END, '' ORDER BY i)
               FROM (SELECT i, get_byte(bytes, i) AS b
                     FROM (SELECT convert_to(substr(g.resource_key, strpos(g.resource_key, '/') + 1),
                                             'UTF8') AS bytes) AS name_bytes,
                          generate_series(0, length(bytes) - 1) AS i) AS each_byte
           ) AS pattern
    FROM grants g
    WHERE g.resource_kind = 'scorer'
)
INSERT INTO role_permissions (role_id, resource_type, resource_pattern, permission, created_at)
SELECT r.id,
       g.resource_kind,
       COALESCE(s.pattern, g.resource_key),
       CASE g.permission WHEN 'NO_PERMISSIONS' THEN 'DENY' ELSE g.permission END,
       g.created_at
FROM grants g
JOIN roles r ON r.workspace = 'default' AND r.name = '__user_' || g.user_id || '__'
LEFT JOIN legacy_scorer_patterns s
       ON g.resource_kind = 'scorer' AND s.user_id = g.user_id AND s.resource_key = g.resource_key
ORDER BY g.user_id, g.resource_kind, g.resource_key;

DROP INDEX grants_resource_idx;
DROP TABLE grants;
