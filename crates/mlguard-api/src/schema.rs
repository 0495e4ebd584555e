//! Wire shapes, as MLflow 3.10.1 (and, for roles, 3.17.2) writes them, with their
//! OpenAPI schemas.

use mlguard_domain::{
    Assignment, Grant, Permission, PermissionRow, Resource, Role, RolePermission, User, UserSummary,
};
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, ObjectBuilder, OpenApi, Ref, ResponseBuilder, Type,
};
use utoipa::{IntoParams, Modify, ToSchema};

pub(crate) struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A token from /api/2.0/mlguard/tokens/create, or one the \
                         configured OpenID provider issued for mlguard's audience",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Cookie(
                utoipa::openapi::security::ApiKeyValue::with_description(
                    crate::sso::SESSION_COOKIE,
                    "The browser session a single sign-on login opened (/auth/login)",
                ),
            )),
        );
    }
}

/// Answers that come from layers every authenticated route shares (login
/// throttling, the store, the body reader) rather than from one handler. Added to
/// each operation after the router has collected them, so no handler can forget one
/// and a generated client knows every status it may meet.
pub(crate) fn document_shared_responses(doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            if operation.security.is_none() {
                continue;
            }
            let responses = &mut operation.responses.responses;
            if operation.request_body.is_some() {
                responses
                    .entry("413".to_owned())
                    .or_insert_with(|| error_response("Body larger than 1 MiB").into());
            }
            responses.entry("429".to_owned()).or_insert_with(|| {
                let retry_after = HeaderBuilder::new()
                    .schema(
                        ObjectBuilder::new()
                            .schema_type(Type::Integer)
                            .minimum(Some(1)),
                    )
                    .description(Some("Seconds until the next attempt may succeed"))
                    .build();
                ResponseBuilder::from(error_response(
                    "Too many failed HTTP Basic logins for this username or address \
                     (REQUEST_LIMIT_EXCEEDED); even the right password waits",
                ))
                .header("Retry-After", retry_after)
                .build()
                .into()
            });
            responses.entry("503".to_owned()).or_insert_with(|| {
                error_response("The permission store does not answer (TEMPORARILY_UNAVAILABLE)")
                    .into()
            });
        }
    }
}

fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

/// A permission level, by MLflow's name.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum PermissionName {
    Read,
    Use,
    Edit,
    Manage,
    NoPermissions,
}

impl From<Permission> for PermissionName {
    fn from(p: Permission) -> Self {
        match p {
            Permission::Read => PermissionName::Read,
            Permission::Use => PermissionName::Use,
            Permission::Edit => PermissionName::Edit,
            Permission::Manage => PermissionName::Manage,
            // The 3.10 wire has no DENY; its NO_PERMISSIONS is that denial.
            Permission::NoPermissions | Permission::Deny => PermissionName::NoPermissions,
        }
    }
}

