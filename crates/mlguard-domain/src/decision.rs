//! The access decision: pure, total, and the only place the rules live.

use crate::permission::{Capability, Permission};
use crate::user::Principal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
}

/// The level that applies to `principal` on one resource.
///
/// 1. An admin has everything (reported as MANAGE).
/// 2. Otherwise an explicit grant decides, an explicit NO_PERMISSIONS included.
/// 3. Otherwise the configured default applies.
pub fn effective_permission(
    principal: &Principal,
    explicit: Option<Permission>,
    default: Permission,
) -> Permission {
    if principal.is_admin {
        Permission::Manage
    } else {
        explicit.unwrap_or(default)
    }
}

/// Whether `principal` may exercise `capability` on a resource it holds `explicit` on.
pub fn decide(
    principal: &Principal,
    explicit: Option<Permission>,
    default: Permission,
    capability: Capability,
) -> Decision {
    if effective_permission(principal, explicit, default).allows(capability) {
        Decision::Allow
    } else {
        Decision::Deny
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::Username;
    use proptest::prelude::*;

    fn principal(is_admin: bool) -> Principal {
        Principal {
            user_id: 7,
            username: Username::parse("alice").expect("valid"),
            is_admin,
        }
    }

    fn any_permission() -> impl Strategy<Value = Permission> {
        prop::sample::select(Permission::ALL.to_vec())
    }

    fn any_capability() -> impl Strategy<Value = Capability> {
        prop::sample::select(Capability::ALL.to_vec())
    }

    /// The rank of a level in the READ < USE < EDIT < MANAGE chain.
    fn rank(p: Permission) -> u8 {
        match p {
            Permission::Deny | Permission::NoPermissions => 0,
            Permission::Read => 1,
            Permission::Use => 2,
            Permission::Edit => 3,
            Permission::Manage => 4,
        }
    }

    #[test]
    fn explicit_grant_beats_default_both_ways() {
        let user = principal(false);
        assert_eq!(
            decide(
                &user,
                Some(Permission::NoPermissions),
                Permission::Read,
                Capability::Read
            ),
            Decision::Deny
        );
        assert_eq!(
            decide(
                &user,
                Some(Permission::Read),
                Permission::NoPermissions,
                Capability::Read
            ),
            Decision::Allow
        );
        assert_eq!(
            decide(&user, None, Permission::Read, Capability::Read),
            Decision::Allow
        );
        assert_eq!(
            decide(&user, None, Permission::Read, Capability::Update),
            Decision::Deny
        );
    }

    proptest! {
        #[test]
        fn admin_is_never_denied(explicit in proptest::option::of(any_permission()),
                                 default in any_permission(),
                                 capability in any_capability()) {
            prop_assert_eq!(decide(&principal(true), explicit, default, capability), Decision::Allow);
        }

        #[test]
        fn explicit_no_permissions_always_denies_a_non_admin(default in any_permission(),
                                                             capability in any_capability()) {
            prop_assert_eq!(
                decide(&principal(false), Some(Permission::NoPermissions), default, capability),
                Decision::Deny
            );
        }

        #[test]
        fn granting_more_never_removes_access(a in any_permission(), b in any_permission(),
                                              default in any_permission(),
                                              capability in any_capability()) {
            let (low, high) = if rank(a) <= rank(b) { (a, b) } else { (b, a) };
            let user = principal(false);
            if decide(&user, Some(low), default, capability) == Decision::Allow {
                prop_assert_eq!(decide(&user, Some(high), default, capability), Decision::Allow);
            }
        }

        #[test]
        fn without_a_grant_the_default_decides(default in any_permission(),
                                                capability in any_capability()) {
            let expected = if default.allows(capability) { Decision::Allow } else { Decision::Deny };
            prop_assert_eq!(decide(&principal(false), None, default, capability), expected);
        }
    }
}
