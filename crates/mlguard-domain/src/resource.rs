use std::fmt;

use crate::grant_key::{GrantKey, KeyChain, ResourcePattern, ResourceType};
use crate::names::{ExperimentId, ModelName, OpaqueId};

/// The kinds of resource a grant names by id; each is a 3.17 resource type of the
/// same name. The 3.10 API names all but `Prompt`, which it calls a registered model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    Experiment,
    RegisteredModel,
    Prompt,
    Scorer,
    GatewaySecret,
    GatewayEndpoint,
    GatewayModelDefinition,
    McpServer,
    Skill,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 9] = [
        ResourceKind::Experiment,
        ResourceKind::RegisteredModel,
        ResourceKind::Prompt,
        ResourceKind::Scorer,
        ResourceKind::GatewaySecret,
        ResourceKind::GatewayEndpoint,
        ResourceKind::GatewayModelDefinition,
        ResourceKind::McpServer,
        ResourceKind::Skill,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Experiment => "experiment",
            ResourceKind::RegisteredModel => "registered_model",
            ResourceKind::Prompt => "prompt",
            ResourceKind::Scorer => "scorer",
            ResourceKind::GatewaySecret => "gateway_secret",
            ResourceKind::GatewayEndpoint => "gateway_endpoint",
            ResourceKind::GatewayModelDefinition => "gateway_model_definition",
            ResourceKind::McpServer => "mcp_server",
            ResourceKind::Skill => "skill",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub const fn resource_type(self) -> ResourceType {
        match self {
            ResourceKind::Experiment => ResourceType::Experiment,
            ResourceKind::RegisteredModel => ResourceType::RegisteredModel,
            ResourceKind::Prompt => ResourceType::Prompt,
            ResourceKind::Scorer => ResourceType::Scorer,
            ResourceKind::GatewaySecret => ResourceType::GatewaySecret,
            ResourceKind::GatewayEndpoint => ResourceType::GatewayEndpoint,
            ResourceKind::GatewayModelDefinition => ResourceType::GatewayModelDefinition,
            ResourceKind::McpServer => ResourceType::McpServer,
            ResourceKind::Skill => ResourceType::Skill,
        }
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One concrete, validated resource a grant or a request can name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Resource {
    Experiment(ExperimentId),
    RegisteredModel(ModelName),
    /// A registered model whose stored tags say it is a prompt: MLflow 3.17 grants
    /// on it under its own type.
    Prompt(ModelName),
    /// A scorer is named within its experiment.
    Scorer {
        experiment_id: ExperimentId,
        name: OpaqueId,
    },
    GatewaySecret(OpaqueId),
    GatewayEndpoint(OpaqueId),
    GatewayModelDefinition(OpaqueId),
    /// An MCP server (MLflow 3.17), named `<namespace>/<slug>`.
    McpServer(OpaqueId),
    /// A skill (MLflow 3.18), `<organization>/<name>`, or `<name>` without one.
    Skill(OpaqueId),
}

impl Resource {
    pub fn kind(&self) -> ResourceKind {
        match self {
            Resource::Experiment(_) => ResourceKind::Experiment,
            Resource::RegisteredModel(_) => ResourceKind::RegisteredModel,
            Resource::Prompt(_) => ResourceKind::Prompt,
            Resource::Scorer { .. } => ResourceKind::Scorer,
            Resource::GatewaySecret(_) => ResourceKind::GatewaySecret,
            Resource::GatewayEndpoint(_) => ResourceKind::GatewayEndpoint,
            Resource::GatewayModelDefinition(_) => ResourceKind::GatewayModelDefinition,
            Resource::McpServer(_) => ResourceKind::McpServer,
            Resource::Skill(_) => ResourceKind::Skill,
        }
    }

    /// The resource's key within its kind, for messages and logs. A scorer's is
    /// `<experiment_id>/<name>`, its name as MLflow shows it.
    pub fn key(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Resource::Experiment(id) => id.as_str().into(),
            Resource::RegisteredModel(name) | Resource::Prompt(name) => name.as_str().into(),
            Resource::Scorer {
                experiment_id,
                name,
            } => format!("{experiment_id}/{name}").into(),
            Resource::GatewaySecret(id)
            | Resource::GatewayEndpoint(id)
            | Resource::GatewayModelDefinition(id)
            | Resource::McpServer(id)
            | Resource::Skill(id) => id.as_str().into(),
        }
    }

    /// The key a check on this resource looks up, and the pattern of a per-id row
    /// on it. A scorer's id is MLflow 3.17's `<experiment_id>/<url-quoted name>`,
    /// so a name holding `/` stays unambiguous. Never the wildcard: no name or id
    /// parses from a lone `*`.
    pub fn grant_key(&self) -> GrantKey {
        let id = match self {
            Resource::Scorer {
                experiment_id,
                name,
            } => format!("{experiment_id}/{}", quote(name.as_str())),
            other => other.key().into_owned(),
        };
        GrantKey::new(self.kind().resource_type(), id)
    }

    /// The resource whose [`Resource::grant_key`] is exactly `(resource_type,
    /// pattern)`; `None` for a wildcard, a type the 3.10 API does not name, or an
    /// id not in canonical form (such rows are not 3.10-visible).
    pub fn from_grant_key(resource_type: &str, pattern: &str) -> Option<Self> {
        if pattern == ResourcePattern::WILDCARD {
            return None;
        }
        let kind = ResourceKind::parse(resource_type)?;
        let resource = match kind {
            ResourceKind::Experiment => Resource::Experiment(ExperimentId::parse(pattern).ok()?),
            ResourceKind::RegisteredModel => {
                Resource::RegisteredModel(ModelName::parse(pattern).ok()?)
            }
            ResourceKind::Prompt => Resource::Prompt(ModelName::parse(pattern).ok()?),
            ResourceKind::Scorer => {
                let (experiment_id, quoted) = pattern.split_once('/')?;
                Resource::Scorer {
                    experiment_id: ExperimentId::parse(experiment_id).ok()?,
                    name: OpaqueId::parse(&unquote(quoted)?).ok()?,
                }
            }
            ResourceKind::GatewaySecret => Resource::GatewaySecret(OpaqueId::parse(pattern).ok()?),
            ResourceKind::GatewayEndpoint => {
                Resource::GatewayEndpoint(OpaqueId::parse(pattern).ok()?)
            }
            ResourceKind::GatewayModelDefinition => {
                Resource::GatewayModelDefinition(OpaqueId::parse(pattern).ok()?)
            }
            ResourceKind::McpServer => Resource::McpServer(OpaqueId::parse(pattern).ok()?),
            ResourceKind::Skill => Resource::Skill(OpaqueId::parse(pattern).ok()?),
        };
        (resource.grant_key().id.as_str() == pattern).then_some(resource)
    }
}

/// A check on one resource is decided on its own key. A prompt falls back to a
/// `registered_model` row on its name, which is how MLflow 3.10 and grants
/// imported from it (or made before prompts had a type) name it: the name is the
/// same object, as MLflow keeps one namespace for both.
impl From<&Resource> for KeyChain {
    fn from(resource: &Resource) -> Self {
        let chain = KeyChain::new(resource.grant_key());
        match resource {
            Resource::Prompt(name) => {
                chain.then(GrantKey::new(ResourceType::RegisteredModel, name.as_str()))
            }
            _ => chain,
        }
    }
}

impl From<Resource> for KeyChain {
    fn from(resource: Resource) -> Self {
        KeyChain::from(&resource)
    }
}

/// Python's `urllib.parse.quote(s, safe='')`: every byte but `A-Za-z0-9_.-~` as
/// `%XX` (upper-case hex) of its UTF-8 encoding.
fn quote(raw: &str) -> String {
    let mut quoted = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-' | b'~') {
            quoted.push(char::from(byte));
        } else {
            quoted.push_str(&format!("%{byte:02X}"));
        }
    }
    quoted
}

