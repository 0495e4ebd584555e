//! Ports: what the rest of mlguard needs from storage. Adapters translate their own
//! errors into [`StoreError`]; no adapter error type ever crosses this boundary.
//!
//! Every method is blocking; async callers run them on a blocking thread.

use crate::decision::Resolution;
use crate::grant_key::{GrantKey, GrantRule, GrantRuleError, ResourcePattern, ResourceType};
use crate::names::{OpaqueId, Password, Username};
use crate::permission::Permission;
use crate::resource::Resource;
use crate::role::{Assignment, PermissionRow, Role, RoleName, RolePermission, Workspace};
use crate::user::{Grant, User, UserSummary};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("User with username={0} not found")]
    UserNotFound(Username),
    #[error("User (username={0}) already exists.")]
    UserAlreadyExists(Username),
    #[error("permission for {username} on {kind} {key} not found", kind = resource.kind(), key = resource.key())]
    GrantNotFound {
        resource: Resource,
        username: Username,
    },
    #[error("permission for {username} on {kind} {key} already exists", kind = resource.kind(), key = resource.key())]
    GrantAlreadyExists {
        resource: Resource,
        username: Username,
    },
    /// The store could not answer. The text is for logs only: it may hold
    /// adapter details and must never reach a client.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// The outcome of checking a login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialCheck {
    Valid(User),
    /// Unknown user or wrong password; deliberately indistinguishable.
    Invalid,
}

/// Accounts and their credentials. Password hashes stay inside the adapter.
pub trait UserStore: Send + Sync {
    /// Creates an account with a freshly hashed password.
    /// MUST return `UserAlreadyExists` if the name is taken, also under a race.
    fn create_user(
        &self,
        username: &Username,
        password: &Password,
        is_admin: bool,
    ) -> Result<User, StoreError>;

    /// MUST return `UserNotFound` if there is no such account.
    fn get_user(&self, username: &Username) -> Result<User, StoreError>;

    /// All accounts, ordered by id.
    fn list_users(&self) -> Result<Vec<UserSummary>, StoreError>;

    /// Number of accounts; used to bootstrap the first admin.
    fn count_users(&self) -> Result<u64, StoreError>;

    /// Replaces the password hash. MUST return `UserNotFound` for an unknown name.
    fn set_password(&self, username: &Username, password: &Password) -> Result<(), StoreError>;

    /// MUST return `UserNotFound` for an unknown name.
    fn set_admin(&self, username: &Username, is_admin: bool) -> Result<(), StoreError>;

    /// Deletes the account, its role assignments, its synthetic roles (with their
    /// grants) and its job records, atomically.
    /// MUST return `UserNotFound` for an unknown name.
    fn delete_user(&self, username: &Username) -> Result<(), StoreError>;

    /// Checks a login. `username` is raw: a name that is not even valid is simply
    /// `Invalid`. MUST spend the same hashing work whether or not the user exists.
    fn verify_credentials(
        &self,
        username: &str,
        password: &Password,
    ) -> Result<CredentialCheck, StoreError>;

    /// Succeeds when the store answers queries.
    fn ping(&self) -> Result<(), StoreError>;
}

/// The 3.10 per-user grant API, and the decision's reads, over the 3.17 role
/// tables. A 3.10 grant `(user, resource, level)` is the per-id row
/// `resource.grant_key()` on the user's synthetic role in workspace `default`;
/// NO_PERMISSIONS is stored as DENY and read back as NO_PERMISSIONS. Wildcard rows,
/// rows on named roles and rows with a non-canonical id are not 3.10-visible, but
/// count in [`GrantStore::resolve`]. The resource's existence is not checked, as in
/// MLflow: a grant may precede its resource.
pub trait GrantStore: Send + Sync {
    /// Creates the synthetic role and its assignment on first use.
    /// MUST return `UserNotFound` for an unknown user and `GrantAlreadyExists` if the
    /// user already holds a grant on the resource, also under a race.
    fn create_grant(
        &self,
        username: &Username,
        resource: &Resource,
        permission: Permission,
    ) -> Result<Grant, StoreError>;

