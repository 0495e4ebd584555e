//! Resolving a check's target to the resources grants are about, through the
//! [`TrackingLookup`] port where an id names something only the tracking server
//! knows (the experiment of a run, say).

use mlguard_domain::{
    ExperimentId, LookupError, ModelKind, ModelName, OpaqueId, Resource, TrackingLookup,
    VersionOrigin,
};
use serde_json::Value;

use crate::request::{InputError, RequestView, field, json_scalar, not_a_string};
use crate::{BodyPointer, PROMPT_PLACEHOLDER_SOURCES, PROMPT_TAG, Source, Target};

fn invalid(what: &str) -> InputError {
    InputError::Invalid(format!("The request {what} is not in canonical form."))
}

/// Checks an artifact path whose first segment names the experiment, and returns
/// that segment. `Ok(None)`: the path names no experiment (denied to non-admins).
pub fn artifact_experiment(path: &str) -> Result<Option<&str>, InputError> {
    if path.contains('\\') || path.chars().any(char::is_control) {
        return Err(invalid("artifact path"));
    }
    // The artifact root itself names no experiment: denied, not malformed.
    if path.is_empty() || path == "." || path == "./" {
        return Ok(None);
    }
    let first = path.split('/').next().unwrap_or_default();
    for segment in path.split('/') {
        if segment == "." || segment == ".." {
            return Err(invalid("artifact path"));
        }
    }
    if first.is_empty() || !first.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    Ok(Some(first))
}

/// What a target resolved to.
#[derive(Debug)]
pub enum Resolved {
    /// The request does not carry the id.
    Missing,
    /// The id names nothing (or an experiment-less thing): denied to non-admins.
    Nothing,
    /// The named resource does not exist (a lookup by name found nothing).
    Absent,
    Resources(Vec<Resource>),
}

/// The registered model of this name, or the prompt when its stored tags make it
/// one. A name that names nothing yet is decided as a registered model.
async fn model_or_prompt(name: &str, lookup: &dyn TrackingLookup) -> Result<Resource, InputError> {
    let name = ModelName::parse(name)?;
    let kind = lookup.registered_model_kind(name.as_str()).await?;
    Ok(kind.unwrap_or(ModelKind::Model).resource(name))
}

fn experiment(raw: &str) -> Result<Resource, InputError> {
    Ok(Resource::Experiment(ExperimentId::parse(raw)?))
}

