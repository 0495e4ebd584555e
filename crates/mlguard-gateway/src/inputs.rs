//! Reading ids from exactly the place MLflow's handler reads them, and resolving
//! them to the resources grants are about.

use axum::http::{HeaderMap, Method};
use mlguard_domain::{
    ExperimentId, LookupError, ModelName, OpaqueId, Resource, TrackingLookup, VersionOrigin,
};
use mlguard_extract::ApiError;
use mlguard_policy::{PROMPT_PLACEHOLDER_SOURCES, PROMPT_TAG, RouteMatch, Source, Target};
use serde_json::Value;

use super::decode;

/// Everything a check may read from one request.
pub(crate) struct RequestInputs<'a> {
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
    pub query: &'a [(String, String)],
    /// The parsed JSON body, when the request had one and it was read.
    pub body: Option<&'a Value>,
    /// The trace ids of an OTLP export body, when the route reads one.
    pub otlp_traces: Option<&'a [String]>,
    pub route: &'a RouteMatch,
}

/// What a source yielded.
#[derive(Debug)]
pub(crate) enum Found {
    Missing,
    One(String),
    Many(Vec<String>),
}

fn conflict(name: &str) -> ApiError {
    ApiError::invalid_parameter(format!("Conflicting values for parameter '{name}'."))
}

fn not_a_string(name: &str) -> ApiError {
    ApiError::invalid_parameter(format!(
        "Invalid value for parameter '{name}': expected a string."
    ))
}

fn json_scalar(value: &Value, name: &str) -> Result<Option<String>, ApiError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(not_a_string(name)),
    }
}

fn json_list(value: &Value, name: &str) -> Result<Vec<String>, ApiError> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|item| json_scalar(item, name)?.ok_or_else(|| not_a_string(name)))
            .collect(),
        _ => Err(ApiError::invalid_parameter(format!(
            "Invalid value for parameter '{name}': expected a list."
        ))),
    }
}

fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `object[name]`, or its camelCase spelling; both, differing, is a conflict.
fn field<'v>(object: &'v Value, name: &str) -> Result<Option<&'v Value>, ApiError> {
    let snake = object.get(name).filter(|v| !v.is_null());
    let camel_name = camel_case(name);
    let camel = (camel_name != name)
        .then(|| object.get(&camel_name))
        .flatten()
        .filter(|v| !v.is_null());
    match (snake, camel) {
        (Some(a), Some(b)) if a != b => Err(conflict(name)),
        (Some(a), _) => Ok(Some(a)),
        (None, b) => Ok(b),
    }
}

/// A JSON field as one string, or as a list of strings for list targets.
fn from_json(value: Option<&Value>, name: &str, list: bool) -> Result<Found, ApiError> {
    Ok(match value {
        None => Found::Missing,
        Some(value) if list => {
            let values = json_list(value, name)?;
            if values.is_empty() {
                Found::Missing
            } else {
                Found::Many(values)
            }
        }
        Some(value) => json_scalar(value, name)?.map_or(Found::Missing, Found::One),
    })
}

