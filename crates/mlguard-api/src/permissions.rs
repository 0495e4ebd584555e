//! Grant management, MLflow-compatible, for every grantable resource kind:
//! experiments, registered models, scorers, and gateway secrets, endpoints and model
//! definitions. The caller needs MANAGE on the resource (admins have it everywhere).
//! For a scorer that is MANAGE on the scorer itself; the experiment's grant does not
//! count, as in MLflow.
//!
//! A grant is only created on a resource the tracking server holds: a grant named
//! ahead of its resource would let its holder lock out whoever creates it. The
//! existence check comes after the MANAGE check, so a caller who may not manage the
//! resource learns nothing about whether it exists. Reading, changing and revoking
//! grants do not check, so grants on deleted resources can still be cleaned up.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mlguard_domain::{
    Capability, ExperimentId, Grant, ModelName, OpaqueId, Permission, Principal, Resource,
    StoreError, Username,
};
use mlguard_extract::{ApiError, Caller, ErrorBody, ErrorCode, MlflowParams};

use crate::schema::{
    DEFAULT_WORKSPACE, EmptyResponse, ExperimentPermission, ExperimentPermissionResponse,
    GatewayEndpointPermission, GatewayEndpointPermissionResponse, GatewayModelDefinitionPermission,
    GatewayModelDefinitionPermissionResponse, GatewaySecretPermission,
    GatewaySecretPermissionResponse, RegisteredModelPermission, RegisteredModelPermissionResponse,
    ScorerPermission, ScorerPermissionResponse, requests,
};
use crate::state::AppState;

#[derive(Debug, Clone, Copy)]
enum Kind {
    Experiment,
    RegisteredModel,
    Scorer,
    GatewaySecret,
    GatewayEndpoint,
    GatewayModelDefinition,
}

fn opaque(params: &MlflowParams, field: &str) -> Result<OpaqueId, ApiError> {
    Ok(OpaqueId::parse(params.required_str(field)?)?)
}

/// The resource named by the request, from MLflow's field names.
fn resource(kind: Kind, params: &MlflowParams) -> Result<Resource, ApiError> {
    let experiment_id = || -> Result<ExperimentId, ApiError> {
        Ok(ExperimentId::parse(params.required_str("experiment_id")?)?)
    };
    Ok(match kind {
        Kind::Experiment => Resource::Experiment(experiment_id()?),
        Kind::RegisteredModel => {
            Resource::RegisteredModel(ModelName::parse(params.required_str("name")?)?)
        }
        Kind::Scorer => Resource::Scorer {
            experiment_id: experiment_id()?,
            name: opaque(params, "scorer_name")?,
        },
        Kind::GatewaySecret => Resource::GatewaySecret(opaque(params, "secret_id")?),
        Kind::GatewayEndpoint => Resource::GatewayEndpoint(opaque(params, "endpoint_id")?),
        Kind::GatewayModelDefinition => {
            Resource::GatewayModelDefinition(opaque(params, "model_definition_id")?)
        }
    })
}

/// How MLflow names a grant in its messages, e.g. `Experiment permission with
/// experiment_id=1 and username=bob`.
fn describe(resource: &Resource, username: &Username, existing: bool) -> String {
    let (noun, fields) = match resource {
        Resource::Experiment(id) => ("Experiment", format!("experiment_id={id}")),
        Resource::RegisteredModel(name) if existing => ("Registered model", format!("name={name}")),
        Resource::RegisteredModel(name) => (
            "Registered model",
            format!("workspace={DEFAULT_WORKSPACE}, name={name}"),
        ),
        Resource::Scorer {
            experiment_id,
            name,
        } => (
            "Scorer",
            format!("experiment_id={experiment_id}, scorer_name={name},"),
        ),
        Resource::GatewaySecret(id) => ("Gateway secret", format!("secret_id={id}")),
        Resource::GatewayEndpoint(id) => ("Gateway endpoint", format!("endpoint_id={id}")),
        Resource::GatewayModelDefinition(id) => (
            "Gateway model definition",
            format!("model_definition_id={id}"),
        ),
    };
    if existing {
        let fields = fields.trim_end_matches(',');
        format!("{noun} permission ({fields}, username={username}) already exists.")
    } else {
        format!("{noun} permission with {fields} and username={username} not found")
    }
}

