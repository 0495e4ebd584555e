//! MLflow 3.17's grant vocabulary: resource types, the `*`-or-id pattern of a
//! grant row, the validated row content ([`GrantRule`]), and the keys a check
//! looks up ([`GrantKey`], in an ordered [`KeyChain`]).

use std::fmt;

use crate::permission::Permission;

/// Every resource type a 3.17 grant row can name (MLflow 3.17.2's eighteen, plus
/// `skill` from 3.18.0). Stored by [`ResourceType::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceType {
    Assessment,
    Experiment,
    GatewayEndpoint,
    GatewayModelDefinition,
    GatewaySecret,
    LoggedModel,
    McpServer,
    McpServerVersion,
    Prompt,
    PromptVersion,
    RegisteredModel,
    RegisteredModelVersion,
    ReviewQueue,
    Run,
    Scorer,
    ScorerVersion,
    Skill,
    Trace,
    Workspace,
}

impl ResourceType {
    /// In the sorted order of MLflow's list of valid types.
    pub const ALL: [ResourceType; 19] = [
        ResourceType::Assessment,
        ResourceType::Experiment,
        ResourceType::GatewayEndpoint,
        ResourceType::GatewayModelDefinition,
        ResourceType::GatewaySecret,
        ResourceType::LoggedModel,
        ResourceType::McpServer,
        ResourceType::McpServerVersion,
        ResourceType::Prompt,
        ResourceType::PromptVersion,
        ResourceType::RegisteredModel,
        ResourceType::RegisteredModelVersion,
        ResourceType::ReviewQueue,
        ResourceType::Run,
        ResourceType::Scorer,
        ResourceType::ScorerVersion,
        ResourceType::Skill,
        ResourceType::Trace,
        ResourceType::Workspace,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ResourceType::Assessment => "assessment",
            ResourceType::Experiment => "experiment",
            ResourceType::GatewayEndpoint => "gateway_endpoint",
            ResourceType::GatewayModelDefinition => "gateway_model_definition",
            ResourceType::GatewaySecret => "gateway_secret",
            ResourceType::LoggedModel => "logged_model",
            ResourceType::McpServer => "mcp_server",
            ResourceType::McpServerVersion => "mcp_server_version",
            ResourceType::Prompt => "prompt",
            ResourceType::PromptVersion => "prompt_version",
            ResourceType::RegisteredModel => "registered_model",
            ResourceType::RegisteredModelVersion => "registered_model_version",
            ResourceType::ReviewQueue => "review_queue",
            ResourceType::Run => "run",
            ResourceType::Scorer => "scorer",
            ResourceType::ScorerVersion => "scorer_version",
            ResourceType::Skill => "skill",
            ResourceType::Trace => "trace",
            ResourceType::Workspace => "workspace",
        }
    }

    /// MLflow's 400 for a name that is not a type.
    pub fn parse(raw: &str) -> Result<Self, GrantRuleError> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == raw)
            .ok_or_else(|| GrantRuleError::UnknownType(raw.to_owned()))
    }

    /// Whether a row may name one resource of this type, not only `*`.
    pub const fn takes_ids(self) -> bool {
        matches!(
            self,
            ResourceType::Experiment
                | ResourceType::RegisteredModel
                | ResourceType::Prompt
                | ResourceType::Scorer
                | ResourceType::GatewaySecret
                | ResourceType::GatewayEndpoint
                | ResourceType::GatewayModelDefinition
                | ResourceType::McpServer
                | ResourceType::Skill
        )
    }

    /// The levels a row of this type may carry.
    pub fn grantable(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            ResourceType::Workspace => &[Manage, Use],
            _ => &[Deny, Edit, Manage, Read, Use],
        }
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a grant row was refused. The texts are MLflow 3.17.2's where it has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantRuleError {
    #[error("Invalid resource type '{0}'. Valid resource types are: ({types})", types = quoted_list(ResourceType::ALL.iter().map(|t| t.as_str())))]
    UnknownType(String),
    #[error(
        "Invalid resource_pattern '{pattern}' for resource_type='{resource_type}'. This resource type supports only wildcard ('*') grants."
    )]
    WildcardOnly {
        resource_type: ResourceType,
        pattern: String,
    },
    /// Not MLflow's: it stores any string; mlguard refuses what no id can be.
    #[error(
        "Invalid resource_pattern for resource_type='{resource_type}': an id must be 1 to {max} characters with no control characters.",
        max = ResourcePattern::MAX_CHARS
    )]
    InvalidId { resource_type: ResourceType },
    /// A skill is `<organization>/<name>` or `<name>` (MLflow 3.18.0).
    #[error(
        "Invalid resource_pattern '{0}' for resource_type='skill'. Expected '<organization>/<name>' or '<name>'."
    )]
    InvalidSkill(String),
    #[error(
        "Invalid permission '{permission}' for resource_type='workspace'. Workspace-wide grants accept only: ({allowed}).",
        allowed = quoted_list(ResourceType::Workspace.grantable().iter().map(|p| p.as_str()))
    )]
    NotWorkspaceGrantable { permission: Permission },
    #[error(
        "Invalid permission '{permission}' for resource_type='{resource_type}'. Resource-level grants accept only: ({allowed}).",
        allowed = quoted_list(ResourceType::Experiment.grantable().iter().map(|p| p.as_str()))
    )]
    NotGrantable {
        resource_type: ResourceType,
        permission: Permission,
    },
    #[error(
        "resource_type 'workspace' is not supported by the per-user permission convenience APIs. Use set_workspace_permission / delete_workspace_permission for workspace-wide grants."
    )]
    WorkspaceNotPerUser,
}

