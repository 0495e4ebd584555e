//! MLflow 3.17's per-user permission API (`/api/3.0/mlflow/users/permissions/*`,
//! `users/current/permissions`): rows on each user's synthetic role in `default`,
//! the same rows the 3.10 grant API reads and writes.

use axum::Json;
use axum::extract::State;
use mlguard_domain::{
    Capability, GrantKey, GrantRule, Permission, PermissionRow, Principal, Resource,
    ResourcePattern, ResourceType, RoleError, Username, Workspace,
};
use mlguard_http::{ApiError, Caller, ErrorBody, Mlflow};

use crate::permissions::require_existing;
use crate::rbac::{Authority, WorkspacesOff};
use crate::schema::{
    EffectivePermissionResponse, EmptyResponse, GrantUserPermissionRequest, PermissionRowJson,
    PermissionRowsResponse, UserPermissionRef, UsernameParam,
};
use crate::state::AppState;

fn resource_type(raw: &str) -> Result<ResourceType, ApiError> {
    let resource_type = ResourceType::parse(raw)?;
    if resource_type == ResourceType::Workspace {
        return Err(RoleError::Invalid(mlguard_domain::GrantRuleError::WorkspaceNotPerUser).into());
    }
    Ok(resource_type)
}

/// The key a point check on `(resource_type, id)` looks up, refused as MLflow's
/// convenience API refuses it: prompts and wildcard-only types have no point
/// check there, and a scorer is `<experiment_id>/<name>`.
fn point_key(resource_type: ResourceType, id: &str) -> Result<GrantKey, ApiError> {
    if id == ResourcePattern::WILDCARD {
        return Ok(GrantKey::wildcard(resource_type));
    }
    if resource_type == ResourceType::Prompt || !resource_type.takes_ids() {
        return Err(ApiError::invalid_parameter(format!(
            "resource_type '{resource_type}' is not supported by the per-user permission \
             convenience APIs."
        )));
    }
    if resource_type == ResourceType::Scorer && !id.contains('/') {
        return Err(ApiError::invalid_parameter(
            "Invalid scorer resource_id. Expected '<experiment_id>/<scorer_name>'.",
        ));
    }
    // The id is checked as a grant row's would be.
    ResourcePattern::parse(resource_type, id)?;
    Ok(GrantKey::new(resource_type, id))
}

/// Grant and revoke: `*` needs an admin or a workspace admin; an id needs
/// MANAGE on that resource, decided as the gateway decides. Admins may name ids
/// the convenience API's checks would refuse (a prompt), as in MLflow.
async fn require_grantor(
    state: &AppState,
    caller: Principal,
    resource_type: ResourceType,
    id: &str,
) -> Result<(), ApiError> {
    if caller.is_admin {
        return Ok(());
    }
    if id == ResourcePattern::WILDCARD {
        let authority = Authority::of(state, caller).await?;
        return if authority.manages_default() {
            Ok(())
        } else {
            Err(ApiError::permission_denied())
        };
    }
    let key = point_key(resource_type, id)?;
    state.grants.require(&caller, key, Capability::Manage).await
}

/// A non-admin grants only on what exists, as through the 3.10 API: a MANAGE
/// default must not let anyone claim an id before its creator makes it. A type
/// mlguard cannot look up is not theirs to grant on by id.
async fn require_existing_target(
    state: &AppState,
    resource_type: ResourceType,
    id: &str,
) -> Result<(), ApiError> {
    if id == ResourcePattern::WILDCARD {
        return Ok(());
    }
    match Resource::from_grant_key(resource_type.as_str(), id) {
        Some(resource) => require_existing(state, &resource).await,
        None => Err(ApiError::invalid_parameter(format!(
            "resource_type '{resource_type}' is not supported by the per-user permission \
             convenience APIs."
        ))),
    }
}

