//! What the grant store and the role store share: reading stored rows back, the
//! synthetic role of a user, and failures inside a transaction.

use diesel::prelude::*;
use diesel::result::Error as DieselError;
use mlguard_domain::{
    Permission, ResourcePattern, ResourceType, Role, RoleName, RolePermission, Workspace, now_ms,
};

use crate::connection::DbConnection;
use crate::schema::{role_permissions, roles, user_role_assignments};
use crate::store::is_unique_violation;

/// A failure inside a transaction: the database's, or a refusal of the domain's
/// that rolls the transaction back.
pub(crate) enum Tx<E> {
    Db(DieselError),
    Refused(E),
}

impl<E> From<DieselError> for Tx<E> {
    fn from(error: DieselError) -> Self {
        Tx::Db(error)
    }
}

/// A stored row the domain refuses: logged here; the caller reports it as its
/// port's `Unavailable`.
pub(crate) fn corrupt(what: &str, detail: String) -> String {
    tracing::error!(row = what, detail = %detail, "unreadable row in the role store");
    format!("unreadable {what} row: {detail}")
}

pub(crate) fn stored_permission(raw: &str) -> Result<Permission, String> {
    raw.parse::<Permission>()
        .map_err(|_| corrupt("role permission", format!("unknown permission {raw:?}")))
}

pub(crate) fn stored_resource_type(raw: &str) -> Result<ResourceType, String> {
    ResourceType::parse(raw)
        .map_err(|_| corrupt("role permission", format!("unknown resource type {raw:?}")))
}

/// `(id, workspace, name, description)` as selected by [`ROLE_COLUMNS`].
pub(crate) type RoleRow = (i64, String, String, Option<String>);

pub(crate) const ROLE_COLUMNS: (roles::id, roles::workspace, roles::name, roles::description) =
    (roles::id, roles::workspace, roles::name, roles::description);

pub(crate) fn stored_role((id, workspace, name, description): RoleRow) -> Result<Role, String> {
    Ok(Role {
        id,
        workspace: Workspace::parse(&workspace)
            .map_err(|e| corrupt("role", format!("workspace: {e}")))?,
        name: RoleName::from_stored(&name),
        description,
    })
}

/// `(id, role_id, resource_type, resource_pattern, permission)`.
pub(crate) type RolePermissionRow = (i64, i64, String, String, String);

pub(crate) const ROLE_PERMISSION_COLUMNS: (
    role_permissions::id,
    role_permissions::role_id,
    role_permissions::resource_type,
    role_permissions::resource_pattern,
    role_permissions::permission,
) = (
    role_permissions::id,
    role_permissions::role_id,
    role_permissions::resource_type,
    role_permissions::resource_pattern,
    role_permissions::permission,
);

pub(crate) fn stored_role_permission(
    (id, role_id, resource_type, pattern, permission): RolePermissionRow,
) -> Result<RolePermission, String> {
    Ok(RolePermission {
        id,
        role_id,
        resource_type: stored_resource_type(&resource_type)?,
        resource_pattern: ResourcePattern::from_stored(&pattern),
        permission: stored_permission(&permission)?,
    })
}

/// 3.10 has no DENY: its NO_PERMISSIONS is the denial, stored as DENY.
pub(crate) fn stored_from_3_10(permission: Permission) -> Permission {
    match permission {
        Permission::NoPermissions => Permission::Deny,
        other => other,
    }
}

/// How the 3.10 API shows a stored level.
pub(crate) fn shown_to_3_10(permission: Permission) -> Permission {
    match permission {
        Permission::Deny => Permission::NoPermissions,
        other => other,
    }
}

/// The id of `user_id`'s synthetic role in `workspace`, if it was ever made.
pub(crate) fn synthetic_role_id(
    conn: &mut DbConnection,
    user_id: i64,
    workspace: &str,
) -> QueryResult<Option<i64>> {
    roles::table
        .filter(
            roles::workspace
                .eq(workspace)
                .and(roles::name.eq(RoleName::synthetic(user_id).as_str())),
        )
        .select(roles::id)
        .first(conn)
        .optional()
}

/// `user_id`'s synthetic role in `workspace`, created and assigned on first use.
/// Call inside a transaction: each insert runs in a savepoint, so a racing
/// creation's unique violation leaves the transaction usable.
pub(crate) fn ensure_synthetic_role(
    conn: &mut DbConnection,
    user_id: i64,
    workspace: &str,
) -> QueryResult<i64> {
    let role_id = match synthetic_role_id(conn, user_id, workspace)? {
        Some(id) => id,
        None => {
            let now = now_ms();
            let name = RoleName::synthetic(user_id);
            tolerate_duplicate(conn.transaction(|conn| {
                diesel::insert_into(roles::table)
                    .values((
                        roles::workspace.eq(workspace),
                        roles::name.eq(name.as_str()),
                        roles::description.eq(None::<&str>),
                        roles::created_at.eq(now),
                    ))
                    .execute(conn)
            }))?;
            synthetic_role_id(conn, user_id, workspace)?.ok_or(DieselError::NotFound)?
        }
    };
    let assigned = diesel::select(diesel::dsl::exists(
        user_role_assignments::table.filter(
            user_role_assignments::user_id
                .eq(user_id)
                .and(user_role_assignments::role_id.eq(role_id)),
        ),
    ))
    .get_result::<bool>(conn)?;
    if !assigned {
        tolerate_duplicate(conn.transaction(|conn| {
            diesel::insert_into(user_role_assignments::table)
                .values((
                    user_role_assignments::user_id.eq(user_id),
                    user_role_assignments::role_id.eq(role_id),
                    user_role_assignments::created_at.eq(now_ms()),
                ))
                .execute(conn)
        }))?;
    }
    Ok(role_id)
}

/// A unique violation means someone else inserted the same row first: fine.
fn tolerate_duplicate(result: QueryResult<usize>) -> QueryResult<()> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The `LIKE` pattern (escaped with a backslash) of every synthetic role name.
pub(crate) fn synthetic_name_like() -> String {
    // `_` is LIKE's one-character wildcard.
    format!("{}%", RoleName::RESERVED_PREFIX.replace('_', "\\_"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_synthetic_like_pattern_escapes_the_prefix() {
        assert_eq!(super::synthetic_name_like(), "\\_\\_user\\_%");
    }
}
