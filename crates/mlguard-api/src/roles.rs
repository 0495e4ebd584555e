//! MLflow 3.17's roles: `/api/3.0/mlflow/roles/*` and `users/roles/list`, served
//! from the role store. Who may call is in [`crate::rbac`].

use axum::Json;
use axum::extract::{RawQuery, State};
use mlguard_domain::{GrantRule, Permission, ResourceType, RoleName, Username, Workspace};
use mlguard_http::{ApiError, Caller, ErrorBody, Mlflow, MlflowParams, query_pairs};
use serde::Deserialize;

use crate::rbac::{Authority, Need, WorkspacesOff, role_in_reach, row_in_reach, with_rows};
use crate::schema::{
    AddRolePermissionRequest, AssignmentJson, AssignmentRequest, AssignmentResponse,
    AssignmentsResponse, CreateRoleRequest, EmptyResponse, ListRolesParams, RoleIdParam, RoleJson,
    RolePermissionIdParam, RolePermissionJson, RolePermissionResponse, RolePermissionsResponse,
    RoleResponse, RolesResponse, UpdateRolePermissionRequest, UpdateRoleRequest, UsernameParam,
};
use crate::state::AppState;

/// The field a "manage" check takes the workspace from, when the request names no
/// role or row.
#[derive(Debug, Deserialize)]
struct Scope {
    workspace: Option<String>,
}

fn description(value: Option<serde_json::Value>, create: bool) -> Result<Option<String>, ApiError> {
    match value {
        None => Ok(None),
        Some(serde_json::Value::String(text)) => Ok(Some(text)),
        Some(_) if create => Err(ApiError::invalid_parameter(
            "Role description must be a string or null.",
        )),
        Some(_) => Err(ApiError::invalid_parameter(
            "Role description must be a string.",
        )),
    }
}

