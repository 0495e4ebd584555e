//! The everyday workflows of the stock MLflow 3.10.1 client, request by request as the
//! client sends them (method, path, query and body fields, from a capture of the
//! real client), each with the decision mlguard must give:
//!
//! - `owner`: MANAGE on what they created (experiment 1, the registered models);
//! - `reader`: READ on experiment 1 and on the registered models;
//! - `registry`: READ on the registered models only, nothing on the experiment behind
//!   them (a registry-only reader);
//! - `stranger`: no grant at all; `admin` where only an admin may pass.
//!
//! Every workflow runs in a fresh world under default NO_PERMISSIONS and READ, once
//! spelled `/api/` and once `/ajax-api/`, and every GET is also sent as HEAD. The real
//! router runs in process; MLflow is played by an upstream that answers as MLflow
//! does and records what reached it (method, URI, headers, body), and the lookup port
//! by a small world that shares its state with that upstream.
//!
//! A decision is one of: forwarded unchanged (MLflow's answer passes back, or is
//! filtered), forwarded with a narrowed body, refused with 403 PERMISSION_DENIED
//! before anything leaves, refused after MLflow answered success to a name mlguard
//! saw as absent, or answered by mlguard itself.

// The API suites' store fixture: one fixture for every suite.
#[path = "../../mlguard-api/tests/support/mod.rs"]
mod support;

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, Response, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http_body_util::BodyExt;
use mlguard_api::AppState;
use mlguard_domain::{
    BoxFuture, ExperimentId, GrantStore, LookupError, ModelKind, ModelName, OpaqueId, Permission,
    Resource, TraceFiles, TrackingLookup, Username, VersionFiles, VersionOrigin,
};
use mlguard_gateway::{ForwardError, Gateway, GatewayState};
use serde_json::{Value, json};
use tower::ServiceExt;

// --- The world -----------------------------------------------------------------------

/// Runs and the experiment each belongs to.
const RUNS: &[(&str, &str)] = &[("r1", "1"), ("r2", "2")];

/// Logged models and their experiments. `m-x` is registered (classifier v1); `m-xy`
/// and `m-other` never were; `m-2` is another experiment's.
const LOGGED_MODELS: &[(&str, &str)] =
    &[("m-x", "1"), ("m-xy", "1"), ("m-other", "1"), ("m-2", "2")];

/// Gateway guardrails: (id, the experiment of its scorer, the scorer's name).
const GUARDRAILS: &[(&str, &str, &str)] = &[("g-1", "1", "polite"), ("g-2", "2", "strict")];
/// The one gateway endpoint guardrails are attached to.
const ENDPOINT: &str = "e-1";

/// Known to MLflow, but created after mlguard's lookup said the name was free.
const APPEARED_EXPERIMENT: (&str, &str) = ("4", "raced-exp");
const APPEARED_MODEL: &str = "raced-prompt";

/// The first id MLflow gives a created experiment.
const FIRST_CREATED_EXPERIMENT: u32 = 10;

const PROMPT_TAG: &str = "mlflow.prompt.is_prompt";

/// A registered model version as MLflow stores it.
#[derive(Debug, Clone)]
struct Version {
    model: String,
    version: String,
    source: String,
    run_id: Option<String>,
    /// What `get-download-uri` answers: where MLflow serves the version's files from.
    download_uri: String,
}

/// What MLflow holds; the upstream changes it, the lookup reads it.
#[derive(Debug)]
struct State {
    /// (id, name).
    experiments: Vec<(String, String)>,
    registered_models: Vec<String>,
    /// The registered models tagged as prompts.
    prompts: Vec<String>,
    versions: Vec<Version>,
    /// (id, name, linked experiments).
    datasets: Vec<(String, String, Vec<String>)>,
    next_experiment: u32,
    /// The jobs MLflow holds, in submission order; ids are `job-<n>`.
    jobs: Vec<String>,
}

fn version(model: &str, number: &str, source: &str, run_id: Option<&str>, uri: &str) -> Version {
    Version {
        model: model.to_owned(),
        version: number.to_owned(),
        source: source.to_owned(),
        run_id: run_id.map(str::to_owned),
        download_uri: uri.to_owned(),
    }
}

impl State {
    fn new() -> Self {
        let owned = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect()
        };
        let dataset = |id: &str, name: &str, experiments: &[&str]| {
            (
                id.to_owned(),
                name.to_owned(),
                experiments.iter().map(|e| (*e).to_owned()).collect(),
            )
        };
        Self {
            experiments: owned(&[("1", "team-exp"), ("2", "other-exp")]),
            registered_models: vec!["classifier".to_owned(), "greeting".to_owned()],
            prompts: vec!["greeting".to_owned()],
            versions: vec![
                version(
                    "classifier",
                    "1",
                    "models:/m-x",
                    Some("r1"),
                    "mlflow-artifacts:/1/models/m-x/artifacts",
                ),
                version(
                    "classifier",
                    "2",
                    "runs:/r1/model",
                    Some("r1"),
                    "mlflow-artifacts:/1/r1/artifacts/model",
                ),
                // Prompt versions: the client's and the store's placeholders.
                version("greeting", "1", "dummy-source", None, "dummy-source"),
                version("greeting", "2", "prompt-template", None, "prompt-template"),
            ],
            datasets: vec![
                dataset("d-1", "golden", &["1"]),
                dataset("d-12", "shared", &["1", "2"]),
                dataset("d-2", "theirs", &["2"]),
                dataset("d-none", "orphan", &[]),
            ],
            next_experiment: FIRST_CREATED_EXPERIMENT,
            jobs: Vec::new(),
        }
    }

    fn submit_job(&mut self) -> String {
        let id = format!("job-{}", self.jobs.len() + 1);
        self.jobs.push(id.clone());
        id
    }

    /// A registered model as MLflow answers it: a prompt carries its tag.
    fn model_json(&self, name: &str) -> Value {
        if self.prompts.iter().any(|p| p == name) {
            json!({"name": name, "tags": [{"key": PROMPT_TAG, "value": "true"}]})
        } else {
            json!({"name": name})
        }
    }

    fn experiment_named(&self, name: &str) -> Option<&str> {
        self.experiments
            .iter()
            .find(|(_, n)| n == name)
            .map(|(id, _)| id.as_str())
    }
}

fn experiment_of<'a>(table: &'a [(&'a str, &'a str)], id: &str) -> Option<&'a str> {
    table.iter().find(|(k, _)| *k == id).map(|(_, e)| *e)
}

/// One request that reached "MLflow", and what it answered.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    uri: String,
    headers: HeaderMap,
    body: Bytes,
    answer: Bytes,
}

#[derive(Debug)]
struct World {
    state: Mutex<State>,
    seen: Mutex<Vec<Seen>>,
    /// How often mlguard asked what a registered model is.
    kind_lookups: std::sync::atomic::AtomicUsize,
}

impl World {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("state lock")
    }

    fn seen(&self) -> MutexGuard<'_, Vec<Seen>> {
        self.seen.lock().expect("seen lock")
    }
}

// --- MLflow, played --------------------------------------------------------------------

