#![doc = include_str!("../README.md")]

mod access;
mod clock;
mod decision;
mod grant_key;
mod identity;
mod lookup;
mod names;
mod permission;
mod ports;
mod resource;
mod role;
pub mod secrets;
mod tokens;
mod user;

pub use access::{
    AccessChange, AccessChangeSink, AccessSnapshot, AccessState, AccessStateSource, RoleAccess,
    RowState, UserAccess,
};
pub use clock::now_ms;
pub use decision::{Decision, Resolution, Standing, decide, effective_permission, resolve_rows};
pub use grant_key::{
    GrantKey, GrantRule, GrantRuleError, KeyChain, ResourcePattern, ResourceType, check_grantable,
    is_workspace_admin_row,
};
pub use identity::{
    ExternalIdentity, IdentityError, IdentityProvider, LoginStart, PendingLogin, Session,
    SessionStore,
};
pub use lookup::{
    BoxFuture, ExperimentChild, LookupError, ModelKind, TraceFiles, TrackingLookup, VersionFiles,
    VersionOrigin,
};
pub use names::{ExperimentId, ModelName, NameError, OpaqueId, Password, Username};
pub use permission::{Capability, Permission, UnknownPermission};
pub use ports::{
    CredentialCheck, GrantStore, JobOwnerStore, RoleError, RoleStore, StoreError, UserStore,
};
pub use resource::{Resource, ResourceKind};
pub use role::{
    Assignment, PermissionRow, Role, RoleName, RoleNameError, RolePermission, Workspace,
};
pub use tokens::{CredentialState, SigningKey, TokenClaims, TokenCodec, TokenError, TokenStore};
pub use user::{Grant, Principal, User, UserSummary};
