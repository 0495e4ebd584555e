//! [`RoleStore`]: MLflow 3.17's roles, their rows and assignments, and the per-user
//! convenience API on the synthetic roles.

use diesel::prelude::*;
use diesel::result::Error as DieselError;
use mlguard_domain::{
    Assignment, GrantRule, GrantRuleError, Permission, PermissionRow, ResourcePattern,
    ResourceType, Role, RoleError, RoleName, RolePermission, RoleStore, StoreError, Username,
    Workspace, check_grantable, now_ms,
};

use crate::connection::DbConnection;
use crate::grants::row_on;
use crate::rbac::{
    ROLE_COLUMNS, ROLE_PERMISSION_COLUMNS, RolePermissionRow, RoleRow, Tx, ensure_synthetic_role,
    stored_permission, stored_resource_type, stored_role, stored_role_permission,
    synthetic_role_id,
};
use crate::schema::{provider_role_assignments, role_permissions, roles, user_role_assignments};
use crate::store::{Store, is_foreign_key_violation, is_unique_violation, user_id_of};

fn unavailable(operation: &str, error: &DieselError) -> RoleError {
    RoleError::Unavailable(format!("{operation}: {error}"))
}

fn finish<T>(operation: &str, result: Result<T, Tx<RoleError>>) -> Result<T, RoleError> {
    match result {
        Ok(value) => Ok(value),
        Err(Tx::Refused(e)) => Err(e),
        Err(Tx::Db(e)) => Err(unavailable(operation, &e)),
    }
}

fn from_store(error: StoreError) -> RoleError {
    match error {
        StoreError::UserNotFound(username) => RoleError::UserNotFound(username),
        other => RoleError::Unavailable(other.to_string()),
    }
}

fn user_of(conn: &mut DbConnection, username: &Username) -> Result<i64, Tx<RoleError>> {
    user_id_of(conn, username).map_err(|e| Tx::Refused(from_store(e)))
}

fn role_of(conn: &mut DbConnection, role_id: i64) -> Result<Role, Tx<RoleError>> {
    let row = roles::table
        .find(role_id)
        .select(ROLE_COLUMNS)
        .first::<RoleRow>(conn)
        .optional()?
        .ok_or(Tx::Refused(RoleError::RoleNotFound(role_id)))?;
    stored_role(row).map_err(|e| Tx::Refused(RoleError::Unavailable(e)))
}

fn role_permission_of(
    conn: &mut DbConnection,
    role_permission_id: i64,
) -> Result<RolePermission, Tx<RoleError>> {
    let row = role_permissions::table
        .find(role_permission_id)
        .select(ROLE_PERMISSION_COLUMNS)
        .first::<RolePermissionRow>(conn)
        .optional()?
        .ok_or(Tx::Refused(RoleError::RolePermissionNotFound(
            role_permission_id,
        )))?;
    stored_role_permission(row).map_err(|e| Tx::Refused(RoleError::Unavailable(e)))
}

fn roles_from(rows: Vec<RoleRow>) -> Result<Vec<Role>, RoleError> {
    rows.into_iter()
        .map(|row| stored_role(row).map_err(RoleError::Unavailable))
        .collect()
}