/// How MLflow answers.
enum Answer {
    Json(StatusCode, Value),
    File(&'static str),
}

fn mlflow_error(status: StatusCode, code: &str, message: String) -> Answer {
    Answer::Json(status, json!({"error_code": code, "message": message}))
}

fn query_value<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A body list in either spelling MLflow's parser accepts.
fn body_list(body: &Value, snake: &str, camel: &str) -> Vec<String> {
    body.get(snake)
        .or_else(|| body.get(camel))
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn experiment_json(id: &str, name: &str) -> Value {
    json!({
        "experiment": {
            "experiment_id": id, "name": name,
            "artifact_location": format!("mlflow-artifacts:/{id}"),
            "lifecycle_stage": "active",
        }
    })
}

fn version_json(v: &Version) -> Value {
    json!({
        "model_version": {
            "name": v.model, "version": v.version, "source": v.source,
            "run_id": v.run_id.clone().unwrap_or_default(), "status": "READY",
        }
    })
}

fn dataset_item(id: &str, name: &str) -> Value {
    json!({"dataset_id": id, "name": name, "digest": format!("{id}-digest")})
}

fn run_item(id: &str, experiment: &str) -> Value {
    json!({"info": {"run_id": id, "run_uuid": id, "experiment_id": experiment}})
}

fn logged_model_item(id: &str, experiment: &str) -> Value {
    json!({"info": {"model_id": id, "experiment_id": experiment}})
}

/// The name in a search filter's `name = '...'` clause, if it has one.
fn filtered_name(filter: &str) -> Option<String> {
    let at = filter.find("name")?;
    let rest = filter[at + "name".len()..].trim_start().strip_prefix('=')?;
    let quoted = rest.trim_start().strip_prefix('\'')?;
    quoted.split_once('\'').map(|(name, _)| name.to_owned())
}

/// Where a new version's files are: MLflow copies a logged model's or a run's
/// artifact location; anything else is served from the source itself.
fn download_uri_for(source: &str) -> String {
    if let Some(id) = source.strip_prefix("models:/")
        && let Some(exp) = experiment_of(LOGGED_MODELS, id)
    {
        return format!("mlflow-artifacts:/{exp}/models/{id}/artifacts");
    }
    if let Some((run, path)) = source
        .strip_prefix("runs:/")
        .and_then(|rest| rest.split_once('/'))
        && let Some(exp) = experiment_of(RUNS, run)
    {
        return format!("mlflow-artifacts:/{exp}/{run}/artifacts/{path}");
    }
    source.to_owned()
}

/// MLflow's `_validate_source`: a local path (or `file:`) is refused unless it is a
/// prompt's placeholder; `..` is refused in any source.
fn source_refused(source: &str, is_prompt: bool) -> bool {
    let local = !source.contains(":/") || source.starts_with("file:");
    let placeholder = is_prompt && matches!(source, "dummy-source" | "prompt-template");
    source.split('/').any(|s| s == "..") || (local && !placeholder)
}

/// The route as MLflow's Flask app sees it: one spelling for every prefix.
fn mlflow_route(path: &str) -> String {
    let path = match path.strip_prefix("/ajax-api/") {
        Some(rest) => format!("/api/{rest}"),
        None => path.to_owned(),
    };
    path.replacen("/api/3.0/", "/api/2.0/", 1)
}

fn answer(state: &mut State, method: &Method, path: &str, query: &str, body: &[u8]) -> Answer {
    let query: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    let q = |name: &str| query_value(&query, name).unwrap_or_default().to_owned();
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let field = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default();
    let route = mlflow_route(path);
    let not_found = |what: String| {
        mlflow_error(
            StatusCode::NOT_FOUND,
            "RESOURCE_DOES_NOT_EXIST",
            format!("{what} not found"),
        )
    };
    let ok = |json: Value| Answer::Json(StatusCode::OK, json);
    let upstream_only = |name: &str| name == APPEARED_EXPERIMENT.1;
    match (method.as_str(), route.as_str()) {
        ("GET", "/api/2.0/mlflow/experiments/get-by-name") => {
            let name = q("experiment_name");
            match state.experiment_named(&name) {
                Some(id) => ok(experiment_json(id, &name)),
                None if upstream_only(&name) => ok(experiment_json(APPEARED_EXPERIMENT.0, &name)),
                None => mlflow_error(
                    StatusCode::NOT_FOUND,
                    "RESOURCE_DOES_NOT_EXIST",
                    format!("Could not find experiment with name '{name}'"),
                ),
            }
        }
        ("POST", "/api/2.0/mlflow/experiments/create") => {
            let name = field("name").to_owned();
            if state.experiment_named(&name).is_some() {
                return mlflow_error(
                    StatusCode::BAD_REQUEST,
                    "RESOURCE_ALREADY_EXISTS",
                    format!("Experiment '{name}' already exists."),
                );
            }
            let id = state.next_experiment.to_string();
            state.next_experiment += 1;
            state.experiments.push((id.clone(), name));
            ok(json!({"experiment_id": id}))
        }
        ("GET", "/api/2.0/mlflow/experiments/get") => {
            let id = q("experiment_id");
            match state.experiments.iter().find(|(i, _)| *i == id) {
                Some((id, name)) => ok(experiment_json(id, name)),
                None => not_found(format!("Experiment '{id}'")),
            }
        }
        ("GET", "/api/2.0/mlflow/runs/get") => {
            let id = q("run_id");
            match experiment_of(RUNS, &id) {
                Some(experiment) => ok(json!({"run": {"info": run_item(&id, experiment)}})),
                None => not_found(format!("Run '{id}'")),
            }
        }
        ("POST", "/api/2.0/mlflow/runs/log-metric") => ok(json!({})),
        ("POST", "/api/2.0/mlflow/runs/create") => {
            let id = field("experiment_id");
            ok(
                json!({"run": {"info": {"run_id": "r-new", "experiment_id": id,
                "lifecycle_stage": "active", "status": "RUNNING"}}}),
            )
        }
        ("GET", "/api/2.0/mlflow/registered-models/get") => {
            let name = q("name");
            if state.registered_models.contains(&name) || name == APPEARED_MODEL {
                ok(json!({"registered_model": state.model_json(&name)}))
            } else {
                not_found(format!("Registered Model with name={name}"))
            }
        }
        ("POST", "/api/2.0/mlflow/registered-models/create") => {
            let name = field("name").to_owned();
            if state.registered_models.contains(&name) {
                return mlflow_error(
                    StatusCode::BAD_REQUEST,
                    "RESOURCE_ALREADY_EXISTS",
                    format!("Registered Model (name={name}) already exists."),
                );
            }
            state.registered_models.push(name.clone());
            let tags = body.get("tags").cloned().unwrap_or(json!([]));
            let is_prompt = tags.as_array().into_iter().flatten().any(|tag| {
                tag.get("key").and_then(Value::as_str) == Some(PROMPT_TAG)
                    && tag.get("value").and_then(Value::as_str) == Some("true")
            });
            if is_prompt {
                state.prompts.push(name.clone());
            }
            ok(json!({"registered_model": {"name": name, "tags": tags}}))
        }
        ("GET", "/api/2.0/mlflow/registered-models/search") => {
            let named = filtered_name(&q("filter"));
            let models: Vec<Value> = state
                .registered_models
                .iter()
                .filter(|m| named.as_ref().is_none_or(|n| n == *m))
                .map(|m| state.model_json(m))
                .collect();
            ok(json!({ "registered_models": models }))
        }
        ("GET", "/api/2.0/mlflow/model-versions/search") => {
            let named = filtered_name(&q("filter"));
            let versions: Vec<Value> = state
                .versions
                .iter()
                .filter(|v| named.as_ref().is_none_or(|n| *n == v.model))
                .map(|v| version_json(v)["model_version"].clone())
                .collect();
            ok(json!({ "model_versions": versions }))
        }
        ("GET", "/api/2.0/mlflow/registered-models/alias") => {
            let name = q("name");
            match state.versions.iter().find(|v| v.model == name) {
                Some(v) => ok(version_json(v)),
                None => not_found(format!("Registered model alias {} of {name}", q("alias"))),
            }
        }
        ("POST", "/api/2.0/mlflow/model-versions/create") => {
            let name = field("name").to_owned();
            let source = field("source").to_owned();
            if !state.registered_models.contains(&name) {
                return not_found(format!("Registered Model with name={name}"));
            }
            let is_prompt = body
                .get("tags")
                .and_then(Value::as_array)
                .is_some_and(|tags| tags.iter().any(|t| t["key"] == PROMPT_TAG));
            if source_refused(&source, is_prompt) {
                return mlflow_error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_PARAMETER_VALUE",
                    format!("Invalid model version source: '{source}'."),
                );
            }
            let number = state.versions.iter().filter(|v| v.model == name).count() + 1;
            let run_id = body.get("run_id").and_then(Value::as_str);
            let new = version(
                &name,
                &number.to_string(),
                &source,
                run_id,
                &download_uri_for(&source),
            );
            let answer = version_json(&new);
            state.versions.push(new);
            ok(answer)
        }
        ("GET", "/api/2.0/mlflow/model-versions/get") => {
            let (name, number) = (q("name"), q("version"));
            match state
                .versions
                .iter()
                .find(|v| v.model == name && v.version == number)
            {
                Some(v) => ok(version_json(v)),
                None => not_found(format!("Model Version (name={name}, version={number})")),
            }
        }
        ("GET", "/api/2.0/mlflow/model-versions/get-download-uri") => {
            let (name, number) = (q("name"), q("version"));
            match state
                .versions
                .iter()
                .find(|v| v.model == name && v.version == number)
            {
                Some(v) => ok(json!({"artifact_uri": v.download_uri})),
                None => not_found(format!("Model Version (name={name}, version={number})")),
            }
        }
        ("GET", "/model-versions/get-artifact") => {
            let (name, number) = (q("name"), q("version"));
            if state
                .versions
                .iter()
                .any(|v| v.model == name && v.version == number)
            {
                Answer::File("artifact_path: model\nflavors: {}\n")
            } else {
                not_found(format!("Model Version (name={name}, version={number})"))
            }
        }
        ("GET", "/api/2.0/mlflow-artifacts/artifacts") => ok(json!({
            "files": [
                {"path": "MLmodel", "is_dir": false, "file_size": 27},
                {"path": "model.pkl", "is_dir": false, "file_size": 711},
            ]
        })),
        ("GET", artifact) if artifact.starts_with("/api/2.0/mlflow-artifacts/artifacts/") => {
            Answer::File("artifact_path: model\nflavors: {}\n")
        }
        ("POST", "/api/2.0/mlflow/datasets/create") => {
            let experiments = body_list(&body, "experiment_ids", "experimentIds");
            let name = field("name").to_owned();
            state
                .datasets
                .push(("d-new".to_owned(), name.clone(), experiments.clone()));
            ok(json!({"dataset": {"dataset_id": "d-new", "name": name,
                "experiment_ids": experiments}}))
        }
        // Configs of scorers in experiments 1 and 2, whatever scorer ids are asked.
        ("GET", "/api/2.0/mlflow/scorers/online-configs") => ok(online_configs_page(&["1", "2"])),
        ("POST", "/api/2.0/mlflow/datasets/search") => {
            let wanted = body_list(&body, "experiment_ids", "experimentIds");
            let datasets: Vec<Value> = state
                .datasets
                .iter()
                .filter(|(_, _, linked)| {
                    wanted.is_empty() || linked.iter().any(|e| wanted.contains(e))
                })
                .map(|(id, name, _)| dataset_item(id, name))
                .collect();
            ok(json!({ "datasets": datasets }))
        }
        ("GET", dataset) if dataset.starts_with("/api/2.0/mlflow/datasets/") => {
            let id = &dataset["/api/2.0/mlflow/datasets/".len()..];
            match state.datasets.iter().find(|(i, _, _)| i == id) {
                Some((id, name, _)) => ok(json!({ "dataset": dataset_item(id, name) })),
                None => not_found(format!("Dataset '{id}'")),
            }
        }
        ("POST", "/api/2.0/mlflow/runs/search") => {
            let wanted = body_list(&body, "experiment_ids", "experimentIds");
            let runs: Vec<Value> = RUNS
                .iter()
                .filter(|(_, e)| wanted.iter().any(|w| w == e))
                .map(|(id, e)| run_item(id, e))
                .collect();
            ok(json!({ "runs": runs }))
        }
        ("POST", "/api/2.0/mlflow/logged-models/search") => {
            let wanted = body_list(&body, "experiment_ids", "experimentIds");
            let models: Vec<Value> = LOGGED_MODELS
                .iter()
                .filter(|(_, e)| wanted.iter().any(|w| w == e))
                .map(|(id, e)| logged_model_item(id, e))
                .collect();
            ok(json!({ "models": models }))
        }
        ("GET", "/api/2.0/mlflow/gateway/guardrails/list-for-endpoint") => {
            let configs: Vec<Value> = GUARDRAILS.iter().map(|g| guardrail_config(g.0)).collect();
            ok(json!({ "configs": configs }))
        }
        ("POST", "/api/2.0/mlflow/gateway/guardrails/add-to-endpoint")
        | ("PATCH", "/api/2.0/mlflow/gateway/guardrails/update-config") => {
            ok(json!({"config": guardrail_config(field("guardrail_id"))}))
        }
        ("POST", "/api/2.0/mlflow/genai/evaluate/invoke") => {
            let job = state.submit_job();
            ok(json!({"job_id": job, "run_id": "r-eval"}))
        }
        ("POST", "/api/2.0/mlflow/scorer/invoke") => {
            let jobs: Vec<Value> = (0..2)
                .map(|_| json!({"job_id": state.submit_job(), "trace_ids": ["t-1"]}))
                .collect();
            ok(json!({ "jobs": jobs }))
        }
        ("POST", "/api/2.0/jobs/search") => {
            let jobs: Vec<Value> = state.jobs.iter().map(|id| job_json(id)).collect();
            ok(json!({ "jobs": jobs }))
        }
        (_, job_route) if job_id_of(job_route).is_some() => {
            let id = job_id_of(job_route).unwrap_or_default();
            if state.jobs.iter().any(|job| job == id) {
                ok(job_json(id))
            } else {
                not_found(format!("Job with ID {id}"))
            }
        }
        _ => mlflow_error(
            StatusCode::NOT_FOUND,
            "ENDPOINT_NOT_FOUND",
            format!("No route for {method} {path} in this fake MLflow"),
        ),
    }
}

/// A guardrail attached to [`ENDPOINT`], as MLflow answers it: with its scorer.
fn guardrail_config(id: &str) -> Value {
    let (_, experiment, scorer) = GUARDRAILS
        .iter()
        .find(|g| g.0 == id)
        .copied()
        .unwrap_or((id, "0", "unknown"));
    json!({"endpoint_id": ENDPOINT, "guardrail_id": id, "execution_order": 1,
        "guardrail": {"guardrail_id": id, "name": format!("{scorer} guard"),
            "scorer": {"experiment_id": experiment.parse::<u32>().unwrap_or(0),
                "scorer_name": scorer, "scorer_version": 1,
                "serialized_scorer": format!("{{\"name\": \"{scorer}\"}}")}}})
}

fn job_json(id: &str) -> Value {
    json!({"job_id": id, "status": "PENDING"})
}

/// The job a get or cancel route names, under either job API.
fn job_id_of(route: &str) -> Option<&str> {
    ["/api/2.0/jobs/cancel/", "/api/2.0/mlflow/jobs/cancel/"]
        .iter()
        .chain(&["/api/2.0/jobs/", "/api/2.0/mlflow/jobs/"])
        .find_map(|prefix| route.strip_prefix(prefix))
        .filter(|id| !id.is_empty() && !id.contains('/') && *id != "search")
}

/// The `Forward` port: answers as MLflow would and records every request.
struct Upstream(Arc<World>);

impl Upstream {
    /// Answers one forwarded request.
    fn forward(
        &self,
        request: Request<Body>,
    ) -> BoxFuture<'static, Result<Response<Body>, ForwardError>> {
        let world = Arc::clone(&self.0);
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| ForwardError::Unreachable(e.to_string()))?
                .to_bytes();
            let answered = answer(
                &mut world.state(),
                &parts.method,
                parts.uri.path(),
                parts.uri.query().unwrap_or_default(),
                &body,
            );
            let (status, content_type, bytes) = match answered {
                Answer::Json(status, json) => (
                    status,
                    "application/json",
                    Bytes::from(serde_json::to_vec(&json).expect("json")),
                ),
                Answer::File(text) => (
                    StatusCode::OK,
                    "application/octet-stream",
                    Bytes::from_static(text.as_bytes()),
                ),
            };
            world.seen().push(Seen {
                method: parts.method,
                uri: parts.uri.to_string(),
                headers: parts.headers,
                body,
                answer: bytes.clone(),
            });
            Ok(Response::builder()
                .status(status)
                .header(header::CONTENT_TYPE, content_type)
                .header(header::CONTENT_LENGTH, bytes.len())
                .body(Body::from(bytes))
                .expect("response"))
        })
    }
}