    /// MUST return `UserNotFound` for an unknown user, then `GrantNotFound`.
    fn get_grant(&self, username: &Username, resource: &Resource) -> Result<Grant, StoreError>;

    /// MUST return `UserNotFound` for an unknown user, then `GrantNotFound`.
    fn update_grant(
        &self,
        username: &Username,
        resource: &Resource,
        permission: Permission,
    ) -> Result<(), StoreError>;

    /// MUST return `UserNotFound` for an unknown user, then `GrantNotFound`.
    fn delete_grant(&self, username: &Username, resource: &Resource) -> Result<(), StoreError>;

    /// Whether any role (synthetic or named) has a per-id row on `resource`.
    fn has_grants_on(&self, resource: &Resource) -> Result<bool, StoreError>;

    /// Deletes the per-id rows on `resource` of every synthetic role (it was
    /// deleted); returns how many. Rows on named roles are never touched, as in
    /// MLflow. Registered models: synthetic roles in `default` only.
    fn delete_grants_on(&self, resource: &Resource) -> Result<u64, StoreError>;

    /// Moves the synthetic-role rows on registered model `from` to `to` (it was
    /// renamed), in `default`. Synthetic-role rows already on `to` (left by an
    /// earlier model of that name) are replaced, so the renamed model keeps exactly
    /// its own grants. Named roles are not touched.
    fn rename_registered_model(
        &self,
        from: &crate::names::ModelName,
        to: &crate::names::ModelName,
    ) -> Result<u64, StoreError>;

    /// The user's 3.10-visible grants, ordered by type then stored key (byte order).
    fn grants_of_user(&self, user_id: i64) -> Result<Vec<Grant>, StoreError>;

    /// What the rows of every role `user_id` holds in `default` resolve to on each
    /// of `keys` (in order, as [`crate::resolve_rows`]), and whether one of those
    /// roles carries `(workspace, *, MANAGE)`. Hot path: one key is one indexed
    /// query; many keys are few queries.
    fn resolve(&self, user_id: i64, keys: &[GrantKey]) -> Result<Resolution, StoreError>;
}

/// Who submitted each MLflow job, as mlguard saw it. MLflow 3.17 decides a job by its
/// creator alone, and an upstream without auth records none, so mlguard keeps its own
/// record from the answers of the routes that submit jobs.
pub trait JobOwnerStore: Send + Sync {
    /// Records `user_id` as the submitter of `job_id`. An id already recorded keeps
    /// its owner: MLflow mints fresh ids, so a repeat is never a transfer.
    fn record_job_owner(&self, job_id: &OpaqueId, user_id: i64) -> Result<(), StoreError>;

    /// Which of `job_ids` were submitted by `user_id`, in order. A job without a
    /// record is nobody's.
    fn owns_jobs(&self, user_id: i64, job_ids: &[OpaqueId]) -> Result<Vec<bool>, StoreError>;
}

