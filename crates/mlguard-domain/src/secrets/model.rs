//! What the secret store holds, without any value: metadata, bindings, routes,
//! grants and the audit trail. Times are milliseconds since the Unix epoch.

use crate::names::Username;
use crate::permission::Permission;

use super::access::SecretOperation;
use super::fields::{BindingKey, Label, RouteId, SecretId, SecretName};

/// A secret's metadata. There is deliberately no value field, not even a masked one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretInfo {
    pub id: SecretId,
    pub name: SecretName,
    pub provider: Option<Label>,
    pub description: Option<Label>,
    /// Who created it, by name at the time; it stays when the account goes.
    pub created_by: Username,
    pub created_at: i64,
    /// When the value last changed (the creation time until then).
    pub updated_at: i64,
}

/// The metadata of a secret about to be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSecret {
    pub id: SecretId,
    pub name: SecretName,
    pub provider: Option<Label>,
    pub description: Option<Label>,
    pub created_by: Username,
}

/// A secret in use by one resource field. Bindings belong to no user: they stay
/// when their creator loses access or is deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub secret_id: SecretId,
    pub key: BindingKey,
    pub created_by: Username,
    pub created_at: i64,
}

/// A provider model reached with a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub id: RouteId,
    pub name: Label,
    pub provider: Label,
    pub model_name: Label,
    pub secret_id: SecretId,
    pub created_by: Username,
    pub created_at: i64,
}

/// A route about to be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRoute {
    pub id: RouteId,
    pub name: Label,
    pub provider: Label,
    pub model_name: Label,
    pub secret_id: SecretId,
    pub created_by: Username,
}

/// One user's explicit level on one secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretGrant {
    pub secret_id: SecretId,
    pub user_id: i64,
    pub username: Username,
    pub permission: Permission,
}

/// Which secrets a listing may return. Built by [`super::visibility`], so the
/// rule stays in the domain; the store only turns it into a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretVisibility {
    /// Every secret (admins). `user_id`'s own grants are still reported.
    All { user_id: i64 },
    /// Secrets `user_id` holds one of `granting` on, plus, when
    /// `without_grant` is true, every secret they hold no grant on at all.
    ReadableBy {
        user_id: i64,
        granting: Vec<Permission>,
        without_grant: bool,
    },
}

/// A listed secret with the caller's explicit grant on it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibleSecret {
    pub info: SecretInfo,
    pub explicit: Option<Permission>,
}

/// Where a listing resumes: just after this secret, in (created_at, id) order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretCursor {
    pub created_at: i64,
    pub secret_id: SecretId,
}

/// An admin acting on a secret where only being an admin allowed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminBypass {
    pub actor: Username,
    pub operation: SecretOperation,
    /// `None` never happens for single-secret operations; kept optional so that
    /// a listing entry can name what it showed.
    pub secret_id: Option<SecretId>,
}

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Increasing; the newest entry has the largest id.
    pub id: i64,
    pub at: i64,
    pub actor: Username,
    pub operation: SecretOperation,
    pub secret_id: Option<SecretId>,
}