// --- The lookup, over the same world ----------------------------------------------------

struct Lookup(Arc<World>);

fn experiment_id(id: &str) -> ExperimentId {
    ExperimentId::parse(id).expect("experiment id")
}

impl TrackingLookup for Lookup {
    fn scorer_of_guardrail<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Resource>, LookupError>> {
        Box::pin(async move {
            Ok(GUARDRAILS
                .iter()
                .find(|g| g.0 == id)
                .map(|(_, experiment, name)| Resource::Scorer {
                    experiment_id: experiment_id(experiment),
                    name: OpaqueId::parse(name).expect("scorer name"),
                }))
        })
    }
    fn experiment_of_run<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ExperimentId>, LookupError>> {
        Box::pin(async move { Ok(experiment_of(RUNS, id).map(experiment_id)) })
    }
    fn experiment_of_logged_model<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ExperimentId>, LookupError>> {
        Box::pin(async move { Ok(experiment_of(LOGGED_MODELS, id).map(experiment_id)) })
    }
    fn experiment_of_trace<'a>(
        &'a self,
        _id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ExperimentId>, LookupError>> {
        Box::pin(async { Ok(None) })
    }
    fn experiment_by_name<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ExperimentId>, LookupError>> {
        Box::pin(async move { Ok(self.0.state().experiment_named(name).map(experiment_id)) })
    }
    fn trace_files<'a>(
        &'a self,
        _id: &'a str,
    ) -> BoxFuture<'a, Result<Option<TraceFiles>, LookupError>> {
        Box::pin(async { Ok(None) })
    }
    fn experiment_artifact_root<'a>(
        &'a self,
        _experiment: &'a ExperimentId,
    ) -> BoxFuture<'a, Result<Option<String>, LookupError>> {
        Box::pin(async { Ok(None) })
    }
    fn experiments_of_dataset<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<ExperimentId>>, LookupError>> {
        Box::pin(async move {
            Ok(self
                .0
                .state()
                .datasets
                .iter()
                .find(|(i, _, _)| i == id)
                .map(|(_, _, linked)| linked.iter().map(|e| experiment_id(e)).collect()))
        })
    }
    fn gateway_endpoint_by_name<'a>(
        &'a self,
        _name: &'a str,
    ) -> BoxFuture<'a, Result<Option<OpaqueId>, LookupError>> {
        Box::pin(async { Ok(None) })
    }
    fn registered_model_exists<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<bool, LookupError>> {
        Box::pin(async move { Ok(self.0.state().registered_models.iter().any(|m| m == name)) })
    }
    fn registered_model_kind<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ModelKind>, LookupError>> {
        Box::pin(async move {
            self.0
                .kind_lookups
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let state = self.0.state();
            Ok(state.registered_models.iter().any(|m| m == name).then(|| {
                match state.prompts.iter().any(|p| p == name) {
                    true => ModelKind::Prompt,
                    false => ModelKind::Model,
                }
            }))
        })
    }
    /// Experiments and registered models are the world's; nothing else exists here.
    fn resource_exists<'a>(
        &'a self,
        resource: &'a Resource,
    ) -> BoxFuture<'a, Result<bool, LookupError>> {
        Box::pin(async move {
            let state = self.0.state();
            Ok(match resource {
                Resource::Experiment(id) => state.experiments.iter().any(|(i, _)| i == id.as_str()),
                Resource::RegisteredModel(name) => {
                    state.registered_models.iter().any(|m| m == name.as_str())
                        && !state.prompts.iter().any(|p| p == name.as_str())
                }
                Resource::Prompt(name) => state.prompts.iter().any(|p| p == name.as_str()),
                Resource::GatewayEndpoint(id) => id.as_str() == ENDPOINT,
                Resource::Scorer {
                    experiment_id,
                    name,
                } => GUARDRAILS
                    .iter()
                    .any(|g| g.1 == experiment_id.as_str() && g.2 == name.as_str()),
                _ => false,
            })
        })
    }
    fn model_version_source<'a>(
        &'a self,
        name: &'a str,
        number: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, LookupError>> {
        Box::pin(async move {
            Ok(self
                .0
                .state()
                .versions
                .iter()
                .find(|v| v.model == name && v.version == number)
                .map(|v| v.source.clone()))
        })
    }
    /// Deliberately loose, as a prefix filter would be: every version made from a run
    /// or logged model whose id begins the one asked about (`m-x` for `m-xy`). Which
    /// files a version serves is the gateway's to decide, not the lookup's.
    fn model_versions_from<'a>(
        &'a self,
        origin: VersionOrigin<'a>,
    ) -> BoxFuture<'a, Result<Vec<VersionFiles>, LookupError>> {
        Box::pin(async move {
            Ok(self
                .0
                .state()
                .versions
                .iter()
                .filter(|v| match origin {
                    VersionOrigin::Run(run) => {
                        v.run_id.as_deref().is_some_and(|id| run.starts_with(id))
                    }
                    VersionOrigin::LoggedModel(model) => v
                        .source
                        .strip_prefix("models:/")
                        .is_some_and(|id| model.starts_with(id)),
                })
                .map(|v| VersionFiles {
                    model_name: v.model.clone(),
                    version: v.version.clone(),
                    download_uri: v.download_uri.clone(),
                })
                .collect())
        })
    }
}

// --- Users and the router -----------------------------------------------------------------

type User = (&'static str, &'static str);

const OWNER: User = ("owner", "owner-password-1");
const READER: User = ("reader", "reader-password-1");
const REGISTRY: User = ("registry", "registry-password-1");
const STRANGER: User = ("stranger", "stranger-password-1");
const ADMIN: User = ("admin", "admin-password-1");

struct Setup {
    router: Router,
    world: Arc<World>,
    _dir: tempfile::TempDir,
}

fn setup(default: Permission) -> Setup {
    let (store, dir) = support::store_with_users(&[
        (OWNER, false),
        (READER, false),
        (REGISTRY, false),
        (STRANGER, false),
        (ADMIN, true),
    ]);
    let model = |name: &str| Resource::RegisteredModel(ModelName::parse(name).expect("name"));
    let grants = [
        (
            OWNER,
            Resource::Experiment(experiment_id("1")),
            Permission::Manage,
        ),
        (OWNER, model("classifier"), Permission::Manage),
        (OWNER, model("greeting"), Permission::Manage),
        (
            READER,
            Resource::Experiment(experiment_id("1")),
            Permission::Read,
        ),
        (READER, model("classifier"), Permission::Read),
        (READER, model("greeting"), Permission::Read),
        (REGISTRY, model("classifier"), Permission::Read),
        (REGISTRY, model("greeting"), Permission::Read),
    ];
    for (who, resource, permission) in grants {
        store
            .create_grant(
                &Username::parse(who.0).expect("name"),
                &resource,
                permission,
            )
            .expect("grant");
    }
    let world = Arc::new(World {
        state: Mutex::new(State::new()),
        seen: Mutex::new(Vec::new()),
        kind_lookups: std::sync::atomic::AtomicUsize::new(0),
    });
    let gateway = Gateway::new(
        tower::service_fn({
            let upstream = Arc::new(Upstream(Arc::clone(&world)));
            move |request| upstream.forward(request)
        }),
        Arc::new(Lookup(Arc::clone(&world))),
        None,
        1 << 20,
    );
    let state = AppState::new(Arc::new(store), default);
    let lookup = gateway.lookup();
    let service = mlguard_gateway::service(GatewayState::new(gateway, state.grants()));
    let state = state.with_gateway(service, None, lookup);
    Setup {
        router: mlguard_api::app(state),
        world,
        _dir: dir,
    }
}

// --- Steps, decisions, and the runner -------------------------------------------------

/// One request of the client, spelled under `/api/`.
#[derive(Debug, Clone)]
struct Step {
    method: Method,
    uri: String,
    body: Option<Value>,
}

fn get(uri: &str) -> Step {
    Step {
        method: Method::GET,
        uri: uri.to_owned(),
        body: None,
    }
}

