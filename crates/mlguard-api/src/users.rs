//! `/api/2.0/mlflow/users/*`, as MLflow 3.10.1 serves them.
//!
//! The admin-only handlers check the caller before they parse the request, so a
//! non-admin is refused (403) whatever the request holds.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::{Extension, Json};
use mlguard_domain::{Password, Username};
use mlguard_http::{Admin, ApiError, Caller, ErrorBody, Mlflow, MlflowParams};

use crate::auth::Proof;
use crate::authz::{Account, require_self_or_admin};
use crate::schema::{
    CreateUserRequest, CurrentUser, CurrentUserResponse, EmptyResponse, ListUsersResponse,
    UpdateAdminRequest, UpdatePasswordRequest, UserJson, UserListEntry, UserResponse,
    UsernameParam,
};
use crate::state::AppState;

/// Create a user (admin only).
#[utoipa::path(post, path = "/api/2.0/mlflow/users/create", tag = "users",
    operation_id = "createUser", security(("basic" = []), ("bearer" = [])),
    request_body = CreateUserRequest,
    responses(
        (status = 200, description = "The new user", body = UserResponse),
        (status = 400, description = "Invalid or duplicate user", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Caller is not an admin", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
    ))]
pub(crate) async fn create_user(
    State(state): State<AppState>,
    _admin: Admin,
    params: MlflowParams,
) -> Result<Json<UserResponse>, ApiError> {
    let request: CreateUserRequest = params.parse()?;
    let username = Username::parse(&request.username)?;
    let password = Password::new(&request.password)?;
    let user = state
        .blocking(move |store| store.create_user(&username, &password, false))
        .await??;
    tracing::info!(target.user = %user.username, "user created");
    Ok(Json(UserResponse {
        user: UserJson::new(user, Vec::new()),
    }))
}

/// Get a user and their grants (the user themself, or an admin).
#[utoipa::path(get, path = "/api/2.0/mlflow/users/get", tag = "users",
    operation_id = "getUser", security(("basic" = []), ("bearer" = [])),
    params(UsernameParam),
    responses(
        (status = 200, description = "The user", body = UserResponse),
        (status = 400, description = "Missing or invalid username", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not the caller's own account", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
pub(crate) async fn get_user(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Mlflow(UsernameParam { username: raw }): Mlflow<UsernameParam>,
) -> Result<Json<UserResponse>, ApiError> {
    require_self_or_admin(&caller, Account::Name(&raw))?;
    let username = Username::parse(&raw)?;
    let (user, grants) = state
        .blocking(move |store| {
            let user = store.get_user(&username)?;
            let grants = store.grants_of_user(user.id)?;
            Ok::<_, mlguard_domain::StoreError>((user, grants))
        })
        .await??;
    Ok(Json(UserResponse {
        user: UserJson::new(user, grants),
    }))
}

/// The caller's own account (any authenticated user), as MLflow 3.17's UI reads it
/// to decide which controls to show.
#[utoipa::path(get, path = "/api/2.0/mlflow/users/current", tag = "users",
    operation_id = "getCurrentUser", security(("basic" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = CurrentUserResponse),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "A foreign Host or a cross-site Origin", body = ErrorBody),
    ))]
pub(crate) async fn current_user(Caller(caller): Caller) -> Json<CurrentUserResponse> {
    Json(CurrentUserResponse {
        // mlguard authenticates as MLflow's basic-auth app does (a token stands for
        // a password), so the UI's account controls apply.
        is_basic_auth: true,
        user: CurrentUser {
            id: caller.user_id,
            is_admin: caller.is_admin,
            username: caller.username.as_str().to_owned(),
        },
    })
}

/// List all users (admin only).
#[utoipa::path(get, path = "/api/2.0/mlflow/users/list", tag = "users",
    operation_id = "listUsers", security(("basic" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "All users", body = ListUsersResponse),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Caller is not an admin", body = ErrorBody),
    ))]