/// Python's rendering of a tuple of strings: `'a', 'b'`.
fn quoted_list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items
        .map(|item| format!("'{item}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a grant row applies to: every resource of its type, or one by id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourcePattern {
    Wildcard,
    Id(String),
}

impl ResourcePattern {
    pub const WILDCARD: &'static str = "*";
    pub const MAX_CHARS: usize = 1024;

    /// A pattern for `resource_type`, checked as MLflow checks it (plus the bounds
    /// of [`GrantRuleError::InvalidId`]).
    pub fn parse(resource_type: ResourceType, raw: &str) -> Result<Self, GrantRuleError> {
        if raw == Self::WILDCARD {
            return Ok(ResourcePattern::Wildcard);
        }
        if !resource_type.takes_ids() {
            return Err(GrantRuleError::WildcardOnly {
                resource_type,
                pattern: raw.chars().take(Self::MAX_CHARS).collect(),
            });
        }
        if raw.is_empty()
            || raw.chars().count() > Self::MAX_CHARS
            || raw.chars().any(char::is_control)
        {
            return Err(GrantRuleError::InvalidId { resource_type });
        }
        if resource_type == ResourceType::Skill {
            let valid = match raw.split_once('/') {
                None => true,
                Some((organization, name)) => {
                    !organization.is_empty() && !name.is_empty() && !name.contains('/')
                }
            };
            if !valid {
                return Err(GrantRuleError::InvalidSkill(raw.to_owned()));
            }
        }
        Ok(ResourcePattern::Id(raw.to_owned()))
    }

    /// A pattern read back from the store, as written (no rule is re-applied).
    pub fn from_stored(raw: &str) -> Self {
        if raw == Self::WILDCARD {
            ResourcePattern::Wildcard
        } else {
            ResourcePattern::Id(raw.to_owned())
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            ResourcePattern::Wildcard => Self::WILDCARD,
            ResourcePattern::Id(id) => id,
        }
    }

    pub fn is_wildcard(&self) -> bool {
        matches!(self, ResourcePattern::Wildcard)
    }
}

impl fmt::Display for ResourcePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The content of one grant row, valid for its type: what `roles/permissions/add`
/// and `users/permissions/grant` accept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GrantRule {
    resource_type: ResourceType,
    pattern: ResourcePattern,
    permission: Permission,
}

impl GrantRule {
    /// Checks the pattern against the type, then the level against the type.
    pub fn new(
        resource_type: ResourceType,
        pattern: &str,
        permission: Permission,
    ) -> Result<Self, GrantRuleError> {
        let pattern = ResourcePattern::parse(resource_type, pattern)?;
        check_grantable(resource_type, permission)?;
        Ok(GrantRule {
            resource_type,
            pattern,
            permission,
        })
    }

    pub fn resource_type(&self) -> ResourceType {
        self.resource_type
    }

    pub fn pattern(&self) -> &ResourcePattern {
        &self.pattern
    }

