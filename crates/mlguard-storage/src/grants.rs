//! [`GrantStore`]: the 3.10 per-user grant API and the decision's reads, on the
//! 3.17 role tables. A 3.10 grant is the per-id row `resource.grant_key()` on the
//! user's synthetic role in `default`.

use diesel::prelude::*;
use diesel::result::Error as DieselError;
use mlguard_domain::{
    Grant, GrantKey, GrantStore, ModelName, Permission, Resolution, Resource, ResourceKind,
    ResourcePattern, ResourceType, RoleName, StoreError, Username, Workspace, now_ms,
};

use crate::connection::DbConnection;
use crate::rbac::{
    Tx, ensure_synthetic_role, shown_to_3_10, stored_from_3_10, stored_permission,
    stored_resource_type, synthetic_name_like, synthetic_role_id,
};
use crate::schema::{role_permissions, roles, user_role_assignments, users};
use crate::store::{
    Store, db_error, is_foreign_key_violation, is_unique_violation, stored_username, user_id_of,
};

const DEFAULT: &str = Workspace::DEFAULT;

fn not_found(username: &Username, resource: &Resource) -> StoreError {
    StoreError::GrantNotFound {
        resource: resource.clone(),
        username: username.clone(),
    }
}

fn finish<T>(operation: &str, result: Result<T, Tx<StoreError>>) -> Result<T, StoreError> {
    match result {
        Ok(value) => Ok(value),
        Err(Tx::Refused(e)) => Err(e),
        Err(Tx::Db(e)) => Err(db_error(operation, &e)),
    }
}

/// `role_permissions` filtered to the row of one role on one key.
pub(crate) type RowOn<'a> = diesel::dsl::Filter<
    role_permissions::table,
    diesel::dsl::And<
        diesel::dsl::And<
            diesel::dsl::Eq<role_permissions::role_id, i64>,
            diesel::dsl::Eq<role_permissions::resource_type, &'static str>,
        >,
        diesel::dsl::Eq<role_permissions::resource_pattern, &'a str>,
    >,
>;

/// The row of `role_id` whose type and pattern are exactly `key`'s.
pub(crate) fn row_on(role_id: i64, key: &GrantKey) -> RowOn<'_> {
    role_permissions::table.filter(
        role_permissions::role_id
            .eq(role_id)
            .and(role_permissions::resource_type.eq(key.resource_type.as_str()))
            .and(role_permissions::resource_pattern.eq(key.id.as_str())),
    )
}

/// The stored level of `user_id`'s 3.10 grant on `key`, if any.
fn synthetic_row_permission(
    conn: &mut DbConnection,
    user_id: i64,
    key: &GrantKey,
) -> QueryResult<Option<String>> {
    let Some(role_id) = synthetic_role_id(conn, user_id, DEFAULT)? else {
        return Ok(None);
    };
    row_on(role_id, key)
        .select(role_permissions::permission)
        .first(conn)
        .optional()
}

