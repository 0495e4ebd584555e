//! List shapes: where a search answer holds its items, and what each item is
//! about, for filtering an answer down to what the caller may read.

use mlguard_domain::{
    ExperimentId, LookupError, ModelKind, ModelName, OpaqueId, Resource, TrackingLookup,
};
use serde_json::Value;

use crate::ListKind;

/// Where a list answer holds its items, and how each is judged.
#[derive(Debug, Clone, Copy)]
pub struct ListShape {
    /// The top-level field of the answer that holds the items.
    pub items: &'static str,
    /// The page size MLflow uses when the request gives none.
    pub default_max: u64,
    pub about: About,
    /// Whether an item the caller holds no grant on is listed: its parent was
    /// checked before the request left, so only a denying grant hides it.
    pub listed_unless_denied: bool,
}

/// What one list item is about.
#[derive(Debug, Clone, Copy)]
pub enum About {
    /// The id at the first of these JSON pointers that has one, as a resource.
    Id(&'static [&'static str], fn(&str) -> Option<Resource>),
    /// The resource the whole item names (a scorer: experiment and name).
    Item(fn(&Value) -> Option<Resource>),
    /// Every experiment the dataset at this pointer is linked to, asked of the
    /// tracking server.
    DatasetExperiments(&'static str),
    /// The registered model or prompt named at this pointer, as its stored tags
    /// make it, asked of the tracking server (a version's own tags do not decide).
    ModelByName(&'static str),
}

fn experiment(id: &str) -> Option<Resource> {
    ExperimentId::parse(id).ok().map(Resource::Experiment)
}

impl ListKind {
    /// Where this list's items are in an answer, and what each is about.
    pub fn shape(self) -> ListShape {
        match self {
            ListKind::Experiments => ListShape {
                items: "experiments",
                default_max: 1000,
                about: About::Id(&["/experiment_id"], experiment),
                listed_unless_denied: false,
            },
            ListKind::Runs => ListShape {
                items: "runs",
                default_max: 1000,
                about: About::Id(&["/info/experiment_id"], experiment),
                listed_unless_denied: false,
            },
            ListKind::LoggedModels => ListShape {
                items: "models",
                default_max: 100,
                about: About::Id(&["/info/experiment_id"], experiment),
                listed_unless_denied: false,
            },
            ListKind::Traces => ListShape {
                items: "traces",
                default_max: 100,
                about: About::Id(
                    &[
                        "/trace_location/mlflow_experiment/experiment_id",
                        "/experiment_id",
                    ],
                    experiment,
                ),
                listed_unless_denied: false,
            },
            ListKind::RegisteredModels => ListShape {
                items: "registered_models",
                default_max: 100,
                // A search answer carries each model's stored tags.
                about: About::Item(registered_model_of),
                listed_unless_denied: false,
            },
            ListKind::ModelVersions => ListShape {
                items: "model_versions",
                default_max: 10_000,
                about: About::ModelByName("/name"),
                listed_unless_denied: false,
            },
            ListKind::GatewaySecrets => ListShape {
                items: "secrets",
                default_max: u64::MAX,
                about: About::Id(&["/secret_id"], |id| {
                    OpaqueId::parse(id).ok().map(Resource::GatewaySecret)
                }),
                listed_unless_denied: false,
            },
            ListKind::GatewayEndpoints => ListShape {
                items: "endpoints",
                default_max: u64::MAX,
                about: About::Id(&["/endpoint_id"], |id| {
                    OpaqueId::parse(id).ok().map(Resource::GatewayEndpoint)
                }),
                listed_unless_denied: false,
            },
            ListKind::McpServers => ListShape {
                items: "mcp_servers",
                default_max: 100,
                about: About::Id(&["/name"], |name| {
                    OpaqueId::parse(name).ok().map(Resource::McpServer)
                }),
                listed_unless_denied: false,
            },
            ListKind::McpAccessEndpoints => ListShape {
                items: "mcp_access_endpoints",
                default_max: 100,
                about: About::Id(&["/server_name"], |name| {
                    OpaqueId::parse(name).ok().map(Resource::McpServer)
                }),
                listed_unless_denied: false,
            },
            ListKind::Skills => ListShape {
                items: "skills",
                default_max: 100,
                about: About::Item(skill_of),
                listed_unless_denied: false,
            },
            ListKind::GatewayEndpointBindings => ListShape {
                items: "bindings",
                default_max: u64::MAX,
                about: About::Id(&["/endpoint_id"], |id| {
                    OpaqueId::parse(id).ok().map(Resource::GatewayEndpoint)
                }),
                listed_unless_denied: false,
            },
            ListKind::Datasets => ListShape {
                items: "datasets",
                default_max: 1000,
                about: About::DatasetExperiments("/dataset_id"),
                listed_unless_denied: false,
            },
            ListKind::Scorers => ListShape {
                items: "scorers",
                default_max: u64::MAX,
                about: About::Item(scorer_of),
                listed_unless_denied: true,
            },
            ListKind::OnlineScoringConfigs => ListShape {
                items: "configs",
                default_max: u64::MAX,
                about: About::Id(&["/experiment_id"], experiment),
                listed_unless_denied: false,
            },
            ListKind::GatewayModelDefinitions => ListShape {
                items: "model_definitions",
                default_max: u64::MAX,
                about: About::Id(&["/model_definition_id"], |id| {
                    OpaqueId::parse(id)
                        .ok()
                        .map(Resource::GatewayModelDefinition)
                }),
                listed_unless_denied: false,
            },
        }
    }
}

/// What the tracking server said while one page was judged: a page of model
/// versions names the same model again and again, and it is asked about once.
#[derive(Debug, Default)]
pub struct PageLookups {
    model_kinds: std::collections::HashMap<String, Option<ModelKind>>,
}

/// What each item is about: one resource, or (datasets) every experiment it is
/// linked to. An item about nothing is never readable.
pub async fn item_resources(
    shape: &ListShape,
    item: &Value,
    lookup: &dyn TrackingLookup,
    page: &mut PageLookups,
) -> Result<Vec<Resource>, LookupError> {
    let text_at = |pointer: &str| item.pointer(pointer).and_then(Value::as_str);
    Ok(match shape.about {
        About::Id(pointers, resource) => pointers
            .iter()
            .find_map(|pointer| text_at(pointer))
            .and_then(resource)
            .into_iter()
            .collect(),
        About::Item(resource) => resource(item).into_iter().collect(),
        About::ModelByName(pointer) => match text_at(pointer).map(ModelName::parse) {
            Some(Ok(name)) => {
                let kind = match page.model_kinds.get(name.as_str()) {
                    Some(kind) => *kind,
                    None => {
                        let kind = lookup.registered_model_kind(name.as_str()).await?;
                        page.model_kinds.insert(name.as_str().to_owned(), kind);
                        kind
                    }
                };
                match kind {
                    Some(kind) => vec![kind.resource(name)],
                    // Gone since MLflow answered: nothing left to show.
                    None => Vec::new(),
                }
            }
            _ => Vec::new(),
        },
        About::DatasetExperiments(pointer) => match text_at(pointer) {
            None => Vec::new(),
            Some(id) => lookup
                .experiments_of_dataset(id)
                .await?
                .unwrap_or_default()
                .into_iter()
                .map(Resource::Experiment)
                .collect(),
        },
    })
}

/// The skill MLflow names by `organization` (empty for none) and `name`.
pub(crate) fn skill_of(item: &Value) -> Option<Resource> {
    let organization = match item.get("organization") {
        None | Some(Value::Null) => None,
        Some(value) => Some(value.as_str()?).filter(|o| !o.is_empty()),
    };
    skill_id(organization, item.get("name")?.as_str()?)
}

/// A skill's grant id: `<organization>/<name>`, or `<name>` without an organization.
/// Neither part may hold a `/`, so no two skills share an id.
pub(crate) fn skill_id(organization: Option<&str>, name: &str) -> Option<Resource> {
    if name.is_empty() || name.contains('/') {
        return None;
    }
    let id = match organization {
        Some(organization) if organization.is_empty() || organization.contains('/') => {
            return None;
        }
        Some(organization) => format!("{organization}/{name}"),
        None => name.to_owned(),
    };
    OpaqueId::parse(&id).ok().map(Resource::Skill)
}

/// A registered model list item, a prompt when its tags say so.
fn registered_model_of(item: &Value) -> Option<Resource> {
    let name = ModelName::parse(item.get("name")?.as_str()?).ok()?;
    Some(model_kind_from_tags(item.get("tags")).resource(name))
}

/// The kind MLflow's `[{"key": .., "value": ..}]` tag list gives; no list is a model.
pub(crate) fn model_kind_from_tags(tags: Option<&Value>) -> ModelKind {
    ModelKind::from_tags(
        tags.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|tag| Some((tag.get("key")?.as_str()?, tag.get("value")?.as_str()?))),
    )
}

/// A scorer as MLflow describes one (`{experiment_id, scorer_name, ...}`: a list
/// item, a guardrail's scorer). MLflow sends its `experiment_id` as a number; a
/// string is read too.
pub fn scorer_of(item: &Value) -> Option<Resource> {
    let experiment_id = match item.get("experiment_id")? {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return None,
    };
    Some(Resource::Scorer {
        experiment_id: ExperimentId::parse(&experiment_id).ok()?,
        name: OpaqueId::parse(item.get("scorer_name")?.as_str()?).ok()?,
    })
}
