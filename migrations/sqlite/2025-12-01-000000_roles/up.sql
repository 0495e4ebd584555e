-- MLflow 3.17's permission model: roles in a workspace, their grant rows, and who
-- holds them. A per-user grant is a row on the user's synthetic role
-- `__user_<id>__` in workspace `default`.
CREATE TABLE roles (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    workspace TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (workspace, name)
);

-- The unique index (role_id, resource_type, resource_pattern) is also the hot
-- path's: a check reads the rows of the caller's roles on one type and pattern.
CREATE TABLE role_permissions (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    role_id BIGINT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    resource_type TEXT NOT NULL,
    resource_pattern TEXT NOT NULL,
    permission TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (role_id, resource_type, resource_pattern)
);

-- Finds every row on one resource (cascading a delete or a rename).
CREATE INDEX role_permissions_resource_idx ON role_permissions (resource_type, resource_pattern);

-- The unique index (user_id, role_id) starts the hot path: the caller's roles.
CREATE TABLE user_role_assignments (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
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
-- `quote(name, safe='')` does (MLflow 3.17's form), byte by byte.
CREATE TEMP TABLE legacy_scorer_patterns (
    user_id BIGINT NOT NULL,
    resource_key TEXT NOT NULL,
    pattern TEXT NOT NULL
);

WITH RECURSIVE quoting (user_id, resource_key, rest, done) AS (
    SELECT user_id, resource_key,
           CAST(substr(resource_key, instr(resource_key, '/') + 1) AS BLOB),
           substr(resource_key, 1, instr(resource_key, '/'))
    FROM grants
    WHERE resource_kind = 'scorer'
    UNION ALL
    SELECT user_id, resource_key, substr(rest, 2),
           done || CASE
               WHEN hex(substr(rest, 1, 1)) BETWEEN '30' AND '39'
                 OR hex(substr(rest, 1, 1)) BETWEEN '41' AND '5A'
                 OR hex(substr(rest, 1, 1)) BETWEEN '61' AND '7A'
                 OR hex(substr(rest, 1, 1)) IN ('2D', '2E', '5F', '7E')
               THEN CAST(substr(rest, 1, 1) AS TEXT)
               ELSE '%' || hex(substr(rest, 1, 1))
           END
    FROM quoting
    WHERE length(rest) > 0
)
INSERT INTO legacy_scorer_patterns (user_id, resource_key, pattern)
SELECT user_id, resource_key, done FROM quoting WHERE length(rest) = 0;

-- NO_PERMISSIONS meant a denial; 3.17 spells that DENY.
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

DROP TABLE legacy_scorer_patterns;
DROP INDEX grants_resource_idx;
DROP TABLE grants;