/// MLflow's wording for a missing or duplicate grant.
fn grant_error(error: StoreError) -> ApiError {
    match &error {
        StoreError::GrantNotFound { resource, username } => {
            ApiError::not_found(describe(resource, username, false))
        }
        StoreError::GrantAlreadyExists { resource, username } => {
            ApiError::already_exists(describe(resource, username, true))
        }
        StoreError::UserNotFound(_)
        | StoreError::UserAlreadyExists(_)
        | StoreError::Unavailable(_) => ApiError::from(error),
    }
}

/// The resource, checked for MANAGE before anything else is read, and the target user.
async fn target(
    state: &AppState,
    caller: &Principal,
    kind: Kind,
    params: &MlflowParams,
) -> Result<(Resource, Username), ApiError> {
    let resource = resource(kind, params)?;
    state
        .grants
        .require(caller, resource.clone(), Capability::Manage)
        .await?;
    let username = Username::parse(params.required_str("username")?)?;
    Ok((resource, username))
}

/// MLflow's wording for a resource it does not hold.
fn missing(resource: &Resource) -> String {
    match resource {
        Resource::Experiment(id) => format!("No Experiment with id={id} exists"),
        Resource::RegisteredModel(name) => format!("Registered Model with name={name} not found"),
        Resource::Scorer {
            experiment_id,
            name,
        } => format!("Scorer with name={name} not found in experiment_id={experiment_id}"),
        Resource::GatewaySecret(id) => format!("Gateway secret with secret_id={id} not found"),
        Resource::GatewayEndpoint(id) => {
            format!("Gateway endpoint with endpoint_id={id} not found")
        }
        Resource::GatewayModelDefinition(id) => {
            format!("Gateway model definition with model_definition_id={id} not found")
        }
    }
}

/// Refuses a grant on a resource the tracking server does not hold (404). Without a
/// tracking server nothing can be checked, so nothing is granted (501).
async fn require_existing(state: &AppState, resource: &Resource) -> Result<(), ApiError> {
    let Some(gateway) = &state.gateway else {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            ErrorCode::FeatureDisabled,
            "Grants cannot be created without a tracking server: configure \
             upstream.url so mlguard can check that the resource exists.",
        ));
    };
    let exists = gateway
        .lookup
        .resource_exists(resource)
        .await
        .map_err(ApiError::lookup_failed)?;
    if exists {
        Ok(())
    } else {
        tracing::info!(resource.kind = %resource.kind(), resource.key = %resource.key(),
            "grant refused: no such resource");
        Err(ApiError::not_found(missing(resource)))
    }
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
    require_existing(state, &resource).await?;
    let grant = state
        .blocking(move |store| store.create_grant(&username, &resource, permission))
        .await?
        .map_err(grant_error)?;
    tracing::info!(target.user = %grant.username, resource.kind = %grant.resource.kind(),
        resource.key = %grant.resource.key(), %permission, "grant created");
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
        resource.key = %resource.key(), %permission, "grant updated");
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
        resource.key = %resource.key(), "grant deleted");
    Ok(Json(EmptyResponse {}))
}

