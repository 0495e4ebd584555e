//! Grant management for experiments and registered models, MLflow-compatible.
//! The caller needs MANAGE on the resource (admins have it everywhere).

use axum::Json;
use axum::extract::State;
use mlguard_domain::{
    Capability, Decision, ExperimentId, Grant, ModelName, Permission, Principal, Resource,
    StoreError, Username, decide,
};
use mlguard_extract::{ApiError, Caller, ErrorBody, MlflowParams};

use crate::schema::{
    DEFAULT_WORKSPACE, EmptyResponse, ExperimentPermission, ExperimentPermissionResponse,
    RegisteredModelPermission, RegisteredModelPermissionResponse,
    requests::ExperimentPermissionRef, requests::ExperimentPermissionRequest,
    requests::RegisteredModelPermissionRef, requests::RegisteredModelPermissionRequest,
};
use crate::state::AppState;

#[derive(Debug, Clone, Copy)]
enum Kind {
    Experiment,
    RegisteredModel,
}

fn resource(kind: Kind, params: &MlflowParams) -> Result<Resource, ApiError> {
    Ok(match kind {
        Kind::Experiment => {
            Resource::Experiment(ExperimentId::parse(params.required_str("experiment_id")?)?)
        }
        Kind::RegisteredModel => {
            Resource::RegisteredModel(ModelName::parse(params.required_str("name")?)?)
        }
    })
}

/// MLflow's wording for a missing or duplicate grant.
fn grant_error(error: StoreError) -> ApiError {
    match &error {
        StoreError::GrantNotFound { resource, username } => ApiError::not_found(match resource {
            Resource::Experiment(id) => format!(
                "Experiment permission with experiment_id={id} and username={username} not found"
            ),
            Resource::RegisteredModel(name) => format!(
                "Registered model permission with workspace={DEFAULT_WORKSPACE}, \
                 name={name} and username={username} not found"
            ),
        }),
        StoreError::GrantAlreadyExists { resource, username } => {
            ApiError::already_exists(match resource {
                Resource::Experiment(id) => format!(
                    "Experiment permission (experiment_id={id}, username={username}) already exists."
                ),
                Resource::RegisteredModel(name) => format!(
                    "Registered model permission (name={name}, username={username}) already exists."
                ),
            })
        }
        StoreError::UserNotFound(_)
        | StoreError::UserAlreadyExists(_)
        | StoreError::Unavailable(_) => ApiError::from(error),
    }
}

async fn require_manage(
    state: &AppState,
    caller: &Principal,
    resource: &Resource,
) -> Result<(), ApiError> {
    if caller.is_admin {
        return Ok(());
    }
    let (user_id, target) = (caller.user_id, resource.clone());
    let explicit = state
        .blocking(move |store| store.permission_of(user_id, &target))
        .await??;
    match decide(
        caller,
        explicit,
        state.default_permission,
        Capability::Manage,
    ) {
        Decision::Allow => Ok(()),
        Decision::Deny => Err(ApiError::permission_denied()),
    }
}

/// The resource, checked for MANAGE, and the target user.
async fn target(
    state: &AppState,
    caller: &Principal,
    kind: Kind,
    params: &MlflowParams,
) -> Result<(Resource, Username), ApiError> {
    let resource = resource(kind, params)?;
    require_manage(state, caller, &resource).await?;
    let username = Username::parse(params.required_str("username")?)?;
    Ok((resource, username))
}

fn permission(params: &MlflowParams) -> Result<Permission, ApiError> {
    Ok(params.required_str("permission")?.parse::<Permission>()?)
}

async fn create(
    state: &AppState,
    caller: &Principal,
    kind: Kind,
    params: &MlflowParams,
) -> Result<Grant, ApiError> {
    let (resource, username) = target(state, caller, kind, params).await?;
    let permission = permission(params)?;
    let grant = state
        .blocking(move |store| store.create_grant(&username, &resource, permission))
        .await?
        .map_err(grant_error)?;
    tracing::info!(target.user = %grant.username, resource.kind = %grant.resource.kind(),
        resource.key = grant.resource.key(), %permission, "grant created");
    Ok(grant)
}

async fn get(
    state: &AppState,
    caller: &Principal,
    kind: Kind,
    params: &MlflowParams,
) -> Result<Grant, ApiError> {
    let (resource, username) = target(state, caller, kind, params).await?;
    state
        .blocking(move |store| store.get_grant(&username, &resource))
        .await?
        .map_err(grant_error)
}