/// Inserts a row on `role_id`; `duplicate` is the refusal for a taken key.
fn insert_row(
    conn: &mut DbConnection,
    role_id: i64,
    rule: &GrantRule,
    duplicate: impl FnOnce() -> RoleError,
) -> Result<RolePermission, Tx<RoleError>> {
    let inserted = diesel::insert_into(role_permissions::table)
        .values((
            role_permissions::role_id.eq(role_id),
            role_permissions::resource_type.eq(rule.resource_type().as_str()),
            role_permissions::resource_pattern.eq(rule.pattern().as_str()),
            role_permissions::permission.eq(rule.permission().as_str()),
            role_permissions::created_at.eq(now_ms()),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => return Err(Tx::Refused(duplicate())),
        // The role went meanwhile.
        Err(e) if is_foreign_key_violation(&e) => {
            return Err(Tx::Refused(RoleError::RoleNotFound(role_id)));
        }
        Err(e) => return Err(Tx::Db(e)),
    }
    let id = role_permissions::table
        .filter(
            role_permissions::role_id
                .eq(role_id)
                .and(role_permissions::resource_type.eq(rule.resource_type().as_str()))
                .and(role_permissions::resource_pattern.eq(rule.pattern().as_str())),
        )
        .select(role_permissions::id)
        .first::<i64>(conn)?;
    Ok(RolePermission {
        id,
        role_id,
        resource_type: rule.resource_type(),
        resource_pattern: rule.pattern().clone(),
        permission: rule.permission(),
    })
}

/// The per-user convenience API does not take workspace-wide rows.
fn per_user(resource_type: ResourceType) -> Result<(), RoleError> {
    if resource_type == ResourceType::Workspace {
        Err(RoleError::Invalid(GrantRuleError::WorkspaceNotPerUser))
    } else {
        Ok(())
    }
}

fn user_permission_not_found(
    username: &Username,
    resource_type: ResourceType,
    pattern: &ResourcePattern,
) -> RoleError {
    RoleError::UserPermissionNotFound {
        username: username.clone(),
        resource_type,
        pattern: pattern.clone(),
    }
}

impl RoleStore for Store {
    fn create_role(
        &self,
        workspace: &Workspace,
        name: &RoleName,
        description: Option<&str>,
    ) -> Result<Role, RoleError> {
        let _sync = self.sync_after_write();
        let mut conn = self.conn().map_err(from_store)?;
        let created = conn.transaction::<i64, DieselError, _>(|conn| {
            diesel::insert_into(roles::table)
                .values((
                    roles::workspace.eq(workspace.as_str()),
                    roles::name.eq(name.as_str()),
                    roles::description.eq(description),
                    roles::created_at.eq(now_ms()),
                ))
                .execute(conn)?;
            roles::table
                .filter(
                    roles::workspace
                        .eq(workspace.as_str())
                        .and(roles::name.eq(name.as_str())),
                )
                .select(roles::id)
                .first(conn)
        });
        match created {
            Ok(id) => Ok(Role {
                id,
                workspace: workspace.clone(),
                name: name.clone(),
                description: description.map(str::to_owned),
            }),
            Err(e) if is_unique_violation(&e) => Err(RoleError::RoleAlreadyExists {
                workspace: workspace.clone(),
                name: name.clone(),
            }),
            Err(e) => Err(unavailable("create role", &e)),
        }
    }

    fn get_role(&self, role_id: i64) -> Result<Role, RoleError> {
        let mut conn = self.conn().map_err(from_store)?;
        finish("get role", role_of(&mut conn, role_id))
    }

    fn list_roles(&self, workspaces: Option<&[Workspace]>) -> Result<Vec<Role>, RoleError> {
        let mut conn = self.conn().map_err(from_store)?;
        let rows = match workspaces {
            None => roles::table
                .order(roles::id.asc())
                .select(ROLE_COLUMNS)
                .load::<RoleRow>(&mut conn),
            Some(workspaces) => {
                let names: Vec<&str> = workspaces.iter().map(Workspace::as_str).collect();
                roles::table
                    .filter(roles::workspace.eq_any(names))
                    .order(roles::id.asc())
                    .select(ROLE_COLUMNS)
                    .load::<RoleRow>(&mut conn)
            }
        }
        .map_err(|e| unavailable("list roles", &e))?;
        roles_from(rows)
    }

    fn update_role(
        &self,
        role_id: i64,
        name: Option<&RoleName>,
        description: Option<Option<&str>>,
    ) -> Result<Role, RoleError> {
        let mut conn = self.conn().map_err(from_store)?;
        let updated = conn.write_transaction::<_, Tx<RoleError>>(|conn| {
            let mut role = role_of(conn, role_id)?;
            if let Some(name) = name
                && *name != role.name
            {
                let renamed = diesel::update(roles::table.find(role_id))
                    .set(roles::name.eq(name.as_str()))
                    .execute(conn);
                match renamed {
                    Ok(_) => role.name = name.clone(),
                    Err(e) if is_unique_violation(&e) => {
                        return Err(Tx::Refused(RoleError::RoleNameTaken {
                            workspace: role.workspace,
                            name: name.clone(),
                        }));
                    }
                    Err(e) => return Err(Tx::Db(e)),
                }
            }
            if let Some(description) = description {
                diesel::update(roles::table.find(role_id))
                    .set(roles::description.eq(description))
                    .execute(conn)?;
                role.description = description.map(str::to_owned);
            }
            Ok(role)
        });
        finish("update role", updated)
    }

    fn delete_role(&self, role_id: i64) -> Result<(), RoleError> {
        let _sync = self.sync_after_write();
        let mut conn = self.conn().map_err(from_store)?;
        let deleted = conn.transaction::<usize, DieselError, _>(|conn| {
            // Children first, whatever SQLite's foreign-key pragma says.
            diesel::delete(role_permissions::table.filter(role_permissions::role_id.eq(role_id)))
                .execute(conn)?;
            diesel::delete(
                user_role_assignments::table.filter(user_role_assignments::role_id.eq(role_id)),
            )
            .execute(conn)?;
            diesel::delete(
                provider_role_assignments::table
                    .filter(provider_role_assignments::role_id.eq(role_id)),
            )
            .execute(conn)?;
            diesel::delete(roles::table.find(role_id)).execute(conn)
        });
        match deleted {
            Ok(0) => Err(RoleError::RoleNotFound(role_id)),
            Ok(_) => Ok(()),
            Err(e) => Err(unavailable("delete role", &e)),
        }
    }

    fn add_role_permission(
        &self,
        role_id: i64,
        rule: &GrantRule,
    ) -> Result<RolePermission, RoleError> {
        let _sync = self.sync_after_write();
        let mut conn = self.conn().map_err(from_store)?;
        let added = conn.write_transaction::<_, Tx<RoleError>>(|conn| {
            role_of(conn, role_id)?;
            insert_row(conn, role_id, rule, || {
                RoleError::RolePermissionAlreadyExists {
                    role_id,
                    resource_type: rule.resource_type(),
                    pattern: rule.pattern().clone(),
                }
            })
        });
        finish("add role permission", added)
    }

    fn get_role_permission(&self, role_permission_id: i64) -> Result<RolePermission, RoleError> {
        let mut conn = self.conn().map_err(from_store)?;
        finish(
            "get role permission",
            role_permission_of(&mut conn, role_permission_id),
        )
    }

    fn remove_role_permission(&self, role_permission_id: i64) -> Result<(), RoleError> {
        let _sync = self.sync_after_write();
        let mut conn = self.conn().map_err(from_store)?;
        let deleted = diesel::delete(role_permissions::table.find(role_permission_id))
            .execute(&mut conn)
            .map_err(|e| unavailable("remove role permission", &e))?;
        if deleted == 0 {
            return Err(RoleError::RolePermissionNotFound(role_permission_id));
        }
        Ok(())
    }

    fn list_role_permissions(&self, role_id: i64) -> Result<Vec<RolePermission>, RoleError> {
        let mut conn = self.conn().map_err(from_store)?;
        let listed = conn.transaction::<_, Tx<RoleError>, _>(|conn| {
            role_of(conn, role_id)?;
            Ok(role_permissions::table
                .filter(role_permissions::role_id.eq(role_id))
                .order(role_permissions::id.asc())
                .select(ROLE_PERMISSION_COLUMNS)
                .load::<RolePermissionRow>(conn)?)
        });
        finish("list role permissions", listed)?
            .into_iter()
            .map(|row| stored_role_permission(row).map_err(RoleError::Unavailable))
            .collect()
    }

    fn update_role_permission(
        &self,
        role_permission_id: i64,
        permission: Permission,
    ) -> Result<RolePermission, RoleError> {
        let _sync = self.sync_after_write();
        let mut conn = self.conn().map_err(from_store)?;
        let updated = conn.write_transaction::<_, Tx<RoleError>>(|conn| {
            let mut row = role_permission_of(conn, role_permission_id)?;
            check_grantable(row.resource_type, permission)
                .map_err(|e| Tx::Refused(RoleError::Invalid(e)))?;
            diesel::update(role_permissions::table.find(role_permission_id))
                .set(role_permissions::permission.eq(permission.as_str()))
                .execute(conn)?;
            row.permission = permission;
            Ok(row)
        });
        finish("update role permission", updated)
    }

    fn assign_role(&self, username: &Username, role_id: i64) -> Result<Assignment, RoleError> {
        let _sync = self.sync_after_write();
        let mut conn = self.conn().map_err(from_store)?;
        let assigned = conn.write_transaction::<_, Tx<RoleError>>(|conn| {
            let user_id = user_of(conn, username)?;
            let role = role_of(conn, role_id)?;
            if role.name.is_synthetic() && role.name != RoleName::synthetic(user_id) {
                return Err(Tx::Refused(RoleError::SyntheticRoleOfAnotherUser {
                    role: role.name,
                    username: username.clone(),
                }));
            }
            // The identity provider's assignment becomes the admin's: a later sync
            // no longer takes it away.
            let taken_over = diesel::delete(
                provider_role_assignments::table
                    .filter(provider_role_assignments::user_id.eq(user_id))
                    .filter(provider_role_assignments::role_id.eq(role_id)),
            )
            .execute(conn)?
                > 0;
            let inserted = if taken_over {
                Ok(0)
            } else {
                diesel::insert_into(user_role_assignments::table)
                    .values((
                        user_role_assignments::user_id.eq(user_id),
                        user_role_assignments::role_id.eq(role_id),
                        user_role_assignments::created_at.eq(now_ms()),
                    ))
                    .execute(conn)
            };
            match inserted {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    return Err(Tx::Refused(RoleError::AssignmentAlreadyExists {
                        user_id,
                        role_id,
                    }));
                }
                Err(e) => return Err(Tx::Db(e)),
            }
            let id = user_role_assignments::table
                .filter(
                    user_role_assignments::user_id
                        .eq(user_id)
                        .and(user_role_assignments::role_id.eq(role_id)),
                )
                .select(user_role_assignments::id)
                .first::<i64>(conn)?;
            Ok(Assignment {
                id,
                user_id,
                role_id,
            })
        });
        match assigned {
            Err(Tx::Db(e)) if is_foreign_key_violation(&e) => {
                Err(RoleError::UserNotFound(username.clone()))
            }
            other => finish("assign role", other),
        }
    }

    fn unassign_role(&self, username: &Username, role_id: i64) -> Result<(), RoleError> {
        let _sync = self.sync_after_write();
        let mut conn = self.conn().map_err(from_store)?;
        let removed = conn.transaction::<_, Tx<RoleError>, _>(|conn| {
            let user_id = user_of(conn, username)?;
            role_of(conn, role_id)?;
            let deleted = diesel::delete(
                user_role_assignments::table.filter(
                    user_role_assignments::user_id
                        .eq(user_id)
                        .and(user_role_assignments::role_id.eq(role_id)),
                ),
            )
            .execute(conn)?;
            // Unassigned by an admin: the provider's next sync may assign it again.
            diesel::delete(
                provider_role_assignments::table
                    .filter(provider_role_assignments::user_id.eq(user_id))
                    .filter(provider_role_assignments::role_id.eq(role_id)),
            )
            .execute(conn)?;
            if deleted == 0 {
                return Err(Tx::Refused(RoleError::AssignmentNotFound {
                    user_id,
                    role_id,
                }));
            }
            Ok(())
        });
        finish("unassign role", removed)
    }

    fn roles_of_user(&self, username: &Username) -> Result<Vec<Role>, RoleError> {
        let mut conn = self.conn().map_err(from_store)?;
        let user_id = user_id_of(&mut conn, username).map_err(from_store)?;
        let rows = roles::table
            .inner_join(user_role_assignments::table)
            .filter(user_role_assignments::user_id.eq(user_id))
            .order(roles::id.asc())
            .select(ROLE_COLUMNS)
            .load::<RoleRow>(&mut conn)
            .map_err(|e| unavailable("roles of user", &e))?;
        roles_from(rows)
    }

    fn assignments_of_role(&self, role_id: i64) -> Result<Vec<Assignment>, RoleError> {
        let mut conn = self.conn().map_err(from_store)?;
        let listed = conn.transaction::<_, Tx<RoleError>, _>(|conn| {
            role_of(conn, role_id)?;
            Ok(user_role_assignments::table
                .filter(user_role_assignments::role_id.eq(role_id))
                .order(user_role_assignments::id.asc())
                .select((
                    user_role_assignments::id,
                    user_role_assignments::user_id,
                    user_role_assignments::role_id,
                ))
                .load::<(i64, i64, i64)>(conn)?)
        });
        Ok(finish("users of role", listed)?
            .into_iter()
            .map(|(id, user_id, role_id)| Assignment {
                id,
                user_id,
                role_id,
            })
            .collect())
    }

    fn grant_user_permission(
        &self,
        username: &Username,
        workspace: &Workspace,
        rule: &GrantRule,
    ) -> Result<RolePermission, RoleError> {
        let _sync = self.sync_after_write();
        per_user(rule.resource_type())?;
        let mut conn = self.conn().map_err(from_store)?;
        let granted = conn.write_transaction::<_, Tx<RoleError>>(|conn| {
            let user_id = user_of(conn, username)?;
            let role_id = ensure_synthetic_role(conn, user_id, workspace.as_str())?;
            insert_row(conn, role_id, rule, || {
                RoleError::UserPermissionAlreadyExists {
                    username: username.clone(),
                    resource_type: rule.resource_type(),
                    pattern: rule.pattern().clone(),
                }
            })
        });
        match granted {
            // The user went meanwhile: the role or assignment insert tripped.
            Err(Tx::Db(e)) if is_foreign_key_violation(&e) => {
                Err(RoleError::UserNotFound(username.clone()))
            }
            Err(Tx::Refused(RoleError::RoleNotFound(_))) => {
                Err(RoleError::UserNotFound(username.clone()))
            }
            other => finish("grant user permission", other),
        }
    }

    fn revoke_user_permission(
        &self,
        username: &Username,
        workspace: &Workspace,
        resource_type: ResourceType,
        pattern: &ResourcePattern,
    ) -> Result<(), RoleError> {
        let _sync = self.sync_after_write();
        per_user(resource_type)?;
        let mut conn = self.conn().map_err(from_store)?;
        let user_id = user_id_of(&mut conn, username).map_err(from_store)?;
        let key = mlguard_domain::GrantKey {
            resource_type,
            id: pattern.clone(),
        };
        let role_id = synthetic_role_id(&mut conn, user_id, workspace.as_str())
            .map_err(|e| unavailable("revoke user permission", &e))?
            .ok_or_else(|| user_permission_not_found(username, resource_type, pattern))?;
        let deleted = diesel::delete(row_on(role_id, &key))
            .execute(&mut conn)
            .map_err(|e| unavailable("revoke user permission", &e))?;
        if deleted == 0 {
            return Err(user_permission_not_found(username, resource_type, pattern));
        }
        Ok(())
    }

    fn get_user_permission(
        &self,
        username: &Username,
        workspace: &Workspace,
        resource_type: ResourceType,
        pattern: &ResourcePattern,
    ) -> Result<RolePermission, RoleError> {
        per_user(resource_type)?;
        let mut conn = self.conn().map_err(from_store)?;
        let user_id = user_id_of(&mut conn, username).map_err(from_store)?;
        let key = mlguard_domain::GrantKey {
            resource_type,
            id: pattern.clone(),
        };
        let role_id = synthetic_role_id(&mut conn, user_id, workspace.as_str())
            .map_err(|e| unavailable("get user permission", &e))?
            .ok_or_else(|| user_permission_not_found(username, resource_type, pattern))?;
        let row = row_on(role_id, &key)
            .select(ROLE_PERMISSION_COLUMNS)
            .first::<RolePermissionRow>(&mut conn)
            .optional()
            .map_err(|e| unavailable("get user permission", &e))?
            .ok_or_else(|| user_permission_not_found(username, resource_type, pattern))?;
        stored_role_permission(row).map_err(RoleError::Unavailable)
    }

    fn permission_rows_of_user(
        &self,
        username: &Username,
    ) -> Result<Vec<PermissionRow>, RoleError> {
        let mut conn = self.conn().map_err(from_store)?;
        let user_id = user_id_of(&mut conn, username).map_err(from_store)?;
        let rows = user_role_assignments::table
            .inner_join(roles::table.inner_join(role_permissions::table))
            .filter(user_role_assignments::user_id.eq(user_id))
            .order((roles::id.asc(), role_permissions::id.asc()))
            .select((
                role_permissions::permission,
                role_permissions::resource_pattern,
                role_permissions::resource_type,
                roles::id,
                roles::name,
                roles::workspace,
            ))
            .load::<(String, String, String, i64, String, String)>(&mut conn)
            .map_err(|e| unavailable("permissions of user", &e))?;
        rows.into_iter()
            .map(
                |(permission, pattern, resource_type, role_id, role_name, workspace)| {
                    Ok(PermissionRow {
                        permission: stored_permission(&permission)
                            .map_err(RoleError::Unavailable)?,
                        resource_pattern: ResourcePattern::from_stored(&pattern),
                        resource_type: stored_resource_type(&resource_type)
                            .map_err(RoleError::Unavailable)?,
                        role_id,
                        role_name: RoleName::from_stored(&role_name),
                        workspace: Workspace::parse(&workspace).map_err(|e| {
                            RoleError::Unavailable(format!("unreadable role row: {e}"))
                        })?,
                    })
                },
            )
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_rows_are_refused_by_the_per_user_api_only() {
        assert_eq!(
            per_user(ResourceType::Workspace),
            Err(RoleError::Invalid(GrantRuleError::WorkspaceNotPerUser))
        );
        assert_eq!(per_user(ResourceType::Experiment), Ok(()));
    }
}
