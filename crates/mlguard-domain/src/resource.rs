use std::fmt;

use crate::names::{ExperimentId, ModelName};

/// The kinds of resource a grant can name. Stored by [`ResourceKind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    Experiment,
    RegisteredModel,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 2] = [ResourceKind::Experiment, ResourceKind::RegisteredModel];

    pub const fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Experiment => "experiment",
            ResourceKind::RegisteredModel => "registered_model",
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
}

impl Resource {
    pub fn kind(&self) -> ResourceKind {
        match self {
            Resource::Experiment(_) => ResourceKind::Experiment,
            Resource::RegisteredModel(_) => ResourceKind::RegisteredModel,
        }
    }

    /// The key under which the resource is stored, unique within its kind.
    pub fn key(&self) -> &str {
        match self {
            Resource::Experiment(id) => id.as_str(),
            Resource::RegisteredModel(name) => name.as_str(),
        }
    }

    /// Rebuilds a resource from its stored form; `None` if the row is not valid.
    pub fn from_stored(kind: &str, key: &str) -> Option<Self> {
        match ResourceKind::parse(kind)? {
            ResourceKind::Experiment => ExperimentId::parse(key).ok().map(Resource::Experiment),
            ResourceKind::RegisteredModel => {
                ModelName::parse(key).ok().map(Resource::RegisteredModel)
            }
        }
    }
}