/// Resolves every value through `resolve`; one that names nothing makes it all nothing.
async fn all_experiments<'a, F, Fut>(
    values: &'a [String],
    resolve: F,
) -> Result<Resolved, InputError>
where
    F: Fn(&'a str) -> Fut,
    Fut: std::future::Future<Output = Result<Option<ExperimentId>, LookupError>>,
{
    if values.is_empty() {
        return Ok(Resolved::Missing);
    }
    let mut resources = Vec::with_capacity(values.len());
    for value in values {
        match resolve(value).await? {
            Some(id) => resources.push(Resource::Experiment(id)),
            None => return Ok(Resolved::Nothing),
        }
    }
    Ok(Resolved::Resources(resources))
}

pub async fn resolve(
    target: Target,
    request: &RequestView<'_>,
    lookup: &dyn TrackingLookup,
) -> Result<Resolved, InputError> {
    let one = |values: Vec<String>| values.into_iter().next();
    Ok(match target {
        Target::Experiment(source) => match one(request.values(source, false)?) {
            None => Resolved::Missing,
            Some(id) => Resolved::Resources(vec![experiment(&id)?]),
        },
        Target::Experiments(source) => {
            let ids = request.values(source, true)?;
            if ids.is_empty() {
                Resolved::Missing
            } else {
                Resolved::Resources(
                    ids.iter()
                        .map(|id| experiment(id))
                        .collect::<Result<_, _>>()?,
                )
            }
        }
        Target::ExperimentByName(source) => match one(request.values(source, false)?) {
            None => Resolved::Missing,
            Some(name) => match lookup.experiment_by_name(&name).await? {
                Some(id) => Resolved::Resources(vec![Resource::Experiment(id)]),
                None => Resolved::Absent,
            },
        },
        Target::Run(source) => {
            let ids = request.values(source, false)?;
            all_experiments(&ids, |id| lookup.experiment_of_run(id)).await?
        }
        Target::Runs(source) => {
            let ids = request.values(source, true)?;
            all_experiments(&ids, |id| lookup.experiment_of_run(id)).await?
        }
        Target::LoggedModel(source) => {
            let ids = request.values(source, false)?;
            all_experiments(&ids, |id| lookup.experiment_of_logged_model(id)).await?
        }
        Target::TraceFiles(source) => match one(request.values(source, false)?) {
            None => Resolved::Missing,
            Some(trace_id) => trace_files(&trace_id, lookup).await?,
        },
        Target::WithoutTag { tags, key } => match request.raw_json(tags)? {
            Some(value) if names_tag(value, key) => Resolved::Nothing,
            Some(_) => Resolved::Resources(Vec::new()),
            // A key read from the query (DELETE without a body, GET).
            None => match request.values(tags, false)?.into_iter().next() {
                Some(named) if named == key => Resolved::Nothing,
                Some(_) => Resolved::Resources(Vec::new()),
                None => Resolved::Missing,
            },
        },
        Target::Unset(source) => match request.raw_json(source)? {
            None | Some(Value::Null) => match request.values(source, false)?.into_iter().next() {
                Some(value) if !value.is_empty() => Resolved::Nothing,
                _ => Resolved::Missing,
            },
            Some(Value::String(value)) if value.is_empty() => Resolved::Missing,
            Some(_) => Resolved::Nothing,
        },
        Target::LoggedModelsIn(pointer) => {
            let ids = model_ids_in(request.at(pointer)?)?;
            all_experiments(&ids, |id| lookup.experiment_of_logged_model(id)).await?
        }
        Target::Trace(source) => {
            let ids = request.values(source, false)?;
            all_experiments(&ids, |id| lookup.experiment_of_trace(id)).await?
        }
        Target::TraceIfExists(source) => match one(request.values(source, false)?) {
            None => Resolved::Missing,
            Some(id) => match lookup.experiment_of_trace(&id).await? {
                Some(experiment) => Resolved::Resources(vec![Resource::Experiment(experiment)]),
                // A new trace: nothing exists yet that this could overwrite.
                None => Resolved::Resources(Vec::new()),
            },
        },
        Target::SourceUri(source) => match one(request.values(source, false)?) {
            None => Resolved::Missing,
            Some(uri) => resolve_source_uri(&uri, lookup).await?,
        },
        Target::VersionSourceUri { source, tags } => match one(request.values(source, false)?) {
            None => Resolved::Missing,
            // A prompt version's placeholder reads no files, so it needs no grant.
            Some(uri)
                if PROMPT_PLACEHOLDER_SOURCES.contains(&uri.as_str())
                    && request.has_tag(tags, PROMPT_TAG)? =>
            {
                Resolved::Resources(Vec::new())
            }
            Some(uri) => resolve_source_uri(&uri, lookup).await?,
        },
        Target::ModelVersionFiles { name, version } => match (
            one(request.values(name, false)?),
            one(request.values(version, false)?),
        ) {
            (Some(name), Some(version)) => {
                ModelName::parse(&name)?;
                match lookup.model_version_source(&name, &version).await? {
                    None => Resolved::Absent,
                    Some(source) if source_is_checkable(&source) => {
                        Resolved::Resources(vec![model_or_prompt(&name, lookup).await?])
                    }
                    Some(_) => Resolved::Nothing,
                }
            }
            _ => Resolved::Missing,
        },
        Target::PromptUri(source) => match one(request.values(source, false)?) {
            None => Resolved::Missing,
            Some(uri) => match prompt_name(&uri) {
                Some(name) => Resolved::Resources(vec![model_or_prompt(name, lookup).await?]),
                None => Resolved::Nothing,
            },
        },
        Target::RegisteredModelsServingArtifact(source) => {
            match one(request.values(source, false)?) {
                None => Resolved::Missing,
                Some(path) => models_serving_artifact(&path, lookup).await?,
            }
        }
        Target::Traces(source) => {
            let ids = request.values(source, true)?;
            all_experiments(&ids, |id| lookup.experiment_of_trace(id)).await?
        }
        Target::TracesIfExist(source) => {
            let mut experiments = Vec::new();
            for id in request.values(source, true)? {
                if let Some(experiment) = lookup.experiment_of_trace(&id).await? {
                    experiments.push(Resource::Experiment(experiment));
                }
            }
            // No spans, or only new traces: nothing exists that they could join.
            Resolved::Resources(experiments)
        }
        Target::Dataset(source) => match one(request.values(source, false)?) {
            None => Resolved::Missing,
            Some(id) => match lookup.experiments_of_dataset(&id).await? {
                Some(ids) if !ids.is_empty() => {
                    Resolved::Resources(ids.into_iter().map(Resource::Experiment).collect())
                }
                _ => Resolved::Nothing,
            },
        },
        Target::ChildOfExperiment(kind, source) => match one(request.values(source, false)?) {
            None => Resolved::Missing,
            Some(id) => match lookup.experiment_of_child(kind, &id).await? {
                Some(experiment) => Resolved::Resources(vec![Resource::Experiment(experiment)]),
                None => Resolved::Nothing,
            },
        },
        Target::GuardrailScorer(source) => match one(request.values(source, false)?) {
            None => Resolved::Missing,
            Some(id) => match lookup.scorer_of_guardrail(&id).await? {
                Some(scorer) => Resolved::Resources(vec![scorer]),
                None => Resolved::Nothing,
            },
        },
        Target::RegisteredModel(source) => match one(request.values(source, false)?) {
            None => Resolved::Missing,
            Some(name) => Resolved::Resources(vec![model_or_prompt(&name, lookup).await?]),
        },
        Target::ArtifactPath(source) => match one(request.values(source, false)?) {
            None => Resolved::Missing,
            Some(path) => match artifact_experiment(&path)? {
                Some(id) => Resolved::Resources(vec![experiment(id)?]),
                None => Resolved::Nothing,
            },
        },
        Target::Scorer {
            experiment: exp,
            name,
        } => {
            match (
                one(request.values(exp, false)?),
                one(request.values(name, false)?),
            ) {
                (Some(exp), Some(name)) => Resolved::Resources(vec![Resource::Scorer {
                    experiment_id: ExperimentId::parse(&exp)?,
                    name: OpaqueId::parse(&name)?,
                }]),
                _ => Resolved::Missing,
            }
        }
        Target::McpServer { namespace, slug } => match (
            one(request.values(namespace, false)?),
            one(request.values(slug, false)?),
        ) {
            (Some(namespace), Some(slug)) if !namespace.contains('/') && !slug.contains('/') => {
                Resolved::Resources(vec![Resource::McpServer(OpaqueId::parse(&format!(
                    "{namespace}/{slug}"
                ))?)])
            }
            (Some(_), Some(_)) => return Err(invalid("MCP server name")),
            _ => Resolved::Missing,
        },
        Target::Skill { organization, name } => {
            let organization = match organization {
                Some(source) => match one(request.values(source, false)?) {
                    Some(organization) => Some(organization),
                    None => return Ok(Resolved::Missing),
                },
                None => None,
            };
            match one(request.values(name, false)?) {
                None => Resolved::Missing,
                Some(name) => match crate::lists::skill_id(organization.as_deref(), &name) {
                    Some(skill) => Resolved::Resources(vec![skill]),
                    None => return Err(invalid("skill name")),
                },
            }
        }
        Target::GatewaySecret(source) => opaque(request, source, Resource::GatewaySecret)?,
        Target::GatewayEndpoint(source) => opaque(request, source, Resource::GatewayEndpoint)?,
        Target::GatewayModelDefinition(source) => {
            opaque(request, source, Resource::GatewayModelDefinition)?
        }
        Target::GatewayEndpointByName(source) => match one(request.values(source, false)?) {
            None => Resolved::Missing,
            Some(name) => match lookup.gateway_endpoint_by_name(&name).await? {
                Some(id) => Resolved::Resources(vec![Resource::GatewayEndpoint(id)]),
                None => Resolved::Nothing,
            },
        },
        Target::SkillsIn(pointer) => {
            let organization = match request.at(BodyPointer("/organization"))? {
                None | Some(Value::Null) => None,
                Some(Value::String(organization)) if organization.is_empty() => None,
                Some(Value::String(organization)) => Some(organization.as_str()),
                Some(_) => return Err(not_a_string("organization")),
            };
            match request.at(pointer)? {
                None | Some(Value::Null) => Resolved::Missing,
                Some(Value::Array(skills)) if skills.is_empty() => Resolved::Missing,
                Some(Value::Array(skills)) => {
                    let mut resources = Vec::with_capacity(skills.len());
                    for skill in skills {
                        let name = skill
                            .get("name")
                            .and_then(Value::as_str)
                            .ok_or_else(|| not_a_string("name"))?;
                        resources.push(
                            crate::lists::skill_id(organization, name)
                                .ok_or_else(|| invalid("skill name"))?,
                        );
                    }
                    Resolved::Resources(resources)
                }
                Some(_) => return Err(invalid("skills")),
            }
        }
        Target::GatewayModelDefinitions(pointer) => match request.at(pointer)? {
            None | Some(Value::Null) => Resolved::Missing,
            Some(Value::Array(configs)) if configs.is_empty() => Resolved::Missing,
            Some(Value::Array(configs)) => {
                let mut resources = Vec::with_capacity(configs.len());
                for config in configs {
                    let id = config
                        .get("model_definition_id")
                        .and_then(Value::as_str)
                        .ok_or_else(|| not_a_string("model_definition_id"))?;
                    resources.push(Resource::GatewayModelDefinition(OpaqueId::parse(id)?));
                }
                Resolved::Resources(resources)
            }
            Some(_) => return Err(not_a_string(pointer.0)),
        },
    })
}

/// The distinct `model_id`s (or `modelId`s) of a JSON array of objects; an item
/// spelling both differently is a conflict.
fn model_ids_in(list: Option<&Value>) -> Result<Vec<String>, InputError> {
    let items = match list {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(InputError::Invalid(
                "Invalid value for a list of metrics: expected a list.".to_owned(),
            ));
        }
    };
    let mut ids: Vec<String> = Vec::new();
    for item in items {
        if !item.is_object() {
            continue;
        }
        if let Some(id) = field(item, "model_id")?.map(|v| json_scalar(v, "model_id"))
            && let Some(id) = id?.filter(|id| !id.is_empty())
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Whether tags (a key, a `{key: value}` map, or a list of `{key, value}`) name `key`.
/// Anything else (a number, say) is treated as naming it: fail closed.
fn names_tag(tags: &Value, key: &str) -> bool {
    match tags {
        Value::Null => false,
        Value::String(named) => named == key,
        Value::Object(map) => map.contains_key(key),
        Value::Array(items) => items.iter().any(|item| match item {
            Value::Object(tag) => match tag.get("key") {
                None | Some(Value::Null) => false,
                Some(Value::String(named)) => named == key,
                Some(_) => true,
            },
            _ => true,
        }),
        _ => true,
    }
}

/// A trace's experiment, when its files are where MLflow put them.
async fn trace_files(trace_id: &str, lookup: &dyn TrackingLookup) -> Result<Resolved, InputError> {
    let Some(files) = lookup.trace_files(trace_id).await? else {
        return Ok(Resolved::Nothing);
    };
    let Some(location) = files.artifact_location else {
        // MLflow reads no files without the tag: it answers the error itself.
        return Ok(Resolved::Resources(vec![Resource::Experiment(
            files.experiment,
        )]));
    };
    let Some(root) = lookup.experiment_artifact_root(&files.experiment).await? else {
        return Ok(Resolved::Nothing);
    };
    let assigned = format!("{}/traces/{trace_id}/artifacts", root.trim_end_matches('/'));
    if location == assigned {
        Ok(Resolved::Resources(vec![Resource::Experiment(
            files.experiment,
        )]))
    } else {
        tracing::info!("trace files outside the trace's own location");
        Ok(Resolved::Nothing)
    }
}

/// The name in `prompts:/<name>/<version>` or `prompts:/<name>@<alias>`.
fn prompt_name(uri: &str) -> Option<&str> {
    let rest = uri.strip_prefix("prompts:/")?;
    let name = match rest.split_once('/') {
        Some((name, version)) if !version.is_empty() && !version.contains('/') => name,
        Some(_) => return None,
        None => rest.split_once('@').map(|(name, _)| name)?,
    };
    (!name.is_empty()).then_some(name)
}

/// The artifact path a `mlflow-artifacts:` URI names, without leading slashes.
fn artifacts_uri_path(uri: &str) -> Option<&str> {
    let path = uri.strip_prefix("mlflow-artifacts:")?;
    if let Some(with_host) = path.strip_prefix("//") {
        return with_host
            .split_once('/')
            .map(|(_, rest)| rest.trim_start_matches('/'));
    }
    Some(path.trim_start_matches('/'))
}

/// Whether a stored version source is one whose reads mlguard can decide: one that
/// [`parse_source_uri`] reads.
fn source_is_checkable(uri: &str) -> bool {
    matches!(parse_source_uri(uri), Ok(Some(_)))
}

/// The registered models with a version whose files contain `path`
/// (`<exp>/<run_id>/…` or `<exp>/models/<model_id>/…`).
async fn models_serving_artifact(
    path: &str,
    lookup: &dyn TrackingLookup,
) -> Result<Resolved, InputError> {
    if artifact_experiment(path)?.is_none() {
        return Ok(Resolved::Nothing);
    }
    let path = path.trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').collect();
    let origin = match segments.as_slice() {
        [_, "models", model_id, ..] => VersionOrigin::LoggedModel(model_id),
        [_, run_id, ..] => VersionOrigin::Run(run_id),
        _ => return Ok(Resolved::Nothing),
    };
    let versions = lookup.model_versions_from(origin).await?;
    let mut models = Vec::new();
    for version in versions {
        let Some(root) = artifacts_uri_path(&version.download_uri) else {
            continue;
        };
        let root = root.trim_end_matches('/');
        let inside = path == root
            || path
                .strip_prefix(root)
                .is_some_and(|rest| rest.starts_with('/'));
        if !root.is_empty() && inside {
            models.push(Resource::RegisteredModel(ModelName::parse(
                &version.model_name,
            )?));
        }
    }
    Ok(Resolved::Resources(models))
}

/// What a model source URI names, read without asking the tracking server.
enum SourceRef<'u> {
    /// `mlflow-artifacts:/<experiment>/…`: the experiment id.
    Artifacts(&'u str),
    /// `runs:/<run_id>/…`.
    Run(&'u str),
    /// `models:/<model_id>`.
    LoggedModel(&'u str),
    /// `models:/<name>/<version>`: the registered model's name.
    ModelVersion(&'u str),
}

/// The forms of source URI mlguard can check (see `Target::SourceUri`); `None` for
/// any other. A path that goes up (`..`) is refused.
fn parse_source_uri(uri: &str) -> Result<Option<SourceRef<'_>>, InputError> {
    if let Some(path) = artifacts_uri_path(uri) {
        return Ok(artifact_experiment(path)?.map(SourceRef::Artifacts));
    }
    if let Some(rest) = uri.strip_prefix("runs:/") {
        let run_id = rest.split('/').next().unwrap_or_default();
        if run_id.is_empty() || rest.split('/').any(|s| s == "..") {
            return Ok(None);
        }
        return Ok(Some(SourceRef::Run(run_id)));
    }
    if let Some(rest) = uri.strip_prefix("models:/") {
        let segments: Vec<&str> = rest.split('/').collect();
        return Ok(match segments.as_slice() {
            [model_id] if !model_id.is_empty() => Some(SourceRef::LoggedModel(model_id)),
            [name, version] if !name.is_empty() && !version.is_empty() && *version != ".." => {
                Some(SourceRef::ModelVersion(name))
            }
            _ => None,
        });
    }
    Ok(None)
}

/// What a model source URI reads from (see `Target::SourceUri`).
async fn resolve_source_uri(
    uri: &str,
    lookup: &dyn TrackingLookup,
) -> Result<Resolved, InputError> {
    let by = |found: Option<ExperimentId>| match found {
        Some(id) => Resolved::Resources(vec![Resource::Experiment(id)]),
        None => Resolved::Nothing,
    };
    Ok(match parse_source_uri(uri)? {
        None => Resolved::Nothing,
        Some(SourceRef::Artifacts(id)) => Resolved::Resources(vec![experiment(id)?]),
        Some(SourceRef::Run(run_id)) => by(lookup.experiment_of_run(run_id).await?),
        Some(SourceRef::LoggedModel(model_id)) => {
            by(lookup.experiment_of_logged_model(model_id).await?)
        }
        Some(SourceRef::ModelVersion(name)) => {
            Resolved::Resources(vec![model_or_prompt(name, lookup).await?])
        }
    })
}

fn opaque(
    request: &RequestView<'_>,
    source: Source,
    make: fn(OpaqueId) -> Resource,
) -> Result<Resolved, InputError> {
    Ok(match request.values(source, false)?.into_iter().next() {
        None => Resolved::Missing,
        Some(id) => Resolved::Resources(vec![make(OpaqueId::parse(&id)?)]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_paths_name_their_experiment() {
        assert_eq!(
            artifact_experiment("12/abc/artifacts/m").expect("ok"),
            Some("12")
        );
        assert_eq!(artifact_experiment("12").expect("ok"), Some("12"));
        assert_eq!(artifact_experiment(".").expect("root"), None);
        assert!(artifact_experiment("./1").is_err());
        assert_eq!(artifact_experiment("").expect("ok"), None);
        assert_eq!(artifact_experiment("models/x").expect("ok"), None);
        assert!(artifact_experiment("1/../2/x").is_err());
    }
}