    pub fn permission(&self) -> Permission {
        self.permission
    }
}

/// Whether a row of `resource_type` may carry `permission` (also what
/// `roles/permissions/update` checks against the row's type).
pub fn check_grantable(
    resource_type: ResourceType,
    permission: Permission,
) -> Result<(), GrantRuleError> {
    if resource_type.grantable().contains(&permission) {
        Ok(())
    } else if resource_type == ResourceType::Workspace {
        Err(GrantRuleError::NotWorkspaceGrantable { permission })
    } else {
        Err(GrantRuleError::NotGrantable {
            resource_type,
            permission,
        })
    }
}

/// One key a check looks up: rows of its type whose pattern is `*` or its id match.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GrantKey {
    pub resource_type: ResourceType,
    /// An id, or `*` to resolve only the wildcard rows.
    pub id: ResourcePattern,
}

impl GrantKey {
    pub fn new(resource_type: ResourceType, id: impl Into<String>) -> Self {
        GrantKey {
            resource_type,
            id: ResourcePattern::from_stored(&id.into()),
        }
    }

    /// The key of a wildcard-only tier such as `run/*`.
    pub fn wildcard(resource_type: ResourceType) -> Self {
        GrantKey {
            resource_type,
            id: ResourcePattern::Wildcard,
        }
    }

    /// Whether a stored row `(resource_type, pattern)` is one of this key's.
    pub fn matches(&self, resource_type: &str, pattern: &str) -> bool {
        resource_type == self.resource_type.as_str()
            && (pattern == ResourcePattern::WILDCARD || pattern == self.id.as_str())
    }
}

impl fmt::Display for GrantKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.resource_type, self.id)
    }
}

/// The keys one operation is decided on, in order: its own key, then its
/// fallbacks. Never empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyChain(Vec<GrantKey>);

impl KeyChain {
    pub fn new(own: GrantKey) -> Self {
        KeyChain(vec![own])
    }

    /// Adds a fallback, consulted only when no earlier key holds a row.
    #[must_use]
    pub fn then(mut self, fallback: GrantKey) -> Self {
        self.0.push(fallback);
        self
    }

    pub fn keys(&self) -> &[GrantKey] {
        &self.0
    }

    /// The operation's own key.
    pub fn own(&self) -> &GrantKey {
        &self.0[0]
    }
}

impl From<GrantKey> for KeyChain {
    fn from(key: GrantKey) -> Self {
        KeyChain::new(key)
    }
}

