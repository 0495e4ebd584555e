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
    Capability, ExperimentId, Grant, ModelKind, ModelName, OpaqueId, Permission, Principal,
    Resource, StoreError, Username,
};
use mlguard_http::{ApiError, Caller, ErrorBody, ErrorCode, Mlflow};

use crate::schema::{
    DEFAULT_WORKSPACE, EmptyResponse, ExperimentPermission, ExperimentPermissionRef,
    ExperimentPermissionRequest, ExperimentPermissionResponse, GatewayEndpointPermission,
    GatewayEndpointPermissionRef, GatewayEndpointPermissionRequest,
    GatewayEndpointPermissionResponse, GatewayModelDefinitionPermission,
    GatewayModelDefinitionPermissionRef, GatewayModelDefinitionPermissionRequest,
    GatewayModelDefinitionPermissionResponse, GatewaySecretPermission, GatewaySecretPermissionRef,
    GatewaySecretPermissionRequest, GatewaySecretPermissionResponse, RegisteredModelPermission,
    RegisteredModelPermissionRef, RegisteredModelPermissionRequest,
    RegisteredModelPermissionResponse, ScorerPermission, ScorerPermissionRef,
    ScorerPermissionRequest, ScorerPermissionResponse,
};
use crate::state::AppState;

/// A request naming one grant: its resource, by MLflow's field names for the
/// resource's kind, and its user.
trait GrantRef {
    fn resource(&self) -> Result<Resource, ApiError>;
    fn username(&self) -> &str;
}

/// A request that also sets the grant's level.
trait GrantRequest: GrantRef {
    fn permission(&self) -> &str;
}