impl RequestInputs<'_> {
    fn query_values(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A single query value; differing repeats are refused.
    fn query_one(&self, name: &str) -> Result<Option<String>, ApiError> {
        let values = self.query_values(name);
        match values.split_first() {
            None => Ok(None),
            Some((first, rest)) if rest.iter().all(|v| v == first) => Ok(Some((*first).to_owned())),
            Some(_) => Err(conflict(name)),
        }
    }

    /// Where MLflow's handlers read a field: GET from the query; every other method
    /// from the JSON body, whatever its content type. A DELETE without a body is read
    /// from the query, as MLflow's auth app does.
    fn param_reads_body(&self) -> bool {
        match *self.method {
            Method::GET | Method::HEAD => false,
            Method::DELETE => self.body.is_some(),
            _ => true,
        }
    }

    /// A body field by JSON pointer; the last segment may also be spelled in
    /// camelCase, which MLflow's protobuf parser accepts.
    fn body_at(&self, pointer: &str) -> Result<Option<&Value>, ApiError> {
        let Some(body) = self.body else {
            return Ok(None);
        };
        let (parent, last) = pointer.rsplit_once('/').unwrap_or(("", pointer));
        match body.pointer(parent) {
            Some(parent) => field(parent, last),
            None => Ok(None),
        }
    }

    /// A `Param` as MLflow's `_get_request_param` reads it. With `empty_is_missing`,
    /// an empty string counts as absent (for `run_id or run_uuid`).
    fn read_param(
        &self,
        name: &str,
        list: bool,
        empty_is_missing: bool,
    ) -> Result<Found, ApiError> {
        let empty =
            |found: &Found| empty_is_missing && matches!(found, Found::One(v) if v.is_empty());
        if self.param_reads_body() {
            let value = match self.body {
                Some(body) => field(body, name)?,
                None => None,
            };
            let found = from_json(value, name, list)?;
            if empty(&found) {
                return Ok(Found::Missing);
            }
            // The same field in the query must not say something else.
            if let Found::One(body_value) = &found
                && self.query_values(name).iter().any(|v| v != body_value)
            {
                return Err(conflict(name));
            }
            return Ok(found);
        }
        let found = self.read_query(name, list)?;
        Ok(if empty(&found) { Found::Missing } else { found })
    }

    fn read_query(&self, name: &str, list: bool) -> Result<Found, ApiError> {
        Ok(if list {
            let values: Vec<String> = self
                .query_values(name)
                .into_iter()
                .map(str::to_owned)
                .collect();
            if values.is_empty() {
                Found::Missing
            } else {
                Found::Many(values)
            }
        } else {
            self.query_one(name)?.map_or(Found::Missing, Found::One)
        })
    }

    /// Reads a source as one value, or a list for list targets.
    pub(crate) fn read(&self, source: Source, list: bool) -> Result<Found, ApiError> {
        let found = match source {
            Source::Param(name) => self.read_param(name, list, false)?,
            Source::Query(name) => self.read_query(name, list)?,
            // MLflow's handlers take `run_id or run_uuid`: an empty run_id falls through.
            Source::RunId => match self.read_param("run_id", list, true)? {
                Found::Missing => self.read_param("run_uuid", list, false)?,
                Found::One(run_id) if !self.param_reads_body() => {
                    if self
                        .query_one("run_uuid")?
                        .is_some_and(|uuid| uuid != run_id)
                    {
                        return Err(conflict("run_id"));
                    }
                    Found::One(run_id)
                }
                found => found,
            },
            Source::Body(pointer) => from_json(self.body_at(pointer)?, pointer, list)?,
            Source::Path(name) => self
                .route
                .param(name)
                .map_or(Found::Missing, |v| Found::One(v.to_owned())),
            Source::PathBeforeLastColon(name) => self
                .route
                .param(name)
                .and_then(|v| v.rsplit_once(':'))
                .map_or(Found::Missing, |(before, _)| Found::One(before.to_owned())),
            Source::OtlpSpanTraces => match self.otlp_traces {
                Some(ids) if !ids.is_empty() => Found::Many(ids.to_vec()),
                _ => Found::Missing,
            },
            Source::Header(name) => {
                let mut values = self.headers.get_all(name).iter();
                match (values.next(), values.next()) {
                    (None, _) => Found::Missing,
                    (Some(_), Some(_)) => return Err(conflict(name)),
                    (Some(v), None) => Found::One(
                        v.to_str()
                            .map_err(|_| {
                                ApiError::invalid_parameter(format!("Invalid header '{name}'."))
                            })?
                            .to_owned(),
                    ),
                }
            }
        };
        Ok(found)
    }

    /// The raw JSON a body-read source points at (`Param` on a body-reading method,
    /// or `Body`); `None` for anything else.
    fn raw_json(&self, source: Source) -> Result<Option<&Value>, ApiError> {
        match source {
            Source::Param(name) if self.param_reads_body() => match self.body {
                Some(body) => field(body, name),
                None => Ok(None),
            },
            Source::Body(pointer) => self.body_at(pointer),
            _ => Ok(None),
        }
    }

    /// Whether a JSON list of `{key, value}` tags at `source` holds `key`.
    fn has_tag(&self, source: Source, key: &str) -> Result<bool, ApiError> {
        Ok(match self.raw_json(source)? {
            Some(Value::Array(tags)) => tags
                .iter()
                .any(|tag| tag.get("key").and_then(Value::as_str) == Some(key)),
            _ => false,
        })
    }

    pub(crate) fn values(&self, source: Source, list: bool) -> Result<Vec<String>, ApiError> {
        Ok(match self.read(source, list)? {
            Found::Missing => Vec::new(),
            Found::One(v) => vec![v],
            Found::Many(vs) => vs,
        })
    }
}