async fn update(
    state: &AppState,
    caller: &Principal,
    kind: Kind,
    params: &MlflowParams,
) -> Result<Json<EmptyResponse>, ApiError> {
    let (resource, username) = target(state, caller, kind, params).await?;
    let permission = permission(params)?;
    let (who, what) = (username.clone(), resource.clone());
    state
        .blocking(move |store| store.update_grant(&who, &what, permission))
        .await?
        .map_err(grant_error)?;
    tracing::info!(target.user = %username, resource.kind = %resource.kind(),
        resource.key = resource.key(), %permission, "grant updated");
    Ok(Json(EmptyResponse {}))
}

async fn delete(
    state: &AppState,
    caller: &Principal,
    kind: Kind,
    params: &MlflowParams,
) -> Result<Json<EmptyResponse>, ApiError> {
    let (resource, username) = target(state, caller, kind, params).await?;
    let (who, what) = (username.clone(), resource.clone());
    state
        .blocking(move |store| store.delete_grant(&who, &what))
        .await?
        .map_err(grant_error)?;
    tracing::info!(target.user = %username, resource.kind = %resource.kind(),
        resource.key = resource.key(), "grant deleted");
    Ok(Json(EmptyResponse {}))
}

/// Grant a user a permission on an experiment (MANAGE on it, or admin).
#[utoipa::path(post, path = "/api/2.0/mlflow/experiments/permissions/create", tag = "permissions",
    operation_id = "createExperimentPermission", security(("basic" = [])),
    request_body = ExperimentPermissionRequest,
    responses(
        (status = 200, description = "The new grant", body = ExperimentPermissionResponse),
        (status = 400, description = "Invalid parameters, or the grant exists", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "No MANAGE on the experiment", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
    ))]
pub(crate) async fn create_experiment_permission(
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: MlflowParams,
) -> Result<Json<ExperimentPermissionResponse>, ApiError> {
    let grant = create(&state, &caller, Kind::Experiment, &params).await?;
    Ok(Json(ExperimentPermissionResponse {
        experiment_permission: ExperimentPermission::from(&grant),
    }))
}

/// A user's grant on an experiment (MANAGE on it, or admin).
#[utoipa::path(get, path = "/api/2.0/mlflow/experiments/permissions/get", tag = "permissions",
    operation_id = "getExperimentPermission", security(("basic" = [])),
    params(ExperimentPermissionRef),
    responses(
        (status = 200, description = "The grant", body = ExperimentPermissionResponse),
        (status = 400, description = "Invalid parameters", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "No MANAGE on the experiment", body = ErrorBody),
        (status = 404, description = "No such user or grant", body = ErrorBody),
    ))]
pub(crate) async fn get_experiment_permission(
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: MlflowParams,
) -> Result<Json<ExperimentPermissionResponse>, ApiError> {
    let grant = get(&state, &caller, Kind::Experiment, &params).await?;
    Ok(Json(ExperimentPermissionResponse {
        experiment_permission: ExperimentPermission::from(&grant),
    }))
}

/// Change a user's grant on an experiment (MANAGE on it, or admin).
#[utoipa::path(patch, path = "/api/2.0/mlflow/experiments/permissions/update", tag = "permissions",
    operation_id = "updateExperimentPermission", security(("basic" = [])),
    request_body = ExperimentPermissionRequest,
    responses(
        (status = 200, description = "Grant changed", body = EmptyResponse),
        (status = 400, description = "Invalid parameters", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "No MANAGE on the experiment", body = ErrorBody),
        (status = 404, description = "No such user or grant", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
    ))]
pub(crate) async fn update_experiment_permission(
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: MlflowParams,
) -> Result<Json<EmptyResponse>, ApiError> {
    update(&state, &caller, Kind::Experiment, &params).await
}