/// The inverse of [`quote`]; `None` for a bad escape or bytes that are not UTF-8.
fn unquote(quoted: &str) -> Option<String> {
    let bytes = quoted.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = quoted.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> OpaqueId {
        OpaqueId::parse(s).expect("valid id")
    }

    #[test]
    fn every_resource_round_trips_through_its_grant_key() {
        let resources = [
            Resource::Experiment(ExperimentId::parse("12").expect("id")),
            Resource::RegisteredModel(ModelName::parse("a/b model").expect("name")),
            Resource::Prompt(ModelName::parse("a/b prompt").expect("name")),
            Resource::Scorer {
                experiment_id: ExperimentId::parse("3").expect("id"),
                name: id("my/scorer é%"),
            },
            Resource::GatewaySecret(id("s-1")),
            Resource::GatewayEndpoint(id("e-1")),
            Resource::GatewayModelDefinition(id("d-1")),
            Resource::McpServer(id("team/search")),
            Resource::Skill(id("acme/lint")),
            Resource::Skill(id("lint")),
        ];
        for resource in resources {
            let key = resource.grant_key();
            assert_eq!(key.resource_type.as_str(), resource.kind().as_str());
            assert!(!key.id.is_wildcard());
            let back = Resource::from_grant_key(key.resource_type.as_str(), key.id.as_str());
            assert_eq!(back.as_ref(), Some(&resource));
        }
    }

    #[test]
    fn scorer_ids_are_url_quoted_as_mlflow_builds_them() {
        let scorer = Resource::Scorer {
            experiment_id: ExperimentId::parse("2").expect("id"),
            name: id("my scorer/v2~é"),
        };
        assert_eq!(scorer.grant_key().id.as_str(), "2/my%20scorer%2Fv2~%C3%A9");
        assert_eq!(scorer.key(), "2/my scorer/v2~é");
        let plain = Resource::Scorer {
            experiment_id: ExperimentId::parse("2").expect("id"),
            name: id("relevance_v1.2-x"),
        };
        assert_eq!(plain.grant_key().id.as_str(), "2/relevance_v1.2-x");
    }

    #[test]
    fn only_canonical_per_id_keys_name_a_resource() {
        for (resource_type, pattern) in [
            ("experiment", "01"),
            ("experiment", "*"),
            ("experiment", "abc"),
            ("scorer", "noslash"),
            ("scorer", "1/a b"),
            ("scorer", "1/a%2fb"),
            ("scorer", "1/%FF"),
            ("scorer", "1/%4"),
            ("workspace", "*"),
            ("prompt", "*"),
            ("prompt_version", "p"),
            ("dataset", "x"),
        ] {
            assert_eq!(
                Resource::from_grant_key(resource_type, pattern),
                None,
                "{resource_type} {pattern}"
            );
        }
        assert_eq!(
            Resource::from_grant_key("scorer", "1/a%2Fb"),
            Some(Resource::Scorer {
                experiment_id: ExperimentId::parse("1").expect("id"),
                name: id("a/b"),
            })
        );
    }

    #[test]
    fn a_resource_is_checked_on_its_own_key() {
        let resource = Resource::Experiment(ExperimentId::parse("7").expect("id"));
        let chain = KeyChain::from(&resource);
        assert_eq!(chain.keys(), [GrantKey::new(ResourceType::Experiment, "7")]);
    }

    #[test]
    fn a_prompt_falls_back_to_a_registered_model_row_on_its_name() {
        let prompt = Resource::Prompt(ModelName::parse("greeting").expect("name"));
        assert_eq!(
            KeyChain::from(&prompt).keys(),
            [
                GrantKey::new(ResourceType::Prompt, "greeting"),
                GrantKey::new(ResourceType::RegisteredModel, "greeting"),
            ]
        );
        let model = Resource::RegisteredModel(ModelName::parse("greeting").expect("name"));
        assert_eq!(
            KeyChain::from(&model).keys(),
            [GrantKey::new(ResourceType::RegisteredModel, "greeting")],
            "a registered model is never decided by a prompt row"
        );
    }
}