fn post(uri: &str, body: Value) -> Step {
    Step {
        method: Method::POST,
        uri: uri.to_owned(),
        body: Some(body),
    }
}

fn patch(uri: &str) -> Step {
    Step {
        method: Method::PATCH,
        uri: uri.to_owned(),
        body: None,
    }
}

fn delete(uri: &str, body: Value) -> Step {
    Step {
        method: Method::DELETE,
        uri: uri.to_owned(),
        body: Some(body),
    }
}

/// What mlguard must do with one request.
#[derive(Debug, Clone)]
enum Outcome {
    /// Reaches MLflow unchanged (a HEAD as the GET it was authorized as); MLflow's
    /// answer, with this status, comes back as it is.
    Forwarded(StatusCode),
    /// Reaches MLflow unchanged; 200 with exactly this answer (a filtered list).
    Filtered(Value),
    /// Reaches MLflow with `sent` as its body, framed with that body's length; 200
    /// with exactly `answer`.
    Narrowed { sent: Value, answer: Value },
    /// 403 PERMISSION_DENIED "Permission denied.", and nothing reaches MLflow.
    Denied,
    /// Reaches MLflow (the name named nothing), whose success is refused with 403.
    DeniedAfterUpstream,
    /// Answered by mlguard, nothing forwarded: this status, and this body if given.
    Answered(StatusCode, Option<Value>),
    /// 400 INVALID_PARAMETER_VALUE before any decision, nothing forwarded.
    Invalid,
}

fn ok() -> Outcome {
    Outcome::Forwarded(StatusCode::OK)
}

fn missing() -> Outcome {
    Outcome::Forwarded(StatusCode::NOT_FOUND)
}

fn empty_page() -> Outcome {
    Outcome::Answered(StatusCode::OK, Some(json!({})))
}

/// `Denied` under NO_PERMISSIONS; under READ, `read`.
fn unless_read(default: Permission, read: Outcome) -> Outcome {
    if default == Permission::Read {
        read
    } else {
        Outcome::Denied
    }
}

/// `strict` under NO_PERMISSIONS, `read` under READ.
fn by_default(default: Permission, strict: Outcome, read: Outcome) -> Outcome {
    if default == Permission::Read {
        read
    } else {
        strict
    }
}

#[derive(Debug, Clone)]
struct Turn {
    who: User,
    step: Step,
    outcome: Outcome,
}

fn turn(who: User, step: Step, outcome: Outcome) -> Turn {
    Turn { who, step, outcome }
}

/// The step's URI under the chosen prefix. mlguard's own permission API is served at
/// its `/api/2.0/` paths only, as MLflow's is.
fn spelled(uri: &str, ajax: bool) -> String {
    if !ajax || uri.contains("/permissions/") {
        return uri.to_owned();
    }
    match uri.strip_prefix("/api/") {
        Some(rest) => format!("/ajax-api/{rest}"),
        None => uri.to_owned(),
    }
}

struct Sent {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    forwarded: Vec<Seen>,
}

async fn send(setup: &Setup, who: User, method: &Method, uri: &str, body: Option<&[u8]>) -> Sent {
    let before = setup.world.seen().len();
    let mut builder = Request::builder().method(method.clone()).uri(uri).header(
        header::AUTHORIZATION,
        format!("Basic {}", STANDARD.encode(format!("{}:{}", who.0, who.1))),
    );
    let body = match body {
        // As the client sends it: typed and framed with its length.
        Some(bytes) => {
            builder = builder
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::CONTENT_LENGTH, bytes.len());
            Body::from(bytes.to_vec())
        }
        None => Body::empty(),
    };
    let response = setup
        .router
        .clone()
        .oneshot(builder.body(body).expect("request"))
        .await
        .expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let forwarded = setup.world.seen()[before..].to_vec();
    Sent {
        status,
        headers,
        body,
        forwarded,
    }
}

fn denied_body() -> Value {
    json!({
        "error_code": "PERMISSION_DENIED",
        "message": "Permission denied.",
        "sqlstate": "KAM00",
        "error_class": "PERMISSION_DENIED",
    })
}

fn as_json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// What is wrong with `got`, if anything. `body` is what the client sent.
fn judge(outcome: &Outcome, method: &Method, uri: &str, body: &[u8], got: &Sent) -> Vec<String> {
    let mut wrong = Vec::new();
    let head = *method == Method::HEAD;
    let mut expect = |ok: bool, what: String| {
        if !ok {
            wrong.push(what);
        }
    };
    let forwards = !matches!(
        outcome,
        Outcome::Denied | Outcome::Answered(..) | Outcome::Invalid
    );
    let count = got.forwarded.len();
    expect(
        count == usize::from(forwards),
        format!(
            "reached MLflow {count} times, expected {}",
            usize::from(forwards)
        ),
    );
    let status = match outcome {
        Outcome::Forwarded(status) | Outcome::Answered(status, _) => *status,
        Outcome::Filtered(_) | Outcome::Narrowed { .. } => StatusCode::OK,
        Outcome::Denied | Outcome::DeniedAfterUpstream => StatusCode::FORBIDDEN,
        Outcome::Invalid => StatusCode::BAD_REQUEST,
    };
    expect(got.status == status, format!("status {}", got.status));
    let reply = as_json(&got.body);

    if let Some(seen) = got.forwarded.first() {
        let upstream_method = if head { Method::GET } else { method.clone() };
        expect(
            seen.method == upstream_method,
            format!("MLflow saw {}", seen.method),
        );
        expect(seen.uri == uri, format!("MLflow saw {}", seen.uri));
        if let Some(length) = seen.headers.get(header::CONTENT_LENGTH) {
            expect(
                length.to_str().ok() == Some(seen.body.len().to_string().as_str()),
                format!(
                    "MLflow saw content-length {length:?} on a body of {} bytes",
                    seen.body.len()
                ),
            );
        }
        if let Outcome::Narrowed { sent, .. } = outcome {
            expect(
                as_json(&seen.body) == *sent,
                format!(
                    "MLflow saw the body {}, expected {sent}",
                    String::from_utf8_lossy(&seen.body)
                ),
            );
            expect(
                seen.headers.contains_key(header::CONTENT_LENGTH),
                "the narrowed body went without a content-length".to_owned(),
            );
        } else {
            expect(
                seen.body == body,
                format!(
                    "MLflow saw the body {:?}, not the one sent",
                    String::from_utf8_lossy(&seen.body)
                ),
            );
        }
    }
    // The answer's framing: a GET's length is its body's; a HEAD's, if it has one, is
    // the length the GET's answer would have, so it tells no more than the GET.
    let length = got
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(length) = &length {
        let would_be = match outcome {
            _ if !head => Some(got.body.len()),
            Outcome::Filtered(answer) | Outcome::Narrowed { answer, .. } => {
                Some(serde_json::to_vec(answer).expect("json").len())
            }
            Outcome::Forwarded(_) => got.forwarded.first().map(|seen| seen.answer.len()),
            _ => None,
        };
        if let Some(would_be) = would_be {
            expect(
                *length == would_be.to_string(),
                format!(
                    "answered with content-length {length}; the {} answer has {would_be} bytes",
                    if head { "GET's" } else { "sent" }
                ),
            );
        }
    }
    if head {
        return wrong;
    }
    match outcome {
        Outcome::Forwarded(_) => {
            let answer = got.forwarded.first().map(|seen| seen.answer.clone());
            expect(
                answer.is_some_and(|a| a == got.body),
                format!(
                    "answer {:?} is not MLflow's",
                    String::from_utf8_lossy(&got.body)
                ),
            );
        }
        Outcome::Filtered(answer) | Outcome::Narrowed { answer, .. } => {
            expect(
                reply == *answer,
                format!("answer {reply}, expected {answer}"),
            );
        }
        Outcome::Denied | Outcome::DeniedAfterUpstream => {
            expect(reply == denied_body(), format!("answer {reply}"));
        }
        Outcome::Answered(_, Some(answer)) => {
            expect(
                reply == *answer,
                format!("answer {reply}, expected {answer}"),
            );
        }
        Outcome::Answered(_, None) => {}
        Outcome::Invalid => {
            expect(
                reply["error_code"] == "INVALID_PARAMETER_VALUE",
                format!("answer {reply}"),
            );
        }
    }
    wrong
}

fn default_name(default: Permission) -> &'static str {
    if default == Permission::Read {
        "READ"
    } else {
        "NO_PERMISSIONS"
    }
}

/// Plays `turns` in order in a fresh world; every GET is sent as HEAD first.
async fn play(default: Permission, ajax: bool, turns: &[Turn]) -> Vec<String> {
    let setup = setup(default);
    let mut wrong = Vec::new();
    for Turn { who, step, outcome } in turns {
        let uri = spelled(&step.uri, ajax);
        let body = step
            .body
            .as_ref()
            .map(|json| serde_json::to_vec(json).expect("json"));
        let methods = if step.method == Method::GET {
            vec![Method::HEAD, Method::GET]
        } else {
            vec![step.method.clone()]
        };
        for method in methods {
            let got = send(&setup, *who, &method, &uri, body.as_deref()).await;
            let problems = judge(
                outcome,
                &method,
                &uri,
                body.as_deref().unwrap_or_default(),
                &got,
            );
            if !problems.is_empty() {
                let sent = body
                    .as_deref()
                    .map(String::from_utf8_lossy)
                    .unwrap_or_default();
                wrong.push(format!(
                    "[default {}] {} {method} {uri} {sent}\n    expected {outcome:?}\n    {}",
                    default_name(default),
                    who.0,
                    problems.join("; ")
                ));
            }
        }
    }
    wrong
}

/// Each default, each prefix.
const WORLDS: [(Permission, bool); 4] = [
    (Permission::NoPermissions, false),
    (Permission::NoPermissions, true),
    (Permission::Read, false),
    (Permission::Read, true),
];

async fn play_everywhere(sequence: impl Fn(Permission) -> Vec<Turn>) -> Vec<String> {
    let mut wrong = Vec::new();
    for (default, ajax) in WORLDS {
        wrong.extend(play(default, ajax, &sequence(default)).await);
    }
    wrong
}