/// Whether a stored row makes its holders workspace admins: `(workspace, *, MANAGE)`.
pub fn is_workspace_admin_row(resource_type: &str, pattern: &str, permission: Permission) -> bool {
    resource_type == ResourceType::Workspace.as_str()
        && pattern == ResourcePattern::WILDCARD
        && permission == Permission::Manage
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_round_trip_and_unknown_ones_get_mlflows_text() {
        for t in ResourceType::ALL {
            assert_eq!(ResourceType::parse(t.as_str()), Ok(t));
        }
        let sorted: Vec<&str> = ResourceType::ALL.iter().map(|t| t.as_str()).collect();
        let mut resorted = sorted.clone();
        resorted.sort_unstable();
        assert_eq!(sorted, resorted, "listed in MLflow's sorted order");
        assert_eq!(
            ResourceType::parse("model").unwrap_err().to_string(),
            "Invalid resource type 'model'. Valid resource types are: ('assessment', \
             'experiment', 'gateway_endpoint', 'gateway_model_definition', 'gateway_secret', \
             'logged_model', 'mcp_server', 'mcp_server_version', 'prompt', 'prompt_version', \
             'registered_model', 'registered_model_version', 'review_queue', 'run', 'scorer', \
             'scorer_version', 'skill', 'trace', 'workspace')"
        );
        assert!(ResourceType::parse("Experiment").is_err());
    }

    #[test]
    fn wildcard_only_types_refuse_ids_with_mlflows_text() {
        let wildcard_only = [
            "run",
            "trace",
            "assessment",
            "logged_model",
            "review_queue",
            "registered_model_version",
            "prompt_version",
            "scorer_version",
            "mcp_server_version",
            "workspace",
        ];
        for raw in wildcard_only {
            let t = ResourceType::parse(raw).expect("type");
            assert!(!t.takes_ids(), "{raw}");
            assert_eq!(
                ResourcePattern::parse(t, "*"),
                Ok(ResourcePattern::Wildcard)
            );
        }
        assert_eq!(
            ResourcePattern::parse(ResourceType::Run, "abc")
                .unwrap_err()
                .to_string(),
            "Invalid resource_pattern 'abc' for resource_type='run'. This resource type \
             supports only wildcard ('*') grants."
        );
        let with_ids = ResourceType::ALL.iter().filter(|t| t.takes_ids()).count();
        assert_eq!(with_ids + wildcard_only.len(), ResourceType::ALL.len());
    }

    #[test]
    fn ids_are_bounded_and_skills_have_mlflows_shape() {
        assert_eq!(
            ResourcePattern::parse(ResourceType::Experiment, "99999"),
            Ok(ResourcePattern::Id("99999".into()))
        );
        for bad in ["", "a\nb", &"x".repeat(ResourcePattern::MAX_CHARS + 1)] {
            assert_eq!(
                ResourcePattern::parse(ResourceType::Experiment, bad),
                Err(GrantRuleError::InvalidId {
                    resource_type: ResourceType::Experiment
                })
            );
        }
        for ok in ["my-skill", "acme/my-skill"] {
            assert!(
                ResourcePattern::parse(ResourceType::Skill, ok).is_ok(),
                "{ok}"
            );
        }
        for bad in ["/x", "x/", "a/b/c"] {
            assert_eq!(
                ResourcePattern::parse(ResourceType::Skill, bad),
                Err(GrantRuleError::InvalidSkill(bad.into()))
            );
        }
        // Scorer ids are stored as sent (MLflow checks their shape in the API only).
        assert!(ResourcePattern::parse(ResourceType::Scorer, "no-slash").is_ok());
    }

    #[test]
    fn levels_are_checked_against_the_type_with_mlflows_texts() {
        assert_eq!(
            GrantRule::new(ResourceType::Experiment, "1", Permission::NoPermissions)
                .unwrap_err()
                .to_string(),
            "Invalid permission 'NO_PERMISSIONS' for resource_type='experiment'. \
             Resource-level grants accept only: ('DENY', 'EDIT', 'MANAGE', 'READ', 'USE')."
        );
        assert_eq!(
            GrantRule::new(ResourceType::Workspace, "*", Permission::Read)
                .unwrap_err()
                .to_string(),
            "Invalid permission 'READ' for resource_type='workspace'. Workspace-wide grants \
             accept only: ('MANAGE', 'USE')."
        );
        for t in ResourceType::ALL {
            for p in Permission::ALL {
                let expected = match t {
                    ResourceType::Workspace => matches!(p, Permission::Use | Permission::Manage),
                    _ => p != Permission::NoPermissions,
                };
                assert_eq!(GrantRule::new(t, "*", p).is_ok(), expected, "{t} {p}");
            }
        }
        // The pattern is checked before the level.
        assert!(matches!(
            GrantRule::new(ResourceType::Run, "abc", Permission::NoPermissions),
            Err(GrantRuleError::WildcardOnly { .. })
        ));
    }

    #[test]
    fn a_key_matches_its_wildcard_and_its_own_id_only() {
        let key = GrantKey::new(ResourceType::Experiment, "1");
        assert!(key.matches("experiment", "1"));
        assert!(key.matches("experiment", "*"));
        assert!(!key.matches("experiment", "10"));
        assert!(!key.matches("registered_model", "1"));
        assert!(!key.matches("registered_model", "*"));
        let wildcard = GrantKey::wildcard(ResourceType::Run);
        assert!(wildcard.matches("run", "*"));
        assert!(!wildcard.matches("run", "abc"));
        let chain = KeyChain::new(GrantKey::wildcard(ResourceType::Run)).then(key.clone());
        assert_eq!(chain.own(), &GrantKey::wildcard(ResourceType::Run));
        assert_eq!(chain.keys().len(), 2);
        assert!(is_workspace_admin_row("workspace", "*", Permission::Manage));
        assert!(!is_workspace_admin_row("workspace", "*", Permission::Use));
        assert!(!is_workspace_admin_row(
            "experiment",
            "*",
            Permission::Manage
        ));
    }
}
