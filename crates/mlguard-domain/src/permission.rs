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

/// A permission level, as MLflow names it on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    Read,
    Use,
    Edit,
    Manage,
    NoPermissions,
}

impl Permission {
    pub const ALL: [Permission; 5] = [
        Permission::Read,
        Permission::Use,
        Permission::Edit,
        Permission::Manage,
        Permission::NoPermissions,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "READ",
            Permission::Use => "USE",
            Permission::Edit => "EDIT",
            Permission::Manage => "MANAGE",
            Permission::NoPermissions => "NO_PERMISSIONS",
        }
    }

    /// Whether this level grants `capability` (the table in DESIGN.md).
    pub const fn allows(self, capability: Capability) -> bool {
        match self {
            Permission::NoPermissions => false,
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

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A permission name that is not one of MLflow's five. The message is MLflow's own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Invalid permission '{0}'. Valid permissions are: ('READ', 'USE', 'EDIT', 'MANAGE', 'NO_PERMISSIONS')"
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
        let expected: [(Permission, &[Capability]); 5] = [
            (Permission::Read, &[Read]),
            (Permission::Use, &[Read, Use]),
            (Permission::Edit, &[Read, Use, Update]),
            (Permission::Manage, &[Read, Use, Update, Delete, Manage]),
            (Permission::NoPermissions, &[]),
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
    fn parses_exact_names_only() {
        for p in Permission::ALL {
            assert_eq!(p.as_str().parse::<Permission>(), Ok(p));
        }
        for bad in ["read", "WRITE", "", " READ", "MANAGE "] {
            let err = bad.parse::<Permission>().unwrap_err();
            assert!(
                err.to_string()
                    .starts_with(&format!("Invalid permission '{bad}'"))
            );
        }
    }
}