/// MLflow serves registered-model grants within a workspace; without workspaces it
/// is always this one.
pub(crate) const DEFAULT_WORKSPACE: &str = "default";

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ExperimentPermission {
    #[schema(example = "1")]
    pub experiment_id: String,
    pub permission: PermissionName,
    pub user_id: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RegisteredModelPermission {
    #[schema(example = "my-model")]
    pub name: String,
    pub permission: PermissionName,
    pub user_id: i64,
    #[schema(example = "default")]
    pub workspace: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ScorerPermission {
    pub experiment_id: String,
    pub scorer_name: String,
    pub permission: PermissionName,
    pub user_id: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct GatewaySecretPermission {
    pub secret_id: String,
    pub permission: PermissionName,
    pub user_id: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct GatewayEndpointPermission {
    pub endpoint_id: String,
    pub permission: PermissionName,
    pub user_id: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct GatewayModelDefinitionPermission {
    pub model_definition_id: String,
    pub permission: PermissionName,
    pub user_id: i64,
}

/// A user as `users/get` and `users/create` return it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserJson {
    pub id: i64,
    pub username: String,
    pub is_admin: bool,
    pub experiment_permissions: Vec<ExperimentPermission>,
    pub registered_model_permissions: Vec<RegisteredModelPermission>,
    pub scorer_permissions: Vec<ScorerPermission>,
}

impl UserJson {
    pub fn new(user: User, grants: Vec<Grant>) -> Self {
        let mut json = UserJson {
            id: user.id,
            username: user.username.as_str().to_owned(),
            is_admin: user.is_admin,
            experiment_permissions: Vec::new(),
            registered_model_permissions: Vec::new(),
            scorer_permissions: Vec::new(),
        };
        // The 3.10 API calls a prompt a registered model. A prompt's own row hides a
        // `registered_model` row on its name, as it decides in its place.
        let prompts: std::collections::HashSet<String> = grants
            .iter()
            .filter(|grant| matches!(grant.resource, Resource::Prompt(_)))
            .map(|grant| grant.resource.key().into_owned())
            .collect();
        for grant in grants {
            match &grant.resource {
                Resource::Experiment(_) => json
                    .experiment_permissions
                    .push(ExperimentPermission::from(&grant)),
                Resource::RegisteredModel(name) if prompts.contains(name.as_str()) => {}
                Resource::RegisteredModel(_) | Resource::Prompt(_) => json
                    .registered_model_permissions
                    .push(RegisteredModelPermission::from(&grant)),
                Resource::Scorer { .. } => {
                    json.scorer_permissions.push(ScorerPermission::from(&grant));
                }
                // MLflow's users/get leaves gateway grants out; so do we.
                Resource::GatewaySecret(_)
                | Resource::GatewayEndpoint(_)
                | Resource::GatewayModelDefinition(_)
                | Resource::McpServer(_)
                | Resource::Skill(_) => {}
            }
        }
        json
    }
}

impl From<&Grant> for ExperimentPermission {
    fn from(grant: &Grant) -> Self {
        ExperimentPermission {
            experiment_id: grant.resource.key().into_owned(),
            permission: grant.permission.into(),
            user_id: grant.user_id,
        }
    }
}

impl From<&Grant> for RegisteredModelPermission {
    fn from(grant: &Grant) -> Self {
        RegisteredModelPermission {
            name: grant.resource.key().into_owned(),
            permission: grant.permission.into(),
            user_id: grant.user_id,
            workspace: DEFAULT_WORKSPACE.to_owned(),
        }
    }
}

impl From<&Grant> for ScorerPermission {
    fn from(grant: &Grant) -> Self {
        let (experiment_id, scorer_name) = match &grant.resource {
            Resource::Scorer {
                experiment_id,
                name,
            } => (experiment_id.to_string(), name.to_string()),
            other => (String::new(), other.key().into_owned()),
        };
        ScorerPermission {
            experiment_id,
            scorer_name,
            permission: grant.permission.into(),
            user_id: grant.user_id,
        }
    }
}

impl From<&Grant> for GatewaySecretPermission {
    fn from(grant: &Grant) -> Self {
        GatewaySecretPermission {
            secret_id: grant.resource.key().into_owned(),
            permission: grant.permission.into(),
            user_id: grant.user_id,
        }
    }
}

impl From<&Grant> for GatewayEndpointPermission {
    fn from(grant: &Grant) -> Self {
        GatewayEndpointPermission {
            endpoint_id: grant.resource.key().into_owned(),
            permission: grant.permission.into(),
            user_id: grant.user_id,
        }
    }
}

impl From<&Grant> for GatewayModelDefinitionPermission {
    fn from(grant: &Grant) -> Self {
        GatewayModelDefinitionPermission {
            model_definition_id: grant.resource.key().into_owned(),
            permission: grant.permission.into(),
            user_id: grant.user_id,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserResponse {
    pub user: UserJson,
}

/// A user as MLflow 3.17 shows one: no permission arrays.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CurrentUser {
    pub id: i64,
    pub is_admin: bool,
    pub username: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CurrentUserResponse {
    /// Whether users sign in with a password (MLflow's basic-auth app): always true.
    pub is_basic_auth: bool,
    pub user: CurrentUser,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserListEntry {
    pub id: i64,
    pub username: String,
}

impl From<UserSummary> for UserListEntry {
    fn from(user: UserSummary) -> Self {
        UserListEntry {
            id: user.id,
            username: user.username.as_str().to_owned(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ListUsersResponse {
    pub users: Vec<UserListEntry>,
}

/// The empty object MLflow answers to updates and deletes.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EmptyResponse {}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ExperimentPermissionResponse {
    pub experiment_permission: ExperimentPermission,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RegisteredModelPermissionResponse {
    pub registered_model_permission: RegisteredModelPermission,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ScorerPermissionResponse {
    pub scorer_permission: ScorerPermission,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct GatewaySecretPermissionResponse {
    pub gateway_secret_permission: GatewaySecretPermission,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct GatewayEndpointPermissionResponse {
    pub gateway_endpoint_permission: GatewayEndpointPermission,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct GatewayModelDefinitionPermissionResponse {
    pub gateway_model_definition_permission: GatewayModelDefinitionPermission,
}

// ---------------------------------------------------------------------------
// Requests: each struct is both the OpenAPI schema and what the handler parses
// (with `Mlflow` or `MlflowParams::parse`). Names, ids and permissions stay
// strings here; the handler parses them into domain types, in its own order.

// No Debug: it holds a password.
#[derive(Deserialize, ToSchema)]
pub(crate) struct CreateUserRequest {
    #[schema(min_length = 1, max_length = 255)]
    pub username: String,
    /// At least 12 characters.
    #[schema(min_length = 12)]
    pub password: String,
}

// No Debug: it holds a password.
#[derive(Deserialize, ToSchema)]
pub(crate) struct UpdatePasswordRequest {
    #[schema(min_length = 1, max_length = 255)]
    pub username: String,
    /// At least 12 characters.
    #[schema(min_length = 12)]
    pub password: String,
    /// The caller's current password. Required when the request is
    /// authenticated with a bearer token (Basic already proves it).
    pub current_password: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct UpdateAdminRequest {
    #[schema(min_length = 1, max_length = 255)]
    pub username: String,
    pub is_admin: bool,
}

#[derive(Debug, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct UsernameParam {
    #[schema(min_length = 1, max_length = 255)]
    #[param(min_length = 1, max_length = 255)]
    pub username: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct ExperimentPermissionRequest {
    /// Canonical decimal experiment id.
    #[schema(example = "1")]
    #[schema(pattern = r"^(0|[1-9][0-9]*)$", max_length = 19)]
    pub experiment_id: String,
    #[schema(min_length = 1, max_length = 255)]
    pub username: String,
    #[schema(value_type = PermissionName)]
    pub permission: String,
}

#[derive(Debug, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExperimentPermissionRef {
    /// Canonical decimal experiment id.
    #[schema(pattern = r"^(0|[1-9][0-9]*)$", max_length = 19)]
    #[param(pattern = r"^(0|[1-9][0-9]*)$", max_length = 19)]
    pub experiment_id: String,
    #[schema(min_length = 1, max_length = 255)]
    #[param(min_length = 1, max_length = 255)]
    pub username: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct RegisteredModelPermissionRequest {
    #[schema(min_length = 1, max_length = 256)]
    pub name: String,
    #[schema(min_length = 1, max_length = 255)]
    pub username: String,
    #[schema(value_type = PermissionName)]
    pub permission: String,
}

#[derive(Debug, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RegisteredModelPermissionRef {
    #[schema(min_length = 1, max_length = 256)]
    #[param(min_length = 1, max_length = 256)]
    pub name: String,
    #[schema(min_length = 1, max_length = 255)]
    #[param(min_length = 1, max_length = 255)]
    pub username: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct ScorerPermissionRequest {
    #[schema(pattern = r"^(0|[1-9][0-9]*)$", max_length = 19)]
    pub experiment_id: String,
    #[schema(min_length = 1, max_length = 256)]
    pub scorer_name: String,
    #[schema(min_length = 1, max_length = 255)]
    pub username: String,
    #[schema(value_type = PermissionName)]
    pub permission: String,
}

#[derive(Debug, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ScorerPermissionRef {
    #[schema(pattern = r"^(0|[1-9][0-9]*)$", max_length = 19)]
    #[param(pattern = r"^(0|[1-9][0-9]*)$", max_length = 19)]
    pub experiment_id: String,
    #[schema(min_length = 1, max_length = 256)]
    #[param(min_length = 1, max_length = 256)]
    pub scorer_name: String,
    #[schema(min_length = 1, max_length = 255)]
    #[param(min_length = 1, max_length = 255)]
    pub username: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct GatewaySecretPermissionRequest {
    #[schema(min_length = 1, max_length = 256)]
    pub secret_id: String,
    #[schema(min_length = 1, max_length = 255)]
    pub username: String,
    #[schema(value_type = PermissionName)]
    pub permission: String,
}

#[derive(Debug, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct GatewaySecretPermissionRef {
    #[schema(min_length = 1, max_length = 256)]
    #[param(min_length = 1, max_length = 256)]
    pub secret_id: String,
    #[schema(min_length = 1, max_length = 255)]
    #[param(min_length = 1, max_length = 255)]
    pub username: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct GatewayEndpointPermissionRequest {
    #[schema(min_length = 1, max_length = 256)]
    pub endpoint_id: String,
    #[schema(min_length = 1, max_length = 255)]
    pub username: String,
    #[schema(value_type = PermissionName)]
    pub permission: String,
}

#[derive(Debug, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct GatewayEndpointPermissionRef {
    #[schema(min_length = 1, max_length = 256)]
    #[param(min_length = 1, max_length = 256)]
    pub endpoint_id: String,
    #[schema(min_length = 1, max_length = 255)]
    #[param(min_length = 1, max_length = 255)]
    pub username: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct GatewayModelDefinitionPermissionRequest {
    #[schema(min_length = 1, max_length = 256)]
    pub model_definition_id: String,
    #[schema(min_length = 1, max_length = 255)]
    pub username: String,
    #[schema(value_type = PermissionName)]
    pub permission: String,
}

#[derive(Debug, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct GatewayModelDefinitionPermissionRef {
    #[schema(min_length = 1, max_length = 256)]
    #[param(min_length = 1, max_length = 256)]
    pub model_definition_id: String,
    #[schema(min_length = 1, max_length = 255)]
    #[param(min_length = 1, max_length = 255)]
    pub username: String,
}

// ---------------------------------------------------------------------------
// MLflow 3.17's roles and per-user permission rows. Keys are written in the
// sorted order Flask's `jsonify` gives them.

/// A permission level on a 3.17 row, DENY included.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum RowPermissionName {
    Deny,
    NoPermissions,
    Read,
    Use,
    Edit,
    Manage,
}

impl From<Permission> for RowPermissionName {
    fn from(p: Permission) -> Self {
        match p {
            Permission::Deny => RowPermissionName::Deny,
            Permission::NoPermissions => RowPermissionName::NoPermissions,
            Permission::Read => RowPermissionName::Read,
            Permission::Use => RowPermissionName::Use,
            Permission::Edit => RowPermissionName::Edit,
            Permission::Manage => RowPermissionName::Manage,
        }
    }
}

/// One grant row of a role: MLflow's `RolePermission`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RolePermissionJson {
    pub id: i64,
    pub permission: RowPermissionName,
    /// `*`, or one resource's id.
    #[schema(example = "*")]
    pub resource_pattern: String,
    #[schema(example = "experiment")]
    pub resource_type: String,
    pub role_id: i64,
}

impl From<&RolePermission> for RolePermissionJson {
    fn from(row: &RolePermission) -> Self {
        RolePermissionJson {
            id: row.id,
            permission: row.permission.into(),
            resource_pattern: row.resource_pattern.as_str().to_owned(),
            resource_type: row.resource_type.as_str().to_owned(),
            role_id: row.role_id,
        }
    }
}

/// MLflow's `Role`, with its rows.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RoleJson {
    pub description: Option<String>,
    pub id: i64,
    /// `__user_<id>__` for a user's synthetic role.
    #[schema(example = "readers")]
    pub name: String,
    pub permissions: Vec<RolePermissionJson>,
    #[schema(example = "default")]
    pub workspace: String,
}

impl RoleJson {
    pub fn new(role: Role, permissions: &[RolePermission]) -> Self {
        RoleJson {
            description: role.description,
            id: role.id,
            name: role.name.as_str().to_owned(),
            permissions: permissions.iter().map(RolePermissionJson::from).collect(),
            workspace: role.workspace.as_str().to_owned(),
        }
    }
}

/// A user holding a role: MLflow's `UserRoleAssignment`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AssignmentJson {
    pub id: i64,
    pub role_id: i64,
    pub user_id: i64,
}

impl From<Assignment> for AssignmentJson {
    fn from(a: Assignment) -> Self {
        AssignmentJson {
            id: a.id,
            role_id: a.role_id,
            user_id: a.user_id,
        }
    }
}

/// One row of one role a user holds, as `users/permissions/list` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PermissionRowJson {
    pub permission: RowPermissionName,
    pub resource_pattern: String,
    pub resource_type: String,
    pub role_id: i64,
    #[schema(example = "__user_2__")]
    pub role_name: String,
    #[schema(example = "default")]
    pub workspace: String,
}

impl From<PermissionRow> for PermissionRowJson {
    fn from(row: PermissionRow) -> Self {
        PermissionRowJson {
            permission: row.permission.into(),
            resource_pattern: row.resource_pattern.as_str().to_owned(),
            resource_type: row.resource_type.as_str().to_owned(),
            role_id: row.role_id,
            role_name: row.role_name.as_str().to_owned(),
            workspace: row.workspace.as_str().to_owned(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RoleResponse {
    pub role: RoleJson,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RolesResponse {
    pub roles: Vec<RoleJson>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RolePermissionResponse {
    pub role_permission: RolePermissionJson,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RolePermissionsResponse {
    pub role_permissions: Vec<RolePermissionJson>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AssignmentResponse {
    pub assignment: AssignmentJson,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AssignmentsResponse {
    pub assignments: Vec<AssignmentJson>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PermissionRowsResponse {
    /// Whether the user is a server admin (who needs no rows).
    pub is_admin: bool,
    pub permissions: Vec<PermissionRowJson>,
}

/// What a runtime check resolves for the user on the resource.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EffectivePermissionResponse {
    /// Whether the level allows using the resource (USE or above).
    pub allowed: bool,
    pub permission: RowPermissionName,
}

/// An integer field: a JSON number or a numeric string, as MLflow takes it.
pub(crate) type IntegerField = serde_json::Value;

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct CreateRoleRequest {
    // Read first, by `roles::Scope`, before the caller is checked.
    #[expect(dead_code)]
    #[schema(example = "default")]
    pub workspace: String,
    #[schema(min_length = 1, max_length = 255, example = "readers")]
    pub name: String,
    /// A string or null.
    #[schema(value_type = Option<String>)]
    pub description: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RoleIdParam {
    #[schema(value_type = i64)]
    #[param(value_type = i64)]
    pub role_id: IntegerField,
}

/// `roles/list`'s query: `workspace`, repeatable.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code)] // Documents the query; the handler reads the repeated values itself.
pub(crate) struct ListRolesParams {
    /// Repeat to name several; none lists every workspace (admins only).
    pub workspace: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct UpdateRoleRequest {
    // Read first, by `RoleIdParam`, before the caller is checked.
    #[expect(dead_code)]
    #[schema(value_type = i64)]
    pub role_id: IntegerField,
    #[schema(min_length = 1, max_length = 255)]
    pub name: Option<String>,
    #[schema(value_type = Option<String>)]
    pub description: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct AddRolePermissionRequest {
    // Read first, by `RoleIdParam`, before the caller is checked.
    #[expect(dead_code)]
    #[schema(value_type = i64)]
    pub role_id: IntegerField,
    #[schema(example = "experiment")]
    pub resource_type: String,
    /// `*`, or one resource's id (types that take ids only).
    #[schema(example = "*")]
    pub resource_pattern: String,
    #[schema(value_type = RowPermissionName)]
    pub permission: String,
}

#[derive(Debug, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RolePermissionIdParam {
    #[schema(value_type = i64)]
    #[param(value_type = i64)]
    pub role_permission_id: IntegerField,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct UpdateRolePermissionRequest {
    // Read first, by `RolePermissionIdParam`, before the caller is checked.
    #[expect(dead_code)]
    #[schema(value_type = i64)]
    pub role_permission_id: IntegerField,
    #[schema(value_type = RowPermissionName)]
    pub permission: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct AssignmentRequest {
    #[schema(min_length = 1, max_length = 255)]
    pub username: String,
    // Read first, by `RoleIdParam`, before the caller is checked.
    #[expect(dead_code)]
    #[schema(value_type = i64)]
    pub role_id: IntegerField,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct GrantUserPermissionRequest {
    #[schema(min_length = 1, max_length = 255)]
    pub username: String,
    #[schema(example = "experiment")]
    pub resource_type: String,
    /// `*`, or one resource's id.
    #[schema(example = "1")]
    pub resource_id: String,
    #[schema(value_type = RowPermissionName)]
    pub permission: String,
}

#[derive(Debug, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct UserPermissionRef {
    #[schema(min_length = 1, max_length = 255)]
    #[param(min_length = 1, max_length = 255)]
    pub username: String,
    #[schema(example = "experiment")]
    pub resource_type: String,
    #[schema(example = "1")]
    pub resource_id: String,
}
