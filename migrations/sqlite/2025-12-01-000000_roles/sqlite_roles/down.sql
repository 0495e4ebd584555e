-- Back to per-user grants: the 3.10-visible rows only (per-id rows of the six
-- 3.10 kinds on synthetic roles in `default`), DENY read as NO_PERMISSIONS.
-- Wildcard rows and named roles are lost. A scorer row whose name needed quoting
-- (its id holds '%') is dropped rather than unquoted here.
CREATE TABLE grants (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    resource_kind TEXT NOT NULL,
    resource_key TEXT NOT NULL,
    permission TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, resource_kind, resource_key)
);

CREATE INDEX grants_resource_idx ON grants (resource_kind, resource_key);

INSERT INTO grants (user_id, resource_kind, resource_key, permission, created_at)
SELECT a.user_id,
       p.resource_type,
       p.resource_pattern,
       CASE p.permission WHEN 'DENY' THEN 'NO_PERMISSIONS' ELSE p.permission END,
       p.created_at
FROM role_permissions p
JOIN roles r ON r.id = p.role_id
JOIN user_role_assignments a ON a.role_id = r.id AND r.name = '__user_' || a.user_id || '__'
WHERE r.workspace = 'default'
  AND p.resource_pattern <> '*'
  AND p.resource_type IN ('experiment', 'registered_model', 'scorer', 'gateway_secret',
                          'gateway_endpoint', 'gateway_model_definition')
  AND NOT (p.resource_type = 'scorer' AND instr(p.resource_pattern, '%') > 0);

DROP INDEX user_role_assignments_role_idx;
DROP TABLE user_role_assignments;
DROP INDEX role_permissions_resource_idx;
DROP TABLE role_permissions;
DROP TABLE roles;
