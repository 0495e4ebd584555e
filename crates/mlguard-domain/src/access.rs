//! The in-process authorization view's ports: what a decision reads, how the store
//! hands it over, and how each change reaches every replica.
//!
//! The store records every change to the decision's tables as an [`AccessChange`]
//! (database triggers, so every writer is covered: the API, the offline commands,
//! the import, plain SQL). A view loads the whole state once, then reloads exactly
//! what each change names.

use crate::decision::Resolution;
use crate::grant_key::{GrantKey, ResourceType};
use crate::permission::Permission;
use crate::ports::StoreError;
use crate::tokens::CredentialState;

/// One changed part of the authorization state, as the store's triggers name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AccessChange {
    /// The account row or its role assignments.
    User(i64),
    /// The role itself (created or deleted), or more of its rows than one change
    /// names.
    Role(i64),
    /// One row of a role: `(role_id, resource_type, resource_pattern)`.
    Row(i64, String, String),
    /// One revoked token.
    Token(String),
}

impl AccessChange {
    /// Reads the triggers' text form: `u:ID`, `r:ID`, `g:ROLE:TYPE:PATTERN`, `t:TOKEN`.
    /// `None` for anything else.
    pub fn parse(text: &str) -> Option<AccessChange> {
        let (kind, rest) = text.split_once(':')?;
        match kind {
            "u" => rest.parse().ok().map(AccessChange::User),
            "r" => rest.parse().ok().map(AccessChange::Role),
            "g" => {
                let mut parts = rest.splitn(3, ':');
                let role_id = parts.next()?.parse().ok()?;
                let resource_type = parts.next()?.to_owned();
                let pattern = parts.next()?.to_owned();
                Some(AccessChange::Row(role_id, resource_type, pattern))
            }
            "t" => Some(AccessChange::Token(rest.to_owned())),
            _ => None,
        }
    }
}

/// An account as a decision sees it: its credentials and every role it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAccess {
    pub credentials: CredentialState,
    pub role_ids: Vec<i64>,
}

/// A role as a decision sees it. Only roles of workspace `default` count, so the
/// rows of any other role are not carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleAccess {
    pub role_id: i64,
    pub in_default_workspace: bool,
    pub rows: Vec<(ResourceType, String, Permission)>,
}

/// One row of a role, as it stands now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowState {
    /// The role no longer exists.
    RoleGone,
    /// The role exists; `permission` is the row's level, `None` when it has no such
    /// row.
    Row {
        in_default_workspace: bool,
        permission: Option<Permission>,
    },
}

/// Everything a decision reads, at one point in time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessState {
    pub users: Vec<UserAccess>,
    pub roles: Vec<RoleAccess>,
    /// `(token_id, expires_at)`, seconds since the epoch.
    pub revoked_tokens: Vec<(String, i64)>,
}

/// The store's side: the whole state, or exactly what one change names.
/// Each read answers what is committed when it runs.
pub trait AccessStateSource: Send + Sync {
    fn load_access_state(&self) -> Result<AccessState, StoreError>;

    /// `None`: the account no longer exists.
    fn load_user_access(&self, user_id: i64) -> Result<Option<UserAccess>, StoreError>;

    /// `None`: the role no longer exists.
    fn load_role_access(&self, role_id: i64) -> Result<Option<RoleAccess>, StoreError>;

    /// A stored type that is no [`ResourceType`] can match no check: `Row` without a
    /// permission.
    fn load_role_row(
        &self,
        role_id: i64,
        resource_type: &str,
        pattern: &str,
    ) -> Result<RowState, StoreError>;

    /// When the revoked token expires; `None` if it is not (or no longer) recorded.
    fn token_revocation(&self, token_id: &str) -> Result<Option<i64>, StoreError>;
}

/// The view's side of the change feed.
pub trait AccessChangeSink: Send + Sync {
    /// Reloads what `changes` name, from the store, before returning.
    fn apply(&self, changes: &[AccessChange]) -> Result<(), StoreError>;

    /// Reloads everything (after the feed lost changes, or a burst too large to
    /// replay one by one).
    fn reload_all(&self) -> Result<(), StoreError>;

    /// The feed delivered, and `apply` reloaded, every change committed so far: the
    /// view may answer until `until` (`None`: until told otherwise, for a feed that
    /// cannot miss a change). Ignored while a failed reload left changes missing.
    fn current_until(&self, until: Option<std::time::Instant>);

    /// The feed may have lost changes: answer nothing from memory until
    /// `current_as_of` says otherwise.
    fn distrust(&self);
}

/// A decision's reads answered from memory, without a database round trip. Every
/// method answers `None` when the view cannot vouch for its answer now (its feed is
/// down, it is still loading): the caller then asks the store.
pub trait AccessSnapshot: Send + Sync {
    /// As [`crate::GrantStore::resolve`].
    fn resolve(&self, user_id: i64, keys: &[GrantKey]) -> Option<Resolution>;

    /// As [`crate::TokenStore::credential_state`].
    fn credential_state(&self, user_id: i64) -> Option<Option<CredentialState>>;

    /// As [`crate::TokenStore::is_token_revoked`].
    fn is_token_revoked(&self, token_id: &str) -> Option<bool>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trigger_texts_parse_and_nothing_else_does() {
        assert_eq!(AccessChange::parse("u:5"), Some(AccessChange::User(5)));
        assert_eq!(AccessChange::parse("r:12"), Some(AccessChange::Role(12)));
        assert_eq!(
            AccessChange::parse("g:3:registered_model:a:b"),
            Some(AccessChange::Row(
                3,
                "registered_model".into(),
                "a:b".into()
            ))
        );
        assert_eq!(
            AccessChange::parse("t:abc-1"),
            Some(AccessChange::Token("abc-1".into()))
        );
        for bad in ["", "u", "u:x", "g:1:experiment", "x:1", "hb:1"] {
            assert_eq!(AccessChange::parse(bad), None, "{bad}");
        }
    }
}