pub(crate) async fn list_users(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<ListUsersResponse>, ApiError> {
    let users = state.blocking(|store| store.list_users()).await??;
    Ok(Json(ListUsersResponse {
        users: users.into_iter().map(UserListEntry::from).collect(),
    }))
}

/// Change a password (the user themself, or an admin).
#[utoipa::path(patch, path = "/api/2.0/mlflow/users/update-password", tag = "users",
    operation_id = "updateUserPassword", security(("basic" = []), ("bearer" = [])),
    request_body = UpdatePasswordRequest,
    responses(
        (status = 200, description = "Password changed", body = EmptyResponse),
        (status = 400, description = "Invalid password", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not the caller's own account", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
    ))]
pub(crate) async fn update_password(
    State(state): State<AppState>,
    Caller(caller): Caller,
    proof: Option<Extension<Proof>>,
    connection: Option<Extension<ConnectInfo<SocketAddr>>>,
    Mlflow(request): Mlflow<UpdatePasswordRequest>,
) -> Result<Json<EmptyResponse>, ApiError> {
    let raw = request.username.as_str();
    require_self_or_admin(&caller, Account::Name(raw))?;
    let username = Username::parse(raw)?;
    let password = Password::new(&request.password)?;
    // A bearer token is not the password: whoever holds one must also prove the
    // caller's current password (MLflow 3.17's `current_password`). When given, it
    // is checked whatever the proof.
    let current = request.current_password.as_deref();
    let by_password = matches!(proof, Some(Extension(Proof::Password)));
    match current {
        None if !by_password => {
            return Err(ApiError::invalid_parameter(
                "Changing a password with a token needs 'current_password', the caller's \
                 current password.",
            ));
        }
        None => {}
        Some(current) => {
            let address = connection.map(|Extension(ConnectInfo(address))| address.ip());
            crate::auth::prove_password(&state, caller.username.as_str(), current, address).await?;
        }
    }
    state
        .blocking(move |store| store.set_password(&username, &password))
        .await??;
    tracing::info!(target.user = raw, "password changed");
    Ok(Json(EmptyResponse {}))
}

/// Grant or revoke admin (admin only).
#[utoipa::path(patch, path = "/api/2.0/mlflow/users/update-admin", tag = "users",
    operation_id = "updateUserAdmin", security(("basic" = []), ("bearer" = [])),
    request_body = UpdateAdminRequest,
    responses(
        (status = 200, description = "Admin flag changed", body = EmptyResponse),
        (status = 400, description = "Invalid parameters", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Caller is not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
    ))]
pub(crate) async fn update_admin(
    State(state): State<AppState>,
    _admin: Admin,
    params: MlflowParams,
) -> Result<Json<EmptyResponse>, ApiError> {
    let request: UpdateAdminRequest = params.parse()?;
    let username = Username::parse(&request.username)?;
    let is_admin = request.is_admin;
    let target = username.clone();
    state
        .blocking(move |store| store.set_admin(&target, is_admin))
        .await??;
    tracing::info!(target.user = %username, is_admin, "admin flag changed");
    Ok(Json(EmptyResponse {}))
}

/// Delete a user and all their grants (admin only). Without a JSON body the
/// username is read from the query.
// Only the body is documented, as for the grant deletes: with both in the spec,
// each optional, a request carrying neither would look valid.
#[utoipa::path(delete, path = "/api/2.0/mlflow/users/delete", tag = "users",
    operation_id = "deleteUser", security(("basic" = []), ("bearer" = [])),
    request_body = UsernameParam,
    responses(
        (status = 200, description = "User deleted", body = EmptyResponse),
        (status = 400, description = "Missing username", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Caller is not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
pub(crate) async fn delete_user(
    State(state): State<AppState>,
    _admin: Admin,
    params: MlflowParams,
) -> Result<Json<EmptyResponse>, ApiError> {
    let request: UsernameParam = params.parse()?;
    let username = Username::parse(&request.username)?;
    let target = username.clone();
    state
        .blocking(move |store| store.delete_user(&target))
        .await??;
    tracing::info!(target.user = %username, "user deleted");
    Ok(Json(EmptyResponse {}))
}