/// Grant a user a permission: a row on their synthetic role (not an upsert).
#[utoipa::path(post, path = "/api/3.0/mlflow/users/permissions/grant", tag = "roles",
    operation_id = "grantUserPermission", security(("basic" = []), ("bearer" = [])),
    request_body = GrantUserPermissionRequest,
    responses(
        (status = 200, description = "Granted", body = EmptyResponse),
        (status = 400, description = "Invalid type, id or permission, or the user already has a row on it", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "No MANAGE on the resource (on `*`: not a workspace admin)", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 500, description = "A workspace header was sent (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn grant_user_permission(
    _: WorkspacesOff,
    State(state): State<AppState>,
    Caller(caller): Caller,
    Mlflow(request): Mlflow<GrantUserPermissionRequest>,
) -> Result<Json<EmptyResponse>, ApiError> {
    let resource_type = resource_type(&request.resource_type)?;
    let is_admin = caller.is_admin;
    require_grantor(&state, caller, resource_type, &request.resource_id).await?;
    let username = Username::parse(&request.username)?;
    let permission: Permission = request.permission.parse()?;
    let rule = GrantRule::new(resource_type, &request.resource_id, permission)?;
    if !is_admin {
        require_existing_target(&state, resource_type, &request.resource_id).await?;
    }
    let target = username.clone();
    state
        .blocking(move |store| {
            store.grant_user_permission(&target, &Workspace::default_workspace(), &rule)
        })
        .await??;
    tracing::info!(target.user = %username, resource.kind = %resource_type,
        resource.key = %request.resource_id, %permission, "user permission granted");
    Ok(Json(EmptyResponse {}))
}

/// Revoke a user's row on their synthetic role (POST, as in MLflow).
#[utoipa::path(post, path = "/api/3.0/mlflow/users/permissions/revoke", tag = "roles",
    operation_id = "revokeUserPermission", security(("basic" = []), ("bearer" = [])),
    request_body = UserPermissionRef,
    responses(
        (status = 200, description = "Revoked", body = EmptyResponse),
        (status = 400, description = "Invalid type or id", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "No MANAGE on the resource (on `*`: not a workspace admin)", body = ErrorBody),
        (status = 404, description = "No such user, or no such row", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 500, description = "A workspace header was sent (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn revoke_user_permission(
    _: WorkspacesOff,
    State(state): State<AppState>,
    Caller(caller): Caller,
    Mlflow(request): Mlflow<UserPermissionRef>,
) -> Result<Json<EmptyResponse>, ApiError> {
    let resource_type = resource_type(&request.resource_type)?;
    require_grantor(&state, caller, resource_type, &request.resource_id).await?;
    let username = Username::parse(&request.username)?;
    let pattern = ResourcePattern::parse(resource_type, &request.resource_id)?;
    let target = username.clone();
    state
        .blocking(move |store| {
            store.revoke_user_permission(
                &target,
                &Workspace::default_workspace(),
                resource_type,
                &pattern,
            )
        })
        .await??;
    tracing::info!(target.user = %username, resource.kind = %resource_type,
        resource.key = %request.resource_id, "user permission revoked");
    Ok(Json(EmptyResponse {}))
}

/// What a runtime check gives the user on a resource (admin, the user themself,
/// or a workspace admin). `allowed` is "can use".
#[utoipa::path(get, path = "/api/3.0/mlflow/users/permissions/get", tag = "roles",
    operation_id = "getUserPermission", security(("basic" = []), ("bearer" = [])),
    params(UserPermissionRef),
    responses(
        (status = 200, description = "The effective level", body = EffectivePermissionResponse),
        (status = 400, description = "Invalid or unsupported type or id", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not the caller, and not a workspace admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 500, description = "A workspace header was sent (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn get_user_permission(
    _: WorkspacesOff,
    State(state): State<AppState>,
    Caller(caller): Caller,
    Mlflow(request): Mlflow<UserPermissionRef>,
) -> Result<Json<EffectivePermissionResponse>, ApiError> {
    let resource_type = resource_type(&request.resource_type)?;
    let key = point_key(resource_type, &request.resource_id)?;
    if !caller.is_admin && caller.username.as_str() != request.username {
        let authority = Authority::of(&state, caller).await?;
        if !authority.manages_default() {
            return Err(ApiError::permission_denied());
        }
    }
    let username = Username::parse(&request.username)?;
    let user = state
        .blocking(move |store| store.get_user(&username))
        .await??;
    let permission = state.grants.effective(&Principal::from(user), key).await?;
    Ok(Json(EffectivePermissionResponse {
        allowed: permission.allows(Capability::Use),
        permission: permission.into(),
    }))
}

/// Every row of every role the user holds (admin, the user themself, or a
/// workspace admin, who sees only the rows in the workspace they administer).
#[utoipa::path(get, path = "/api/3.0/mlflow/users/permissions/list", tag = "roles",
    operation_id = "listUserPermissions", security(("basic" = []), ("bearer" = [])),
    params(UsernameParam),
    responses(
        (status = 200, description = "The user's rows", body = PermissionRowsResponse),
        (status = 400, description = "Missing or invalid username", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not the caller, and no role of the user's in a workspace the caller administers", body = ErrorBody),
        (status = 404, description = "No such user (admins and the user)", body = ErrorBody),
        (status = 500, description = "A workspace header was sent (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn list_user_permissions(
    _: WorkspacesOff,
    State(state): State<AppState>,
    Caller(caller): Caller,
    Mlflow(UsernameParam { username: raw }): Mlflow<UsernameParam>,
) -> Result<Json<PermissionRowsResponse>, ApiError> {
    let whole = caller.is_admin || caller.username.as_str() == raw;
    let authority = if whole {
        None
    } else {
        let authority = Authority::of(&state, caller).await?;
        if !authority.manages_default() {
            return Err(ApiError::permission_denied());
        }
        Some(authority)
    };
    let username = Username::parse(&raw)?;
    let found = state
        .blocking(move |store| {
            let user = store.get_user(&username).map_err(ApiError::from)?;
            let roles = store.roles_of_user(&username)?;
            let rows = store.permission_rows_of_user(&username)?;
            Ok::<_, ApiError>((user, roles, rows))
        })
        .await?;
    let (user, rows) = match (found, authority) {
        (Ok((user, _, rows)), None) => (user, rows),
        (Ok((user, roles, rows)), Some(authority)) => {
            if !roles.iter().any(|role| authority.manages(&role.workspace)) {
                return Err(ApiError::permission_denied());
            }
            let rows = rows
                .into_iter()
                .filter(|row| authority.manages(&row.workspace))
                .collect();
            (user, rows)
        }
        // A workspace admin does not learn whether an outsider exists.
        (Err(error), Some(_)) if error.status() == axum::http::StatusCode::NOT_FOUND => {
            return Err(ApiError::permission_denied());
        }
        (Err(error), _) => return Err(error),
    };
    Ok(Json(rows_response(user.is_admin, rows)))
}

fn rows_response(is_admin: bool, rows: Vec<PermissionRow>) -> PermissionRowsResponse {
    PermissionRowsResponse {
        is_admin,
        permissions: rows.into_iter().map(PermissionRowJson::from).collect(),
    }
}

/// The caller's own rows, in every workspace (any authenticated user).
#[utoipa::path(get, path = "/api/3.0/mlflow/users/current/permissions", tag = "roles",
    operation_id = "listCurrentUserPermissions", security(("basic" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The caller's rows", body = PermissionRowsResponse),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "A foreign Host or a cross-site Origin", body = ErrorBody),
        (status = 500, description = "A workspace header was sent (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn list_current_user_permissions(
    _: WorkspacesOff,
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<PermissionRowsResponse>, ApiError> {
    let username = caller.username.clone();
    let rows = state
        .blocking(move |store| store.permission_rows_of_user(&username))
        .await??;
    Ok(Json(rows_response(caller.is_admin, rows)))
}