/// Create a role in a workspace (admin, or workspace admin).
#[utoipa::path(post, path = "/api/3.0/mlflow/roles/create", tag = "roles",
    operation_id = "createRole", security(("basic" = []), ("bearer" = [])),
    request_body = CreateRoleRequest,
    responses(
        (status = 200, description = "The new role, without rows", body = RoleResponse),
        (status = 400, description = "Invalid or reserved name, or the role exists", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Caller does not administer the workspace", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 500, description = "A workspace header was sent: workspaces are off (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn create_role(
    _: WorkspacesOff,
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: MlflowParams,
) -> Result<Json<RoleResponse>, ApiError> {
    let authority = Authority::of(&state, caller).await?;
    let Scope { workspace } = params.parse()?;
    let workspace = match workspace {
        Some(workspace) => workspace,
        // Admins skip MLflow's validator, which asks for a scope first.
        None if authority.is_admin() => return Err(ApiError::missing_parameter("workspace")),
        None => {
            return Err(ApiError::invalid_parameter(
                "Request must include one of: role_id, role_permission_id, workspace.",
            ));
        }
    };
    let workspace = Workspace::parse(&workspace)?;
    authority.require(Need::Manage, &workspace)?;
    let request: CreateRoleRequest = params.parse()?;
    let name = RoleName::parse(&request.name)?;
    let description = description(request.description, true)?;
    let role = state
        .blocking(move |store| store.create_role(&workspace, &name, description.as_deref()))
        .await??;
    tracing::info!(role.id = role.id, role.name = %role.name, "role created");
    Ok(Json(RoleResponse {
        role: RoleJson::new(role, &[]),
    }))
}

/// A role with its rows (admin, or anyone holding a role in its workspace).
#[utoipa::path(get, path = "/api/3.0/mlflow/roles/get", tag = "roles",
    operation_id = "getRole", security(("basic" = []), ("bearer" = [])),
    params(RoleIdParam),
    responses(
        (status = 200, description = "The role", body = RoleResponse),
        (status = 400, description = "Missing or non-integer role_id", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "No role in the role's workspace, or (non-admins) no such role", body = ErrorBody),
        (status = 404, description = "No such role (admins)", body = ErrorBody),
        (status = 500, description = "A workspace header was sent (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn get_role(
    _: WorkspacesOff,
    State(state): State<AppState>,
    Caller(caller): Caller,
    Mlflow(request): Mlflow<RoleIdParam>,
) -> Result<Json<RoleResponse>, ApiError> {
    let role_id = role_in_reach(&state, caller, &request.role_id, Need::View).await?;
    let role = state
        .blocking(move |store| store.get_role(role_id))
        .await??;
    let mut roles = with_rows(&state, vec![role]).await?;
    Ok(Json(RoleResponse {
        role: roles.remove(0),
    }))
}

/// Roles of the named workspaces (`workspace`, repeatable), synthetic ones
/// included. Without one, every workspace's: admins only. Anyone else names at
/// least one and holds a role in each.
#[utoipa::path(get, path = "/api/3.0/mlflow/roles/list", tag = "roles",
    operation_id = "listRoles", security(("basic" = []), ("bearer" = [])),
    params(ListRolesParams),
    responses(
        (status = 200, description = "The roles, by id", body = RolesResponse),
        (status = 400, description = "An empty workspace name", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "No workspace named, or one the caller holds no role in", body = ErrorBody),
        (status = 500, description = "A workspace header was sent (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn list_roles(
    _: WorkspacesOff,
    State(state): State<AppState>,
    Caller(caller): Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<RolesResponse>, ApiError> {
    // Read by hand: the shared reader refuses a repeated field.
    let mut workspaces = Vec::new();
    for (key, value) in query_pairs(query.as_deref())? {
        if key == "workspace" {
            workspaces.push(Workspace::parse(&value)?);
        }
    }
    let authority = Authority::of(&state, caller).await?;
    if !authority.is_admin()
        && (workspaces.is_empty() || !workspaces.iter().all(|w| authority.may(Need::View, w)))
    {
        return Err(ApiError::permission_denied());
    }
    let roles = state
        .blocking(move |store| {
            store.list_roles((!workspaces.is_empty()).then_some(workspaces.as_slice()))
        })
        .await??;
    Ok(Json(RolesResponse {
        roles: with_rows(&state, roles).await?,
    }))
}

/// Rename a role or change its description (admin, or workspace admin).
#[utoipa::path(patch, path = "/api/3.0/mlflow/roles/update", tag = "roles",
    operation_id = "updateRole", security(("basic" = []), ("bearer" = [])),
    request_body = UpdateRoleRequest,
    responses(
        (status = 200, description = "The changed role", body = RoleResponse),
        (status = 400, description = "Nothing to change, an invalid or reserved name, or the name is taken", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Caller does not administer the role's workspace", body = ErrorBody),
        (status = 404, description = "No such role (admins)", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 500, description = "A workspace header was sent (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn update_role(
    _: WorkspacesOff,
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: MlflowParams,
) -> Result<Json<RoleResponse>, ApiError> {
    let RoleIdParam { role_id } = params.parse()?;
    let role_id = role_in_reach(&state, caller, &role_id, Need::Manage).await?;
    let request: UpdateRoleRequest = params.parse()?;
    let name = request.name.as_deref().map(RoleName::parse).transpose()?;
    let description = description(request.description, false)?;
    if name.is_none() && description.is_none() {
        return Err(ApiError::invalid_parameter(
            "At least one of 'name' or 'description' must be provided to update a role.",
        ));
    }
    let role = state
        .blocking(move |store| {
            store.update_role(role_id, name.as_ref(), description.as_deref().map(Some))
        })
        .await??;
    tracing::info!(role.id = role.id, role.name = %role.name, "role updated");
    let mut roles = with_rows(&state, vec![role]).await?;
    Ok(Json(RoleResponse {
        role: roles.remove(0),
    }))
}

/// Delete a role with its rows and assignments (admin, or workspace admin).
/// Without a JSON body `role_id` is read from the query.
#[utoipa::path(delete, path = "/api/3.0/mlflow/roles/delete", tag = "roles",
    operation_id = "deleteRole", security(("basic" = []), ("bearer" = [])),
    request_body = RoleIdParam,
    responses(
        (status = 200, description = "Role deleted", body = EmptyResponse),
        (status = 400, description = "Missing or non-integer role_id", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Caller does not administer the role's workspace", body = ErrorBody),
        (status = 404, description = "No such role (admins)", body = ErrorBody),
        (status = 500, description = "A workspace header was sent (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn delete_role(
    _: WorkspacesOff,
    State(state): State<AppState>,
    Caller(caller): Caller,
    Mlflow(request): Mlflow<RoleIdParam>,
) -> Result<Json<EmptyResponse>, ApiError> {
    let role_id = role_in_reach(&state, caller, &request.role_id, Need::Manage).await?;
    state
        .blocking(move |store| store.delete_role(role_id))
        .await??;
    tracing::info!(role.id = role_id, "role deleted");
    Ok(Json(EmptyResponse {}))
}

/// Add a grant row to a role (admin, or workspace admin).
#[utoipa::path(post, path = "/api/3.0/mlflow/roles/permissions/add", tag = "roles",
    operation_id = "addRolePermission", security(("basic" = []), ("bearer" = [])),
    request_body = AddRolePermissionRequest,
    responses(
        (status = 200, description = "The new row", body = RolePermissionResponse),
        (status = 400, description = "Invalid type, pattern or permission, or the role has a row on that pattern", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Caller does not administer the role's workspace", body = ErrorBody),
        (status = 404, description = "No such role (admins)", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 500, description = "A workspace header was sent (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn add_role_permission(
    _: WorkspacesOff,
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: MlflowParams,
) -> Result<Json<RolePermissionResponse>, ApiError> {
    let RoleIdParam { role_id } = params.parse()?;
    let role_id = role_in_reach(&state, caller, &role_id, Need::Manage).await?;
    let request: AddRolePermissionRequest = params.parse()?;
    let resource_type = ResourceType::parse(&request.resource_type)?;
    let permission: Permission = request.permission.parse()?;
    let rule = GrantRule::new(resource_type, &request.resource_pattern, permission)?;
    let row = state
        .blocking(move |store| store.add_role_permission(role_id, &rule))
        .await??;
    tracing::info!(role.id = role_id, row.id = row.id, resource.kind = %row.resource_type,
        resource.key = %row.resource_pattern, %permission, "role row added");
    Ok(Json(RolePermissionResponse {
        role_permission: RolePermissionJson::from(&row),
    }))
}

/// Remove a grant row (admin, or workspace admin). Without a JSON body
/// `role_permission_id` is read from the query.
#[utoipa::path(delete, path = "/api/3.0/mlflow/roles/permissions/remove", tag = "roles",
    operation_id = "removeRolePermission", security(("basic" = []), ("bearer" = [])),
    request_body = RolePermissionIdParam,
    responses(
        (status = 200, description = "Row removed", body = EmptyResponse),
        (status = 400, description = "Missing or non-integer role_permission_id", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Caller does not administer the row's workspace", body = ErrorBody),
        (status = 404, description = "No such row (admins)", body = ErrorBody),
        (status = 500, description = "A workspace header was sent (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn remove_role_permission(
    _: WorkspacesOff,
    State(state): State<AppState>,
    Caller(caller): Caller,
    Mlflow(request): Mlflow<RolePermissionIdParam>,
) -> Result<Json<EmptyResponse>, ApiError> {
    let row_id = row_in_reach(&state, caller, &request.role_permission_id, Need::Manage).await?;
    state
        .blocking(move |store| store.remove_role_permission(row_id))
        .await??;
    tracing::info!(row.id = row_id, "role row removed");
    Ok(Json(EmptyResponse {}))
}

/// A role's grant rows (admin, or anyone holding a role in its workspace).
#[utoipa::path(get, path = "/api/3.0/mlflow/roles/permissions/list", tag = "roles",
    operation_id = "listRolePermissions", security(("basic" = []), ("bearer" = [])),
    params(RoleIdParam),
    responses(
        (status = 200, description = "The rows, by id", body = RolePermissionsResponse),
        (status = 400, description = "Missing or non-integer role_id", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "No role in the role's workspace, or (non-admins) no such role", body = ErrorBody),
        (status = 404, description = "No such role (admins)", body = ErrorBody),
        (status = 500, description = "A workspace header was sent (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn list_role_permissions(
    _: WorkspacesOff,
    State(state): State<AppState>,
    Caller(caller): Caller,
    Mlflow(request): Mlflow<RoleIdParam>,
) -> Result<Json<RolePermissionsResponse>, ApiError> {
    let role_id = role_in_reach(&state, caller, &request.role_id, Need::View).await?;
    let rows = state
        .blocking(move |store| store.list_role_permissions(role_id))
        .await??;
    Ok(Json(RolePermissionsResponse {
        role_permissions: rows.iter().map(RolePermissionJson::from).collect(),
    }))
}

/// Change a grant row's level (admin, or workspace admin).
#[utoipa::path(patch, path = "/api/3.0/mlflow/roles/permissions/update", tag = "roles",
    operation_id = "updateRolePermission", security(("basic" = []), ("bearer" = [])),
    request_body = UpdateRolePermissionRequest,
    responses(
        (status = 200, description = "The changed row", body = RolePermissionResponse),
        (status = 400, description = "Invalid permission, or one the row's type does not take", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Caller does not administer the row's workspace", body = ErrorBody),
        (status = 404, description = "No such row (admins)", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 500, description = "A workspace header was sent (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn update_role_permission(
    _: WorkspacesOff,
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: MlflowParams,
) -> Result<Json<RolePermissionResponse>, ApiError> {
    let RolePermissionIdParam { role_permission_id } = params.parse()?;
    let row_id = row_in_reach(&state, caller, &role_permission_id, Need::Manage).await?;
    let request: UpdateRolePermissionRequest = params.parse()?;
    let permission: Permission = request.permission.parse()?;
    let row = state
        .blocking(move |store| store.update_role_permission(row_id, permission))
        .await??;
    tracing::info!(row.id = row_id, %permission, "role row updated");
    Ok(Json(RolePermissionResponse {
        role_permission: RolePermissionJson::from(&row),
    }))
}

/// The assignment a request names: its role (checked first), then its user.
async fn assignment_target(
    state: &AppState,
    caller: mlguard_domain::Principal,
    params: &MlflowParams,
) -> Result<(Username, i64), ApiError> {
    let RoleIdParam { role_id } = params.parse()?;
    let role_id = role_in_reach(state, caller, &role_id, Need::Manage).await?;
    let request: AssignmentRequest = params.parse()?;
    Ok((Username::parse(&request.username)?, role_id))
}

/// Assign a role to a user (admin, or workspace admin). A user's synthetic role
/// cannot be assigned to anyone else (MLflow allows it).
#[utoipa::path(post, path = "/api/3.0/mlflow/roles/assign", tag = "roles",
    operation_id = "assignRole", security(("basic" = []), ("bearer" = [])),
    request_body = AssignmentRequest,
    responses(
        (status = 200, description = "The new assignment", body = AssignmentResponse),
        (status = 400, description = "Already assigned, or another user's synthetic role", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Caller does not administer the role's workspace", body = ErrorBody),
        (status = 404, description = "No such user, or (admins) no such role", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 500, description = "A workspace header was sent (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn assign_role(
    _: WorkspacesOff,
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: MlflowParams,
) -> Result<Json<AssignmentResponse>, ApiError> {
    let (username, role_id) = assignment_target(&state, caller, &params).await?;
    let target = username.clone();
    let assignment = state
        .blocking(move |store| store.assign_role(&target, role_id))
        .await??;
    tracing::info!(target.user = %username, role.id = role_id, "role assigned");
    Ok(Json(AssignmentResponse {
        assignment: AssignmentJson::from(assignment),
    }))
}

/// Take a role from a user (admin, or workspace admin). Without a JSON body the
/// fields are read from the query.
#[utoipa::path(delete, path = "/api/3.0/mlflow/roles/unassign", tag = "roles",
    operation_id = "unassignRole", security(("basic" = []), ("bearer" = [])),
    request_body = AssignmentRequest,
    responses(
        (status = 200, description = "Assignment removed", body = EmptyResponse),
        (status = 400, description = "Missing or invalid fields", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Caller does not administer the role's workspace", body = ErrorBody),
        (status = 404, description = "No such user or assignment, or (admins) no such role", body = ErrorBody),
        (status = 500, description = "A workspace header was sent (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn unassign_role(
    _: WorkspacesOff,
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: MlflowParams,
) -> Result<Json<EmptyResponse>, ApiError> {
    let (username, role_id) = assignment_target(&state, caller, &params).await?;
    let target = username.clone();
    state
        .blocking(move |store| store.unassign_role(&target, role_id))
        .await??;
    tracing::info!(target.user = %username, role.id = role_id, "role unassigned");
    Ok(Json(EmptyResponse {}))
}

/// Who holds a role (admin, or workspace admin; holding a role is not enough).
#[utoipa::path(get, path = "/api/3.0/mlflow/roles/users/list", tag = "roles",
    operation_id = "listRoleUsers", security(("basic" = []), ("bearer" = [])),
    params(RoleIdParam),
    responses(
        (status = 200, description = "The assignments, by id", body = AssignmentsResponse),
        (status = 400, description = "Missing or non-integer role_id", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Caller does not administer the role's workspace", body = ErrorBody),
        (status = 404, description = "No such role (admins)", body = ErrorBody),
        (status = 500, description = "A workspace header was sent (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn list_role_users(
    _: WorkspacesOff,
    State(state): State<AppState>,
    Caller(caller): Caller,
    Mlflow(request): Mlflow<RoleIdParam>,
) -> Result<Json<AssignmentsResponse>, ApiError> {
    let role_id = role_in_reach(&state, caller, &request.role_id, Need::Manage).await?;
    let assignments = state
        .blocking(move |store| store.assignments_of_role(role_id))
        .await??;
    Ok(Json(AssignmentsResponse {
        assignments: assignments.into_iter().map(AssignmentJson::from).collect(),
    }))
}

/// The roles a user holds (admin, the user themself, or a workspace admin, who
/// sees only the roles in the workspace they administer).
#[utoipa::path(get, path = "/api/3.0/mlflow/users/roles/list", tag = "roles",
    operation_id = "listUserRoles", security(("basic" = []), ("bearer" = [])),
    params(UsernameParam),
    responses(
        (status = 200, description = "The roles, by id", body = RolesResponse),
        (status = 400, description = "Missing or invalid username", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not the caller, and no role of the user's in a workspace the caller administers", body = ErrorBody),
        (status = 404, description = "No such user (admins)", body = ErrorBody),
        (status = 500, description = "A workspace header was sent (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn list_user_roles(
    _: WorkspacesOff,
    State(state): State<AppState>,
    Caller(caller): Caller,
    Mlflow(UsernameParam { username: raw }): Mlflow<UsernameParam>,
) -> Result<Json<RolesResponse>, ApiError> {
    let authority = Authority::of(&state, caller).await?;
    let whole = authority.is_admin() || authority.caller.username.as_str() == raw;
    if !whole && !authority.manages_default() {
        return Err(ApiError::permission_denied());
    }
    let username = Username::parse(&raw)?;
    let roles = state
        .blocking(move |store| store.roles_of_user(&username))
        .await?;
    let roles = match roles {
        Ok(roles) if whole => roles,
        Ok(roles) => {
            let administered: Vec<_> = roles
                .into_iter()
                .filter(|role| authority.manages(&role.workspace))
                .collect();
            if administered.is_empty() {
                return Err(ApiError::permission_denied());
            }
            administered
        }
        // A workspace admin does not learn whether an outsider exists.
        Err(mlguard_domain::RoleError::UserNotFound(_)) if !whole => {
            return Err(ApiError::permission_denied());
        }
        Err(other) => return Err(other.into()),
    };
    Ok(Json(RolesResponse {
        roles: with_rows(&state, roles).await?,
    }))
}