impl GrantStore for Store {
    fn create_grant(
        &self,
        username: &Username,
        resource: &Resource,
        permission: Permission,
    ) -> Result<Grant, StoreError> {
        let _sync = self.sync_after_write();
        let key = resource.grant_key();
        let mut conn = self.conn()?;
        let created = conn.write_transaction::<_, Tx<StoreError>>(|conn| {
            let user_id = user_id_of(conn, username).map_err(Tx::Refused)?;
            let role_id = ensure_synthetic_role(conn, user_id, DEFAULT)?;
            // The unique constraint, not a prior lookup, decides a race.
            diesel::insert_into(role_permissions::table)
                .values((
                    role_permissions::role_id.eq(role_id),
                    role_permissions::resource_type.eq(key.resource_type.as_str()),
                    role_permissions::resource_pattern.eq(key.id.as_str()),
                    role_permissions::permission.eq(stored_from_3_10(permission).as_str()),
                    role_permissions::created_at.eq(now_ms()),
                ))
                .execute(conn)
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        Tx::Refused(StoreError::GrantAlreadyExists {
                            resource: resource.clone(),
                            username: username.clone(),
                        })
                    } else if is_foreign_key_violation(&e) {
                        Tx::Refused(StoreError::UserNotFound(username.clone()))
                    } else {
                        Tx::Db(e)
                    }
                })?;
            Ok(user_id)
        });
        let user_id = match created {
            // A user deleted meanwhile trips a foreign key on the role or assignment.
            Err(Tx::Db(e)) if is_foreign_key_violation(&e) => {
                return Err(StoreError::UserNotFound(username.clone()));
            }
            other => finish("create grant", other)?,
        };
        Ok(Grant {
            user_id,
            username: username.clone(),
            resource: resource.clone(),
            permission: shown_to_3_10(permission),
        })
    }

    fn get_grant(&self, username: &Username, resource: &Resource) -> Result<Grant, StoreError> {
        let mut conn = self.conn()?;
        let user_id = user_id_of(&mut conn, username)?;
        let stored = synthetic_row_permission(&mut conn, user_id, &resource.grant_key())
            .map_err(|e| db_error("get grant", &e))?
            .ok_or_else(|| not_found(username, resource))?;
        Ok(Grant {
            user_id,
            username: username.clone(),
            resource: resource.clone(),
            permission: shown_to_3_10(stored_permission(&stored).map_err(StoreError::Unavailable)?),
        })
    }

    fn update_grant(
        &self,
        username: &Username,
        resource: &Resource,
        permission: Permission,
    ) -> Result<(), StoreError> {
        let _sync = self.sync_after_write();
        let key = resource.grant_key();
        let mut conn = self.conn()?;
        let user_id = user_id_of(&mut conn, username)?;
        let role_id = synthetic_role_id(&mut conn, user_id, DEFAULT)
            .map_err(|e| db_error("update grant", &e))?
            .ok_or_else(|| not_found(username, resource))?;
        let updated = diesel::update(row_on(role_id, &key))
            .set(role_permissions::permission.eq(stored_from_3_10(permission).as_str()))
            .execute(&mut conn)
            .map_err(|e| db_error("update grant", &e))?;
        if updated == 0 {
            return Err(not_found(username, resource));
        }
        Ok(())
    }

    fn delete_grant(&self, username: &Username, resource: &Resource) -> Result<(), StoreError> {
        let _sync = self.sync_after_write();
        let key = resource.grant_key();
        let mut conn = self.conn()?;
        let user_id = user_id_of(&mut conn, username)?;
        let role_id = synthetic_role_id(&mut conn, user_id, DEFAULT)
            .map_err(|e| db_error("delete grant", &e))?
            .ok_or_else(|| not_found(username, resource))?;
        let deleted = diesel::delete(row_on(role_id, &key))
            .execute(&mut conn)
            .map_err(|e| db_error("delete grant", &e))?;
        if deleted == 0 {
            return Err(not_found(username, resource));
        }
        Ok(())
    }

    fn has_grants_on(&self, resource: &Resource) -> Result<bool, StoreError> {
        let key = resource.grant_key();
        let mut conn = self.conn()?;
        diesel::select(diesel::dsl::exists(
            role_permissions::table.filter(
                role_permissions::resource_type
                    .eq(key.resource_type.as_str())
                    .and(role_permissions::resource_pattern.eq(key.id.as_str())),
            ),
        ))
        .get_result(&mut conn)
        .map_err(|e| db_error("look for grants on resource", &e))
    }

    fn delete_grants_on(&self, resource: &Resource) -> Result<u64, StoreError> {
        let _sync = self.sync_after_write();
        let key = resource.grant_key();
        let like = synthetic_name_like();
        let mut conn = self.conn()?;
        let synthetic = roles::table
            .filter(roles::name.like(&like).escape('\\'))
            .select(roles::id);
        let matching = role_permissions::resource_type
            .eq(key.resource_type.as_str())
            .and(role_permissions::resource_pattern.eq(key.id.as_str()));
        let deleted = if matches!(
            resource.kind(),
            ResourceKind::RegisteredModel
                | ResourceKind::Prompt
                | ResourceKind::McpServer
                | ResourceKind::Skill
        ) {
            diesel::delete(role_permissions::table.filter(matching.and(
                role_permissions::role_id.eq_any(synthetic.filter(roles::workspace.eq(DEFAULT))),
            )))
            .execute(&mut conn)
        } else {
            diesel::delete(
                role_permissions::table
                    .filter(matching.and(role_permissions::role_id.eq_any(synthetic))),
            )
            .execute(&mut conn)
        }
        .map_err(|e| db_error("delete grants on resource", &e))?;
        Ok(deleted as u64)
    }

    fn rename_registered_model(&self, from: &ModelName, to: &ModelName) -> Result<u64, StoreError> {
        let _sync = self.sync_after_write();
        if from == to {
            // Nothing moves; deleting `to`'s rows first would drop them all.
            return Ok(0);
        }
        // A prompt is a registered model too: rows of either type follow the name.
        let types = [
            ResourceType::RegisteredModel.as_str(),
            ResourceType::Prompt.as_str(),
        ];
        let like = synthetic_name_like();
        let mut conn = self.conn()?;
        conn.transaction(|conn| {
            let synthetic = || {
                roles::table
                    .filter(roles::name.like(&like).escape('\\'))
                    .filter(roles::workspace.eq(DEFAULT))
                    .select(roles::id)
            };
            // Leftovers of an earlier model called `to` must not outlive it.
            diesel::delete(
                role_permissions::table.filter(
                    role_permissions::resource_type
                        .eq_any(types)
                        .and(role_permissions::resource_pattern.eq(to.as_str()))
                        .and(role_permissions::role_id.eq_any(synthetic())),
                ),
            )
            .execute(conn)?;
            diesel::update(
                role_permissions::table.filter(
                    role_permissions::resource_type
                        .eq_any(types)
                        .and(role_permissions::resource_pattern.eq(from.as_str()))
                        .and(role_permissions::role_id.eq_any(synthetic())),
                ),
            )
            .set(role_permissions::resource_pattern.eq(to.as_str()))
            .execute(conn)
        })
        .map(|moved| moved as u64)
        .map_err(|e: DieselError| db_error("rename registered model grants", &e))
    }

    fn grants_of_user(&self, user_id: i64) -> Result<Vec<Grant>, StoreError> {
        let mut conn = self.conn()?;
        let Some(username) = users::table
            .find(user_id)
            .select(users::username)
            .first::<String>(&mut conn)
            .optional()
            .map_err(|e| db_error("list grants", &e))?
        else {
            return Ok(Vec::new());
        };
        let username = stored_username(&username)?;
        let rows = role_permissions::table
            .inner_join(roles::table)
            .filter(roles::workspace.eq(DEFAULT))
            .filter(roles::name.eq(RoleName::synthetic(user_id).as_str()))
            .filter(role_permissions::resource_pattern.ne(ResourcePattern::WILDCARD))
            .order((
                role_permissions::resource_type.asc(),
                role_permissions::resource_pattern.asc(),
            ))
            .select((
                role_permissions::resource_type,
                role_permissions::resource_pattern,
                role_permissions::permission,
            ))
            .load::<(String, String, String)>(&mut conn)
            .map_err(|e| db_error("list grants", &e))?;
        let mut grants = Vec::with_capacity(rows.len());
        for (resource_type, pattern, permission) in rows {
            stored_resource_type(&resource_type).map_err(StoreError::Unavailable)?;
            let permission = stored_permission(&permission).map_err(StoreError::Unavailable)?;
            // Types and ids the 3.10 API cannot name are not 3.10-visible.
            if let Some(resource) = Resource::from_grant_key(&resource_type, &pattern) {
                grants.push(Grant {
                    user_id,
                    username: username.clone(),
                    resource,
                    permission: shown_to_3_10(permission),
                });
            }
        }
        Ok(grants)
    }

    fn resolve(&self, user_id: i64, keys: &[GrantKey]) -> Result<Resolution, StoreError> {
        // Bounded IN lists keep every backend under its bind-parameter limit.
        const CHUNK: usize = 500;
        let mut types: Vec<&str> = keys.iter().map(|k| k.resource_type.as_str()).collect();
        types.push(ResourceType::Workspace.as_str());
        types.sort_unstable();
        types.dedup();
        let mut ids: Vec<&str> = keys
            .iter()
            .filter_map(|k| match &k.id {
                ResourcePattern::Id(id) => Some(id.as_str()),
                ResourcePattern::Wildcard => None,
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        // Always one query: the workspace rows count even without a per-id key.
        let chunks: Vec<&[&str]> = if ids.is_empty() {
            vec![&[]]
        } else {
            ids.chunks(CHUNK).collect()
        };
        let mut conn = self.conn()?;
        let mut rows: Vec<(String, String, String)> = Vec::new();
        for chunk in chunks {
            let mut patterns = Vec::with_capacity(chunk.len() + 1);
            patterns.push(ResourcePattern::WILDCARD);
            patterns.extend_from_slice(chunk);
            let found = user_role_assignments::table
                .inner_join(roles::table.inner_join(role_permissions::table))
                .filter(user_role_assignments::user_id.eq(user_id))
                .filter(roles::workspace.eq(DEFAULT))
                .filter(role_permissions::resource_type.eq_any(&types))
                .filter(role_permissions::resource_pattern.eq_any(&patterns))
                .select((
                    role_permissions::resource_type,
                    role_permissions::resource_pattern,
                    role_permissions::permission,
                ))
                .load::<(String, String, String)>(&mut conn)
                .map_err(|e| db_error("resolve grants", &e))?;
            rows.extend(found);
        }
        let parsed = rows
            .iter()
            .map(|(resource_type, pattern, permission)| {
                Ok((
                    resource_type.as_str(),
                    pattern.as_str(),
                    stored_permission(permission).map_err(StoreError::Unavailable)?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Resolution::over_rows(keys, parsed))
    }
}
