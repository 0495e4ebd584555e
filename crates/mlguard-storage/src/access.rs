//! [`AccessStateSource`] for [`Store`]: what the in-process authorization view
//! loads, whole or one change at a time.

use diesel::prelude::*;
use mlguard_domain::{
    AccessState, AccessStateSource, CredentialState, Permission, ResourceType, RoleAccess,
    RowState, StoreError, User, UserAccess, Workspace,
};

use crate::connection::DbConnection;
use crate::rbac::stored_permission;
use crate::schema::{role_permissions, roles, user_role_assignments, users};
use crate::store::{Store, db_error, stored_username};
use crate::tokens::revoked_tokens;

type RowTuple = (i64, String, String, String);

fn credentials(
    (id, username, is_admin, version): (i64, String, bool, i64),
) -> Result<CredentialState, StoreError> {
    Ok(CredentialState {
        user: User {
            id,
            username: stored_username(&username)?,
            is_admin,
        },
        version,
    })
}

/// A stored row a check can name: its type is known and its level valid. A row of
/// an unknown type matches no check, so it is left out; a corrupt level fails the
/// load, as it fails the store's own query.
fn checkable_row(
    (resource_type, pattern, permission): (String, String, String),
) -> Result<Option<(ResourceType, String, Permission)>, StoreError> {
    let level = stored_permission(&permission).map_err(StoreError::Unavailable)?;
    Ok(ResourceType::parse(&resource_type)
        .ok()
        .map(|parsed| (parsed, pattern, level)))
}

/// Whether the role is in workspace `default`; `None` if it no longer exists.
fn in_default_workspace(conn: &mut DbConnection, role_id: i64) -> QueryResult<Option<bool>> {
    roles::table
        .find(role_id)
        .select(roles::workspace)
        .first::<String>(conn)
        .optional()
        .map(|workspace| workspace.map(|w| w == Workspace::DEFAULT))
}

impl AccessStateSource for Store {
    fn load_access_state(&self) -> Result<AccessState, StoreError> {
        let mut conn = self.conn()?;
        // One snapshot of every table, so the parts agree with each other.
        conn.transaction(|conn| {
            let accounts = users::table
                .order(users::id.asc())
                .select((
                    users::id,
                    users::username,
                    users::is_admin,
                    users::credential_version,
                ))
                .load::<(i64, String, bool, i64)>(conn)?;
            let assignments = user_role_assignments::table
                .select((
                    user_role_assignments::user_id,
                    user_role_assignments::role_id,
                ))
                .load::<(i64, i64)>(conn)?;
            let all_roles = roles::table
                .select((roles::id, roles::workspace))
                .load::<(i64, String)>(conn)?;
            let rows = role_permissions::table
                .inner_join(roles::table)
                .filter(roles::workspace.eq(Workspace::DEFAULT))
                .select((
                    role_permissions::role_id,
                    role_permissions::resource_type,
                    role_permissions::resource_pattern,
                    role_permissions::permission,
                ))
                .load::<RowTuple>(conn)?;
            let revoked = revoked_tokens::table
                .select((revoked_tokens::token_id, revoked_tokens::expires_at))
                .load::<(String, i64)>(conn)?;
            Ok::<_, diesel::result::Error>((accounts, assignments, all_roles, rows, revoked))
        })
        .map_err(|e| db_error("load the authorization state", &e))
        .and_then(|(accounts, assignments, all_roles, rows, revoked)| {
            let mut roles_of: std::collections::HashMap<i64, Vec<i64>> = Default::default();
            for (user_id, role_id) in assignments {
                roles_of.entry(user_id).or_default().push(role_id);
            }
            let mut rows_of: std::collections::HashMap<i64, Vec<_>> = Default::default();
            for (role_id, resource_type, pattern, permission) in rows {
                if let Some(row) = checkable_row((resource_type, pattern, permission))? {
                    rows_of.entry(role_id).or_default().push(row);
                }
            }
            Ok(AccessState {
                users: accounts
                    .into_iter()
                    .map(|account| {
                        let role_ids = roles_of.remove(&account.0).unwrap_or_default();
                        Ok(UserAccess {
                            credentials: credentials(account)?,
                            role_ids,
                        })
                    })
                    .collect::<Result<_, StoreError>>()?,
                roles: all_roles
                    .into_iter()
                    .map(|(role_id, workspace)| RoleAccess {
                        role_id,
                        in_default_workspace: workspace == Workspace::DEFAULT,
                        rows: rows_of.remove(&role_id).unwrap_or_default(),
                    })
                    .collect(),
                revoked_tokens: revoked,
            })
        })
    }