/// A refusal of the role store. Texts are MLflow 3.17.2's, minus the SQL it leaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleError {
    #[error("User with username={0} not found")]
    UserNotFound(Username),
    #[error("Role with id={0} not found")]
    RoleNotFound(i64),
    #[error("Role (name={name}, workspace={workspace}) already exists.")]
    RoleAlreadyExists {
        workspace: Workspace,
        name: RoleName,
    },
    /// A rename onto a name the workspace already has.
    #[error("Role with name={name} already exists in workspace={workspace}")]
    RoleNameTaken {
        workspace: Workspace,
        name: RoleName,
    },
    #[error("Role permission with id={0} not found")]
    RolePermissionNotFound(i64),
    #[error(
        "Role permission (role_id={role_id}, resource_type={resource_type}, resource_pattern={pattern}) already exists."
    )]
    RolePermissionAlreadyExists {
        role_id: i64,
        resource_type: ResourceType,
        pattern: ResourcePattern,
    },
    #[error("User role assignment (user_id={user_id}, role_id={role_id}) already exists")]
    AssignmentAlreadyExists { user_id: i64, role_id: i64 },
    #[error("User role assignment (user_id={user_id}, role_id={role_id}) not found")]
    AssignmentNotFound { user_id: i64, role_id: i64 },
    #[error(
        "Permission for user={username} on resource_type={resource_type}, resource_id={pattern} already exists."
    )]
    UserPermissionAlreadyExists {
        username: Username,
        resource_type: ResourceType,
        pattern: ResourcePattern,
    },
    #[error(
        "Permission for user={username} on resource_type={resource_type}, resource_id={pattern} not found."
    )]
    UserPermissionNotFound {
        username: Username,
        resource_type: ResourceType,
        pattern: ResourcePattern,
    },
    /// Not MLflow's (it lets another user inherit the per-user grants): a synthetic
    /// role belongs to its user alone.
    #[error(
        "Role '{role}' holds the per-user permissions of another user and cannot be assigned to {username}."
    )]
    SyntheticRoleOfAnotherUser { role: RoleName, username: Username },
    /// A level or pattern the row's type does not take.
    #[error(transparent)]
    Invalid(#[from] GrantRuleError),
    /// As [`StoreError::Unavailable`]: for logs only.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

impl RoleError {
    /// MLflow's error code: what the status follows from.
    pub fn code(&self) -> &'static str {
        match self {
            RoleError::UserNotFound(_)
            | RoleError::RoleNotFound(_)
            | RoleError::RolePermissionNotFound(_)
            | RoleError::AssignmentNotFound { .. }
            | RoleError::UserPermissionNotFound { .. } => "RESOURCE_DOES_NOT_EXIST",
            RoleError::RoleAlreadyExists { .. }
            | RoleError::RoleNameTaken { .. }
            | RoleError::RolePermissionAlreadyExists { .. }
            | RoleError::AssignmentAlreadyExists { .. }
            | RoleError::UserPermissionAlreadyExists { .. } => "RESOURCE_ALREADY_EXISTS",
            RoleError::SyntheticRoleOfAnotherUser { .. } | RoleError::Invalid(_) => {
                "INVALID_PARAMETER_VALUE"
            }
            // As the grant store's: the caller may retry.
            RoleError::Unavailable(_) => "TEMPORARILY_UNAVAILABLE",
        }
    }
}

/// MLflow 3.17's roles: rows, assignments and the per-user convenience API on the
/// synthetic roles. Every list is ordered by id. Ids are never reused.
pub trait RoleStore: Send + Sync {
    /// MUST return `RoleAlreadyExists` for a taken `(workspace, name)`, also under
    /// a race. The workspace is not checked for existence, as in MLflow.
    fn create_role(
        &self,
        workspace: &Workspace,
        name: &RoleName,
        description: Option<&str>,
    ) -> Result<Role, RoleError>;

    /// MUST return `RoleNotFound`.
    fn get_role(&self, role_id: i64) -> Result<Role, RoleError>;

    /// The roles of the given workspaces (`None`: of every workspace), synthetic
    /// ones included.
    fn list_roles(&self, workspaces: Option<&[Workspace]>) -> Result<Vec<Role>, RoleError>;

    /// Changes what is given (`description: Some(None)` clears it). MUST return
    /// `RoleNotFound`, then `RoleNameTaken` for a name the workspace already has.
    fn update_role(
        &self,
        role_id: i64,
        name: Option<&RoleName>,
        description: Option<Option<&str>>,
    ) -> Result<Role, RoleError>;

    /// Deletes the role with its rows and assignments. MUST return `RoleNotFound`.
    fn delete_role(&self, role_id: i64) -> Result<(), RoleError>;

    /// MUST return `RoleNotFound`, then `RolePermissionAlreadyExists` for a taken
    /// `(type, pattern)` on the role, also under a race.
    fn add_role_permission(
        &self,
        role_id: i64,
        rule: &GrantRule,
    ) -> Result<RolePermission, RoleError>;

    /// One row, as stored. MUST return `RolePermissionNotFound`.
    fn get_role_permission(&self, role_permission_id: i64) -> Result<RolePermission, RoleError>;

    /// MUST return `RolePermissionNotFound`.
    fn remove_role_permission(&self, role_permission_id: i64) -> Result<(), RoleError>;