/// The four MLflow verbs for one resource kind: POST create, GET get, PATCH update,
/// DELETE delete (JSON body, or the query without one).
macro_rules! permission_endpoints {
    (
        kind: $kind:expr,
        what: $what:literal,
        request: $Request:ty,
        reference: $Reference:ty,
        response: $Response:ident { $field:ident: $Item:ty },
        create: $create:ident, $create_path:literal, $create_op:literal,
        get: $get:ident, $get_path:literal, $get_op:literal,
        update: $update:ident, $update_path:literal, $update_op:literal,
        delete: $delete:ident, $delete_path:literal, $delete_op:literal $(,)?
    ) => {
        #[doc = concat!("Grant a user a permission on ", $what, " (MANAGE on it, or admin). ",
            "The resource must exist on the tracking server.")]
        #[utoipa::path(post, path = $create_path, tag = "permissions",
            operation_id = $create_op, security(("basic" = []), ("bearer" = [])),
            request_body = $Request,
            responses(
                (status = 200, description = "The new grant", body = $Response),
                (status = 400, description = "Invalid parameters, or the grant exists", body = ErrorBody),
                (status = 401, description = "Not authenticated", body = ErrorBody),
                (status = 403, description = "No MANAGE on the resource", body = ErrorBody),
                (status = 404, description = "No such user, or no such resource on the tracking server (RESOURCE_DOES_NOT_EXIST)", body = ErrorBody),
                (status = 415, description = "Body is not JSON", body = ErrorBody),
                (status = 501, description = "No tracking server is configured to check the resource (FEATURE_DISABLED)", body = ErrorBody),
                (status = 502, description = "The tracking server could not be reached to check the resource", body = ErrorBody),
            ))]
        pub(crate) async fn $create(
            State(state): State<AppState>,
            Caller(caller): Caller,
            params: MlflowParams,
        ) -> Result<Json<$Response>, ApiError> {
            let grant = create(&state, &caller, $kind, &params).await?;
            Ok(Json($Response { $field: <$Item>::from(&grant) }))
        }

        #[doc = concat!("A user's grant on ", $what, " (MANAGE on it, or admin).")]
        #[utoipa::path(get, path = $get_path, tag = "permissions",
            operation_id = $get_op, security(("basic" = []), ("bearer" = [])),
            params($Reference),
            responses(
                (status = 200, description = "The grant", body = $Response),
                (status = 400, description = "Invalid parameters", body = ErrorBody),
                (status = 401, description = "Not authenticated", body = ErrorBody),
                (status = 403, description = "No MANAGE on the resource", body = ErrorBody),
                (status = 404, description = "No such user or grant", body = ErrorBody),
            ))]
        pub(crate) async fn $get(
            State(state): State<AppState>,
            Caller(caller): Caller,
            params: MlflowParams,
        ) -> Result<Json<$Response>, ApiError> {
            let grant = get(&state, &caller, $kind, &params).await?;
            Ok(Json($Response { $field: <$Item>::from(&grant) }))
        }

        #[doc = concat!("Change a user's grant on ", $what, " (MANAGE on it, or admin).")]
        #[utoipa::path(patch, path = $update_path, tag = "permissions",
            operation_id = $update_op, security(("basic" = []), ("bearer" = [])),
            request_body = $Request,
            responses(
                (status = 200, description = "Grant changed", body = EmptyResponse),
                (status = 400, description = "Invalid parameters", body = ErrorBody),
                (status = 401, description = "Not authenticated", body = ErrorBody),
                (status = 403, description = "No MANAGE on the resource", body = ErrorBody),
                (status = 404, description = "No such user or grant", body = ErrorBody),
                (status = 415, description = "Body is not JSON", body = ErrorBody),
            ))]
        pub(crate) async fn $update(
            State(state): State<AppState>,
            Caller(caller): Caller,
            params: MlflowParams,
        ) -> Result<Json<EmptyResponse>, ApiError> {
            update(&state, &caller, $kind, &params).await
        }

        #[doc = concat!("Revoke a user's grant on ", $what, " (MANAGE on it, or admin). ",
            "Without a JSON body the same fields are read from the query.")]
        #[utoipa::path(delete, path = $delete_path, tag = "permissions",
            operation_id = $delete_op, security(("basic" = []), ("bearer" = [])),
            request_body = $Reference,
            responses(
                (status = 200, description = "Grant revoked", body = EmptyResponse),
                (status = 400, description = "Invalid parameters", body = ErrorBody),
                (status = 401, description = "Not authenticated", body = ErrorBody),
                (status = 403, description = "No MANAGE on the resource", body = ErrorBody),
                (status = 404, description = "No such user or grant", body = ErrorBody),
            ))]
        pub(crate) async fn $delete(
            State(state): State<AppState>,
            Caller(caller): Caller,
            params: MlflowParams,
        ) -> Result<Json<EmptyResponse>, ApiError> {
            delete(&state, &caller, $kind, &params).await
        }
    };
}

permission_endpoints! {
    kind: Kind::Experiment,
    what: "an experiment",
    request: requests::ExperimentPermissionRequest,
    reference: requests::ExperimentPermissionRef,
    response: ExperimentPermissionResponse { experiment_permission: ExperimentPermission },
    create: create_experiment_permission, "/api/2.0/mlflow/experiments/permissions/create", "createExperimentPermission",
    get: get_experiment_permission, "/api/2.0/mlflow/experiments/permissions/get", "getExperimentPermission",
    update: update_experiment_permission, "/api/2.0/mlflow/experiments/permissions/update", "updateExperimentPermission",
    delete: delete_experiment_permission, "/api/2.0/mlflow/experiments/permissions/delete", "deleteExperimentPermission",
}

