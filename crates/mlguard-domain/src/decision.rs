//! The access decision (MLflow 3.17's "how grants combine", workspaces off): pure,
//! total, and the only place the rules live. The store resolves the rows of one
//! key ([`resolve_rows`]); [`effective_permission`] combines the keys of a chain.

use std::collections::HashMap;

use crate::grant_key::{GrantKey, ResourcePattern, is_workspace_admin_row};
use crate::permission::{Capability, Permission};
use crate::user::Principal;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
}

/// What the rows matching one key resolve to: `None` without a row, DENY if any
/// row is DENY (a veto, whatever role carries it), else the highest level.
pub fn resolve_rows(rows: impl IntoIterator<Item = Permission>) -> Option<Permission> {
    let mut highest = None;
    for permission in rows {
        if permission == Permission::Deny {
            return Some(Permission::Deny);
        }
        highest = highest.max(Some(permission));
    }
    highest
}

/// What the store found for one user: whether a role they hold carries
/// `(workspace, *, MANAGE)`, and each asked key's resolved level, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resolution {
    pub workspace_admin: bool,
    pub levels: Vec<Option<Permission>>,
}

impl Resolution {
    /// Resolves `keys` over `rows` (`(resource_type, pattern, permission)` of rows
    /// of the roles that count; a superset of the keys' rows is fine): what an
    /// adapter does in memory after fetching them.
    pub fn over_rows<'a>(
        keys: &[GrantKey],
        rows: impl IntoIterator<Item = (&'a str, &'a str, Permission)>,
    ) -> Resolution {
        let mut workspace_admin = false;
        // Resolving is associative (DENY absorbs, else the highest), so rows are
        // folded per (type, pattern) first, then a key combines two of those.
        let mut by_pattern: HashMap<(&str, &str), Permission> = HashMap::new();
        for (resource_type, pattern, permission) in rows {
            workspace_admin |= is_workspace_admin_row(resource_type, pattern, permission);
            let folded = by_pattern.get(&(resource_type, pattern)).copied();
            if let Some(level) = resolve_rows(folded.into_iter().chain([permission])) {
                by_pattern.insert((resource_type, pattern), level);
            }
        }
        let levels = keys
            .iter()
            .map(|key| {
                let resource_type = key.resource_type.as_str();
                let wildcard = by_pattern
                    .get(&(resource_type, ResourcePattern::WILDCARD))
                    .copied();
                let own = match &key.id {
                    ResourcePattern::Wildcard => None,
                    ResourcePattern::Id(id) => {
                        by_pattern.get(&(resource_type, id.as_str())).copied()
                    }
                };
                resolve_rows(wildcard.into_iter().chain(own))
            })
            .collect();
        Resolution {
            workspace_admin,
            levels,
        }
    }

    /// The standing on the chain made of `levels[range]`.
    pub fn standing(&self, range: std::ops::Range<usize>) -> Standing<'_> {
        Standing {
            workspace_admin: self.workspace_admin,
            chain: &self.levels[range],
        }
    }
}

/// A user's standing on one operation: what each key of its chain resolved to
/// (own key first, then the fallbacks), and whether they administer the workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing<'a> {
    pub workspace_admin: bool,
    pub chain: &'a [Option<Permission>],
}

impl Standing<'_> {
    /// No row anywhere, no workspace grant: the standing of a stranger.
    pub const NONE: Standing<'static> = Standing {
        workspace_admin: false,
        chain: &[],
    };
}

/// The level that applies to `principal` on one operation.
///
/// 1. An admin, or a workspace admin, has MANAGE (before DENY).
/// 2. Otherwise the first key of the chain holding any row decides; later keys
///    are not consulted ("tier override").
/// 3. A positive level is floored to `default`; DENY (and NO_PERMISSIONS) stand.
/// 4. No row on any key: `default`.
pub fn effective_permission(
    principal: &Principal,
    standing: Standing<'_>,
    default: Permission,
) -> Permission {
    if principal.is_admin || standing.workspace_admin {
        return Permission::Manage;
    }
    match standing.chain.iter().flatten().next() {
        None => default,
        Some(&level) if level.is_positive() => level.max(default),
        Some(&level) => level,
    }
}

