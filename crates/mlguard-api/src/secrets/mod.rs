//! The secrets API: secrets whose values are written and never read back, their
//! bindings to resource fields, routes, per-secret grants, and the admin audit
//! trail.
//!
//! Every handler parses its fields first (400), then checks the caller's level on
//! the secret (403) before it reads or writes anything else, so a caller who may
//! not read a secret learns nothing about it, not even whether it exists. The
//! parse follows the check that the secret store is enabled, so a server without
//! one answers FEATURE_DISABLED whatever the request holds. The
//! decision is the domain's (`authorize_secret`); an admin's bypass is recorded
//! before the operation runs.

mod backend;
mod wire;

use axum::Json;
use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mlguard_domain::secrets::{
    AdminBypass, BindingKey, Label, NewRoute, NewSecret, RouteId, SecretAccess, SecretCursor,
    SecretId, SecretName, SecretOperation, SecretValue, authorize_secret, visibility,
};
use mlguard_domain::{Permission, Username};

use mlguard_http::{Admin, ApiError, Caller, ErrorBody, MlflowParams};

pub(crate) use backend::SecretsBackend;
use backend::{backend, crypto_error, field_error, store_error};
use wire::{
    BindRequest, BindingJson, BindingResponse, CreateAndBindRequest, CreateAndBindResponse,
    CreateRouteAndBindRequest, ListBindingsResponse, ListSecretsParams, ListSecretsResponse,
    RouteAndBindingResponse, RouteJson, SecretAuditEntry, SecretAuditParams, SecretAuditResponse,
    SecretIdBody, SecretIdParam, SecretInfoJson, SecretPermission, SecretPermissionRef,
    SecretPermissionRequest, SecretPermissionResponse, SecretResponse, UnbindRequest,
    UpdateSecretRequest,
};

use crate::schema::EmptyResponse;
use crate::state::AppState;

/// Page size when `max_results` is absent, and the most one page may hold.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

/// The field a route uses its secret for when the request names none.
const DEFAULT_ROUTE_FIELD: &str = "api_key";

// ---------------------------------------------------------------------------
// Parsing the request's fields into domain types

fn secret_id(raw: &str) -> Result<SecretId, ApiError> {
    SecretId::parse(raw).map_err(field_error)
}

fn binding_key(
    resource_type: &str,
    resource_id: &str,
    field_name: &str,
) -> Result<BindingKey, ApiError> {
    BindingKey::parse(resource_type, resource_id, field_name).map_err(field_error)
}

fn value(raw: &str) -> Result<SecretValue, ApiError> {
    SecretValue::new(raw).map_err(field_error)
}

/// An optional text field; an empty string counts as absent, as protobuf
/// clients send unset strings that way.
fn optional_label(
    raw: Option<&str>,
    parse: fn(&str) -> Result<Label, mlguard_domain::secrets::FieldError>,
) -> Result<Option<Label>, ApiError> {
    match raw {
        None | Some("") => Ok(None),
        Some(raw) => parse(raw).map(Some).map_err(field_error),
    }
}

fn max_results(raw: Option<&str>) -> Result<usize, ApiError> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_PAGE);
    };
    match raw.parse::<usize>() {
        Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid_parameter(format!(
            "Invalid value for parameter 'max_results': must be an integer from 1 to {MAX_PAGE}."
        ))),
    }
}

fn invalid_page_token() -> ApiError {
    ApiError::invalid_parameter("Invalid value for parameter 'page_token'.")
}

/// Page tokens are opaque to clients: the position, base64url-encoded.
fn encode_token(position: &str) -> String {
    URL_SAFE_NO_PAD.encode(position)
}

fn decode_token(token: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(token) = token else {
        return Ok(None);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| invalid_page_token())?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| invalid_page_token())
}

fn list_cursor(token: Option<&str>) -> Result<Option<SecretCursor>, ApiError> {
    let Some(position) = decode_token(token)? else {
        return Ok(None);
    };
    let (created_at, id) = position.split_once(':').ok_or_else(invalid_page_token)?;
    Ok(Some(SecretCursor {
        created_at: created_at.parse().map_err(|_| invalid_page_token())?,
        secret_id: SecretId::parse(id).map_err(|_| invalid_page_token())?,
    }))
}

fn permission(raw: &str) -> Result<Permission, ApiError> {
    Ok(raw.parse::<Permission>()?)
}

fn username(raw: &str) -> Result<Username, ApiError> {
    Ok(Username::parse(raw)?)
}