permission_endpoints! {
    kind: Kind::RegisteredModel,
    what: "a registered model",
    request: requests::RegisteredModelPermissionRequest,
    reference: requests::RegisteredModelPermissionRef,
    response: RegisteredModelPermissionResponse { registered_model_permission: RegisteredModelPermission },
    create: create_registered_model_permission, "/api/2.0/mlflow/registered-models/permissions/create", "createRegisteredModelPermission",
    get: get_registered_model_permission, "/api/2.0/mlflow/registered-models/permissions/get", "getRegisteredModelPermission",
    update: update_registered_model_permission, "/api/2.0/mlflow/registered-models/permissions/update", "updateRegisteredModelPermission",
    delete: delete_registered_model_permission, "/api/2.0/mlflow/registered-models/permissions/delete", "deleteRegisteredModelPermission",
}

permission_endpoints! {
    kind: Kind::Scorer,
    what: "a scorer",
    request: requests::ScorerPermissionRequest,
    reference: requests::ScorerPermissionRef,
    response: ScorerPermissionResponse { scorer_permission: ScorerPermission },
    create: create_scorer_permission, "/api/3.0/mlflow/scorers/permissions/create", "createScorerPermission",
    get: get_scorer_permission, "/api/3.0/mlflow/scorers/permissions/get", "getScorerPermission",
    update: update_scorer_permission, "/api/3.0/mlflow/scorers/permissions/update", "updateScorerPermission",
    delete: delete_scorer_permission, "/api/3.0/mlflow/scorers/permissions/delete", "deleteScorerPermission",
}

permission_endpoints! {
    kind: Kind::GatewaySecret,
    what: "a gateway secret",
    request: requests::GatewaySecretPermissionRequest,
    reference: requests::GatewaySecretPermissionRef,
    response: GatewaySecretPermissionResponse { gateway_secret_permission: GatewaySecretPermission },
    create: create_gateway_secret_permission, "/api/3.0/mlflow/gateway/secrets/permissions/create", "createGatewaySecretPermission",
    get: get_gateway_secret_permission, "/api/3.0/mlflow/gateway/secrets/permissions/get", "getGatewaySecretPermission",
    update: update_gateway_secret_permission, "/api/3.0/mlflow/gateway/secrets/permissions/update", "updateGatewaySecretPermission",
    delete: delete_gateway_secret_permission, "/api/3.0/mlflow/gateway/secrets/permissions/delete", "deleteGatewaySecretPermission",
}

permission_endpoints! {
    kind: Kind::GatewayEndpoint,
    what: "a gateway endpoint",
    request: requests::GatewayEndpointPermissionRequest,
    reference: requests::GatewayEndpointPermissionRef,
    response: GatewayEndpointPermissionResponse { gateway_endpoint_permission: GatewayEndpointPermission },
    create: create_gateway_endpoint_permission, "/api/3.0/mlflow/gateway/endpoints/permissions/create", "createGatewayEndpointPermission",
    get: get_gateway_endpoint_permission, "/api/3.0/mlflow/gateway/endpoints/permissions/get", "getGatewayEndpointPermission",
    update: update_gateway_endpoint_permission, "/api/3.0/mlflow/gateway/endpoints/permissions/update", "updateGatewayEndpointPermission",
    delete: delete_gateway_endpoint_permission, "/api/3.0/mlflow/gateway/endpoints/permissions/delete", "deleteGatewayEndpointPermission",
}

permission_endpoints! {
    kind: Kind::GatewayModelDefinition,
    what: "a gateway model definition",
    request: requests::GatewayModelDefinitionPermissionRequest,
    reference: requests::GatewayModelDefinitionPermissionRef,
    response: GatewayModelDefinitionPermissionResponse { gateway_model_definition_permission: GatewayModelDefinitionPermission },
    create: create_gateway_model_definition_permission, "/api/3.0/mlflow/gateway/model-definitions/permissions/create", "createGatewayModelDefinitionPermission",
    get: get_gateway_model_definition_permission, "/api/3.0/mlflow/gateway/model-definitions/permissions/get", "getGatewayModelDefinitionPermission",
    update: update_gateway_model_definition_permission, "/api/3.0/mlflow/gateway/model-definitions/permissions/update", "updateGatewayModelDefinitionPermission",
    delete: delete_gateway_model_definition_permission, "/api/3.0/mlflow/gateway/model-definitions/permissions/delete", "deleteGatewayModelDefinitionPermission",
}