    /// MUST return `RoleNotFound`.
    fn list_role_permissions(&self, role_id: i64) -> Result<Vec<RolePermission>, RoleError>;

    /// Checks `permission` against the row's type (`Invalid`). MUST return
    /// `RolePermissionNotFound`.
    fn update_role_permission(
        &self,
        role_permission_id: i64,
        permission: Permission,
    ) -> Result<RolePermission, RoleError>;

    /// MUST return `UserNotFound`, `RoleNotFound`, then `AssignmentAlreadyExists`,
    /// also under a race; `SyntheticRoleOfAnotherUser` for someone else's
    /// synthetic role.
    fn assign_role(&self, username: &Username, role_id: i64) -> Result<Assignment, RoleError>;

    /// MUST return `UserNotFound`, `RoleNotFound`, then `AssignmentNotFound`.
    fn unassign_role(&self, username: &Username, role_id: i64) -> Result<(), RoleError>;

    /// Every role the user holds, in every workspace. MUST return `UserNotFound`.
    fn roles_of_user(&self, username: &Username) -> Result<Vec<Role>, RoleError>;

    /// Who holds the role. MUST return `RoleNotFound`.
    fn assignments_of_role(&self, role_id: i64) -> Result<Vec<Assignment>, RoleError>;

    /// Adds a row to the user's synthetic role in `workspace` (created and assigned
    /// on first use). Not an upsert: MUST return `Invalid(WorkspaceNotPerUser)` for
    /// a workspace row, `UserNotFound`, then `UserPermissionAlreadyExists`, also
    /// under a race.
    fn grant_user_permission(
        &self,
        username: &Username,
        workspace: &Workspace,
        rule: &GrantRule,
    ) -> Result<RolePermission, RoleError>;

    /// Removes a row of the user's synthetic role in `workspace` (the role stays,
    /// even empty). MUST return `Invalid(WorkspaceNotPerUser)`, `UserNotFound`, then
    /// `UserPermissionNotFound`.
    fn revoke_user_permission(
        &self,
        username: &Username,
        workspace: &Workspace,
        resource_type: ResourceType,
        pattern: &ResourcePattern,
    ) -> Result<(), RoleError>;

    /// The row of the user's synthetic role in `workspace`, as stored (what a check
    /// resolves to is [`GrantStore::resolve`]'s). MUST return
    /// `Invalid(WorkspaceNotPerUser)`, `UserNotFound`, then `UserPermissionNotFound`.
    fn get_user_permission(
        &self,
        username: &Username,
        workspace: &Workspace,
        resource_type: ResourceType,
        pattern: &ResourcePattern,
    ) -> Result<RolePermission, RoleError>;

    /// Every row of every role the user holds (synthetic and named, every
    /// workspace), ordered by role id then row id. MUST return `UserNotFound`.
    fn permission_rows_of_user(&self, username: &Username)
    -> Result<Vec<PermissionRow>, RoleError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_errors_carry_mlflows_codes() {
        let alice = Username::parse("alice").expect("name");
        assert_eq!(RoleError::RoleNotFound(9).code(), "RESOURCE_DOES_NOT_EXIST");
        assert_eq!(
            RoleError::AssignmentAlreadyExists {
                user_id: 5,
                role_id: 5
            }
            .code(),
            "RESOURCE_ALREADY_EXISTS"
        );
        assert_eq!(
            RoleError::Invalid(GrantRuleError::WorkspaceNotPerUser).code(),
            "INVALID_PARAMETER_VALUE"
        );
        assert_eq!(
            RoleError::UserNotFound(alice.clone()).code(),
            "RESOURCE_DOES_NOT_EXIST"
        );
        assert_eq!(
            RoleError::UserPermissionNotFound {
                username: alice,
                resource_type: ResourceType::Experiment,
                pattern: ResourcePattern::Id("1".into()),
            }
            .to_string(),
            "Permission for user=alice on resource_type=experiment, resource_id=1 not found."
        );
        assert_eq!(
            RoleError::Unavailable("x".into()).code(),
            "TEMPORARILY_UNAVAILABLE"
        );
    }
}