/// How MLflow names a grant in its messages, e.g. `Experiment permission with
/// experiment_id=1 and username=bob`.
fn describe(resource: &Resource, username: &Username, existing: bool) -> String {
    let (noun, fields) = match resource {
        Resource::Experiment(id) => ("Experiment", format!("experiment_id={id}")),
        // The 3.10 API calls a prompt a registered model.
        Resource::RegisteredModel(name) | Resource::Prompt(name) if existing => {
            ("Registered model", format!("name={name}"))
        }
        Resource::RegisteredModel(name) | Resource::Prompt(name) => (
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
        Resource::McpServer(name) => ("MCP server", format!("name={name}")),
        Resource::Skill(name) => ("Skill", format!("name={name}")),
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

/// The resource, checked for MANAGE before the user is parsed, and the target user.
/// A registered model the tracking server says is a prompt is the prompt: 3.10's
/// grants on it are 3.17's `prompt` rows.
async fn target(
    state: &AppState,
    caller: &Principal,
    request: &impl GrantRef,
) -> Result<(Resource, Username), ApiError> {
    let resource = as_stored(state, request.resource()?).await?;
    state
        .grants
        .require(caller, resource.clone(), Capability::Manage)
        .await?;
    let username = Username::parse(request.username())?;
    Ok((resource, username))
}

/// A registered model as the tracking server holds it: a prompt when tagged so.
/// Without a tracking server nothing says so, and it stays a registered model.
async fn as_stored(state: &AppState, resource: Resource) -> Result<Resource, ApiError> {
    let (Resource::RegisteredModel(name), Some(gateway)) = (&resource, &state.gateway) else {
        return Ok(resource);
    };
    let kind = gateway
        .lookup
        .registered_model_kind(name.as_str())
        .await
        .map_err(ApiError::lookup_failed)?;
    Ok(match kind {
        Some(ModelKind::Prompt) => Resource::Prompt(name.clone()),
        _ => resource,
    })
}

/// Runs `work` on the prompt's own row, then, when it has none, on a
/// `registered_model` row on its name (imported from 3.10, or made before prompts
/// had a type), which decides for it until a prompt row exists.
fn on_stored_row<T>(
    resource: &Resource,
    mut work: impl FnMut(&Resource) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    match (work(resource), resource) {
        (Err(StoreError::GrantNotFound { .. }), Resource::Prompt(name)) => {
            work(&Resource::RegisteredModel(name.clone())).map_err(|error| match error {
                // Reported on the prompt the caller named.
                StoreError::GrantNotFound { username, .. } => StoreError::GrantNotFound {
                    resource: resource.clone(),
                    username,
                },
                other => other,
            })
        }
        (outcome, _) => outcome,
    }
}

/// MLflow's wording for a resource it does not hold.
fn missing(resource: &Resource) -> String {
    match resource {
        Resource::Experiment(id) => format!("No Experiment with id={id} exists"),
        Resource::RegisteredModel(name) | Resource::Prompt(name) => {
            format!("Registered Model with name={name} not found")
        }
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
        Resource::McpServer(name) => format!("MCP server '{name}' not found"),
        Resource::Skill(name) => format!("Skill '{name}' not found"),
    }
}

/// Refuses a grant on a resource the tracking server does not hold (404). Without a
/// tracking server nothing can be checked, so nothing is granted (501).
pub(crate) async fn require_existing(
    state: &AppState,
    resource: &Resource,
) -> Result<(), ApiError> {
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

fn permission(request: &impl GrantRequest) -> Result<Permission, ApiError> {
    Ok(request.permission().parse::<Permission>()?)
}

async fn create(
    state: &AppState,
    caller: &Principal,
    request: &impl GrantRequest,
) -> Result<Grant, ApiError> {
    let (resource, username) = target(state, caller, request).await?;
    let permission = permission(request)?;
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
    request: &impl GrantRef,
) -> Result<Grant, ApiError> {
    let (resource, username) = target(state, caller, request).await?;
    state
        .blocking(move |store| on_stored_row(&resource, |r| store.get_grant(&username, r)))
        .await?
        .map_err(grant_error)
}

async fn update(
    state: &AppState,
    caller: &Principal,
    request: &impl GrantRequest,
) -> Result<Json<EmptyResponse>, ApiError> {
    let (resource, username) = target(state, caller, request).await?;
    let permission = permission(request)?;
    let (who, what) = (username.clone(), resource.clone());
    state
        .blocking(move |store| on_stored_row(&what, |r| store.update_grant(&who, r, permission)))
        .await?
        .map_err(grant_error)?;
    tracing::info!(target.user = %username, resource.kind = %resource.kind(),
        resource.key = %resource.key(), %permission, "grant updated");
    Ok(Json(EmptyResponse {}))
}

async fn delete(
    state: &AppState,
    caller: &Principal,
    request: &impl GrantRef,
) -> Result<Json<EmptyResponse>, ApiError> {
    let (resource, username) = target(state, caller, request).await?;
    let (who, what) = (username.clone(), resource.clone());
    state
        .blocking(move |store| on_stored_row(&what, |r| store.delete_grant(&who, r)))
        .await?
        .map_err(grant_error)?;
    tracing::info!(target.user = %username, resource.kind = %resource.kind(),
        resource.key = %resource.key(), "grant deleted");
    Ok(Json(EmptyResponse {}))
}

/// `GrantRef` for request types whose resource is built by `$resource`.
macro_rules! grant_ref {
    ($($Type:ty),+ => |$r:ident| $resource:expr) => {$(
        impl GrantRef for $Type {
            fn resource(&self) -> Result<Resource, ApiError> {
                let $r = self;
                Ok($resource)
            }

            fn username(&self) -> &str {
                &self.username
            }
        }
    )+};
}

/// The four MLflow verbs for one resource kind: POST create, GET get, PATCH update,
/// DELETE delete (JSON body, or the query without one).
macro_rules! permission_endpoints {
    (
        resource: |$r:ident| $resource:expr,
        what: $what:literal,
        request: $Request:ty,
        reference: $Reference:ty,
        response: $Response:ident { $field:ident: $Item:ty },
        create: $create:ident, $create_path:literal, $create_op:literal,
        get: $get:ident, $get_path:literal, $get_op:literal,
        update: $update:ident, $update_path:literal, $update_op:literal,
        delete: $delete:ident, $delete_path:literal, $delete_op:literal $(,)?
    ) => {
        grant_ref!($Request, $Reference => |$r| $resource);

        impl GrantRequest for $Request {
            fn permission(&self) -> &str {
                &self.permission
            }
        }

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
            Mlflow(request): Mlflow<$Request>,
        ) -> Result<Json<$Response>, ApiError> {
            let grant = create(&state, &caller, &request).await?;
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
            Mlflow(request): Mlflow<$Reference>,
        ) -> Result<Json<$Response>, ApiError> {
            let grant = get(&state, &caller, &request).await?;
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
            Mlflow(request): Mlflow<$Request>,
        ) -> Result<Json<EmptyResponse>, ApiError> {
            update(&state, &caller, &request).await
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
            Mlflow(request): Mlflow<$Reference>,
        ) -> Result<Json<EmptyResponse>, ApiError> {
            delete(&state, &caller, &request).await
        }
    };
}

permission_endpoints! {
    resource: |r| Resource::Experiment(ExperimentId::parse(&r.experiment_id)?),
    what: "an experiment",
    request: ExperimentPermissionRequest,
    reference: ExperimentPermissionRef,
    response: ExperimentPermissionResponse { experiment_permission: ExperimentPermission },
    create: create_experiment_permission, "/api/2.0/mlflow/experiments/permissions/create", "createExperimentPermission",
    get: get_experiment_permission, "/api/2.0/mlflow/experiments/permissions/get", "getExperimentPermission",
    update: update_experiment_permission, "/api/2.0/mlflow/experiments/permissions/update", "updateExperimentPermission",
    delete: delete_experiment_permission, "/api/2.0/mlflow/experiments/permissions/delete", "deleteExperimentPermission",
}

permission_endpoints! {
    resource: |r| Resource::RegisteredModel(ModelName::parse(&r.name)?),
    what: "a registered model",
    request: RegisteredModelPermissionRequest,
    reference: RegisteredModelPermissionRef,
    response: RegisteredModelPermissionResponse { registered_model_permission: RegisteredModelPermission },
    create: create_registered_model_permission, "/api/2.0/mlflow/registered-models/permissions/create", "createRegisteredModelPermission",
    get: get_registered_model_permission, "/api/2.0/mlflow/registered-models/permissions/get", "getRegisteredModelPermission",
    update: update_registered_model_permission, "/api/2.0/mlflow/registered-models/permissions/update", "updateRegisteredModelPermission",
    delete: delete_registered_model_permission, "/api/2.0/mlflow/registered-models/permissions/delete", "deleteRegisteredModelPermission",
}

permission_endpoints! {
    resource: |r| Resource::Scorer {
        experiment_id: ExperimentId::parse(&r.experiment_id)?,
        name: OpaqueId::parse(&r.scorer_name)?,
    },
    what: "a scorer",
    request: ScorerPermissionRequest,
    reference: ScorerPermissionRef,
    response: ScorerPermissionResponse { scorer_permission: ScorerPermission },
    create: create_scorer_permission, "/api/3.0/mlflow/scorers/permissions/create", "createScorerPermission",
    get: get_scorer_permission, "/api/3.0/mlflow/scorers/permissions/get", "getScorerPermission",
    update: update_scorer_permission, "/api/3.0/mlflow/scorers/permissions/update", "updateScorerPermission",
    delete: delete_scorer_permission, "/api/3.0/mlflow/scorers/permissions/delete", "deleteScorerPermission",
}

permission_endpoints! {
    resource: |r| Resource::GatewaySecret(OpaqueId::parse(&r.secret_id)?),
    what: "a gateway secret",
    request: GatewaySecretPermissionRequest,
    reference: GatewaySecretPermissionRef,
    response: GatewaySecretPermissionResponse { gateway_secret_permission: GatewaySecretPermission },
    create: create_gateway_secret_permission, "/api/3.0/mlflow/gateway/secrets/permissions/create", "createGatewaySecretPermission",
    get: get_gateway_secret_permission, "/api/3.0/mlflow/gateway/secrets/permissions/get", "getGatewaySecretPermission",
    update: update_gateway_secret_permission, "/api/3.0/mlflow/gateway/secrets/permissions/update", "updateGatewaySecretPermission",
    delete: delete_gateway_secret_permission, "/api/3.0/mlflow/gateway/secrets/permissions/delete", "deleteGatewaySecretPermission",
}

permission_endpoints! {
    resource: |r| Resource::GatewayEndpoint(OpaqueId::parse(&r.endpoint_id)?),
    what: "a gateway endpoint",
    request: GatewayEndpointPermissionRequest,
    reference: GatewayEndpointPermissionRef,
    response: GatewayEndpointPermissionResponse { gateway_endpoint_permission: GatewayEndpointPermission },
    create: create_gateway_endpoint_permission, "/api/3.0/mlflow/gateway/endpoints/permissions/create", "createGatewayEndpointPermission",
    get: get_gateway_endpoint_permission, "/api/3.0/mlflow/gateway/endpoints/permissions/get", "getGatewayEndpointPermission",
    update: update_gateway_endpoint_permission, "/api/3.0/mlflow/gateway/endpoints/permissions/update", "updateGatewayEndpointPermission",
    delete: delete_gateway_endpoint_permission, "/api/3.0/mlflow/gateway/endpoints/permissions/delete", "deleteGatewayEndpointPermission",
}

permission_endpoints! {
    resource: |r| Resource::GatewayModelDefinition(OpaqueId::parse(&r.model_definition_id)?),
    what: "a gateway model definition",
    request: GatewayModelDefinitionPermissionRequest,
    reference: GatewayModelDefinitionPermissionRef,
    response: GatewayModelDefinitionPermissionResponse { gateway_model_definition_permission: GatewayModelDefinitionPermission },
    create: create_gateway_model_definition_permission, "/api/3.0/mlflow/gateway/model-definitions/permissions/create", "createGatewayModelDefinitionPermission",
    get: get_gateway_model_definition_permission, "/api/3.0/mlflow/gateway/model-definitions/permissions/get", "getGatewayModelDefinitionPermission",
    update: update_gateway_model_definition_permission, "/api/3.0/mlflow/gateway/model-definitions/permissions/update", "updateGatewayModelDefinitionPermission",
    delete: delete_gateway_model_definition_permission, "/api/3.0/mlflow/gateway/model-definitions/permissions/delete", "deleteGatewayModelDefinitionPermission",
}
