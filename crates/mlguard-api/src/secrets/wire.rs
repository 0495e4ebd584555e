//! Wire shapes of the secrets API, with their OpenAPI schemas. Times are
//! milliseconds since the Unix epoch, as in MLflow. No response has a value field.

use mlguard_domain::secrets::{AuditRecord, Binding, Label, Route, SecretGrant, SecretInfo};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::schema::PermissionName;

/// A secret's metadata. Never its value, not even masked.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SecretInfo)]
pub(crate) struct SecretInfoJson {
    #[schema(example = "3f2a9c0e8b7d4f61a5e2c9b8d7f6e5a4")]
    pub secret_id: String,
    pub name: String,
    #[schema(example = "openai")]
    pub provider: Option<String>,
    pub description: Option<String>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<SecretInfo> for SecretInfoJson {
    fn from(info: SecretInfo) -> Self {
        SecretInfoJson {
            secret_id: info.id.as_str().to_owned(),
            name: info.name.as_str().to_owned(),
            provider: info.provider.map(Label::into_string),
            description: info.description.map(Label::into_string),
            created_by: info.created_by.as_str().to_owned(),
            created_at: info.created_at,
            updated_at: info.updated_at,
        }
    }
}

/// A secret in use by one field of one resource.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SecretBinding)]
pub(crate) struct BindingJson {
    pub secret_id: String,
    #[schema(example = "scorer_job")]
    pub resource_type: String,
    pub resource_id: String,
    #[schema(example = "api_key")]
    pub field_name: String,
    pub created_by: String,
    pub created_at: i64,
}

impl From<Binding> for BindingJson {
    fn from(binding: Binding) -> Self {
        BindingJson {
            secret_id: binding.secret_id.as_str().to_owned(),
            resource_type: binding.key.resource_type().to_owned(),
            resource_id: binding.key.resource_id().to_owned(),
            field_name: binding.key.field_name().to_owned(),
            created_by: binding.created_by.as_str().to_owned(),
            created_at: binding.created_at,
        }
    }
}

/// A provider model reached with a secret.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SecretRoute)]
pub(crate) struct RouteJson {
    pub route_id: String,
    pub name: String,
    pub provider: String,
    pub model_name: String,
    pub secret_id: String,
    pub created_by: String,
    pub created_at: i64,
}

impl From<Route> for RouteJson {
    fn from(route: Route) -> Self {
        RouteJson {
            route_id: route.id.as_str().to_owned(),
            name: route.name.into_string(),
            provider: route.provider.into_string(),
            model_name: route.model_name.into_string(),
            secret_id: route.secret_id.as_str().to_owned(),
            created_by: route.created_by.as_str().to_owned(),
            created_at: route.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SecretPermission {
    pub secret_id: String,
    pub user_id: i64,
    pub username: String,
    pub permission: PermissionName,
}

impl From<SecretGrant> for SecretPermission {
    fn from(grant: SecretGrant) -> Self {
        SecretPermission {
            secret_id: grant.secret_id.as_str().to_owned(),
            user_id: grant.user_id,
            username: grant.username.as_str().to_owned(),
            permission: grant.permission.into(),
        }
    }
}

/// One admin bypass of a secret permission check.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SecretAuditEntry {
    /// Increasing; newer entries have larger ids.
    pub entry_id: i64,
    /// When, in milliseconds since the Unix epoch.
    pub at: i64,
    /// The admin.
    pub actor: String,
    /// The operation, by endpoint name (`get-info`, `update`, `permissions/create`, ...).
    #[schema(example = "update")]
    pub operation: String,
    pub secret_id: Option<String>,
}

impl From<AuditRecord> for SecretAuditEntry {
    fn from(record: AuditRecord) -> Self {
        SecretAuditEntry {
            entry_id: record.id,
            at: record.at,
            actor: record.actor.as_str().to_owned(),
            operation: record.operation.as_str().to_owned(),
            secret_id: record.secret_id.map(|id| id.as_str().to_owned()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreateAndBindResponse {
    pub secret: SecretInfoJson,
    pub binding: BindingJson,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SecretResponse {
    pub secret: SecretInfoJson,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ListSecretsResponse {
    pub secrets: Vec<SecretInfoJson>,
    /// Present when more secrets follow; pass it back as `page_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BindingResponse {
    pub binding: BindingJson,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RouteAndBindingResponse {
    pub route: RouteJson,
    pub binding: BindingJson,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ListBindingsResponse {
    pub bindings: Vec<BindingJson>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SecretPermissionResponse {
    pub secret_permission: SecretPermission,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SecretAuditResponse {
    /// Newest first.
    pub entries: Vec<SecretAuditEntry>,
    /// Present when older entries follow; pass it back as `page_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

// ---------------------------------------------------------------------------
// Requests: each struct is both the OpenAPI schema and what the handler parses.

// No Debug: it holds a secret value.
#[derive(Deserialize, ToSchema)]
pub(crate) struct CreateAndBindRequest {
    /// 1 to 256 characters.
    #[schema(min_length = 1, max_length = 256)]
    pub name: String,
    /// The secret itself, 1 to 65536 bytes. Stored encrypted; never returned.
    #[schema(min_length = 1)]
    pub value: String,
    /// Up to 64 characters.
    #[schema(max_length = 64)]
    pub provider: Option<String>,
    /// Up to 1024 characters.
    #[schema(max_length = 1024)]
    pub description: Option<String>,
    /// 1 to 64 ASCII letters, digits, `-`, `_` or `.`.
    #[schema(example = "scorer_job")]
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub resource_type: String,
    /// 1 to 256 characters.
    #[schema(min_length = 1, max_length = 256)]
    pub resource_id: String,
    /// 1 to 128 characters.
    #[schema(example = "api_key")]
    #[schema(min_length = 1, max_length = 128)]
    pub field_name: String,
}

#[derive(Debug, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SecretIdParam {
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    #[param(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub secret_id: String,
}

#[derive(Debug, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListSecretsParams {
    /// 1 to 1000; 100 when absent.
    // A string, as every query value is; the handler answers a bad one.
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub max_results: Option<String>,
    /// `next_page_token` of the previous page.
    pub page_token: Option<String>,
}

// No Debug: it holds a secret value.
#[derive(Deserialize, ToSchema)]
pub(crate) struct UpdateSecretRequest {
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub secret_id: String,
    /// The new value, 1 to 65536 bytes. Stored encrypted; never returned.
    #[schema(min_length = 1)]
    pub value: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct SecretIdBody {
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub secret_id: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct BindRequest {
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub secret_id: String,
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub resource_type: String,
    #[schema(min_length = 1, max_length = 256)]
    pub resource_id: String,
    #[schema(min_length = 1, max_length = 128)]
    pub field_name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct RouteSpec {
    /// 1 to 256 characters.
    #[schema(min_length = 1, max_length = 256)]
    pub name: String,
    /// 1 to 64 characters.
    #[schema(example = "openai")]
    #[schema(min_length = 1, max_length = 64)]
    pub provider: String,
    /// 1 to 256 characters.
    #[schema(example = "gpt-4o-mini")]
    #[schema(min_length = 1, max_length = 256)]
    pub model_name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct CreateRouteAndBindRequest {
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub secret_id: String,
    pub route: RouteSpec,
    /// The bound field of the route; `api_key` when absent.
    #[schema(example = "api_key")]
    #[schema(max_length = 128)]
    pub field_name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct UnbindRequest {
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub resource_type: String,
    #[schema(min_length = 1, max_length = 256)]
    pub resource_id: String,
    #[schema(min_length = 1, max_length = 128)]
    pub field_name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct SecretPermissionRequest {
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub secret_id: String,
    #[schema(min_length = 1, max_length = 255)]
    pub username: String,
    #[schema(value_type = PermissionName)]
    pub permission: String,
}

#[derive(Debug, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SecretPermissionRef {
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    #[param(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub secret_id: String,
    #[schema(min_length = 1, max_length = 255)]
    #[param(min_length = 1, max_length = 255)]
    pub username: String,
}

#[derive(Debug, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SecretAuditParams {
    /// Only entries naming this secret.
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    #[param(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub secret_id: Option<String>,
    /// 1 to 1000; 100 when absent.
    // A string, as every query value is; the handler answers a bad one.
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub max_results: Option<String>,
    /// `next_page_token` of the previous page.
    pub page_token: Option<String>,
}
