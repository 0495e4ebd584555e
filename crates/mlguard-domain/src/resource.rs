use std::fmt;

use crate::names::{ExperimentId, ModelName, OpaqueId};

/// The kinds of resource a grant can name. Stored by [`ResourceKind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    Experiment,
    RegisteredModel,
    Scorer,
    GatewaySecret,
    GatewayEndpoint,
    GatewayModelDefinition,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 6] = [
        ResourceKind::Experiment,
        ResourceKind::RegisteredModel,
        ResourceKind::Scorer,
        ResourceKind::GatewaySecret,
        ResourceKind::GatewayEndpoint,
        ResourceKind::GatewayModelDefinition,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Experiment => "experiment",
            ResourceKind::RegisteredModel => "registered_model",
            ResourceKind::Scorer => "scorer",
            ResourceKind::GatewaySecret => "gateway_secret",
            ResourceKind::GatewayEndpoint => "gateway_endpoint",
            ResourceKind::GatewayModelDefinition => "gateway_model_definition",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
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
    /// A scorer is named within its experiment.
    Scorer {
        experiment_id: ExperimentId,
        name: OpaqueId,
    },
    GatewaySecret(OpaqueId),
    GatewayEndpoint(OpaqueId),
    GatewayModelDefinition(OpaqueId),
}

impl Resource {
    pub fn kind(&self) -> ResourceKind {
        match self {
            Resource::Experiment(_) => ResourceKind::Experiment,
            Resource::RegisteredModel(_) => ResourceKind::RegisteredModel,
            Resource::Scorer { .. } => ResourceKind::Scorer,
            Resource::GatewaySecret(_) => ResourceKind::GatewaySecret,
            Resource::GatewayEndpoint(_) => ResourceKind::GatewayEndpoint,
            Resource::GatewayModelDefinition(_) => ResourceKind::GatewayModelDefinition,
        }
    }

    /// The key under which the resource is stored, unique within its kind. A
    /// scorer's is `<experiment_id>/<name>`: the id has no `/`, so it splits back.
    pub fn key(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Resource::Experiment(id) => id.as_str().into(),
            Resource::RegisteredModel(name) => name.as_str().into(),
            Resource::Scorer {
                experiment_id,
                name,
            } => format!("{experiment_id}/{name}").into(),
            Resource::GatewaySecret(id)
            | Resource::GatewayEndpoint(id)
            | Resource::GatewayModelDefinition(id) => id.as_str().into(),
        }
    }

    /// Rebuilds a resource from its stored form; `None` if the row is not valid.
    pub fn from_stored(kind: &str, key: &str) -> Option<Self> {
        match ResourceKind::parse(kind)? {
            ResourceKind::Experiment => ExperimentId::parse(key).ok().map(Resource::Experiment),
            ResourceKind::RegisteredModel => {
                ModelName::parse(key).ok().map(Resource::RegisteredModel)
            }
            ResourceKind::Scorer => {
                let (experiment_id, name) = key.split_once('/')?;
                Some(Resource::Scorer {
                    experiment_id: ExperimentId::parse(experiment_id).ok()?,
                    name: OpaqueId::parse(name).ok()?,
                })
            }
            ResourceKind::GatewaySecret => OpaqueId::parse(key).ok().map(Resource::GatewaySecret),
            ResourceKind::GatewayEndpoint => {
                OpaqueId::parse(key).ok().map(Resource::GatewayEndpoint)
            }
            ResourceKind::GatewayModelDefinition => OpaqueId::parse(key)
                .ok()
                .map(Resource::GatewayModelDefinition),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resource_round_trips_through_its_stored_form() {
        let id = |s: &str| OpaqueId::parse(s).expect("valid id");
        let resources = [
            Resource::Experiment(ExperimentId::parse("12").expect("id")),
            Resource::RegisteredModel(ModelName::parse("a/b model").expect("name")),
            Resource::Scorer {
                experiment_id: ExperimentId::parse("3").expect("id"),
                name: id("my/scorer"),
            },
            Resource::GatewaySecret(id("s-1")),
            Resource::GatewayEndpoint(id("e-1")),
            Resource::GatewayModelDefinition(id("d-1")),
        ];
        for resource in resources {
            let back = Resource::from_stored(resource.kind().as_str(), &resource.key());
            assert_eq!(back.as_ref(), Some(&resource));
        }
        assert_eq!(Resource::from_stored("experiment", "01"), None);
        assert_eq!(Resource::from_stored("scorer", "nослеш"), None);
        assert_eq!(Resource::from_stored("workspace", "x"), None);
    }
}