/// Revoke a user's grant on an experiment (MANAGE on it, or admin).
#[utoipa::path(delete, path = "/api/2.0/mlflow/experiments/permissions/delete", tag = "permissions",
    operation_id = "deleteExperimentPermission", security(("basic" = [])),
    params(
        ("experiment_id" = Option<String>, Query, description = "Used when there is no JSON body"),
        ("username" = Option<String>, Query, description = "Used when there is no JSON body"),
    ),
    request_body(content = ExperimentPermissionRef, description = "Optional JSON body; wins over the query"),
    responses(
        (status = 200, description = "Grant revoked", body = EmptyResponse),
        (status = 400, description = "Invalid parameters", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "No MANAGE on the experiment", body = ErrorBody),
        (status = 404, description = "No such user or grant", body = ErrorBody),
    ))]
pub(crate) async fn delete_experiment_permission(
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: MlflowParams,
) -> Result<Json<EmptyResponse>, ApiError> {
    delete(&state, &caller, Kind::Experiment, &params).await
}

/// Grant a user a permission on a registered model (MANAGE on it, or admin).
#[utoipa::path(post, path = "/api/2.0/mlflow/registered-models/permissions/create", tag = "permissions",
    operation_id = "createRegisteredModelPermission", security(("basic" = [])),
    request_body = RegisteredModelPermissionRequest,
    responses(
        (status = 200, description = "The new grant", body = RegisteredModelPermissionResponse),
        (status = 400, description = "Invalid parameters, or the grant exists", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "No MANAGE on the model", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
    ))]
pub(crate) async fn create_registered_model_permission(
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: MlflowParams,
) -> Result<Json<RegisteredModelPermissionResponse>, ApiError> {
    let grant = create(&state, &caller, Kind::RegisteredModel, &params).await?;
    Ok(Json(RegisteredModelPermissionResponse {
        registered_model_permission: RegisteredModelPermission::from(&grant),
    }))
}

/// A user's grant on a registered model (MANAGE on it, or admin).
#[utoipa::path(get, path = "/api/2.0/mlflow/registered-models/permissions/get", tag = "permissions",
    operation_id = "getRegisteredModelPermission", security(("basic" = [])),
    params(RegisteredModelPermissionRef),
    responses(
        (status = 200, description = "The grant", body = RegisteredModelPermissionResponse),
        (status = 400, description = "Invalid parameters", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "No MANAGE on the model", body = ErrorBody),
        (status = 404, description = "No such user or grant", body = ErrorBody),
    ))]
pub(crate) async fn get_registered_model_permission(
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: MlflowParams,
) -> Result<Json<RegisteredModelPermissionResponse>, ApiError> {
    let grant = get(&state, &caller, Kind::RegisteredModel, &params).await?;
    Ok(Json(RegisteredModelPermissionResponse {
        registered_model_permission: RegisteredModelPermission::from(&grant),
    }))
}

/// Change a user's grant on a registered model (MANAGE on it, or admin).
#[utoipa::path(patch, path = "/api/2.0/mlflow/registered-models/permissions/update", tag = "permissions",
    operation_id = "updateRegisteredModelPermission", security(("basic" = [])),
    request_body = RegisteredModelPermissionRequest,
    responses(
        (status = 200, description = "Grant changed", body = EmptyResponse),
        (status = 400, description = "Invalid parameters", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "No MANAGE on the model", body = ErrorBody),
        (status = 404, description = "No such user or grant", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
    ))]
pub(crate) async fn update_registered_model_permission(
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: MlflowParams,
) -> Result<Json<EmptyResponse>, ApiError> {
    update(&state, &caller, Kind::RegisteredModel, &params).await
}

/// Revoke a user's grant on a registered model (MANAGE on it, or admin).
#[utoipa::path(delete, path = "/api/2.0/mlflow/registered-models/permissions/delete", tag = "permissions",
    operation_id = "deleteRegisteredModelPermission", security(("basic" = [])),
    params(
        ("name" = Option<String>, Query, description = "Used when there is no JSON body"),
        ("username" = Option<String>, Query, description = "Used when there is no JSON body"),
    ),
    request_body(content = RegisteredModelPermissionRef, description = "Optional JSON body; wins over the query"),
    responses(
        (status = 200, description = "Grant revoked", body = EmptyResponse),
        (status = 400, description = "Invalid parameters", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "No MANAGE on the model", body = ErrorBody),
        (status = 404, description = "No such user or grant", body = ErrorBody),
    ))]
pub(crate) async fn delete_registered_model_permission(
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: MlflowParams,
) -> Result<Json<EmptyResponse>, ApiError> {
    delete(&state, &caller, Kind::RegisteredModel, &params).await
}
