//! Ports: what the rest of mlguard needs from storage. Adapters translate their own
//! errors into [`StoreError`]; no adapter error type ever crosses this boundary.
//!
//! Every method is blocking; async callers run them on a blocking thread.

use crate::names::{Password, Username};
use crate::permission::Permission;
use crate::resource::Resource;
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

    /// Deletes the account and every grant it holds, atomically.
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

/// Explicit grants of users on resources. The resource's existence is not checked,
/// as in MLflow: a grant may precede its resource.
pub trait GrantStore: Send + Sync {
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

    /// Whether any user holds a grant on `resource`.
    fn has_grants_on(&self, resource: &Resource) -> Result<bool, StoreError>;

    /// Deletes every user's grant on `resource` (it was deleted); returns how many.
    fn delete_grants_on(&self, resource: &Resource) -> Result<u64, StoreError>;

    /// Moves every grant on registered model `from` to `to` (it was renamed). Grants
    /// already on `to` (left by an earlier model of that name) are replaced, so the
    /// renamed model keeps exactly its own grants.
    fn rename_registered_model(
        &self,
        from: &crate::names::ModelName,
        to: &crate::names::ModelName,
    ) -> Result<u64, StoreError>;

    /// Every grant the user holds, ordered by kind then key.
    fn grants_of_user(&self, user_id: i64) -> Result<Vec<Grant>, StoreError>;

    /// The user's explicit level on each of `resources`, in order (list filtering).
    /// MUST answer exactly what `permission_of` would for each, in few queries.
    fn permissions_of(
        &self,
        user_id: i64,
        resources: &[Resource],
    ) -> Result<Vec<Option<Permission>>, StoreError>;

    /// The user's explicit level on one resource, if any. Hot path: one indexed lookup.
    fn permission_of(
        &self,
        user_id: i64,
        resource: &Resource,
    ) -> Result<Option<Permission>, StoreError>;
}