    fn load_user_access(&self, user_id: i64) -> Result<Option<UserAccess>, StoreError> {
        let mut conn = self.conn()?;
        let found = conn
            .transaction(|conn| {
                let account = users::table
                    .find(user_id)
                    .select((
                        users::id,
                        users::username,
                        users::is_admin,
                        users::credential_version,
                    ))
                    .first::<(i64, String, bool, i64)>(conn)
                    .optional()?;
                let Some(account) = account else {
                    return Ok(None);
                };
                let role_ids = user_role_assignments::table
                    .filter(user_role_assignments::user_id.eq(user_id))
                    .select(user_role_assignments::role_id)
                    .load::<i64>(conn)?;
                Ok::<_, diesel::result::Error>(Some((account, role_ids)))
            })
            .map_err(|e| db_error("load an account's access", &e))?;
        found
            .map(|(account, role_ids)| {
                Ok(UserAccess {
                    credentials: credentials(account)?,
                    role_ids,
                })
            })
            .transpose()
    }

    fn load_role_access(&self, role_id: i64) -> Result<Option<RoleAccess>, StoreError> {
        let mut conn = self.conn()?;
        let found = conn
            .transaction(|conn| {
                let Some(in_default) = in_default_workspace(conn, role_id)? else {
                    return Ok(None);
                };
                let rows = if in_default {
                    role_permissions::table
                        .filter(role_permissions::role_id.eq(role_id))
                        .select((
                            role_permissions::resource_type,
                            role_permissions::resource_pattern,
                            role_permissions::permission,
                        ))
                        .load::<(String, String, String)>(conn)?
                } else {
                    Vec::new()
                };
                Ok::<_, diesel::result::Error>(Some((in_default, rows)))
            })
            .map_err(|e| db_error("load a role's rows", &e))?;
        let Some((in_default_workspace, rows)) = found else {
            return Ok(None);
        };
        let rows = rows
            .into_iter()
            .filter_map(|row| checkable_row(row).transpose())
            .collect::<Result<_, _>>()?;
        Ok(Some(RoleAccess {
            role_id,
            in_default_workspace,
            rows,
        }))
    }

    fn load_role_row(
        &self,
        role_id: i64,
        resource_type: &str,
        pattern: &str,
    ) -> Result<RowState, StoreError> {
        let mut conn = self.conn()?;
        let found = conn
            .transaction(|conn| {
                let Some(in_default) = in_default_workspace(conn, role_id)? else {
                    return Ok(None);
                };
                let level = role_permissions::table
                    .filter(role_permissions::role_id.eq(role_id))
                    .filter(role_permissions::resource_type.eq(resource_type))
                    .filter(role_permissions::resource_pattern.eq(pattern))
                    .select(role_permissions::permission)
                    .first::<String>(conn)
                    .optional()?;
                Ok::<_, diesel::result::Error>(Some((in_default, level)))
            })
            .map_err(|e| db_error("load a role's row", &e))?;
        let Some((in_default_workspace, level)) = found else {
            return Ok(RowState::RoleGone);
        };
        Ok(RowState::Row {
            in_default_workspace,
            permission: level
                .map(|raw| stored_permission(&raw).map_err(StoreError::Unavailable))
                .transpose()?,
        })
    }

    fn token_revocation(&self, token_id: &str) -> Result<Option<i64>, StoreError> {
        let mut conn = self.conn()?;
        revoked_tokens::table
            .find(token_id)
            .select(revoked_tokens::expires_at)
            .first::<i64>(&mut conn)
            .optional()
            .map_err(|e| db_error("load a token revocation", &e))
    }
}