/// Where, in the JSON body, the list a narrowing check read lives: a pointer to
/// every spelling the request used (MLflow's parser keeps whichever comes last, so
/// all are narrowed). `None` when the list is not in the body (a query), which
/// cannot be narrowed.
pub(crate) fn narrowable_fields(target: Target, inputs: &RequestInputs<'_>) -> Option<Vec<String>> {
    let Target::Experiments(source) = target else {
        return None;
    };
    let (parent, name) = match source {
        Source::Param(name) if inputs.param_reads_body() => ("", name),
        Source::Body(pointer) => pointer.rsplit_once('/')?,
        _ => return None,
    };
    let object = inputs.body?.pointer(parent)?;
    let camel = camel_case(name);
    let fields: Vec<String> = [name, camel.as_str()]
        .into_iter()
        .filter(|key| object.get(*key).is_some_and(|v| !v.is_null()))
        .map(|key| format!("{parent}/{key}"))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    (!fields.is_empty()).then_some(fields)
}

/// Replaces the list at `pointer` with `values`.
pub(crate) fn set_list(json: &mut Value, pointer: &str, values: &[String]) -> Result<(), ApiError> {
    let slot = json
        .pointer_mut(pointer)
        .ok_or_else(|| ApiError::internal(&"narrowed list vanished"))?;
    *slot = Value::Array(values.iter().cloned().map(Value::String).collect());
    Ok(())
}

/// What a target resolved to.
#[derive(Debug)]
pub(crate) enum Resolved {
    /// The request does not carry the id.
    Missing,
    /// The id names nothing (or an experiment-less thing): denied to non-admins.
    Nothing,
    /// The named resource does not exist (a lookup by name found nothing).
    Absent,
    Resources(Vec<Resource>),
}

fn experiment(raw: &str) -> Result<Resource, ApiError> {
    Ok(Resource::Experiment(ExperimentId::parse(raw)?))
}

pub(crate) fn lookup_failed(error: LookupError) -> ApiError {
    ApiError::lookup_failed(error)
}