// ---------------------------------------------------------------------------
// Secrets

/// Create a secret and its first binding (any authenticated user). The creator
/// gets MANAGE on it, except an admin, who already has everything.
#[utoipa::path(post, path = "/api/3.0/mlflow/secrets/create-and-bind", tag = "secrets",
    operation_id = "createAndBindSecret", security(("basic" = []), ("bearer" = [])),
    request_body = CreateAndBindRequest,
    responses(
        (status = 200, description = "The new secret (without its value) and binding", body = CreateAndBindResponse),
        (status = 400, description = "Missing or invalid fields, or the binding key is taken", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Never for an authenticated caller", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 501, description = "The secret store is disabled (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn create_and_bind(
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: MlflowParams,
) -> Result<Json<CreateAndBindResponse>, ApiError> {
    let backend = backend(&state)?;
    let request: CreateAndBindRequest = params.parse()?;
    let name = SecretName::parse(&request.name).map_err(field_error)?;
    let value = value(&request.value)?;
    let provider = optional_label(request.provider.as_deref(), Label::provider)?;
    let description = optional_label(request.description.as_deref(), Label::description)?;
    let key = binding_key(
        &request.resource_type,
        &request.resource_id,
        &request.field_name,
    )?;
    let secret = NewSecret {
        id: SecretId::from_random(rand::random()),
        name,
        provider,
        description,
        created_by: caller.username.clone(),
    };
    let creator = (!caller.is_admin).then(|| caller.username.clone());
    let (info, binding) = backend
        .run(move |store, cipher| {
            let sealed = cipher.seal(&secret.id, &value).map_err(crypto_error)?;
            let grant = creator.as_ref().map(|user| (user, Permission::Manage));
            store
                .create_secret(&secret, &sealed, &key, grant)
                .map_err(store_error)
        })
        .await??;
    tracing::info!(secret.id = %info.id, binding = %binding.key, "secret created");
    Ok(Json(CreateAndBindResponse {
        secret: SecretInfoJson::from(info),
        binding: BindingJson::from(binding),
    }))
}

/// A secret's metadata, never its value (READ on the secret).
#[utoipa::path(get, path = "/api/3.0/mlflow/secrets/get-info", tag = "secrets",
    operation_id = "getSecretInfo", security(("basic" = []), ("bearer" = [])),
    params(SecretIdParam),
    responses(
        (status = 200, description = "The secret's metadata", body = SecretResponse),
        (status = 400, description = "Missing or invalid secret_id", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "No READ on the secret, whether or not it exists", body = ErrorBody),
        (status = 404, description = "No such secret (only for callers who may read it)", body = ErrorBody),
        (status = 501, description = "The secret store is disabled (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn get_info(
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: MlflowParams,
) -> Result<Json<SecretResponse>, ApiError> {
    let backend = backend(&state)?;
    let request: SecretIdParam = params.parse()?;
    let id = secret_id(&request.secret_id)?;
    backend
        .authorize(
            &caller,
            state.default_permission,
            &id,
            SecretOperation::ViewInfo,
        )
        .await?;
    let info = backend
        .run(move |store, _| store.secret_info(&id))
        .await?
        .map_err(store_error)?;
    Ok(Json(SecretResponse {
        secret: SecretInfoJson::from(info),
    }))
}

/// The secrets the caller may read (all of them for an admin), oldest first.
/// Filtering happens in the query, so every page but the last is full.
#[utoipa::path(get, path = "/api/3.0/mlflow/secrets/list", tag = "secrets",
    operation_id = "listSecrets", security(("basic" = []), ("bearer" = [])),
    params(ListSecretsParams),
    responses(
        (status = 200, description = "One page of readable secrets", body = ListSecretsResponse),
        (status = 400, description = "Invalid max_results or page_token", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Never for an authenticated caller", body = ErrorBody),
        (status = 501, description = "The secret store is disabled (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: MlflowParams,
) -> Result<Json<ListSecretsResponse>, ApiError> {
    let backend = backend(&state)?;
    let request: ListSecretsParams = params.parse()?;
    let page = max_results(request.max_results.as_deref())?;
    let cursor = list_cursor(request.page_token.as_deref())?;
    let shown = visibility(&caller, state.default_permission);
    // One extra row tells whether another page follows.
    let mut rows = backend
        .run(move |store, _| store.list_secrets(&shown, cursor.as_ref(), page + 1))
        .await?
        .map_err(store_error)?;
    let more = rows.len() > page;
    rows.truncate(page);

    let bypasses: Vec<AdminBypass> = rows
        .iter()
        .filter(|row| {
            authorize_secret(
                &caller,
                row.explicit,
                state.default_permission,
                SecretOperation::List,
            ) == SecretAccess::AdminBypass
        })
        .map(|row| AdminBypass {
            actor: caller.username.clone(),
            operation: SecretOperation::List,
            secret_id: Some(row.info.id.clone()),
        })
        .collect();
    backend.record_bypasses(bypasses).await?;

    let next_page_token = match rows.last() {
        Some(last) if more => Some(encode_token(&format!(
            "{}:{}",
            last.info.created_at, last.info.id
        ))),
        _ => None,
    };
    Ok(Json(ListSecretsResponse {
        secrets: rows
            .into_iter()
            .map(|row| SecretInfoJson::from(row.info))
            .collect(),
        next_page_token,
    }))
}

/// Replace a secret's value (MANAGE on the secret). The new value is sealed under
/// a fresh data key; every binding uses it from now on.
#[utoipa::path(post, path = "/api/3.0/mlflow/secrets/update", tag = "secrets",
    operation_id = "updateSecret", security(("basic" = []), ("bearer" = [])),
    request_body = UpdateSecretRequest,
    responses(
        (status = 200, description = "The secret's metadata after the change", body = SecretResponse),
        (status = 400, description = "Missing or invalid fields", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "No MANAGE on the secret", body = ErrorBody),
        (status = 404, description = "No such secret", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 501, description = "The secret store is disabled (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn update(
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: MlflowParams,
) -> Result<Json<SecretResponse>, ApiError> {
    let backend = backend(&state)?;
    let request: UpdateSecretRequest = params.parse()?;
    let id = secret_id(&request.secret_id)?;
    let value = value(&request.value)?;
    backend
        .authorize(
            &caller,
            state.default_permission,
            &id,
            SecretOperation::UpdateValue,
        )
        .await?;
    let info = backend
        .run(move |store, cipher| {
            let sealed = cipher.seal(&id, &value).map_err(crypto_error)?;
            store.replace_value(&id, &sealed).map_err(store_error)
        })
        .await??;
    tracing::info!(secret.id = %info.id, "secret value replaced");
    Ok(Json(SecretResponse {
        secret: SecretInfoJson::from(info),
    }))
}

/// Delete a secret with its bindings, routes and grants (MANAGE on the secret).
#[utoipa::path(delete, path = "/api/3.0/mlflow/secrets/delete", tag = "secrets",
    operation_id = "deleteSecret", security(("basic" = []), ("bearer" = [])),
    request_body = SecretIdBody,
    responses(
        (status = 200, description = "Deleted", body = EmptyResponse),
        (status = 400, description = "Missing or invalid secret_id", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "No MANAGE on the secret", body = ErrorBody),
        (status = 404, description = "No such secret", body = ErrorBody),
        (status = 501, description = "The secret store is disabled (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: MlflowParams,
) -> Result<Json<EmptyResponse>, ApiError> {
    let backend = backend(&state)?;
    let request: SecretIdBody = params.parse()?;
    let id = secret_id(&request.secret_id)?;
    backend
        .authorize(
            &caller,
            state.default_permission,
            &id,
            SecretOperation::Delete,
        )
        .await?;
    let deleted = id.clone();
    backend
        .run(move |store, _| store.delete_secret(&deleted))
        .await?
        .map_err(store_error)?;
    tracing::info!(secret.id = %id, "secret deleted");
    Ok(Json(EmptyResponse {}))
}

// ---------------------------------------------------------------------------
// Bindings and routes

/// Bind a secret to a resource field (EDIT on the secret). A key holds one
/// secret: an occupied key is refused until it is unbound.
#[utoipa::path(post, path = "/api/3.0/mlflow/secrets/bind", tag = "secrets",
    operation_id = "bindSecret", security(("basic" = []), ("bearer" = [])),
    request_body = BindRequest,
    responses(
        (status = 200, description = "The new binding", body = BindingResponse),
        (status = 400, description = "Missing or invalid fields, or the key is taken (RESOURCE_ALREADY_EXISTS)", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "No EDIT on the secret", body = ErrorBody),
        (status = 404, description = "No such secret", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 501, description = "The secret store is disabled (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn bind(
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: MlflowParams,
) -> Result<Json<BindingResponse>, ApiError> {
    let backend = backend(&state)?;
    let request: BindRequest = params.parse()?;
    let id = secret_id(&request.secret_id)?;
    let key = binding_key(
        &request.resource_type,
        &request.resource_id,
        &request.field_name,
    )?;
    backend
        .authorize(
            &caller,
            state.default_permission,
            &id,
            SecretOperation::Bind,
        )
        .await?;
    let by = caller.username.clone();
    let binding = backend
        .run(move |store, _| store.bind(&id, &key, &by))
        .await?
        .map_err(store_error)?;
    tracing::info!(secret.id = %binding.secret_id, binding = %binding.key, "secret bound");
    Ok(Json(BindingResponse {
        binding: BindingJson::from(binding),
    }))
}

/// Create a route (a provider model) that uses the secret, and bind the secret
/// to it at (`route`, route id, `field_name`) (EDIT on the secret).
#[utoipa::path(post, path = "/api/3.0/mlflow/secrets/create-route-and-bind", tag = "secrets",
    operation_id = "createRouteAndBindSecret", security(("basic" = []), ("bearer" = [])),
    request_body = CreateRouteAndBindRequest,
    responses(
        (status = 200, description = "The new route and its binding", body = RouteAndBindingResponse),
        (status = 400, description = "Missing or invalid fields", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "No EDIT on the secret", body = ErrorBody),
        (status = 404, description = "No such secret", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 501, description = "The secret store is disabled (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn create_route_and_bind(
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: MlflowParams,
) -> Result<Json<RouteAndBindingResponse>, ApiError> {
    let backend = backend(&state)?;
    let request: CreateRouteAndBindRequest = params.parse()?;
    let id = secret_id(&request.secret_id)?;
    let field_name = match request.field_name.as_deref() {
        None | Some("") => DEFAULT_ROUTE_FIELD.to_owned(),
        Some(raw) => raw.to_owned(),
    };
    let spec = &request.route;
    let route = NewRoute {
        id: RouteId::from_random(rand::random()),
        name: Label::route_field("name", &spec.name).map_err(field_error)?,
        provider: Label::provider(&spec.provider).map_err(field_error)?,
        model_name: Label::route_field("model_name", &spec.model_name).map_err(field_error)?,
        secret_id: id.clone(),
        created_by: caller.username.clone(),
    };
    // Validates field_name before anything is written.
    BindingKey::for_route(&route.id, &field_name).map_err(field_error)?;
    backend
        .authorize(
            &caller,
            state.default_permission,
            &id,
            SecretOperation::CreateRoute,
        )
        .await?;
    let (route, binding) = backend
        .run(move |store, _| store.create_route_and_bind(&route, &field_name))
        .await?
        .map_err(store_error)?;
    tracing::info!(secret.id = %route.secret_id, route.id = %route.id, "route created");
    Ok(Json(RouteAndBindingResponse {
        route: RouteJson::from(route),
        binding: BindingJson::from(binding),
    }))
}

/// Remove the binding at (resource_type, resource_id, field_name) (EDIT on the
/// secret bound there). A `secret_id` in the body is ignored: the binding names
/// its secret.
#[utoipa::path(post, path = "/api/3.0/mlflow/secrets/unbind", tag = "secrets",
    operation_id = "unbindSecret", security(("basic" = []), ("bearer" = [])),
    request_body = UnbindRequest,
    responses(
        (status = 200, description = "Unbound", body = EmptyResponse),
        (status = 400, description = "Missing or invalid fields", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "No EDIT on the bound secret", body = ErrorBody),
        (status = 404, description = "No binding at that key", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 501, description = "The secret store is disabled (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn unbind(
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: MlflowParams,
) -> Result<Json<EmptyResponse>, ApiError> {
    let backend = backend(&state)?;
    let request: UnbindRequest = params.parse()?;
    let key = binding_key(
        &request.resource_type,
        &request.resource_id,
        &request.field_name,
    )?;
    let lookup = key.clone();
    let binding = backend
        .run(move |store, _| store.binding(&lookup))
        .await?
        .map_err(store_error)?;
    backend
        .authorize(
            &caller,
            state.default_permission,
            &binding.secret_id,
            SecretOperation::Unbind,
        )
        .await?;
    // Removes the binding only if it still holds the secret just checked.
    let (removed, bound) = (key.clone(), binding.secret_id.clone());
    backend
        .run(move |store, _| store.unbind(&removed, &bound))
        .await?
        .map_err(store_error)?;
    tracing::info!(secret.id = %binding.secret_id, binding = %key, "secret unbound");
    Ok(Json(EmptyResponse {}))
}

/// A secret's bindings (READ on the secret).
#[utoipa::path(get, path = "/api/3.0/mlflow/secrets/list-bindings", tag = "secrets",
    operation_id = "listSecretBindings", security(("basic" = []), ("bearer" = [])),
    params(SecretIdParam),
    responses(
        (status = 200, description = "The secret's bindings, oldest first", body = ListBindingsResponse),
        (status = 400, description = "Missing or invalid secret_id", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "No READ on the secret, whether or not it exists", body = ErrorBody),
        (status = 404, description = "No such secret (only for callers who may read it)", body = ErrorBody),
        (status = 501, description = "The secret store is disabled (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn list_bindings(
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: MlflowParams,
) -> Result<Json<ListBindingsResponse>, ApiError> {
    let backend = backend(&state)?;
    let request: SecretIdParam = params.parse()?;
    let id = secret_id(&request.secret_id)?;
    backend
        .authorize(
            &caller,
            state.default_permission,
            &id,
            SecretOperation::ListBindings,
        )
        .await?;
    let bindings = backend
        .run(move |store, _| store.bindings_of(&id))
        .await?
        .map_err(store_error)?;
    Ok(Json(ListBindingsResponse {
        bindings: bindings.into_iter().map(BindingJson::from).collect(),
    }))
}

// ---------------------------------------------------------------------------
// Per-secret grants

/// Grant a user a level on a secret (MANAGE on the secret).
#[utoipa::path(post, path = "/api/2.0/mlflow/secrets/permissions/create", tag = "secrets",
    operation_id = "createSecretPermission", security(("basic" = []), ("bearer" = [])),
    request_body = SecretPermissionRequest,
    responses(
        (status = 200, description = "The new grant", body = SecretPermissionResponse),
        (status = 400, description = "Invalid fields, or the user already holds a grant", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "No MANAGE on the secret", body = ErrorBody),
        (status = 404, description = "No such secret or user", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 501, description = "The secret store is disabled (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn create_permission(
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: MlflowParams,
) -> Result<Json<SecretPermissionResponse>, ApiError> {
    let backend = backend(&state)?;
    let request: SecretPermissionRequest = params.parse()?;
    let id = secret_id(&request.secret_id)?;
    let user = username(&request.username)?;
    let level = permission(&request.permission)?;
    backend
        .authorize(
            &caller,
            state.default_permission,
            &id,
            SecretOperation::CreateGrant,
        )
        .await?;
    let grant = backend
        .run(move |store, _| store.create_secret_grant(&id, &user, level))
        .await?
        .map_err(store_error)?;
    tracing::info!(secret.id = %grant.secret_id, target.user = %grant.username,
        permission = %grant.permission, "secret grant created");
    Ok(Json(SecretPermissionResponse {
        secret_permission: SecretPermission::from(grant),
    }))
}

/// A user's grant on a secret (MANAGE on the secret).
#[utoipa::path(get, path = "/api/2.0/mlflow/secrets/permissions/get", tag = "secrets",
    operation_id = "getSecretPermission", security(("basic" = []), ("bearer" = [])),
    params(SecretPermissionRef),
    responses(
        (status = 200, description = "The grant", body = SecretPermissionResponse),
        (status = 400, description = "Missing or invalid fields", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "No MANAGE on the secret", body = ErrorBody),
        (status = 404, description = "No such secret, user or grant", body = ErrorBody),
        (status = 501, description = "The secret store is disabled (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn get_permission(
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: MlflowParams,
) -> Result<Json<SecretPermissionResponse>, ApiError> {
    let backend = backend(&state)?;
    let request: SecretPermissionRef = params.parse()?;
    let id = secret_id(&request.secret_id)?;
    let user = username(&request.username)?;
    backend
        .authorize(
            &caller,
            state.default_permission,
            &id,
            SecretOperation::GetGrant,
        )
        .await?;
    let grant = backend
        .run(move |store, _| store.get_secret_grant(&id, &user))
        .await?
        .map_err(store_error)?;
    Ok(Json(SecretPermissionResponse {
        secret_permission: SecretPermission::from(grant),
    }))
}

/// Change a user's level on a secret (MANAGE on the secret).
#[utoipa::path(post, path = "/api/2.0/mlflow/secrets/permissions/update", tag = "secrets",
    operation_id = "updateSecretPermission", security(("basic" = []), ("bearer" = [])),
    request_body = SecretPermissionRequest,
    responses(
        (status = 200, description = "Changed", body = EmptyResponse),
        (status = 400, description = "Missing or invalid fields", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "No MANAGE on the secret", body = ErrorBody),
        (status = 404, description = "No such secret, user or grant", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 501, description = "The secret store is disabled (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn update_permission(
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: MlflowParams,
) -> Result<Json<EmptyResponse>, ApiError> {
    let backend = backend(&state)?;
    let request: SecretPermissionRequest = params.parse()?;
    let id = secret_id(&request.secret_id)?;
    let user = username(&request.username)?;
    let level = permission(&request.permission)?;
    backend
        .authorize(
            &caller,
            state.default_permission,
            &id,
            SecretOperation::UpdateGrant,
        )
        .await?;
    let (secret, target) = (id.clone(), user.clone());
    backend
        .run(move |store, _| store.update_secret_grant(&secret, &target, level))
        .await?
        .map_err(store_error)?;
    tracing::info!(secret.id = %id, target.user = %user, permission = %level, "secret grant updated");
    Ok(Json(EmptyResponse {}))
}

/// Revoke a user's grant on a secret (MANAGE on the secret). The user falls back
/// to the default on their next request; bindings they made stay.
#[utoipa::path(delete, path = "/api/2.0/mlflow/secrets/permissions/delete", tag = "secrets",
    operation_id = "deleteSecretPermission", security(("basic" = []), ("bearer" = [])),
    request_body = SecretPermissionRef,
    responses(
        (status = 200, description = "Revoked", body = EmptyResponse),
        (status = 400, description = "Missing or invalid fields", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "No MANAGE on the secret", body = ErrorBody),
        (status = 404, description = "No such secret, user or grant", body = ErrorBody),
        (status = 501, description = "The secret store is disabled (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn delete_permission(
    State(state): State<AppState>,
    Caller(caller): Caller,
    params: MlflowParams,
) -> Result<Json<EmptyResponse>, ApiError> {
    let backend = backend(&state)?;
    let request: SecretPermissionRef = params.parse()?;
    let id = secret_id(&request.secret_id)?;
    let user = username(&request.username)?;
    backend
        .authorize(
            &caller,
            state.default_permission,
            &id,
            SecretOperation::DeleteGrant,
        )
        .await?;
    let (secret, target) = (id.clone(), user.clone());
    backend
        .run(move |store, _| store.delete_secret_grant(&secret, &target))
        .await?
        .map_err(store_error)?;
    tracing::info!(secret.id = %id, target.user = %user, "secret grant revoked");
    Ok(Json(EmptyResponse {}))
}

// ---------------------------------------------------------------------------
// Audit

/// Admin bypasses of secret permission checks, newest first (admins only).
#[utoipa::path(get, path = "/api/2.0/mlguard/secrets/audit", tag = "secrets",
    operation_id = "listSecretAudit", security(("basic" = []), ("bearer" = [])),
    params(SecretAuditParams),
    responses(
        (status = 200, description = "One page of audit entries", body = SecretAuditResponse),
        (status = 400, description = "Invalid parameters", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Caller is not an admin", body = ErrorBody),
        (status = 501, description = "The secret store is disabled (FEATURE_DISABLED)", body = ErrorBody),
    ))]
pub(crate) async fn audit(
    State(state): State<AppState>,
    admin: Result<Admin, ApiError>,
    params: MlflowParams,
) -> Result<Json<SecretAuditResponse>, ApiError> {
    // A disabled store says so to everyone, as every other secrets route does.
    let backend = backend(&state)?;
    admin?;
    let request: SecretAuditParams = params.parse()?;
    let secret = request
        .secret_id
        .as_deref()
        .map(SecretId::parse)
        .transpose()
        .map_err(field_error)?;
    let page = max_results(request.max_results.as_deref())?;
    let before = decode_token(request.page_token.as_deref())?
        .map(|position| position.parse::<i64>().map_err(|_| invalid_page_token()))
        .transpose()?;
    let mut records = backend
        .run(move |store, _| store.audit_trail(secret.as_ref(), before, page + 1))
        .await?
        .map_err(store_error)?;
    let more = records.len() > page;
    records.truncate(page);
    let next_page_token = match records.last() {
        Some(last) if more => Some(encode_token(&last.id.to_string())),
        _ => None,
    };
    Ok(Json(SecretAuditResponse {
        entries: records.into_iter().map(SecretAuditEntry::from).collect(),
        next_page_token,
    }))
}
