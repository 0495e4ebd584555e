//! Who may call MLflow 3.17's role and per-user permission APIs, with workspaces
//! off: "manage" a workspace is an admin, or (in `default`) a workspace admin;
//! "view" it is also anyone holding a role there. Every check runs before the
//! handler reads anything that would tell a non-admin whether a role or user
//! exists: an unknown role is a 403 for them, as in MLflow.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use mlguard_domain::{Principal, Role, RoleError, Workspace};
use mlguard_http::{ApiError, ErrorCode};
use serde_json::Value;

use crate::schema::RoleJson;
use crate::state::AppState;

const WORKSPACE_HEADER: &str = "x-mlflow-workspace";

/// Refuses a request naming a workspace, as MLflow does with workspaces off (500
/// FEATURE_DISABLED, whatever the name, `default` included).
#[derive(Debug, Clone, Copy)]
pub(crate) struct WorkspacesOff;

impl<S: Send + Sync> FromRequestParts<S> for WorkspacesOff {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let named = parts
            .headers
            .get(WORKSPACE_HEADER)
            .is_some_and(|value| !value.as_bytes().trim_ascii().is_empty());
        if named {
            Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::FeatureDisabled,
                "Workspace APIs are not available: workspaces are not enabled on this server",
            ))
        } else {
            Ok(WorkspacesOff)
        }
    }
}

/// What a check asks of the caller on a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    Manage,
    View,
}

/// The caller's standing towards roles: read once per request.
#[derive(Debug, Clone)]
pub(crate) struct Authority {
    pub caller: Principal,
    /// A role the caller holds in `default` carries `(workspace, *, MANAGE)`.
    workspace_admin: bool,
    /// The workspaces the caller holds any role in (a synthetic one counts).
    member_of: Vec<Workspace>,
}

impl Authority {
    pub async fn of(state: &AppState, caller: Principal) -> Result<Self, ApiError> {
        if caller.is_admin {
            return Ok(Authority {
                caller,
                workspace_admin: false,
                member_of: Vec::new(),
            });
        }
        let workspace_admin = state.grants.is_workspace_admin(caller.user_id).await?;
        let username = caller.username.clone();
        let roles = state
            .blocking(move |store| store.roles_of_user(&username))
            .await?;
        let member_of = match roles {
            Ok(roles) => roles.into_iter().map(|role| role.workspace).collect(),
            // Deleted meanwhile: a caller without roles.
            Err(RoleError::UserNotFound(_)) => Vec::new(),
            Err(other) => return Err(other.into()),
        };
        Ok(Authority {
            caller,
            workspace_admin,
            member_of,
        })
    }

    pub fn is_admin(&self) -> bool {
        self.caller.is_admin
    }

    /// Whether the caller administers `workspace`; with workspaces off only
    /// `default` has workspace admins.
    pub fn manages(&self, workspace: &Workspace) -> bool {
        self.caller.is_admin || (self.workspace_admin && workspace.as_str() == Workspace::DEFAULT)
    }

    /// Whether the caller administers `default`, the workspace of every resource.
    pub fn manages_default(&self) -> bool {
        self.manages(&Workspace::default_workspace())
    }

    pub fn may(&self, need: Need, workspace: &Workspace) -> bool {
        match need {
            Need::Manage => self.manages(workspace),
            Need::View => self.manages(workspace) || self.member_of.contains(workspace),
        }
    }

    pub fn require(&self, need: Need, workspace: &Workspace) -> Result<(), ApiError> {
        if self.may(need, workspace) {
            Ok(())
        } else {
            Err(ApiError::permission_denied())
        }
    }

    /// `need` on the role's workspace. An admin needs no lookup (the handler's own
    /// store call answers 404); for anyone else an unknown role is a 403.
    pub async fn require_on_role(
        &self,
        state: &AppState,
        role_id: i64,
        need: Need,
    ) -> Result<(), ApiError> {
        if self.is_admin() {
            return Ok(());
        }
        let role = state.blocking(move |store| store.get_role(role_id)).await?;
        match role {
            Ok(role) => self.require(need, &role.workspace),
            Err(RoleError::RoleNotFound(_)) => Err(ApiError::permission_denied()),
            Err(other) => Err(other.into()),
        }
    }

    /// `need` on the workspace of the row's role; unknown rows as unknown roles.
    pub async fn require_on_row(
        &self,
        state: &AppState,
        role_permission_id: i64,
        need: Need,
    ) -> Result<(), ApiError> {
        if self.is_admin() {
            return Ok(());
        }
        let role = state
            .blocking(move |store| {
                let row = store.get_role_permission(role_permission_id)?;
                store.get_role(row.role_id)
            })
            .await?;
        match role {
            Ok(role) => self.require(need, &role.workspace),
            Err(RoleError::RolePermissionNotFound(_) | RoleError::RoleNotFound(_)) => {
                Err(ApiError::permission_denied())
            }
            Err(other) => Err(other.into()),
        }
    }
}

/// The role a request names by id (`role_id`), once the caller holds `need` on its
/// workspace.
pub(crate) async fn role_in_reach(
    state: &AppState,
    caller: Principal,
    role_id: &Value,
    need: Need,
) -> Result<i64, ApiError> {
    let role_id = integer("role_id", role_id)?;
    Authority::of(state, caller)
        .await?
        .require_on_role(state, role_id, need)
        .await?;
    Ok(role_id)
}

/// The role grant row a request names (`role_permission_id`), once the caller
/// holds `need` on its role's workspace.
pub(crate) async fn row_in_reach(
    state: &AppState,
    caller: Principal,
    row_id: &Value,
    need: Need,
) -> Result<i64, ApiError> {
    let row_id = integer("role_permission_id", row_id)?;
    Authority::of(state, caller)
        .await?
        .require_on_row(state, row_id, need)
        .await?;
    Ok(row_id)
}

/// An integer field as MLflow reads one: a JSON integer or a numeric string.
pub(crate) fn integer(name: &str, value: &Value) -> Result<i64, ApiError> {
    let parsed = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| {
        let shown = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        ApiError::invalid_parameter(format!(
            "Parameter '{name}' must be an integer. Got: '{shown}'"
        ))
    })
}

/// The roles, each with its rows.
pub(crate) async fn with_rows(
    state: &AppState,
    roles: Vec<Role>,
) -> Result<Vec<RoleJson>, ApiError> {
    state
        .blocking(move |store| {
            roles
                .into_iter()
                .map(|role| {
                    let rows = store.list_role_permissions(role.id)?;
                    Ok(RoleJson::new(role, &rows))
                })
                .collect::<Result<Vec<_>, RoleError>>()
        })
        .await?
        .map_err(ApiError::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers_are_numbers_or_numeric_strings() {
        assert_eq!(integer("role_id", &json!(5)).ok(), Some(5));
        assert_eq!(integer("role_id", &json!("12")).ok(), Some(12));
        let refused = integer("role_id", &json!("abc")).unwrap_err();
        assert_eq!(
            refused.message(),
            "Parameter 'role_id' must be an integer. Got: 'abc'"
        );
        assert!(integer("role_id", &json!(1.5)).is_err());
        assert!(integer("role_id", &json!([1])).is_err());
    }
}