/// Resolves every value through `resolve`; one that names nothing makes it all nothing.
async fn all_experiments<'a, F, Fut>(values: &'a [String], resolve: F) -> Result<Resolved, ApiError>
where
    F: Fn(&'a str) -> Fut,
    Fut: std::future::Future<Output = Result<Option<ExperimentId>, LookupError>>,
{
    if values.is_empty() {
        return Ok(Resolved::Missing);
    }
    let mut resources = Vec::with_capacity(values.len());
    for value in values {
        match resolve(value).await.map_err(lookup_failed)? {
            Some(id) => resources.push(Resource::Experiment(id)),
            None => return Ok(Resolved::Nothing),
        }
    }
    Ok(Resolved::Resources(resources))
}

pub(crate) async fn resolve(
    target: Target,
    inputs: &RequestInputs<'_>,
    lookup: &dyn TrackingLookup,
) -> Result<Resolved, ApiError> {
    let one = |values: Vec<String>| values.into_iter().next();
    Ok(match target {
        Target::Experiment(source) => match one(inputs.values(source, false)?) {
            None => Resolved::Missing,
            Some(id) => Resolved::Resources(vec![experiment(&id)?]),
        },
        Target::Experiments(source) => {
            let ids = inputs.values(source, true)?;
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
        Target::ExperimentByName(source) => match one(inputs.values(source, false)?) {
            None => Resolved::Missing,
            Some(name) => match lookup
                .experiment_by_name(&name)
                .await
                .map_err(lookup_failed)?
            {
                Some(id) => Resolved::Resources(vec![Resource::Experiment(id)]),
                None => Resolved::Absent,
            },
        },
        Target::Run(source) => {
            let ids = inputs.values(source, false)?;
            all_experiments(&ids, |id| lookup.experiment_of_run(id)).await?
        }
        Target::Runs(source) => {
            let ids = inputs.values(source, true)?;
            all_experiments(&ids, |id| lookup.experiment_of_run(id)).await?
        }
        Target::LoggedModel(source) => {
            let ids = inputs.values(source, false)?;
            all_experiments(&ids, |id| lookup.experiment_of_logged_model(id)).await?
        }
        Target::TraceFiles(source) => match one(inputs.values(source, false)?) {
            None => Resolved::Missing,
            Some(trace_id) => trace_files(&trace_id, lookup).await?,
        },
        Target::WithoutTag { tags, key } => match inputs.raw_json(tags)? {
            Some(value) if names_tag(value, key) => Resolved::Nothing,
            Some(_) => Resolved::Resources(Vec::new()),
            // A key read from the query (DELETE without a body, GET).
            None => match inputs.values(tags, false)?.into_iter().next() {
                Some(named) if named == key => Resolved::Nothing,
                Some(_) => Resolved::Resources(Vec::new()),
                None => Resolved::Missing,
            },
        },
        Target::Unset(source) => match inputs.raw_json(source)? {
            None | Some(Value::Null) => match inputs.values(source, false)?.into_iter().next() {
                Some(value) if !value.is_empty() => Resolved::Nothing,
                _ => Resolved::Missing,
            },
            Some(Value::String(value)) if value.is_empty() => Resolved::Missing,
            Some(_) => Resolved::Nothing,
        },
        Target::LoggedModelsIn(source) => {
            let ids = model_ids_in(inputs.raw_json(source)?)?;
            all_experiments(&ids, |id| lookup.experiment_of_logged_model(id)).await?
        }
        Target::Trace(source) => {
            let ids = inputs.values(source, false)?;
            all_experiments(&ids, |id| lookup.experiment_of_trace(id)).await?
        }
        Target::TraceIfExists(source) => match one(inputs.values(source, false)?) {
            None => Resolved::Missing,
            Some(id) => match lookup
                .experiment_of_trace(&id)
                .await
                .map_err(lookup_failed)?
            {
                Some(experiment) => Resolved::Resources(vec![Resource::Experiment(experiment)]),
                // A new trace: nothing exists yet that this could overwrite.
                None => Resolved::Resources(Vec::new()),
            },
        },
        Target::SourceUri(source) => match one(inputs.values(source, false)?) {
            None => Resolved::Missing,
            Some(uri) => resolve_source_uri(&uri, lookup).await?,
        },
        Target::VersionSourceUri { source, tags } => match one(inputs.values(source, false)?) {
            None => Resolved::Missing,
            // A prompt version's placeholder reads no files, so it needs no grant.
            Some(uri)
                if PROMPT_PLACEHOLDER_SOURCES.contains(&uri.as_str())
                    && inputs.has_tag(tags, PROMPT_TAG)? =>
            {
                Resolved::Resources(Vec::new())
            }
            Some(uri) => resolve_source_uri(&uri, lookup).await?,
        },
        Target::ModelVersionFiles { name, version } => match (
            one(inputs.values(name, false)?),
            one(inputs.values(version, false)?),
        ) {
            (Some(name), Some(version)) => {
                let model = ModelName::parse(&name)?;
                match lookup
                    .model_version_source(&name, &version)
                    .await
                    .map_err(lookup_failed)?
                {
                    None => Resolved::Absent,
                    Some(source) if source_is_checkable(&source) => {
                        Resolved::Resources(vec![Resource::RegisteredModel(model)])
                    }
                    Some(_) => Resolved::Nothing,
                }
            }
            _ => Resolved::Missing,
        },
        Target::PromptUri(source) => match one(inputs.values(source, false)?) {
            None => Resolved::Missing,
            Some(uri) => match prompt_name(&uri) {
                Some(name) => {
                    Resolved::Resources(vec![Resource::RegisteredModel(ModelName::parse(name)?)])
                }
                None => Resolved::Nothing,
            },
        },
        Target::RegisteredModelsServingArtifact(source) => match one(inputs.values(source, false)?)
        {
            None => Resolved::Missing,
            Some(path) => models_serving_artifact(&path, lookup).await?,
        },
        Target::Traces(source) => {
            let ids = inputs.values(source, true)?;
            all_experiments(&ids, |id| lookup.experiment_of_trace(id)).await?
        }
        Target::TracesIfExist(source) => {
            let mut experiments = Vec::new();
            for id in inputs.values(source, true)? {
                if let Some(experiment) = lookup
                    .experiment_of_trace(&id)
                    .await
                    .map_err(lookup_failed)?
                {
                    experiments.push(Resource::Experiment(experiment));
                }
            }
            // No spans, or only new traces: nothing exists that they could join.
            Resolved::Resources(experiments)
        }
        Target::Dataset(source) => match one(inputs.values(source, false)?) {
            None => Resolved::Missing,
            Some(id) => match lookup
                .experiments_of_dataset(&id)
                .await
                .map_err(lookup_failed)?
            {
                Some(ids) if !ids.is_empty() => {
                    Resolved::Resources(ids.into_iter().map(Resource::Experiment).collect())
                }
                _ => Resolved::Nothing,
            },
        },
        Target::RegisteredModel(source) => match one(inputs.values(source, false)?) {
            None => Resolved::Missing,
            Some(name) => {
                Resolved::Resources(vec![Resource::RegisteredModel(ModelName::parse(&name)?)])
            }
        },
        Target::ArtifactPath(source) => match one(inputs.values(source, false)?) {
            None => Resolved::Missing,
            Some(path) => match decode::artifact_experiment(&path)? {
                Some(id) => Resolved::Resources(vec![experiment(id)?]),
                None => Resolved::Nothing,
            },
        },
        Target::Scorer {
            experiment: exp,
            name,
        } => {
            match (
                one(inputs.values(exp, false)?),
                one(inputs.values(name, false)?),
            ) {
                (Some(exp), Some(name)) => Resolved::Resources(vec![Resource::Scorer {
                    experiment_id: ExperimentId::parse(&exp)?,
                    name: OpaqueId::parse(&name)?,
                }]),
                _ => Resolved::Missing,
            }
        }
        Target::GatewaySecret(source) => opaque(inputs, source, Resource::GatewaySecret)?,
        Target::GatewayEndpoint(source) => opaque(inputs, source, Resource::GatewayEndpoint)?,
        Target::GatewayModelDefinition(source) => {
            opaque(inputs, source, Resource::GatewayModelDefinition)?
        }
        Target::GatewayEndpointByName(source) => match one(inputs.values(source, false)?) {
            None => Resolved::Missing,
            Some(name) => match lookup
                .gateway_endpoint_by_name(&name)
                .await
                .map_err(lookup_failed)?
            {
                Some(id) => Resolved::Resources(vec![Resource::GatewayEndpoint(id)]),
                None => Resolved::Nothing,
            },
        },
        Target::GatewayModelDefinitions(Source::Body(pointer)) => match inputs.body_at(pointer)? {
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
            Some(_) => return Err(not_a_string(pointer)),
        },
        // Model-definition lists only ever come from a JSON body.
        Target::GatewayModelDefinitions(_) => Resolved::Nothing,
    })
}

/// The distinct `model_id`s (or `modelId`s) of a JSON array of objects; an item
/// spelling both differently is a conflict.
fn model_ids_in(list: Option<&Value>) -> Result<Vec<String>, ApiError> {
    let items = match list {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(ApiError::invalid_parameter(
                "Invalid value for a list of metrics: expected a list.",
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
async fn trace_files(trace_id: &str, lookup: &dyn TrackingLookup) -> Result<Resolved, ApiError> {
    let Some(files) = lookup.trace_files(trace_id).await.map_err(lookup_failed)? else {
        return Ok(Resolved::Nothing);
    };
    let Some(location) = files.artifact_location else {
        // MLflow reads no files without the tag: it answers the error itself.
        return Ok(Resolved::Resources(vec![Resource::Experiment(
            files.experiment,
        )]));
    };
    let Some(root) = lookup
        .experiment_artifact_root(&files.experiment)
        .await
        .map_err(lookup_failed)?
    else {
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
) -> Result<Resolved, ApiError> {
    if decode::artifact_experiment(path)?.is_none() {
        return Ok(Resolved::Nothing);
    }
    let path = path.trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').collect();
    let origin = match segments.as_slice() {
        [_, "models", model_id, ..] => VersionOrigin::LoggedModel(model_id),
        [_, run_id, ..] => VersionOrigin::Run(run_id),
        _ => return Ok(Resolved::Nothing),
    };
    let versions = lookup
        .model_versions_from(origin)
        .await
        .map_err(lookup_failed)?;
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
fn parse_source_uri(uri: &str) -> Result<Option<SourceRef<'_>>, ApiError> {
    if let Some(path) = artifacts_uri_path(uri) {
        return Ok(decode::artifact_experiment(path)?.map(SourceRef::Artifacts));
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
async fn resolve_source_uri(uri: &str, lookup: &dyn TrackingLookup) -> Result<Resolved, ApiError> {
    let by = |found: Option<ExperimentId>| match found {
        Some(id) => Resolved::Resources(vec![Resource::Experiment(id)]),
        None => Resolved::Nothing,
    };
    Ok(match parse_source_uri(uri)? {
        None => Resolved::Nothing,
        Some(SourceRef::Artifacts(id)) => Resolved::Resources(vec![experiment(id)?]),
        Some(SourceRef::Run(run_id)) => by(lookup
            .experiment_of_run(run_id)
            .await
            .map_err(lookup_failed)?),
        Some(SourceRef::LoggedModel(model_id)) => by(lookup
            .experiment_of_logged_model(model_id)
            .await
            .map_err(lookup_failed)?),
        Some(SourceRef::ModelVersion(name)) => {
            Resolved::Resources(vec![Resource::RegisteredModel(ModelName::parse(name)?)])
        }
    })
}

fn opaque(
    inputs: &RequestInputs<'_>,
    source: Source,
    make: fn(OpaqueId) -> Resource,
) -> Result<Resolved, ApiError> {
    Ok(match inputs.values(source, false)?.into_iter().next() {
        None => Resolved::Missing,
        Some(id) => Resolved::Resources(vec![make(OpaqueId::parse(&id)?)]),
    })
}