/// Whether `principal` may exercise `capability` given its `standing`.
pub fn decide(
    principal: &Principal,
    standing: Standing<'_>,
    default: Permission,
    capability: Capability,
) -> Decision {
    if effective_permission(principal, standing, default).allows(capability) {
        Decision::Allow
    } else {
        Decision::Deny
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant_key::{GrantKey, ResourceType};
    use crate::names::Username;
    use proptest::prelude::*;

    fn principal(is_admin: bool) -> Principal {
        Principal {
            user_id: 7,
            username: Username::parse("alice").expect("valid"),
            is_admin,
        }
    }

    /// MLflow's rules restated over plain data, apart from the implementation: no
    /// `Ord`, no `resolve_rows`, no `matches`, numbers for priorities.
    mod reference {
        use crate::permission::Permission;

        #[derive(Debug, Clone)]
        pub struct Row {
            pub resource_type: &'static str,
            pub pattern: String,
            pub permission: Permission,
        }

        #[derive(Debug, Clone)]
        pub struct Role {
            pub workspace: &'static str,
            pub rows: Vec<Row>,
        }

        fn rank(p: Permission) -> i32 {
            match p {
                Permission::Deny => -1,
                Permission::NoPermissions => 0,
                Permission::Read => 1,
                Permission::Use => 2,
                Permission::Edit => 3,
                Permission::Manage => 4,
            }
        }

        /// `held` indexes `roles`; `chain` is `(type, id)` pairs, own key first.
        pub fn permission(
            is_admin: bool,
            roles: &[Role],
            held: &[usize],
            chain: &[(&'static str, String)],
            default: Permission,
        ) -> Permission {
            if is_admin {
                return Permission::Manage;
            }
            let mut counted: Vec<&Row> = Vec::new();
            for &index in held {
                if roles[index].workspace == "default" {
                    counted.extend(roles[index].rows.iter());
                }
            }
            for row in &counted {
                if row.resource_type == "workspace"
                    && row.pattern == "*"
                    && row.permission == Permission::Manage
                {
                    return Permission::Manage;
                }
            }
            for (resource_type, id) in chain {
                let mut found = false;
                let mut denied = false;
                let mut best = Permission::NoPermissions;
                for row in &counted {
                    if row.resource_type == *resource_type
                        && (row.pattern == "*" || row.pattern == *id)
                    {
                        if !found || rank(row.permission) > rank(best) {
                            best = row.permission;
                        }
                        found = true;
                        denied |= row.permission == Permission::Deny;
                    }
                }
                if !found {
                    continue;
                }
                if denied {
                    return Permission::Deny;
                }
                if rank(best) > 0 && rank(default) > rank(best) {
                    return default;
                }
                return best;
            }
            default
        }
    }

    /// The implementation's path: what the store would return for the held roles
    /// in `default`, combined by [`effective_permission`].
    fn implementation(
        is_admin: bool,
        roles: &[reference::Role],
        held: &[usize],
        chain: &[(&'static str, String)],
        default: Permission,
    ) -> Permission {
        let keys: Vec<GrantKey> = chain
            .iter()
            .map(|(t, id)| GrantKey::new(ResourceType::parse(t).expect("type"), id.clone()))
            .collect();
        let rows: Vec<(&str, &str, Permission)> = held
            .iter()
            .map(|&i| &roles[i])
            .filter(|role| role.workspace == "default")
            .flat_map(|role| role.rows.iter())
            .map(|row| (row.resource_type, row.pattern.as_str(), row.permission))
            .collect();
        let resolution = Resolution::over_rows(&keys, rows.iter().copied());
        effective_permission(
            &principal(is_admin),
            resolution.standing(0..keys.len()),
            default,
        )
    }

    fn row(resource_type: &'static str, pattern: &str, permission: Permission) -> reference::Row {
        reference::Row {
            resource_type,
            pattern: pattern.to_owned(),
            permission,
        }
    }

    fn role(workspace: &'static str, rows: Vec<reference::Row>) -> reference::Role {
        reference::Role { workspace, rows }
    }

    fn key(resource_type: &'static str, id: &str) -> (&'static str, String) {
        (resource_type, id.to_owned())
    }

    /// Both models must give `expected`.
    fn check(
        roles: &[reference::Role],
        chain: &[(&'static str, String)],
        default: Permission,
        expected: Permission,
    ) {
        let held: Vec<usize> = (0..roles.len()).collect();
        assert_eq!(
            reference::permission(false, roles, &held, chain, default),
            expected,
            "reference"
        );
        assert_eq!(
            implementation(false, roles, &held, chain, default),
            expected,
            "implementation"
        );
    }

    use Permission::{Deny, Edit, Manage, NoPermissions, Read, Use};

    #[test]
    fn mlflows_observed_examples() {
        // Role USE on experiment/* plus per-user READ on experiment/0 resolves to USE.
        let roles = vec![
            role("default", vec![row("experiment", "*", Use)]),
            role("default", vec![row("experiment", "0", Read)]),
        ];
        check(&roles, &[key("experiment", "0")], NoPermissions, Use);
        // Adding per-user DENY on experiment/1 resolves that key to DENY.
        let roles = vec![
            role("default", vec![row("experiment", "*", Use)]),
            role(
                "default",
                vec![row("experiment", "0", Read), row("experiment", "1", Deny)],
            ),
        ];
        check(&roles, &[key("experiment", "1")], NoPermissions, Deny);
        check(&roles, &[key("experiment", "0")], NoPermissions, Use);
    }

    #[test]
    fn a_wildcard_deny_beats_a_per_id_manage_and_no_default_lifts_it() {
        let roles = vec![
            role("default", vec![row("experiment", "*", Deny)]),
            role("default", vec![row("experiment", "3", Manage)]),
        ];
        for default in [NoPermissions, Read, Manage] {
            check(&roles, &[key("experiment", "3")], default, Deny);
        }
    }

    #[test]
    fn the_first_key_holding_a_row_decides_the_chain() {
        // (run, *, EDIT) with experiment MANAGE cannot delete runs.
        let roles = vec![role(
            "default",
            vec![row("run", "*", Edit), row("experiment", "1", Manage)],
        )];
        let chain = [key("run", "*"), key("experiment", "1")];
        check(&roles, &chain, NoPermissions, Edit);
        // Without a run row the experiment decides.
        let roles = vec![role("default", vec![row("experiment", "1", Manage)])];
        check(&roles, &chain, NoPermissions, Manage);
        // A DENY on the fallback is not consulted when the own key holds a row...
        let roles = vec![role(
            "default",
            vec![row("run", "*", Read), row("experiment", "1", Deny)],
        )];
        check(&roles, &chain, NoPermissions, Read);
        // ...and a fallback never rescues a DENY on the own key.
        let roles = vec![role(
            "default",
            vec![row("run", "*", Deny), row("experiment", "1", Manage)],
        )];
        check(&roles, &chain, NoPermissions, Deny);
        // No row on any key: the default.
        check(&[], &chain, Use, Use);
    }

    #[test]
    fn a_positive_level_is_floored_to_the_default() {
        let roles = vec![role("default", vec![row("experiment", "1", Read)])];
        check(&roles, &[key("experiment", "1")], Edit, Edit);
        check(&roles, &[key("experiment", "1")], NoPermissions, Read);
        let roles = vec![role("default", vec![row("experiment", "1", Manage)])];
        check(&roles, &[key("experiment", "1")], Read, Manage);
    }

    #[test]
    fn a_workspace_admin_manages_everything_even_denied() {
        let roles = vec![
            role("default", vec![row("workspace", "*", Manage)]),
            role("default", vec![row("experiment", "*", Deny)]),
        ];
        check(&roles, &[key("experiment", "1")], NoPermissions, Manage);
        // USE on the workspace does not count for point checks.
        let roles = vec![role("default", vec![row("workspace", "*", Use)])];
        check(
            &roles,
            &[key("experiment", "1")],
            NoPermissions,
            NoPermissions,
        );
        // Only roles in `default` count while workspaces are off.
        let roles = vec![role("team-a", vec![row("workspace", "*", Manage)])];
        check(&roles, &[key("experiment", "1")], Read, Read);
        let roles = vec![role("team-a", vec![row("experiment", "1", Deny)])];
        check(&roles, &[key("experiment", "1")], Read, Read);
    }

    #[test]
    fn admins_have_manage_whatever_is_stored() {
        let roles = vec![role("default", vec![row("experiment", "*", Deny)])];
        let chain = [key("experiment", "1")];
        assert_eq!(
            reference::permission(true, &roles, &[0], &chain, NoPermissions),
            Manage
        );
        assert_eq!(
            implementation(true, &roles, &[0], &chain, NoPermissions),
            Manage
        );
        assert_eq!(
            effective_permission(&principal(true), Standing::NONE, Deny),
            Manage
        );
    }

    #[test]
    fn resolve_rows_is_none_deny_or_the_highest() {
        assert_eq!(resolve_rows([]), None);
        assert_eq!(resolve_rows([Read, Manage, Use]), Some(Manage));
        assert_eq!(resolve_rows([Manage, Deny, Edit]), Some(Deny));
    }

    const TYPES: [&str; 4] = ["experiment", "registered_model", "run", "workspace"];
    const IDS: [&str; 3] = ["*", "1", "2"];

    fn any_permission() -> impl Strategy<Value = Permission> {
        prop::sample::select(Permission::ALL.to_vec())
    }

    fn any_default() -> impl Strategy<Value = Permission> {
        prop::sample::select(vec![NoPermissions, Read, Use, Edit, Manage])
    }

    fn any_capability() -> impl Strategy<Value = Capability> {
        prop::sample::select(Capability::ALL.to_vec())
    }

    fn any_row() -> impl Strategy<Value = reference::Row> {
        (
            prop::sample::select(TYPES.to_vec()),
            prop::sample::select(IDS.to_vec()),
            // What a store can hold: NO_PERMISSIONS is never grantable.
            prop::sample::select(vec![Deny, Read, Use, Edit, Manage]),
        )
            .prop_map(|(t, id, p)| row(t, id, p))
    }

    fn any_roles() -> impl Strategy<Value = Vec<reference::Role>> {
        prop::collection::vec(
            (
                prop::sample::select(vec!["default", "default", "team-a"]),
                prop::collection::vec(any_row(), 0..4),
            )
                .prop_map(|(workspace, rows)| role(workspace, rows)),
            0..4,
        )
    }

    fn any_chain() -> impl Strategy<Value = Vec<(&'static str, String)>> {
        prop::collection::vec(
            (
                prop::sample::select(TYPES[..3].to_vec()),
                prop::sample::select(IDS.to_vec()),
            )
                .prop_map(|(t, id)| key(t, id)),
            1..4,
        )
    }

    fn standing(levels: &[Option<Permission>]) -> Standing<'_> {
        Standing {
            workspace_admin: false,
            chain: levels,
        }
    }

    proptest! {
        #[test]
        fn implementation_agrees_with_the_reference(
            roles in any_roles(),
            held in prop::collection::vec(0usize..4, 0..4),
            chain in any_chain(),
            default in any_default(),
            is_admin in any::<bool>(),
        ) {
            let held: Vec<usize> = held.into_iter().filter(|&i| i < roles.len()).collect();
            prop_assert_eq!(
                implementation(is_admin, &roles, &held, &chain, default),
                reference::permission(is_admin, &roles, &held, &chain, default)
            );
        }

        #[test]
        fn admin_is_never_denied(chain in prop::collection::vec(proptest::option::of(any_permission()), 0..4),
                                 workspace_admin in any::<bool>(),
                                 default in any_permission(),
                                 capability in any_capability()) {
            let standing = Standing { workspace_admin, chain: &chain };
            prop_assert_eq!(decide(&principal(true), standing, default, capability), Decision::Allow);
        }

        #[test]
        fn a_deny_deciding_the_chain_always_denies_a_non_admin(
            before in 0usize..3,
            after in prop::collection::vec(proptest::option::of(any_permission()), 0..3),
            default in any_permission(),
            capability in any_capability(),
        ) {
            let mut chain = vec![None; before];
            chain.push(Some(Deny));
            chain.extend(after);
            prop_assert_eq!(
                decide(&principal(false), standing(&chain), default, capability),
                Decision::Deny
            );
        }

        #[test]
        fn a_level_never_gives_less_than_the_default_unless_it_is_a_denial(
            level in any_permission(),
            default in any_default(),
        ) {
            let got = effective_permission(&principal(false), standing(&[Some(level)]), default);
            if level.is_positive() {
                prop_assert_eq!(got, level.max(default));
            } else {
                prop_assert_eq!(got, level);
            }
        }

        #[test]
        fn granting_more_never_removes_access(a in any_permission(), b in any_permission(),
                                              default in any_default(),
                                              capability in any_capability()) {
            let (low, high) = if a <= b { (a, b) } else { (b, a) };
            let user = principal(false);
            if decide(&user, standing(&[Some(low)]), default, capability) == Decision::Allow {
                prop_assert_eq!(decide(&user, standing(&[Some(high)]), default, capability), Decision::Allow);
            }
        }

        #[test]
        fn without_a_row_the_default_decides(len in 0usize..4,
                                              default in any_permission(),
                                              capability in any_capability()) {
            let chain = vec![None; len];
            let expected = if default.allows(capability) { Decision::Allow } else { Decision::Deny };
            prop_assert_eq!(decide(&principal(false), standing(&chain), default, capability), expected);
        }
    }
}
