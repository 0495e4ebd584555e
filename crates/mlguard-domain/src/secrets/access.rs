//! Who may do what with a secret: the operation matrix, decided by
//! [`crate::decide`] like every other resource (the secret's grant is a chain of
//! one key, so a positive grant is floored to the default).

use std::fmt;

use crate::decision::{Decision, Standing, decide};
use crate::permission::{Capability, Permission};
use crate::user::Principal;

use super::model::SecretVisibility;

/// Every operation on an existing secret, by the name the audit trail records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretOperation {
    ViewInfo,
    List,
    ListBindings,
    Bind,
    Unbind,
    CreateRoute,
    UpdateValue,
    Delete,
    CreateGrant,
    GetGrant,
    UpdateGrant,
    DeleteGrant,
}

impl SecretOperation {
    pub const ALL: [SecretOperation; 12] = [
        SecretOperation::ViewInfo,
        SecretOperation::List,
        SecretOperation::ListBindings,
        SecretOperation::Bind,
        SecretOperation::Unbind,
        SecretOperation::CreateRoute,
        SecretOperation::UpdateValue,
        SecretOperation::Delete,
        SecretOperation::CreateGrant,
        SecretOperation::GetGrant,
        SecretOperation::UpdateGrant,
        SecretOperation::DeleteGrant,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            SecretOperation::ViewInfo => "get-info",
            SecretOperation::List => "list",
            SecretOperation::ListBindings => "list-bindings",
            SecretOperation::Bind => "bind",
            SecretOperation::Unbind => "unbind",
            SecretOperation::CreateRoute => "create-route-and-bind",
            SecretOperation::UpdateValue => "update",
            SecretOperation::Delete => "delete",
            SecretOperation::CreateGrant => "permissions/create",
            SecretOperation::GetGrant => "permissions/get",
            SecretOperation::UpdateGrant => "permissions/update",
            SecretOperation::DeleteGrant => "permissions/delete",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.as_str() == raw)
    }

    /// The capability the operation needs. Replacing a value needs MANAGE, not
    /// just EDIT: it changes what every binding uses.
    pub const fn capability(self) -> Capability {
        match self {
            SecretOperation::ViewInfo | SecretOperation::List | SecretOperation::ListBindings => {
                Capability::Read
            }
            SecretOperation::Bind | SecretOperation::Unbind | SecretOperation::CreateRoute => {
                Capability::Update
            }
            SecretOperation::UpdateValue
            | SecretOperation::Delete
            | SecretOperation::CreateGrant
            | SecretOperation::GetGrant
            | SecretOperation::UpdateGrant
            | SecretOperation::DeleteGrant => Capability::Manage,
        }
    }
}

impl fmt::Display for SecretOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The answer to "may this caller do this to this secret?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretAccess {
    /// Allowed by a grant or the default.
    Allowed,
    /// Allowed only because the caller is an admin: the audit trail records it.
    AdminBypass,
    Denied,
}

/// Decides `operation` for `principal`, who holds `explicit` on the secret.
pub fn authorize_secret(
    principal: &Principal,
    explicit: Option<Permission>,
    default: Permission,
    operation: SecretOperation,
) -> SecretAccess {
    let capability = operation.capability();
    let as_plain_user = Principal {
        is_admin: false,
        ..principal.clone()
    };
    let chain = [explicit];
    let standing = Standing {
        workspace_admin: false,
        chain: &chain,
    };
    match (
        decide(principal, standing, default, capability),
        decide(&as_plain_user, standing, default, capability),
    ) {
        (Decision::Allow, Decision::Allow) => SecretAccess::Allowed,
        (Decision::Allow, Decision::Deny) => SecretAccess::AdminBypass,
        (Decision::Deny, _) => SecretAccess::Denied,
    }
}

/// Which secrets `principal` may list: all for an admin, otherwise those whose
/// grant (or, without one, the default) allows reading.
pub fn visibility(principal: &Principal, default: Permission) -> SecretVisibility {
    if principal.is_admin {
        return SecretVisibility::All {
            user_id: principal.user_id,
        };
    }
    SecretVisibility::ReadableBy {
        user_id: principal.user_id,
        granting: Permission::ALL
            .into_iter()
            .filter(|p| p.allows(Capability::Read))
            .collect(),
        without_grant: default.allows(Capability::Read),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::Username;

    fn principal(is_admin: bool) -> Principal {
        Principal {
            user_id: 3,
            username: Username::parse("carol").expect("valid"),
            is_admin,
        }
    }

    /// The operation matrix: which grant levels allow each operation.
    fn allowed_levels(operation: SecretOperation) -> &'static [Permission] {
        use Permission::*;
        match operation {
            SecretOperation::ViewInfo | SecretOperation::List | SecretOperation::ListBindings => {
                &[Read, Use, Edit, Manage]
            }
            SecretOperation::Bind | SecretOperation::Unbind | SecretOperation::CreateRoute => {
                &[Edit, Manage]
            }
            _ => &[Manage],
        }
    }

    #[test]
    fn the_operation_matrix_holds_for_every_level_and_default() {
        for operation in SecretOperation::ALL {
            for default in Permission::ALL {
                for grant in Permission::ALL {
                    // A positive grant counts as at least the default (3.17's floor).
                    let floored = allowed_levels(operation).contains(&grant)
                        || (grant.is_positive() && allowed_levels(operation).contains(&default));
                    let expected = if floored {
                        SecretAccess::Allowed
                    } else {
                        SecretAccess::Denied
                    };
                    let got = authorize_secret(&principal(false), Some(grant), default, operation);
                    assert_eq!(got, expected, "{operation} with {grant}, default {default}");
                }
                let without_grant = authorize_secret(&principal(false), None, default, operation);
                let expected = if allowed_levels(operation).contains(&default) {
                    SecretAccess::Allowed
                } else {
                    SecretAccess::Denied
                };
                assert_eq!(
                    without_grant, expected,
                    "{operation} without grant, default {default}"
                );
            }
        }
    }

    #[test]
    fn admins_are_never_denied_and_bypasses_are_flagged() {
        let admin = principal(true);
        for operation in SecretOperation::ALL {
            assert_eq!(
                authorize_secret(
                    &admin,
                    Some(Permission::Manage),
                    Permission::NoPermissions,
                    operation
                ),
                SecretAccess::Allowed
            );
            assert_eq!(
                authorize_secret(&admin, None, Permission::NoPermissions, operation),
                SecretAccess::AdminBypass
            );
            assert_eq!(
                authorize_secret(
                    &admin,
                    Some(Permission::NoPermissions),
                    Permission::Manage,
                    operation
                ),
                SecretAccess::AdminBypass
            );
        }
    }

    #[test]
    fn visibility_follows_the_default() {
        assert_eq!(
            visibility(&principal(true), Permission::NoPermissions),
            SecretVisibility::All { user_id: 3 }
        );
        let SecretVisibility::ReadableBy {
            granting,
            without_grant,
            ..
        } = visibility(&principal(false), Permission::NoPermissions)
        else {
            panic!("a plain user gets a filter");
        };
        assert!(!without_grant);
        assert!(
            granting.contains(&Permission::Read) && !granting.contains(&Permission::NoPermissions)
        );
        assert!(matches!(
            visibility(&principal(false), Permission::Read),
            SecretVisibility::ReadableBy {
                without_grant: true,
                ..
            }
        ));
    }

    #[test]
    fn operation_names_round_trip() {
        for operation in SecretOperation::ALL {
            assert_eq!(SecretOperation::parse(operation.as_str()), Some(operation));
        }
        assert_eq!(SecretOperation::parse("read-value"), None);
    }
}
