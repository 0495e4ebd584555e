use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// What a caller wants to do with a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    Read,
    Use,
    Update,
    Delete,
    Manage,
}

impl Capability {
    pub const ALL: [Capability; 5] = [
        Capability::Read,
        Capability::Use,
        Capability::Update,
        Capability::Delete,
        Capability::Manage,
    ];
}

/// A permission level, as MLflow names it on the wire. Ordered by MLflow's
/// priority: DENY (-1) < NO_PERMISSIONS (0) < READ < USE < EDIT < MANAGE (4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// A grantable veto (MLflow 3.17): it beats every positive grant on its key.
    Deny,
    Read,
    Use,
    Edit,
    Manage,
    NoPermissions,
}

impl Permission {
    /// In the order of MLflow's own list of valid names.
    pub const ALL: [Permission; 6] = [
        Permission::Read,
        Permission::Use,
        Permission::Edit,
        Permission::Manage,
        Permission::NoPermissions,
        Permission::Deny,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Permission::Deny => "DENY",
            Permission::Read => "READ",
            Permission::Use => "USE",
            Permission::Edit => "EDIT",
            Permission::Manage => "MANAGE",
            Permission::NoPermissions => "NO_PERMISSIONS",
        }
    }

    /// MLflow's `priority`: what the highest of several grants is measured by.
    pub const fn priority(self) -> i8 {
        match self {
            Permission::Deny => -1,
            Permission::NoPermissions => 0,
            Permission::Read => 1,
            Permission::Use => 2,
            Permission::Edit => 3,
            Permission::Manage => 4,
        }
    }

    /// READ, USE, EDIT or MANAGE: a level that grants something.
    pub const fn is_positive(self) -> bool {
        self.priority() > 0
    }

    /// Whether this level grants `capability` (the table in DESIGN.md).
    pub const fn allows(self, capability: Capability) -> bool {
        match self {
            Permission::Deny | Permission::NoPermissions => false,
            Permission::Read => matches!(capability, Capability::Read),
            Permission::Use => matches!(capability, Capability::Read | Capability::Use),
            Permission::Edit => matches!(
                capability,
                Capability::Read | Capability::Use | Capability::Update
            ),
            Permission::Manage => true,
        }
    }
}

impl Ord for Permission {
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority().cmp(&other.priority())
    }
}

impl PartialOrd for Permission {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A permission name that is not one of MLflow's six. The message is MLflow 3.17's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Invalid permission '{0}'. Valid permissions are: ('READ', 'USE', 'EDIT', 'MANAGE', 'NO_PERMISSIONS', 'DENY')"
)]
pub struct UnknownPermission(pub String);

impl FromStr for Permission {
    type Err = UnknownPermission;

    /// Exact, case-sensitive match: MLflow rejects `read`, so do we.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Permission::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPermission(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_table_matches_design() {
        use Capability::*;
        let expected: [(Permission, &[Capability]); 6] = [
            (Permission::Read, &[Read]),
            (Permission::Use, &[Read, Use]),
            (Permission::Edit, &[Read, Use, Update]),
            (Permission::Manage, &[Read, Use, Update, Delete, Manage]),
            (Permission::NoPermissions, &[]),
            (Permission::Deny, &[]),
        ];
        for (permission, granted) in expected {
            for capability in Capability::ALL {
                assert_eq!(
                    permission.allows(capability),
                    granted.contains(&capability),
                    "{permission} / {capability:?}"
                );
            }
        }
    }

    #[test]
    fn levels_are_ordered_by_mlflow_priority() {
        use Permission::*;
        let ascending = [Deny, NoPermissions, Read, Use, Edit, Manage];
        for pair in ascending.windows(2) {
            assert!(pair[0] < pair[1], "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(Deny.priority(), -1);
        assert_eq!(Manage.priority(), 4);
        assert!(!Deny.is_positive() && !NoPermissions.is_positive() && Read.is_positive());
    }

    #[test]
    fn parses_exact_names_only() {
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>(), Ok(p));
        }
        for bad in ["read", "WRITE", "", " READ", "MANAGE ", "deny"] {
            let err = bad.parse::<Permission>().unwrap_err();
            assert!(
                err.to_string()
                    .starts_with(&format!("Invalid permission '{bad}'"))
            );
        }
        assert_eq!(
            "WRITE".parse::<Permission>().unwrap_err().to_string(),
            "Invalid permission 'WRITE'. Valid permissions are: \
             ('READ', 'USE', 'EDIT', 'MANAGE', 'NO_PERMISSIONS', 'DENY')"
        );
    }
}
