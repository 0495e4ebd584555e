//! Roles (MLflow 3.17): a named set of grant rows in one workspace, assigned to
//! users. Per-user grants live on each user's synthetic role `__user_<id>__`.

use std::fmt;

use crate::grant_key::{ResourcePattern, ResourceType};
use crate::permission::Permission;

/// Why a role or workspace name was refused. Texts are MLflow's where it has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleNameError {
    #[error("Role name cannot be empty.")]
    EmptyRoleName,
    #[error(
        "Role name '{0}' uses the reserved '__user_' prefix, which is held for the per-user permission representation. Choose a different name."
    )]
    Reserved(String),
    #[error("Workspace cannot be empty.")]
    EmptyWorkspace,
    /// Not MLflow's: mlguard bounds names a request can store.
    #[error("{what} must be at most {max} characters with no control characters.", max = MAX_NAME_CHARS)]
    Invalid { what: &'static str },
}

const MAX_NAME_CHARS: usize = 255;

fn bounded(raw: &str) -> bool {
    raw.chars().count() <= MAX_NAME_CHARS && !raw.chars().any(char::is_control)
}

/// A workspace name. With workspaces off only [`Workspace::DEFAULT`] counts in
/// decisions, but roles may be created under any name, as in MLflow.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Workspace(String);

impl Workspace {
    pub const DEFAULT: &'static str = "default";

    pub fn parse(raw: &str) -> Result<Self, RoleNameError> {
        if raw.is_empty() {
            return Err(RoleNameError::EmptyWorkspace);
        }
        if !bounded(raw) {
            return Err(RoleNameError::Invalid { what: "Workspace" });
        }
        Ok(Workspace(raw.to_owned()))
    }

    /// The workspace every resource is in while workspaces are off.
    pub fn default_workspace() -> Self {
        Workspace(Self::DEFAULT.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Workspace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Workspace({:?})", self.0)
    }
}

impl fmt::Display for Workspace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A role's name. Names starting `__user_` are held for synthetic roles: only
/// [`RoleName::synthetic`] makes one.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoleName(String);

impl RoleName {
    pub const RESERVED_PREFIX: &'static str = "__user_";

    /// A name an admin chose (create, rename).
    pub fn parse(raw: &str) -> Result<Self, RoleNameError> {
        if raw.is_empty() {
            return Err(RoleNameError::EmptyRoleName);
        }
        if raw.starts_with(Self::RESERVED_PREFIX) {
            return Err(RoleNameError::Reserved(raw.to_owned()));
        }
        if !bounded(raw) {
            return Err(RoleNameError::Invalid { what: "Role name" });
        }
        Ok(RoleName(raw.to_owned()))
    }

    /// The name of the role holding `user_id`'s per-user grants.
    pub fn synthetic(user_id: i64) -> Self {
        RoleName(format!("{}{user_id}__", Self::RESERVED_PREFIX))
    }

    /// A name read back from the store, synthetic or not.
    pub fn from_stored(raw: &str) -> Self {
        RoleName(raw.to_owned())
    }

    pub fn is_synthetic(&self) -> bool {
        self.0.starts_with(Self::RESERVED_PREFIX)
    }

    /// The user a synthetic name was made for: `__user_5__` is 5's.
    pub fn synthetic_user_id(&self) -> Option<i64> {
        let id = self
            .0
            .strip_prefix(Self::RESERVED_PREFIX)?
            .strip_suffix("__")?
            .parse::<i64>()
            .ok()?;
        (*self == Self::synthetic(id)).then_some(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RoleName({:?})", self.0)
    }
}

impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// MLflow's `Role`, without its permissions (see `RoleStore::list_role_permissions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub id: i64,
    pub workspace: Workspace,
    pub name: RoleName,
    pub description: Option<String>,
}

/// One grant row of a role: MLflow's `RolePermission`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolePermission {
    pub id: i64,
    pub role_id: i64,
    pub resource_type: ResourceType,
    pub resource_pattern: ResourcePattern,
    pub permission: Permission,
}

/// A user holding a role: MLflow's `UserRoleAssignment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assignment {
    pub id: i64,
    pub user_id: i64,
    pub role_id: i64,
}

/// One grant row of one role a user holds, as `users/permissions/list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionRow {
    pub permission: Permission,
    pub resource_pattern: ResourcePattern,
    pub resource_type: ResourceType,
    pub role_id: i64,
    pub role_name: RoleName,
    pub workspace: Workspace,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_names_are_refused_with_mlflows_text() {
        assert_eq!(
            RoleName::parse("__user_99__").unwrap_err().to_string(),
            "Role name '__user_99__' uses the reserved '__user_' prefix, which is held for \
             the per-user permission representation. Choose a different name."
        );
        assert_eq!(
            RoleName::parse("").unwrap_err().to_string(),
            "Role name cannot be empty."
        );
        assert_eq!(
            Workspace::parse("").unwrap_err().to_string(),
            "Workspace cannot be empty."
        );
        assert!(RoleName::parse("_user_x").is_ok());
        assert!(RoleName::parse("readers").is_ok_and(|n| !n.is_synthetic()));
        assert!(RoleName::parse("a\u{0}b").is_err());
        assert!(Workspace::parse("team-a").is_ok());
    }

    #[test]
    fn synthetic_names_follow_mlflows_convention() {
        let name = RoleName::synthetic(2);
        assert_eq!(name.as_str(), "__user_2__");
        assert!(name.is_synthetic());
        assert!(RoleName::from_stored("__user_2__").is_synthetic());
        assert_eq!(name.synthetic_user_id(), Some(2));
        for other in ["__user_02__", "__user_2_", "__user_x__", "readers"] {
            assert_eq!(
                RoleName::from_stored(other).synthetic_user_id(),
                None,
                "{other}"
            );
        }
        assert_eq!(Workspace::default_workspace().as_str(), "default");
    }
}