fn assert_right(wrong: &[String]) {
    assert!(
        wrong.is_empty(),
        "{} wrong decisions:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

// --- set_experiment ---------------------------------------------------------------------

const GET_BY_NAME: &str = "/api/2.0/mlflow/experiments/get-by-name?experiment_name=";

/// `mlflow.set_experiment("new-exp")`: the name names nothing, so MLflow's 404 comes
/// back, the client creates the experiment and reads it back; then it logs a run.
fn set_experiment(default: Permission, who: User) -> Vec<Turn> {
    let other = if who == STRANGER { READER } else { STRANGER };
    let created = FIRST_CREATED_EXPERIMENT.to_string();
    let get_created = get(&format!(
        "/api/2.0/mlflow/experiments/get?experiment_id={created}"
    ));
    let run_in_created = post(
        "/api/2.0/mlflow/runs/create",
        json!({"experiment_id": created, "start_time": 1_700_000_000_000_u64, "tags": []}),
    );
    vec![
        turn(who, get(&format!("{GET_BY_NAME}new-exp")), missing()),
        turn(
            who,
            post(
                "/api/2.0/mlflow/experiments/create",
                json!({"name": "new-exp"}),
            ),
            ok(),
        ),
        turn(who, get_created.clone(), ok()),
        // The creator manages it now; set_experiment in a new process finds it.
        turn(who, get(&format!("{GET_BY_NAME}new-exp")), ok()),
        turn(who, run_in_created.clone(), ok()),
        // Nobody else holds anything on it.
        turn(other, get_created, unless_read(default, ok())),
        turn(
            other,
            get(&format!("{GET_BY_NAME}new-exp")),
            unless_read(default, ok()),
        ),
        turn(other, run_in_created, Outcome::Denied),
    ]
}

#[tokio::test]
async fn set_experiment_with_a_new_name_creates_it_for_whoever_asks() {
    let mut wrong = Vec::new();
    for who in [OWNER, READER, STRANGER] {
        wrong.extend(play_everywhere(|default| set_experiment(default, who)).await);
    }
    assert_right(&wrong);
}

/// get-by-name of names that do name something: the caller needs READ on what they
/// name; a name that appeared after mlguard looked it up is not let through on
/// MLflow's word.
fn existing_names(default: Permission) -> Vec<Turn> {
    let by_name = |name: &str| get(&format!("{GET_BY_NAME}{name}"));
    vec![
        turn(OWNER, by_name("team-exp"), ok()),
        turn(READER, by_name("team-exp"), ok()),
        turn(REGISTRY, by_name("team-exp"), unless_read(default, ok())),
        turn(STRANGER, by_name("team-exp"), unless_read(default, ok())),
        turn(OWNER, by_name("other-exp"), unless_read(default, ok())),
        turn(READER, by_name("other-exp"), unless_read(default, ok())),
        turn(STRANGER, by_name("other-exp"), unless_read(default, ok())),
        turn(ADMIN, by_name("other-exp"), ok()),
        // The lookup found no such experiment; MLflow then answered 200.
        turn(OWNER, by_name("raced-exp"), Outcome::DeniedAfterUpstream),
        turn(STRANGER, by_name("raced-exp"), Outcome::DeniedAfterUpstream),
        turn(ADMIN, by_name("raced-exp"), ok()),
        turn(ADMIN, by_name("no-such-exp"), missing()),
        turn(
            OWNER,
            get("/api/2.0/mlflow/experiments/get?experiment_id=1"),
            ok(),
        ),
        turn(
            OWNER,
            get("/api/2.0/mlflow/experiments/get?experiment_id=2"),
            unless_read(default, ok()),
        ),
    ]
}

#[tokio::test]
async fn get_by_name_of_an_existing_experiment_needs_read_on_it() {
    assert_right(&play_everywhere(existing_names).await);
}

// --- load_model("models:/classifier/1") ---------------------------------------------------

const ARTIFACTS: &str = "/api/2.0/mlflow-artifacts/artifacts";

/// The registered versions' files: classifier v1 (`models:/m-x`) and v2
/// (`runs:/r1/model`), as `load_model` fetches them.
fn load_model_steps() -> Vec<Step> {
    vec![
        get("/api/2.0/mlflow/registered-models/get?name=classifier"),
        get("/api/2.0/mlflow/registered-models/alias?name=classifier&alias=champion"),
        get("/api/2.0/mlflow/model-versions/get?name=classifier&version=1"),
        get("/api/2.0/mlflow/model-versions/get-download-uri?name=classifier&version=1"),
        get(&format!("{ARTIFACTS}?path=1/models/m-x/artifacts")),
        get(&format!("{ARTIFACTS}/1/models/m-x/artifacts/MLmodel")),
        get(&format!("{ARTIFACTS}/1/models/m-x/artifacts/model.pkl")),
        get("/api/2.0/mlflow/model-versions/get-download-uri?name=classifier&version=2"),
        get(&format!("{ARTIFACTS}?path=1/r1/artifacts/model")),
        get(&format!("{ARTIFACTS}/1/r1/artifacts/model/MLmodel")),
        get("/model-versions/get-artifact?name=classifier&version=1&path=MLmodel"),
    ]
}

/// Experiment 1's files that no registered version serves.
fn experiment_only_steps() -> Vec<Step> {
    vec![
        get(&format!("{ARTIFACTS}?path=1")),
        get(&format!("{ARTIFACTS}?path=1/r1")),
        get(&format!("{ARTIFACTS}?path=1/r1/artifacts")),
        // Above the version's root.
        get(&format!("{ARTIFACTS}?path=1/models/m-x")),
        // A logged model that was never registered.
        get(&format!("{ARTIFACTS}?path=1/models/m-other/artifacts")),
        get(&format!("{ARTIFACTS}/1/models/m-other/artifacts/MLmodel")),
        // A prefix of the registered one's id, and of the run version's root.
        get(&format!("{ARTIFACTS}?path=1/models/m-xy/artifacts")),
        get(&format!("{ARTIFACTS}/1/models/m-xy/artifacts/MLmodel")),
        get(&format!("{ARTIFACTS}/1/r1/artifacts/model-extra/MLmodel")),
        // The run's other files.
        get(&format!("{ARTIFACTS}/1/r1/artifacts/metrics.json")),
    ]
}

fn load_model(default: Permission) -> Vec<Turn> {
    let mut turns = Vec::new();
    for step in load_model_steps() {
        for who in [OWNER, READER, REGISTRY] {
            turns.push(turn(who, step.clone(), ok()));
        }
        turns.push(turn(STRANGER, step, unless_read(default, ok())));
    }
    for step in experiment_only_steps() {
        for who in [OWNER, READER] {
            turns.push(turn(who, step.clone(), ok()));
        }
        for who in [REGISTRY, STRANGER] {
            turns.push(turn(who, step.clone(), unless_read(default, ok())));
        }
        turns.push(turn(ADMIN, step, ok()));
    }
    // Another experiment's files: nobody here holds anything on it.
    for step in [
        get(&format!("{ARTIFACTS}?path=2")),
        get(&format!("{ARTIFACTS}/2/models/m-2/artifacts/MLmodel")),
    ] {
        for who in [OWNER, READER, REGISTRY, STRANGER] {
            turns.push(turn(who, step.clone(), unless_read(default, ok())));
        }
    }
    // Paths MLflow could resolve elsewhere are refused before any decision.
    for step in [
        get(&format!(
            "{ARTIFACTS}?path=1/models/m-x/artifacts/../../m-other/artifacts"
        )),
        get(&format!(
            "{ARTIFACTS}/1/models/m-x/artifacts/../../m-other/artifacts/MLmodel"
        )),
        get(&format!(
            "{ARTIFACTS}/1/models/m-x/artifacts%2F..%2F..%2Fm-other/MLmodel"
        )),
    ] {
        for who in [OWNER, REGISTRY, STRANGER] {
            turns.push(turn(who, step.clone(), Outcome::Invalid));
        }
    }
    turns
}

#[tokio::test]
async fn a_registry_reader_loads_the_registered_versions_files_and_nothing_else() {
    assert_right(&play_everywhere(load_model).await);
}

// --- register_prompt ------------------------------------------------------------------------

fn prompt_tag() -> Value {
    json!({"key": PROMPT_TAG, "value": "true"})
}

/// The client's `model-versions/create` for a prompt version.
fn prompt_version(name: &str, source: &str) -> Step {
    post(
        "/api/2.0/mlflow/model-versions/create",
        json!({
            "name": name,
            "source": source,
            "tags": [prompt_tag(), {"key": "mlflow.prompt.text", "value": "Hello, {{name}}!"}],
            "description": "first draft",
        }),
    )
}

/// `mlflow.genai.register_prompt("welcome", ...)` twice, `load_prompt`, and sharing.
fn register_prompt(default: Permission) -> Vec<Turn> {
    let lookup = get("/api/2.0/mlflow/registered-models/get?name=welcome");
    let load = get("/api/2.0/mlflow/model-versions/get?name=welcome&version=1");
    let create = post(
        "/api/2.0/mlflow/registered-models/create",
        json!({"name": "welcome", "tags": [prompt_tag()]}),
    );
    vec![
        // Before it exists, anybody's lookup gets MLflow's 404: the client creates on it.
        turn(STRANGER, lookup.clone(), missing()),
        turn(OWNER, lookup.clone(), missing()),
        turn(OWNER, create, ok()),
        turn(OWNER, prompt_version("welcome", "dummy-source"), ok()),
        turn(OWNER, load.clone(), ok()),
        // It exists now: without a grant, a lookup is refused, not "not found".
        turn(STRANGER, lookup.clone(), unless_read(default, ok())),
        turn(READER, lookup.clone(), unless_read(default, ok())),
        turn(
            READER,
            prompt_version("welcome", "dummy-source"),
            Outcome::Denied,
        ),
        turn(
            STRANGER,
            prompt_version("welcome", "dummy-source"),
            Outcome::Denied,
        ),
        // Shared for reading through the permission API.
        turn(
            OWNER,
            post(
                "/api/2.0/mlflow/registered-models/permissions/create",
                json!({"name": "welcome", "username": "reader", "permission": "READ"}),
            ),
            Outcome::Answered(StatusCode::OK, None),
        ),
        turn(READER, lookup.clone(), ok()),
        turn(READER, load.clone(), ok()),
        turn(
            READER,
            get("/api/2.0/mlflow/registered-models/alias?name=welcome&alias=production"),
            ok(),
        ),
        turn(
            READER,
            prompt_version("welcome", "dummy-source"),
            Outcome::Denied,
        ),
        turn(STRANGER, load, unless_read(default, ok())),
        // The owner's second version: found, so no create.
        turn(OWNER, lookup, ok()),
        turn(OWNER, prompt_version("welcome", "dummy-source"), ok()),
        turn(OWNER, prompt_version("welcome", "prompt-template"), ok()),
        // A placeholder names no files: never served, not even to its manager.
        turn(
            OWNER,
            get("/api/2.0/mlflow/model-versions/get-download-uri?name=welcome&version=1"),
            Outcome::Denied,
        ),
        turn(
            READER,
            get("/model-versions/get-artifact?name=welcome&version=2&path=MLmodel"),
            Outcome::Denied,
        ),
        // A prompt of that name appeared after mlguard looked; MLflow answered 200.
        // Under READ the stranger may read it anyway.
        turn(
            STRANGER,
            get(&format!(
                "/api/2.0/mlflow/registered-models/get?name={APPEARED_MODEL}"
            )),
            by_default(default, Outcome::DeniedAfterUpstream, ok()),
        ),
    ]
}

#[tokio::test]
async fn register_prompt_creates_versions_for_the_owner_only() {
    assert_right(&play_everywhere(register_prompt).await);
}

/// `users/permissions/grant` by the admin, for `who` on `(resource_type, id)`.
fn grant_317(who: User, resource_type: &str, id: &str, permission: &str) -> Turn {
    turn(
        ADMIN,
        post(
            "/api/3.0/mlflow/users/permissions/grant",
            json!({"username": who.0, "resource_type": resource_type,
                "resource_id": id, "permission": permission}),
        ),
        Outcome::Answered(StatusCode::OK, Some(json!({}))),
    )
}

/// MLflow 3.17's prompt type: a prompt is decided by `prompt` rows (and, without
/// one, by a `registered_model` row on its name, as 3.10 made them); a model never by
/// a `prompt` row. What the 3.17 API grants, the 3.10 API shows.
fn prompts_have_their_own_type(default: Permission) -> Vec<Turn> {
    let greeting = get("/api/2.0/mlflow/registered-models/get?name=greeting");
    let classifier = get("/api/2.0/mlflow/registered-models/get?name=classifier");
    let load = get("/api/2.0/mlflow/model-versions/get?name=greeting&version=1");
    let state = State::new();
    let only_greeting = json!({"registered_models": [state.model_json("greeting")]});
    let both = json!({"registered_models": [state.model_json("classifier"), state.model_json("greeting")]});
    let models = get("/api/2.0/mlflow/registered-models/search?max_results=100");
    let read = default == Permission::Read;
    vec![
        turn(STRANGER, greeting.clone(), unless_read(default, ok())),
        grant_317(STRANGER, "prompt", "greeting", "READ"),
        turn(STRANGER, greeting.clone(), ok()),
        turn(STRANGER, load.clone(), ok()),
        // A prompt row on a model's name decides nothing for the model.
        grant_317(STRANGER, "prompt", "classifier", "MANAGE"),
        turn(STRANGER, classifier.clone(), unless_read(default, ok())),
        turn(
            STRANGER,
            post(
                "/api/2.0/mlflow/registered-models/update",
                json!({"name": "classifier", "description": "mine now"}),
            ),
            Outcome::Denied,
        ),
        turn(
            STRANGER,
            models.clone(),
            Outcome::Filtered(if read { both.clone() } else { only_greeting }),
        ),
        // The 3.10 API names the prompt a registered model and shows the prompt row.
        turn(
            ADMIN,
            get(
                "/api/2.0/mlflow/registered-models/permissions/get?name=greeting&username=stranger",
            ),
            Outcome::Answered(
                StatusCode::OK,
                Some(json!({"registered_model_permission": {"name": "greeting",
                    "permission": "READ", "user_id": 4, "workspace": "default"}})),
            ),
        ),
        // The reader's 3.10-made registered_model READ on the prompt reads it until a
        // prompt row on it decides: DENY, absolute under every default.
        turn(READER, greeting.clone(), ok()),
        grant_317(READER, "prompt", "greeting", "DENY"),
        turn(READER, greeting, Outcome::Denied),
        turn(READER, load, Outcome::Denied),
        turn(READER, classifier, ok()),
    ]
}

/// A page of model versions is judged with one question per model, not per version.
#[tokio::test]
async fn a_page_of_versions_asks_about_each_model_once() {
    let setup = setup(Permission::NoPermissions);
    let versions = "/api/2.0/mlflow/model-versions/search?max_results=10000";
    let sent = send(&setup, READER, &Method::GET, versions, None).await;
    assert_eq!(sent.status, StatusCode::OK);
    let listed = as_json(&sent.body)["model_versions"]
        .as_array()
        .expect("versions")
        .len();
    assert_eq!(listed, 4, "both models' versions are the reader's");
    assert_eq!(
        setup
            .world
            .kind_lookups
            .load(std::sync::atomic::Ordering::SeqCst),
        2,
        "classifier and greeting, once each"
    );
}

#[tokio::test]
async fn prompts_are_decided_by_their_own_grants() {
    assert_right(&play_everywhere(prompts_have_their_own_type).await);
}

/// Sources a prompt version may not carry: only the two exact placeholders, sent with
/// the prompt tag, name no files.
const FOREIGN_SOURCES: &[&str] = &[
    "/etc",
    "file:///etc",
    "prompt-template/../x",
    "dummy-source/../../etc",
    "../dummy-source",
    "./dummy-source",
    "Dummy-Source",
    "dummy-source ",
    "s3://bucket/x",
];

fn prompt_attacks(default: Permission) -> Vec<Turn> {
    let create = |body: Value| post("/api/2.0/mlflow/model-versions/create", body);
    let mut turns = vec![
        // The controls: the owner adds prompt versions to greeting.
        turn(OWNER, prompt_version("greeting", "dummy-source"), ok()),
        turn(OWNER, prompt_version("greeting", "prompt-template"), ok()),
    ];
    for source in FOREIGN_SOURCES {
        // Even the prompt's manager may not; an admin's request reaches MLflow, which
        // refuses local paths and `..` itself.
        let step = prompt_version("greeting", source);
        turns.push(turn(OWNER, step.clone(), Outcome::Denied));
        let mlflow_refuses = !source.starts_with("s3:");
        turns.push(turn(
            ADMIN,
            step,
            Outcome::Forwarded(if mlflow_refuses {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            }),
        ));
    }
    // READ on the prompt adds nothing to that.
    turns.push(turn(
        READER,
        prompt_version("greeting", "s3://bucket/x"),
        Outcome::Denied,
    ));
    // The placeholder without the prompt tag is a plain (local) source.
    for body in [
        json!({"name": "greeting", "source": "dummy-source"}),
        json!({"name": "greeting", "source": "dummy-source", "tags": []}),
        json!({"name": "greeting", "source": "dummy-source",
            "tags": [{"key": "mlflow.prompt.text", "value": "x"}]}),
        json!({"name": "greeting", "source": "prompt-template",
            "tags": [{"key": "mlflow.prompt.is_prompt_x", "value": "true"}]}),
    ] {
        turns.push(turn(OWNER, create(body), Outcome::Denied));
    }
    // The placeholder waives the source check only: a run named alongside is checked.
    turns.push(turn(
        OWNER,
        create(json!({"name": "greeting", "source": "dummy-source",
            "tags": [prompt_tag()], "run_id": "r2"})),
        unless_read(default, ok()),
    ));
    turns.push(turn(
        OWNER,
        create(json!({"name": "greeting", "source": "dummy-source",
            "tags": [prompt_tag()], "run_id": "r1"})),
        ok(),
    ));

    // Versions whose stored source is a placeholder: their files are never served to
    // a non-admin, whatever they hold on the prompt.
    for number in ["1", "2"] {
        for step in [
            get(&format!(
                "/api/2.0/mlflow/model-versions/get-download-uri?name=greeting&version={number}"
            )),
            get(&format!(
                "/model-versions/get-artifact?name=greeting&version={number}&path=MLmodel"
            )),
        ] {
            for who in [OWNER, READER, REGISTRY, STRANGER] {
                turns.push(turn(who, step.clone(), Outcome::Denied));
            }
            turns.push(turn(ADMIN, step, ok()));
        }
        // Reading the prompt itself is as ever.
        let load = get(&format!(
            "/api/2.0/mlflow/model-versions/get?name=greeting&version={number}"
        ));
        turns.push(turn(REGISTRY, load.clone(), ok()));
        turns.push(turn(STRANGER, load, unless_read(default, ok())));
    }
    // A version that does not exist: MLflow's 404 for a reader of the model.
    let unknown = get("/api/2.0/mlflow/model-versions/get-download-uri?name=classifier&version=9");
    turns.push(turn(REGISTRY, unknown.clone(), missing()));
    turns.push(turn(STRANGER, unknown, unless_read(default, missing())));
    let unknown_files = get("/model-versions/get-artifact?name=classifier&version=9&path=MLmodel");
    turns.push(turn(REGISTRY, unknown_files.clone(), Outcome::Denied));
    turns.push(turn(ADMIN, unknown_files, missing()));
    turns
}

#[tokio::test]
async fn prompt_placeholders_read_no_files_and_waive_nothing_else() {
    assert_right(&play_everywhere(prompt_attacks).await);
}

// --- GET searches -------------------------------------------------------------------------

/// `search_model_versions("name = 'classifier'")`, `search_prompts("name = 'greeting'")`
/// and `search_registered_models()`: GET searches, filtered to what the caller may read.
/// Their HEAD is authorized as the GET and must tell no more than the GET: not the
/// length of the unfiltered answer.
fn get_searches(default: Permission) -> Vec<Turn> {
    let read = default == Permission::Read;
    let versions = get(
        "/api/2.0/mlflow/model-versions/search?filter=name+%3D+%27classifier%27&max_results=10000",
    );
    let prompts = get("/api/2.0/mlflow/registered-models/search\
?filter=tags.%60mlflow.prompt.is_prompt%60+%3D+%27true%27+AND+name+%3D+%27greeting%27&max_results=50");
    let models = get("/api/2.0/mlflow/registered-models/search?max_results=100");
    let state = State::new();
    let classifier_versions: Vec<Value> = state
        .versions
        .iter()
        .filter(|v| v.model == "classifier")
        .map(|v| version_json(v)["model_version"].clone())
        .collect();
    let all_versions = json!({ "model_versions": classifier_versions });
    let greeting = json!({"registered_models": [state.model_json("greeting")]});
    let both = json!({"registered_models": [state.model_json("classifier"), state.model_json("greeting")]});
    let mut turns = Vec::new();
    for who in [OWNER, READER, REGISTRY] {
        turns.push(turn(
            who,
            versions.clone(),
            Outcome::Filtered(all_versions.clone()),
        ));
        turns.push(turn(
            who,
            prompts.clone(),
            Outcome::Filtered(greeting.clone()),
        ));
        turns.push(turn(who, models.clone(), Outcome::Filtered(both.clone())));
    }
    let nothing = |list: &str| json!({ list: [] });
    turns.push(turn(
        STRANGER,
        versions,
        Outcome::Filtered(if read {
            all_versions
        } else {
            nothing("model_versions")
        }),
    ));
    turns.push(turn(
        STRANGER,
        prompts,
        Outcome::Filtered(if read {
            greeting
        } else {
            nothing("registered_models")
        }),
    ));
    turns.push(turn(
        STRANGER,
        models,
        Outcome::Filtered(if read {
            both
        } else {
            nothing("registered_models")
        }),
    ));
    turns
}

#[tokio::test]
async fn get_searches_are_filtered_and_their_head_tells_no_more_than_the_get() {
    assert_right(&play_everywhere(get_searches).await);
}

// --- evaluation datasets ------------------------------------------------------------------

const DATASETS: &str = "/api/3.0/mlflow/datasets";

fn datasets_page(ids: &[&str]) -> Value {
    let names = State::new().datasets;
    let items: Vec<Value> = ids
        .iter()
        .map(|id| {
            let name = names
                .iter()
                .find(|(i, _, _)| i == id)
                .map_or("eval-set", |(_, name, _)| name.as_str());
            dataset_item(id, name)
        })
        .collect();
    json!({ "datasets": items })
}

fn datasets(default: Permission) -> Vec<Turn> {
    let create = |body: Value| post(&format!("{DATASETS}/create"), body);
    let search = |body: Value| post(&format!("{DATASETS}/search"), body);
    let in_one = json!({"name": "eval-set", "experiment_ids": ["1"]});
    let by_default = |strict: &[&str], read: &[&str]| {
        Outcome::Filtered(datasets_page(if default == Permission::Read {
            read
        } else {
            strict
        }))
    };
    vec![
        turn(OWNER, create(in_one.clone()), ok()),
        turn(READER, create(in_one.clone()), Outcome::Denied),
        turn(REGISTRY, create(in_one.clone()), Outcome::Denied),
        turn(STRANGER, create(in_one), Outcome::Denied),
        turn(
            OWNER,
            create(json!({"name": "x", "experiment_ids": ["2"]})),
            Outcome::Denied,
        ),
        turn(
            OWNER,
            create(json!({"name": "x", "experiment_ids": ["1", "2"]})),
            Outcome::Denied,
        ),
        turn(OWNER, create(json!({"name": "x"})), Outcome::Denied),
        // The experiment's datasets, each kept only if all its experiments are readable.
        turn(
            OWNER,
            search(json!({"experiment_ids": ["1"], "max_results": 50})),
            by_default(&["d-1", "d-new"], &["d-1", "d-12", "d-new"]),
        ),
        turn(
            READER,
            search(json!({"experiment_ids": ["1"], "max_results": 50})),
            by_default(&["d-1", "d-new"], &["d-1", "d-12", "d-new"]),
        ),
        turn(
            STRANGER,
            search(json!({"experiment_ids": ["1"], "max_results": 50})),
            unless_read(
                default,
                Outcome::Filtered(datasets_page(&["d-1", "d-12", "d-new"])),
            ),
        ),
        turn(
            ADMIN,
            search(json!({"experiment_ids": ["1"], "max_results": 50})),
            Outcome::Filtered(datasets_page(&["d-1", "d-12", "d-new"])),
        ),
        turn(
            OWNER,
            search(json!({"experiment_ids": ["2"], "max_results": 50})),
            unless_read(default, Outcome::Filtered(datasets_page(&["d-12", "d-2"]))),
        ),
        turn(
            OWNER,
            search(json!({"experiment_ids": ["1", "2"], "max_results": 50})),
            unless_read(
                default,
                Outcome::Filtered(datasets_page(&["d-1", "d-12", "d-2", "d-new"])),
            ),
        ),
        // No experiment named: every dataset, filtered. One linked to nothing is
        // nobody's but the admin's.
        turn(
            OWNER,
            search(json!({"max_results": 50})),
            by_default(&["d-1", "d-new"], &["d-1", "d-12", "d-2", "d-new"]),
        ),
        turn(
            STRANGER,
            search(json!({"max_results": 50})),
            by_default(&[], &["d-1", "d-12", "d-2", "d-new"]),
        ),
        turn(
            ADMIN,
            search(json!({"max_results": 50})),
            Outcome::Filtered(datasets_page(&["d-1", "d-12", "d-2", "d-none", "d-new"])),
        ),
        // One dataset at a time.
        turn(READER, get(&format!("{DATASETS}/d-1")), ok()),
        turn(
            STRANGER,
            get(&format!("{DATASETS}/d-1")),
            unless_read(default, ok()),
        ),
        turn(
            OWNER,
            get(&format!("{DATASETS}/d-12")),
            unless_read(default, ok()),
        ),
        turn(OWNER, get(&format!("{DATASETS}/d-none")), Outcome::Denied),
        turn(ADMIN, get(&format!("{DATASETS}/d-none")), ok()),
    ]
}

#[tokio::test]
async fn datasets_are_created_in_writable_experiments_and_searched_per_dataset() {
    assert_right(&play_everywhere(datasets).await);
}

// --- online scoring configs -----------------------------------------------------------------

fn online_configs_page(experiments: &[&str]) -> Value {
    let configs: Vec<Value> = experiments
        .iter()
        .map(|e| {
            json!({"online_scoring_config_id": format!("c-{e}"), "scorer_id": format!("s-{e}"),
                "sample_rate": 0.5, "experiment_id": e})
        })
        .collect();
    json!({ "configs": configs })
}

/// The Judges page lists the online configs of scorers by id: each is shown only to
/// who may read its experiment.
fn online_configs(default: Permission) -> Vec<Turn> {
    let uri = "/api/3.0/mlflow/scorers/online-configs?scorer_ids=s-1&scorer_ids=s-2";
    let all = online_configs_page(&["1", "2"]);
    let own = online_configs_page(&["1"]);
    let mut turns: Vec<Turn> = [OWNER, READER]
        .into_iter()
        .map(|who| {
            turn(
                who,
                get(uri),
                by_default(
                    default,
                    Outcome::Filtered(own.clone()),
                    Outcome::Filtered(all.clone()),
                ),
            )
        })
        .collect();
    turns.push(turn(
        STRANGER,
        get(uri),
        by_default(
            default,
            Outcome::Filtered(online_configs_page(&[])),
            Outcome::Filtered(all),
        ),
    ));
    turns
}

#[tokio::test]
async fn online_scoring_configs_are_filtered_to_readable_experiments() {
    assert_right(&play_everywhere(online_configs).await);
}

// --- MLflow 3.17's wildcard-only tiers ------------------------------------------------------

fn revoke_317(who: User, resource_type: &str, id: &str) -> Turn {
    turn(
        ADMIN,
        post(
            "/api/3.0/mlflow/users/permissions/revoke",
            json!({"username": who.0, "resource_type": resource_type, "resource_id": id}),
        ),
        Outcome::Answered(StatusCode::OK, Some(json!({}))),
    )
}

/// A `run` tier row decides runs together with the experiment: both must allow. So
/// `(run, *, READ)` stops an experiment's manager from logging, `(run, *, EDIT)`
/// does not lift a reader, and `(run, *, DENY)` refuses every run under any
/// default, while the experiment itself stays as it was.
fn tiers(default: Permission) -> Vec<Turn> {
    let read_run = || get("/api/2.0/mlflow/runs/get?run_id=r1");
    let log = || {
        post(
            "/api/2.0/mlflow/runs/log-metric",
            json!({"run_id": "r1", "key": "loss", "value": 0.5, "timestamp": 1}),
        )
    };
    let experiment = || get("/api/2.0/mlflow/experiments/get?experiment_id=1");
    vec![
        turn(OWNER, log(), ok()),
        grant_317(OWNER, "run", "*", "READ"),
        turn(OWNER, read_run(), ok()),
        turn(OWNER, log(), Outcome::Denied),
        turn(OWNER, experiment(), ok()),
        grant_317(READER, "run", "*", "EDIT"),
        turn(READER, read_run(), ok()),
        turn(READER, log(), Outcome::Denied),
        turn(STRANGER, read_run(), unless_read(default, ok())),
        grant_317(STRANGER, "run", "*", "DENY"),
        turn(STRANGER, read_run(), Outcome::Denied),
        grant_317(STRANGER, "experiment", "1", "MANAGE"),
        turn(STRANGER, read_run(), Outcome::Denied),
        turn(STRANGER, log(), Outcome::Denied),
        turn(STRANGER, experiment(), ok()),
        // Revoked, the tier no longer speaks: the experiment decides again.
        revoke_317(OWNER, "run", "*"),
        turn(OWNER, log(), ok()),
        turn(ADMIN, log(), ok()),
    ]
}

#[tokio::test]
async fn a_tier_row_decides_runs_together_with_their_experiment() {
    assert_right(&play_everywhere(tiers).await);
}

// --- gateway guardrails -------------------------------------------------------------------

/// The endpoint's guardrails, as MLflow lists them, with the scorers of `hidden`
/// cleared.
fn guardrails_page(hidden: &[&str]) -> Value {
    let mut configs: Vec<Value> = GUARDRAILS.iter().map(|g| guardrail_config(g.0)).collect();
    for config in &mut configs {
        let id = config["guardrail_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if hidden.contains(&id.as_str())
            && let Some(guardrail) = config["guardrail"].as_object_mut()
        {
            guardrail.remove("scorer");
        }
    }
    json!({ "configs": configs })
}

/// The gateway page's guardrails of an endpoint: attaching one needs update on the
/// endpoint and read on the guardrail's scorer (an explicit denial on it refuses
/// whatever the default); the endpoint's list shows each scorer only to who may
/// read it. A guardrail itself is the admins'.
fn guardrails(default: Permission) -> Vec<Turn> {
    let attach = |guardrail: &str| {
        post(
            "/api/3.0/mlflow/gateway/guardrails/add-to-endpoint",
            json!({"endpoint_id": ENDPOINT, "guardrail_id": guardrail}),
        )
    };
    let reorder = |guardrail: &str| Step {
        method: Method::PATCH,
        uri: "/api/3.0/mlflow/gateway/guardrails/update-config".to_owned(),
        body: Some(
            json!({"endpoint_id": ENDPOINT, "guardrail_id": guardrail, "execution_order": 2}),
        ),
    };
    let list = || get("/api/3.0/mlflow/gateway/guardrails/list-for-endpoint?endpoint_id=e-1");
    let everything = guardrails_page(&[]);
    vec![
        grant_317(OWNER, "gateway_endpoint", ENDPOINT, "EDIT"),
        grant_317(READER, "gateway_endpoint", ENDPOINT, "READ"),
        grant_317(OWNER, "scorer", "1/polite", "READ"),
        grant_317(OWNER, "scorer", "2/strict", "DENY"),
        turn(OWNER, attach("g-1"), ok()),
        turn(OWNER, reorder("g-1"), ok()),
        turn(OWNER, attach("g-2"), Outcome::Denied),
        turn(OWNER, reorder("g-2"), Outcome::Denied),
        turn(OWNER, attach("g-none"), Outcome::Denied),
        // A missing guardrail id, or one of the wrong type, names no scorer.
        turn(
            OWNER,
            post(
                "/api/3.0/mlflow/gateway/guardrails/add-to-endpoint",
                json!({"endpoint_id": ENDPOINT}),
            ),
            Outcome::Denied,
        ),
        turn(
            OWNER,
            post(
                "/api/3.0/mlflow/gateway/guardrails/add-to-endpoint",
                json!({"endpoint_id": ENDPOINT, "guardrail_id": ["g-1"]}),
            ),
            Outcome::Invalid,
        ),
        turn(READER, attach("g-1"), Outcome::Denied),
        turn(STRANGER, attach("g-1"), Outcome::Denied),
        turn(ADMIN, list(), Outcome::Filtered(everything.clone())),
        turn(OWNER, list(), Outcome::Filtered(guardrails_page(&["g-2"]))),
        turn(
            READER,
            list(),
            by_default(
                default,
                Outcome::Filtered(guardrails_page(&["g-1", "g-2"])),
                Outcome::Filtered(everything.clone()),
            ),
        ),
        turn(
            STRANGER,
            list(),
            unless_read(default, Outcome::Filtered(everything)),
        ),
        turn(
            OWNER,
            get("/api/3.0/mlflow/gateway/guardrails/get?guardrail_id=g-1"),
            Outcome::Denied,
        ),
    ]
}

#[tokio::test]
async fn an_endpoints_guardrails_show_their_scorers_only_to_its_readers() {
    assert_right(&play_everywhere(guardrails).await);
}

// --- jobs ------------------------------------------------------------------------------------

fn jobs_page(ids: &[&str]) -> Value {
    json!({ "jobs": ids.iter().map(|id| job_json(id)).collect::<Vec<_>>() })
}

/// "Run evaluation" in the UI, then polling and cancelling the job: a job is its
/// submitter's (and the admins'), under both job APIs, whatever the default; the job
/// search shows each caller their own. No grant on the experiment reaches a job.
fn jobs(_default: Permission) -> Vec<Turn> {
    let evaluate = || {
        post(
            "/ajax-api/3.0/mlflow/genai/evaluate/invoke",
            json!({"experiment_id": "1", "trace_ids": ["t-1"], "serialized_scorers": ["{}"]}),
        )
    };
    let search = || post("/ajax-api/3.0/jobs/search", json!({}));
    let mut turns = vec![
        // Submitting needs update on the experiment: the reader may not.
        turn(READER, evaluate(), Outcome::Denied),
        turn(OWNER, evaluate(), ok()),
        turn(
            ADMIN,
            post("/ajax-api/3.0/mlflow/scorer/invoke", json!({})),
            ok(),
        ),
        turn(
            OWNER,
            post("/ajax-api/3.0/mlflow/scorer/invoke", json!({})),
            Outcome::Denied,
        ),
        // Submitting by job name is the admins'.
        turn(
            OWNER,
            post(
                "/ajax-api/3.0/jobs/",
                json!({"job_name": "x", "params": {}}),
            ),
            Outcome::Denied,
        ),
        turn(OWNER, search(), Outcome::Filtered(jobs_page(&["job-1"]))),
        turn(READER, search(), Outcome::Filtered(jobs_page(&[]))),
        turn(
            ADMIN,
            search(),
            Outcome::Filtered(jobs_page(&["job-1", "job-2", "job-3"])),
        ),
    ];
    for uri in [
        "/ajax-api/3.0/mlflow/jobs/job-1",
        "/ajax-api/3.0/jobs/job-1",
    ] {
        turns.extend([
            turn(OWNER, get(uri), ok()),
            turn(ADMIN, get(uri), ok()),
            turn(READER, get(uri), Outcome::Denied),
            turn(STRANGER, get(uri), Outcome::Denied),
        ]);
    }
    // The admin's jobs, a job nobody recorded, and odd spellings of the owner's.
    for uri in [
        "/ajax-api/3.0/mlflow/jobs/job-2",
        "/ajax-api/3.0/jobs/job-3",
        "/ajax-api/3.0/mlflow/jobs/job-99",
        "/ajax-api/3.0/mlflow/jobs/JOB-1",
        "/ajax-api/3.0/jobs/%2A",
    ] {
        turns.push(turn(OWNER, get(uri), Outcome::Denied));
    }
    // A path that walks out of its segment is refused before any decision.
    turns.push(turn(
        OWNER,
        get("/ajax-api/3.0/mlflow/jobs/job-1%2F..%2Fjob-2"),
        Outcome::Invalid,
    ));
    turns.push(turn(
        ADMIN,
        get("/ajax-api/3.0/mlflow/jobs/job-99"),
        missing(),
    ));
    for uri in [
        "/ajax-api/3.0/mlflow/jobs/cancel/job-1",
        "/ajax-api/3.0/jobs/cancel/job-1",
    ] {
        turns.extend([
            turn(READER, patch(uri), Outcome::Denied),
            turn(OWNER, patch(uri), ok()),
        ]);
    }
    turns.push(turn(
        OWNER,
        patch("/ajax-api/3.0/jobs/cancel/job-2"),
        Outcome::Denied,
    ));
    turns
}

#[tokio::test]
async fn jobs_are_their_submitters_under_both_job_apis() {
    assert_right(&play_everywhere(jobs).await);
}

// --- searches narrowed to readable experiments ---------------------------------------------

fn runs_page(ids: &[(&str, &str)]) -> Value {
    let items: Vec<Value> = ids.iter().map(|(id, e)| run_item(id, e)).collect();
    json!({ "runs": items })
}

fn models_page(ids: &[(&str, &str)]) -> Value {
    let items: Vec<Value> = ids.iter().map(|(id, e)| logged_model_item(id, e)).collect();
    json!({ "models": items })
}

fn narrowing(default: Permission) -> Vec<Turn> {
    let runs = "/api/2.0/mlflow/runs/search";
    let models = "/api/2.0/mlflow/logged-models/search";
    let both = json!({"experiment_ids": ["1", "2"], "max_results": 10});
    let narrowed = json!({"experiment_ids": ["1"], "max_results": 10});
    let all_runs = runs_page(&[("r1", "1"), ("r2", "2")]);
    let own_runs = runs_page(&[("r1", "1")]);
    let all_models = models_page(&[("m-x", "1"), ("m-xy", "1"), ("m-other", "1"), ("m-2", "2")]);
    let own_models = models_page(&[("m-x", "1"), ("m-xy", "1"), ("m-other", "1")]);
    let mut turns = Vec::new();
    for (path, all, own, other) in [
        (
            runs,
            all_runs.clone(),
            own_runs.clone(),
            runs_page(&[("r2", "2")]),
        ),
        (
            models,
            all_models.clone(),
            own_models.clone(),
            models_page(&[("m-2", "2")]),
        ),
    ] {
        for who in [OWNER, READER] {
            turns.push(turn(
                who,
                post(path, both.clone()),
                by_default(
                    default,
                    Outcome::Narrowed {
                        sent: narrowed.clone(),
                        answer: own.clone(),
                    },
                    Outcome::Filtered(all.clone()),
                ),
            ));
        }
        for who in [REGISTRY, STRANGER] {
            turns.push(turn(
                who,
                post(path, both.clone()),
                by_default(default, empty_page(), Outcome::Filtered(all.clone())),
            ));
        }
        turns.push(turn(ADMIN, post(path, both.clone()), ok()));
        // Nothing readable asked for: an empty page, as MLflow answers a search over
        // nothing.
        turns.push(turn(
            OWNER,
            post(path, json!({"experiment_ids": ["2"], "max_results": 10})),
            by_default(default, empty_page(), Outcome::Filtered(other)),
        ));
        // Only readable ones asked for: sent as it is.
        turns.push(turn(
            OWNER,
            post(path, narrowed.clone()),
            Outcome::Filtered(own.clone()),
        ));
        // The camelCase spelling MLflow's parser also reads is narrowed in place,
        // the rest of the body kept.
        turns.push(turn(
            OWNER,
            post(
                path,
                json!({"experimentIds": ["2", "1"], "max_results": 10,
                    "filter": "metrics.acc > 0.5", "order_by": ["start_time DESC"]}),
            ),
            by_default(
                default,
                Outcome::Narrowed {
                    sent: json!({"experimentIds": ["1"], "max_results": 10,
                        "filter": "metrics.acc > 0.5", "order_by": ["start_time DESC"]}),
                    answer: own,
                },
                Outcome::Filtered(all),
            ),
        ));
    }
    turns
}

#[tokio::test]
async fn searches_are_narrowed_to_the_readable_experiments() {
    assert_right(&play_everywhere(narrowing).await);
}

/// The owner shares experiment 1 with the stranger, whose searches widen to it, then
/// revokes it.
fn sharing() -> Vec<Turn> {
    let search = post(
        "/api/2.0/mlflow/runs/search",
        json!({"experiment_ids": ["1", "2"], "max_results": 10}),
    );
    let narrowed = Outcome::Narrowed {
        sent: json!({"experiment_ids": ["1"], "max_results": 10}),
        answer: runs_page(&[("r1", "1")]),
    };
    let grant = json!({"experiment_id": "1", "username": "stranger", "permission": "READ"});
    vec![
        turn(STRANGER, search.clone(), empty_page()),
        turn(
            OWNER,
            post("/api/2.0/mlflow/experiments/permissions/create", grant),
            Outcome::Answered(StatusCode::OK, None),
        ),
        turn(STRANGER, search.clone(), narrowed),
        turn(STRANGER, get(&format!("{GET_BY_NAME}team-exp")), ok()),
        turn(
            STRANGER,
            get(&format!("{ARTIFACTS}/1/models/m-other/artifacts/MLmodel")),
            ok(),
        ),
        // READ writes nothing.
        turn(
            STRANGER,
            post(
                "/api/2.0/mlflow/runs/create",
                json!({"experiment_id": "1", "start_time": 1, "tags": []}),
            ),
            Outcome::Denied,
        ),
        turn(
            OWNER,
            delete(
                "/api/2.0/mlflow/experiments/permissions/delete",
                json!({"experiment_id": "1", "username": "stranger"}),
            ),
            Outcome::Answered(StatusCode::OK, None),
        ),
        turn(STRANGER, search, empty_page()),
        turn(
            STRANGER,
            get(&format!("{GET_BY_NAME}team-exp")),
            Outcome::Denied,
        ),
    ]
}

#[tokio::test]
async fn sharing_an_experiment_widens_the_narrowed_search_until_revoked() {
    let mut wrong = Vec::new();
    for ajax in [false, true] {
        wrong.extend(play(Permission::NoPermissions, ajax, &sharing()).await);
    }
    assert_right(&wrong);
}
