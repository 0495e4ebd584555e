//! Every MLflow route from the attacker's side, in process: each rule of the policy
//! table, under every API prefix, with HEAD for every GET, is sent through the real
//! router by a user holding nothing (default NO_PERMISSIONS) and by one holding
//! MANAGE on everything the request names. The tracking server's ports are played
//! by an upstream that records what reaches it and a lookup with fixed answers.
//!
//! - Nobody's requests: only routes open to any authenticated user may reach
//!   MLflow; everything else is refused before it leaves.
//! - Everybody's requests: every checked route reaches MLflow, so each rule reads
//!   its ids from where this test (like MLflow's handlers) puts them.

// The API suites' store fixture: one fixture for every suite.
#[path = "../../mlguard-api/tests/support/mod.rs"]
mod support;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http_body_util::BodyExt;
use mlguard_api::AppState;
use mlguard_domain::{
    BoxFuture, ExperimentChild, ExperimentId, GrantStore, LookupError, ModelName, OpaqueId,
    Permission, Resource, TraceFiles, TrackingLookup, Username, VersionFiles, VersionOrigin,
};
use mlguard_gateway::{ClientAddr, ForwardError, Gateway, GatewayState, ProviderBound};
use mlguard_policy::{Access, Quantifier, RULES, RouteRule, Target};
use serde_json::json;
use tower::ServiceExt;

/// Records what reaches "MLflow". It answers 404, so no after-hook runs: a hook
/// that drops grants (a delete, a rename) would change what later requests may do.
#[derive(Default)]
struct RecordingUpstream {
    seen: Mutex<Vec<String>>,
    /// Each forwarded request's headers, and whether it was marked provider-bound
    /// and carried a client address.
    heads: Mutex<Vec<(axum::http::HeaderMap, bool, bool)>>,
}

/// The port's side of the shared recorder.
struct Recorder(Arc<RecordingUpstream>);

impl Recorder {
    /// Answers one forwarded request.
    fn forward(
        &self,
        request: Request<Body>,
    ) -> BoxFuture<'static, Result<Response<Body>, ForwardError>> {
        self.0
            .seen
            .lock()
            .expect("lock")
            .push(format!("{} {}", request.method(), request.uri()));
        self.0.heads.lock().expect("lock").push((
            request.headers().clone(),
            request.extensions().get::<ProviderBound>().is_some(),
            request.extensions().get::<ClientAddr>().is_some(),
        ));
        Box::pin(async {
            Ok(Response::builder()
                .status(StatusCode::NOT_FOUND)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))
                .expect("response"))
        })
    }
}

/// Every derived id in the samples belongs to experiment 1.
struct FixedLookup;

fn one() -> ExperimentId {
    ExperimentId::parse("1").expect("id")
}

/// The request ids the gateway asked lookups for (each test is its own process).
static LOOKUPS_FOR: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

impl TrackingLookup for FixedLookup {
    fn for_request(&self, request_id: &str) -> Option<Arc<dyn TrackingLookup>> {
        LOOKUPS_FOR
            .lock()
            .expect("lock")
            .push(request_id.to_owned());
        None
    }

    fn experiment_of_run<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ExperimentId>, LookupError>> {
        Box::pin(async move { Ok((id == "r1").then(one)) })
    }
    fn experiment_of_logged_model<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ExperimentId>, LookupError>> {
        // m-2 is a logged model of experiment 2, which nobody here holds.
        Box::pin(async move {
            Ok(match id {
                "m-1" => Some(one()),
                "m-2" => Some(ExperimentId::parse("2").expect("id")),
                _ => None,
            })
        })
    }
    fn experiment_of_trace<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ExperimentId>, LookupError>> {
        Box::pin(async move { Ok((id == "tr-1").then(one)) })
    }
    /// Label schema ls-1, issue is-1 and review queue rq-1 are experiment 1's.
    fn experiment_of_child<'a>(
        &'a self,
        kind: ExperimentChild,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ExperimentId>, LookupError>> {
        Box::pin(async move {
            Ok(match kind {
                ExperimentChild::LabelSchema => id == "ls-1",
                ExperimentChild::Issue => id == "is-1",
                ExperimentChild::ReviewQueue => id == "rq-1",
            }
            .then(one))
        })
    }
    /// Guardrail g-1 runs experiment 1's scorer `model1`.
    fn scorer_of_guardrail<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Resource>, LookupError>> {
        Box::pin(async move {
            Ok((id == "g-1").then(|| Resource::Scorer {
                experiment_id: one(),
                name: OpaqueId::parse("model1").expect("scorer name"),
            }))
        })
    }
    /// tr-1's files are where MLflow puts them; tr-moved's tag was pointed at
    /// experiment 2's; tr-file's at a server directory.
    fn trace_files<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<TraceFiles>, LookupError>> {
        Box::pin(async move {
            let location = match id {
                "tr-1" => "mlflow-artifacts:/1/traces/tr-1/artifacts",
                "tr-moved" => "mlflow-artifacts:/2/traces/tr-2/artifacts",
                "tr-file" => "file:///etc",
                "tr-dots" => "mlflow-artifacts:/1/traces/tr-dots/artifacts/../../../2",
                _ => return Ok(None),
            };
            Ok(Some(TraceFiles {
                experiment: one(),
                artifact_location: Some(location.to_owned()),
            }))
        })
    }
    fn experiment_artifact_root<'a>(
        &'a self,
        experiment: &'a ExperimentId,
    ) -> BoxFuture<'a, Result<Option<String>, LookupError>> {
        Box::pin(async move { Ok(Some(format!("mlflow-artifacts:/{}", experiment.as_str()))) })
    }
    fn experiment_by_name<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ExperimentId>, LookupError>> {
        Box::pin(async move { Ok((name == "exp1").then(one)) })
    }
    fn experiments_of_dataset<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<ExperimentId>>, LookupError>> {
        Box::pin(async move { Ok((id == "d-1").then(|| vec![one()])) })
    }
    fn gateway_endpoint_by_name<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<OpaqueId>, LookupError>> {
        Box::pin(async move { Ok((name == "ep").then(|| OpaqueId::parse("e-1").expect("id"))) })
    }
    fn registered_model_exists<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<bool, LookupError>> {
        Box::pin(async move { Ok(name == "model1") })
    }
    /// The samples' experiments and model; no grant is created through the API here.
    fn resource_exists<'a>(
        &'a self,
        resource: &'a Resource,
    ) -> BoxFuture<'a, Result<bool, LookupError>> {
        Box::pin(async move {
            Ok(match resource {
                Resource::Experiment(id) => matches!(id.as_str(), "1" | "2"),
                Resource::RegisteredModel(name) => name.as_str() == "model1",
                _ => false,
            })
        })
    }
    fn model_version_source<'a>(
        &'a self,
        name: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, LookupError>> {
        Box::pin(async move {
            Ok((name == "model1" && version == "1").then(|| "models:/m-1".to_owned()))
        })
    }
    fn model_versions_from<'a>(
        &'a self,
        _origin: VersionOrigin<'a>,
    ) -> BoxFuture<'a, Result<Vec<VersionFiles>, LookupError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

const NOBODY: (&str, &str) = ("nobody", "nobody-password-1");
const EVERYBODY: (&str, &str) = ("everybody", "everybody-password-1");

struct Setup {
    router: Router,
    /// The gateway alone, as the native API mounts it behind authentication.
    gateway: mlguard_gateway::GatewayService,
    upstream: Arc<RecordingUpstream>,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let (store, dir) = support::store_with_users(&[(NOBODY, false), (EVERYBODY, false)]);
    let everybody = Username::parse(EVERYBODY.0).expect("name");
    let opaque = |s: &str| OpaqueId::parse(s).expect("id");
    for resource in [
        Resource::Experiment(one()),
        Resource::RegisteredModel(ModelName::parse("model1").expect("name")),
        Resource::Scorer {
            experiment_id: one(),
            name: opaque("model1"),
        },
        Resource::GatewaySecret(opaque("s-1")),
        Resource::GatewayEndpoint(opaque("e-1")),
        Resource::GatewayModelDefinition(opaque("md-1")),
        Resource::McpServer(opaque("team/search")),
        Resource::Skill(opaque("acme/lint")),
        Resource::Skill(opaque("lint")),
    ] {
        store
            .create_grant(&everybody, &resource, Permission::Manage)
            .expect("grant");
    }
    let upstream = Arc::new(RecordingUpstream::default());
    let gateway = Gateway::new(
        tower::service_fn({
            let upstream = Arc::new(Recorder(Arc::clone(&upstream)));
            move |request| upstream.forward(request)
        }),
        Arc::new(FixedLookup),
        None,
        1 << 20,
    );
    let state = AppState::new(Arc::new(store), Permission::NoPermissions);
    let lookup = gateway.lookup();
    let service = mlguard_gateway::service(GatewayState::new(gateway, state.grants()));
    let state = state.with_gateway(service.clone(), None, lookup);
    Setup {
        router: mlguard_api::app(state),
        gateway: service,
        upstream,
        _dir: dir,
    }
}

/// A value for a path parameter, by its name.
fn path_value(name: &str) -> &'static str {
    match name {
        "artifact_path" => "1/abc/artifacts/model",
        "model_id" => "m-1",
        "trace_id" | "request_id" => "tr-1",
        "dataset_id" => "d-1",
        "issue_id" => "is-1",
        "namespace" => "team",
        "slug" => "search",
        "organization" => "acme",
        "name" => "lint",
        "endpoint_name" => "ep",
        "endpoint_name_and_verb" => "ep:generateContent",
        _ => "x1",
    }
}

fn fill(pattern: &str) -> String {
    pattern
        .split('/')
        // A parameter may follow a literal prefix, as in `@{organization}`.
        .map(|segment| match segment.split_once('{') {
            Some((prefix, inner)) => {
                let name = inner.trim_start_matches('*').trim_end_matches('}');
                format!("{prefix}{}", path_value(name))
            }
            None => segment.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Where MLflow's handlers read ids: the query for GET, the JSON body otherwise.
const QUERY: &str = "experiment_id=1&experiment_ids=1&run_id=r1&run_ids=r1&name=model1\
&path=1/abc&experiment_name=exp1&model_id=m-1&trace_id=tr-1&request_id=tr-1&trace_ids=tr-1\
&secret_id=s-1&endpoint_id=e-1&model_definition_id=md-1&scorer_name=model1&dataset_id=d-1\
&run_uuid=r1&version=1&key=note&schema_id=ls-1&queue_id=rq-1&guardrail_id=g-1";

fn body() -> serde_json::Value {
    json!({
        "experiment_id": "1", "experiment_ids": ["1"], "run_id": "r1", "run_ids": ["r1"],
        "name": "model1", "new_name": "model1", "path": "1/abc", "model_id": "m-1",
        "trace_id": "tr-1", "request_id": "tr-1", "trace_ids": ["tr-1"], "request_ids": ["tr-1"],
        "secret_id": "s-1", "endpoint_id": "e-1", "model_definition_id": "md-1",
        "scorer_name": "model1", "dataset_id": "d-1", "source": "runs:/r1/model",
        "source_run_id": "r1", "model": "ep", "version": "1", "key": "note",
        "source_prompt_uri": "prompts:/model1/1", "schema_id": "ls-1", "queue_id": "rq-1",
        "guardrail_id": "g-1", "organization": "acme", "skills": [{"name": "lint"}],
        "model_configs": [{"model_definition_id": "md-1"}],
        "model_config": {"model_definition_id": "md-1"}, "run_uuid": "r1",
        "trace": {"trace_info": {"trace_id": "tr-1",
            "trace_location": {"mlflow_experiment": {"experiment_id": "1"}}}},
        "query": "{ mlflowGetExperiment(input: {experimentId: \"1\"}) { experiment { name } } }",
    })
}

/// The spellings of one rule's path that must get its decision.
fn spellings(path: &str) -> Vec<String> {
    let filled = fill(path);
    let Some(rest) = filled
        .strip_prefix("/api/2.0/")
        .or_else(|| filled.strip_prefix("/api/3.0/"))
        .or_else(|| filled.strip_prefix("/ajax-api/2.0/"))
        .or_else(|| filled.strip_prefix("/ajax-api/3.0/"))
    else {
        return vec![filled];
    };
    ["/api/2.0/", "/api/3.0/", "/ajax-api/2.0/", "/ajax-api/3.0/"]
        .iter()
        .map(|prefix| format!("{prefix}{rest}"))
        .collect()
}

const OTLP_EXPORT_INTO_TR_1: &str = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{
    "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"s",
    "attributes":[{"key":"mlflow.traceRequestId","value":{"stringValue":"tr-1"}}]}]}]}]}"#;

async fn send(
    setup: &Setup,
    who: (&str, &str),
    method: &Method,
    path: &str,
) -> (StatusCode, bool, String) {
    let before = setup.upstream.seen.lock().expect("lock").len();
    let reads_query = matches!(*method, Method::GET | Method::HEAD);
    // Some handlers read the query whatever the method (upload-artifact's run_uuid);
    // the same ids in query and body agree, so nothing conflicts.
    let uri = format!("{path}?{QUERY}");
    let mut builder = Request::builder()
        .method(method.clone())
        .uri(uri)
        .header(
            header::AUTHORIZATION,
            format!("Basic {}", STANDARD.encode(format!("{}:{}", who.0, who.1))),
        )
        .header("x-mlflow-experiment-id", "1");
    let graphql = path.ends_with("/graphql");
    let body = if path == "/v1/traces" {
        // An OTLP export whose span joins tr-1 (experiment 1).
        builder = builder.header(header::CONTENT_TYPE, "application/json");
        Body::from(OTLP_EXPORT_INTO_TR_1)
    } else if !reads_query || graphql {
        builder = builder.header(header::CONTENT_TYPE, "application/json");
        Body::from(body().to_string())
    } else {
        Body::empty()
    };
    let response = setup
        .router
        .clone()
        .oneshot(builder.body(body).expect("request"))
        .await
        .expect("infallible");
    let status = response.status();
    let text = String::from_utf8_lossy(
        &response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes(),
    )
    .into_owned();
    let forwarded = setup.upstream.seen.lock().expect("lock").len() > before;
    (status, forwarded, text)
}

fn methods(rule: &RouteRule) -> Vec<Method> {
    let method = Method::from_bytes(rule.method.as_bytes()).expect("method");
    if method == Method::GET {
        vec![Method::GET, Method::HEAD]
    } else {
        vec![method]
    }
}

/// Whether every check of the rule only forbids a field this test does not send
/// (an artifact location, a reserved tag): such a route is open to anyone.
fn needs_no_grant(rule: &RouteRule) -> bool {
    let Access::Checks(checks) = rule.access else {
        return false;
    };
    checks.iter().all(|check| {
        check.optional && matches!(check.target, Target::Unset(_) | Target::WithoutTag { .. })
    })
}

/// Whether the rule narrows a list that this test sends in the body.
fn narrowed_in_body(rule: &RouteRule, method: &Method) -> bool {
    let Access::Checks(checks) = rule.access else {
        return false;
    };
    !matches!(*method, Method::GET | Method::HEAD)
        && checks
            .iter()
            .any(|check| check.quantifier == Quantifier::Narrow)
}

/// Mounted without authentication in front of it, the gateway forwards nothing: a
/// request that carries no authenticated caller is refused, whatever its method
/// or path, credentials in its headers included.
#[tokio::test]
async fn the_gateway_alone_refuses_a_request_without_an_authenticated_caller() {
    let setup = setup();
    for method in ["GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS"] {
        for path in [
            "/api/2.0/mlflow/experiments/get?experiment_id=1",
            "/ajax-api/2.0/mlflow/experiments/search",
            "/graphql",
            "/no/rule/here",
        ] {
            let request = Request::builder()
                .method(method)
                .uri(path)
                .header(header::AUTHORIZATION, "Basic ZXZlcnlib2R5OnB3")
                .body(Body::empty())
                .expect("request");
            let response = setup
                .gateway
                .clone()
                .oneshot(request)
                .await
                .expect("infallible");
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path}"
            );
            if method != "HEAD" {
                let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
                    .await
                    .expect("body");
                let body: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
                assert_eq!(body["error_code"], "UNAUTHENTICATED", "{method} {path}");
            }
        }
    }
    assert!(
        setup.upstream.seen.lock().expect("lock").is_empty(),
        "forwarded: {:?}",
        setup.upstream.seen.lock().expect("lock")
    );
}

#[tokio::test]
async fn a_user_without_grants_reaches_only_the_open_routes() {
    let setup = setup();
    let mut wrong = Vec::new();
    let mut checked = 0;
    // mlguard answers its own /health; it never reaches MLflow.
    for rule in RULES.iter().filter(|rule| rule.paths != ["/health"]) {
        for method in methods(rule) {
            for path in rule.paths.iter().flat_map(|path| spellings(path)) {
                let (status, forwarded, body) = send(&setup, NOBODY, &method, &path).await;
                checked += 1;
                let may_pass = matches!(rule.access, Access::Authenticated) || needs_no_grant(rule);
                if forwarded != may_pass {
                    wrong.push(format!(
                        "{method} {path}: forwarded={forwarded} ({status} {body})"
                    ));
                }
                // A search narrowed to nothing readable is an empty page, as MLflow's.
                if narrowed_in_body(rule, &method) {
                    if (status, body.as_str()) != (StatusCode::OK, "{}") {
                        wrong.push(format!(
                            "{method} {path}: {status} {body}, not an empty page"
                        ));
                    }
                } else if matches!(rule.access, Access::Checks(_) | Access::Admin)
                    && !needs_no_grant(rule)
                    && status != StatusCode::FORBIDDEN
                {
                    wrong.push(format!("{method} {path}: {status}, not 403"));
                }
            }
        }
    }
    assert!(checked > 1000, "only {checked} requests");
    assert!(
        wrong.is_empty(),
        "{} wrong decisions:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[tokio::test]
async fn lookups_are_made_for_the_request_that_needs_them() {
    let setup = setup();
    let request = Request::builder()
        .method(Method::GET)
        .uri("/api/2.0/mlflow/runs/get?run_id=r1")
        .header(
            header::AUTHORIZATION,
            format!(
                "Basic {}",
                STANDARD.encode(format!("{}:{}", EVERYBODY.0, EVERYBODY.1))
            ),
        )
        .header("x-request-id", "probe-7")
        .body(Body::empty())
        .expect("request");
    let response = setup
        .router
        .clone()
        .oneshot(request)
        .await
        .expect("infallible");
    // Allowed (r1 is in experiment 1) and forwarded; the recording upstream answers.
    assert_ne!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(setup.upstream.seen.lock().expect("lock").len(), 1);
    assert_eq!(
        *LOOKUPS_FOR.lock().expect("lock"),
        vec!["probe-7".to_owned()]
    );
}

#[tokio::test]
async fn a_user_with_grants_on_everything_named_reaches_every_checked_route() {
    let setup = setup();
    let mut refused = Vec::new();
    for rule in RULES {
        if !matches!(rule.access, Access::Checks(_) | Access::GraphQl) {
            continue;
        }
        for method in methods(rule) {
            for path in rule.paths.iter().flat_map(|path| spellings(path)) {
                let (status, forwarded, body) = send(&setup, EVERYBODY, &method, &path).await;
                if !forwarded {
                    refused.push(format!("{method} {path}: {status} {body}"));
                }
            }
        }
    }
    assert!(
        refused.is_empty(),
        "{} routes refused:\n{}",
        refused.len(),
        refused.join("\n")
    );
}

/// One raw request as `who`; returns the status and whether it reached MLflow.
async fn raw(
    setup: &Setup,
    who: (&str, &str),
    method: Method,
    uri: &str,
    content_type: Option<&str>,
    body: &str,
) -> (StatusCode, bool) {
    let before = setup.upstream.seen.lock().expect("lock").len();
    let mut builder = Request::builder().method(method).uri(uri).header(
        header::AUTHORIZATION,
        format!("Basic {}", STANDARD.encode(format!("{}:{}", who.0, who.1))),
    );
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    let response = setup
        .router
        .clone()
        .oneshot(builder.body(Body::from(body.to_owned())).expect("request"))
        .await
        .expect("infallible");
    let forwarded = setup.upstream.seen.lock().expect("lock").len() > before;
    (response.status(), forwarded)
}

/// MLflow serves a trace's files from its `mlflow.artifactLocation` tag and puts an
/// experiment's files where its `artifact_location` says: neither may be chosen by a
/// non-admin, and a trace whose tag points elsewhere serves nothing.
#[tokio::test]
async fn file_locations_are_the_servers_to_choose() {
    let setup = setup();
    let json = Some("application/json");
    let location = "mlflow-artifacts:/2/traces/tr-2/artifacts";
    for version in ["2.0", "3.0"] {
        for prefix in ["/api", "/ajax-api"] {
            let tags = format!("{prefix}/{version}/mlflow/traces/tr-1/tags");
            let set = |key: &str| format!(r#"{{"key": "{key}", "value": "{location}"}}"#);
            let ok = raw(&setup, EVERYBODY, Method::PATCH, &tags, json, &set("note")).await;
            assert_eq!(ok, (StatusCode::NOT_FOUND, true), "{tags}");
            let refused = [
                (
                    Method::PATCH,
                    tags.clone(),
                    json,
                    set("mlflow.artifactLocation"),
                ),
                // Double-encoded, as older clients send it.
                (
                    Method::PATCH,
                    tags.clone(),
                    json,
                    format!("{:?}", set("mlflow.artifactLocation")),
                ),
                (
                    Method::DELETE,
                    format!("{tags}?key=mlflow.artifactLocation"),
                    None,
                    String::new(),
                ),
                (
                    Method::DELETE,
                    tags.clone(),
                    Some("text/plain"),
                    r#"{"key": "mlflow.artifactLocation"}"#.to_owned(),
                ),
            ];
            for (method, uri, content_type, body) in refused {
                let (status, forwarded) =
                    raw(&setup, EVERYBODY, method.clone(), &uri, content_type, &body).await;
                assert!(!forwarded, "{method} {uri} {body} reached MLflow");
                assert_eq!(status, StatusCode::FORBIDDEN, "{method} {uri} {body}");
            }
        }
    }
    // Creating or ending a trace with the tag.
    let start_v3 = format!(
        r#"{{"trace": {{"trace_info": {{"trace_id": "tr-new", "trace_location": {{"mlflow_experiment": {{"experiment_id": "1"}}}}, "tags": {{"mlflow.artifactLocation": "{location}"}}}}}}}}"#
    );
    let start_v2 = format!(
        r#"{{"experiment_id": "1", "trace": {{"trace_info": {{"trace_location": {{"mlflow_experiment": {{"experiment_id": "1"}}}}}}}}, "tags": [{{"key": "mlflow.artifactLocation", "value": "{location}"}}]}}"#
    );
    let end_v2 =
        format!(r#"{{"tags": [{{"key": "mlflow.artifactLocation", "value": "{location}"}}]}}"#);
    for (uri, body) in [
        ("/api/3.0/mlflow/traces", start_v3.as_str()),
        ("/ajax-api/3.0/mlflow/traces", start_v3.as_str()),
        ("/api/2.0/mlflow/traces", start_v2.as_str()),
    ] {
        let (status, forwarded) = raw(&setup, EVERYBODY, Method::POST, uri, json, body).await;
        assert_eq!(
            (status, forwarded),
            (StatusCode::FORBIDDEN, false),
            "{uri} {body}"
        );
    }
    let (status, forwarded) = raw(
        &setup,
        EVERYBODY,
        Method::PATCH,
        "/api/2.0/mlflow/traces/tr-1",
        json,
        &end_v2,
    )
    .await;
    assert_eq!((status, forwarded), (StatusCode::FORBIDDEN, false));

    // Reading: only from the location MLflow assigned.
    for path in [
        "/ajax-api/2.0/mlflow/get-trace-artifact",
        "/ajax-api/3.0/mlflow/get-trace-artifact",
    ] {
        for method in [Method::GET, Method::HEAD] {
            let ok = raw(
                &setup,
                EVERYBODY,
                method.clone(),
                &format!("{path}?request_id=tr-1"),
                None,
                "",
            )
            .await;
            assert_eq!(ok, (StatusCode::NOT_FOUND, true), "{method} {path}");
            for trace in ["tr-moved", "tr-file", "tr-dots", "tr-unknown"] {
                let uri = format!("{path}?request_id={trace}");
                let (status, forwarded) =
                    raw(&setup, EVERYBODY, method.clone(), &uri, None, "").await;
                assert_eq!(
                    (status, forwarded),
                    (StatusCode::FORBIDDEN, false),
                    "{method} {uri}"
                );
            }
        }
    }

    // An experiment's artifact location is the server's choice, in any spelling.
    for prefix in ["/api/2.0", "/ajax-api/2.0"] {
        let create = format!("{prefix}/mlflow/experiments/create");
        for body in [
            r#"{"name": "e"}"#,
            r#"{"name": "e", "artifact_location": ""}"#,
        ] {
            let ok = raw(&setup, NOBODY, Method::POST, &create, json, body).await;
            assert_eq!(ok, (StatusCode::NOT_FOUND, true), "{create} {body}");
        }
        for body in [
            r#"{"name": "e", "artifact_location": "mlflow-artifacts:/2"}"#,
            r#"{"name": "e", "artifact_location": "file:///etc"}"#,
            r#"{"name": "e", "artifactLocation": "/var/lib/mlflow/artifacts/2"}"#,
        ] {
            let (status, forwarded) =
                raw(&setup, EVERYBODY, Method::POST, &create, json, body).await;
            assert_eq!(
                (status, forwarded),
                (StatusCode::FORBIDDEN, false),
                "{create} {body}"
            );
        }
    }
}

/// A metric may name a logged model; writing it writes into that model, so another
/// experiment's model is refused however the request spells it.
#[tokio::test]
async fn metrics_may_only_name_logged_models_the_caller_may_update() {
    let setup = setup();
    let json = Some("application/json");
    for prefix in ["/api/2.0", "/ajax-api/2.0"] {
        let metric = format!("{prefix}/mlflow/runs/log-metric");
        let batch = format!("{prefix}/mlflow/runs/log-batch");
        let allowed = [
            (
                &metric,
                r#"{"run_id": "r1", "key": "m", "value": 1, "timestamp": 1, "model_id": "m-1"}"#,
            ),
            (
                &metric,
                r#"{"run_id": "r1", "key": "m", "value": 1, "timestamp": 1}"#,
            ),
            (
                &batch,
                r#"{"run_id": "r1", "metrics": [{"key": "m", "value": 1, "timestamp": 1, "model_id": "m-1"}, {"key": "n", "value": 2, "timestamp": 1}]}"#,
            ),
            (
                &batch,
                r#"{"run_id": "r1", "params": [{"key": "p", "value": "1"}]}"#,
            ),
        ];
        for (uri, body) in allowed {
            let result = raw(&setup, EVERYBODY, Method::POST, uri, json, body).await;
            assert_eq!(result, (StatusCode::NOT_FOUND, true), "{uri} {body}");
        }
        let refused = [
            (
                &metric,
                r#"{"run_id": "r1", "key": "m", "value": 1, "timestamp": 1, "model_id": "m-2"}"#,
            ),
            (
                &metric,
                r#"{"run_id": "r1", "key": "m", "value": 1, "timestamp": 1, "modelId": "m-2"}"#,
            ),
            (
                &metric,
                r#"{"run_id": "r1", "key": "m", "value": 1, "timestamp": 1, "model_id": "m-1", "modelId": "m-2"}"#,
            ),
            (
                &metric,
                r#"{"run_id": "r1", "key": "m", "value": 1, "timestamp": 1, "model_id": "m-unknown"}"#,
            ),
            (
                &batch,
                r#"{"run_id": "r1", "metrics": [{"key": "m", "value": 1, "timestamp": 1, "model_id": "m-1"}, {"key": "m", "value": 1, "timestamp": 1, "model_id": "m-2"}]}"#,
            ),
            (
                &batch,
                r#"{"run_id": "r1", "metrics": [{"key": "m", "value": 1, "timestamp": 1, "modelId": "m-2"}]}"#,
            ),
            (
                &batch,
                r#"{"run_id": "r1", "metrics": [{"key": "m", "value": 1, "timestamp": 1, "model_id": "m-1", "modelId": "m-2"}]}"#,
            ),
            (
                &batch,
                r#""{\"run_id\": \"r1\", \"metrics\": [{\"key\": \"m\", \"value\": 1, \"timestamp\": 1, \"model_id\": \"m-2\"}]}""#,
            ),
        ];
        for (uri, body) in refused {
            let (status, forwarded) = raw(&setup, EVERYBODY, Method::POST, uri, json, body).await;
            assert!(!forwarded, "{uri} {body} reached MLflow");
            assert!(
                matches!(status, StatusCode::FORBIDDEN | StatusCode::BAD_REQUEST),
                "{uri} {body}: {status}"
            );
        }
    }
}

/// Ids spelled the way MLflow's own parsers also read them must be checked, never
/// skipped: a grant on model1 must not carry a request about something else.
#[tokio::test]
async fn ids_are_read_however_mlflow_would_read_them() {
    let setup = setup();
    let json = Some("application/json");
    // The control: everybody may update model1 from a run of experiment 1.
    let ok = raw(
        &setup,
        EVERYBODY,
        Method::POST,
        "/api/2.0/mlflow/model-versions/create",
        json,
        r#"{"name": "model1", "source": "runs:/r1/model", "run_id": "r1"}"#,
    )
    .await;
    assert_eq!(
        ok,
        (StatusCode::NOT_FOUND, true),
        "control request must reach MLflow"
    );

    let refused = [
        // camelCase: MLflow's protobuf parser reads runId as run_id; r9 is no run of theirs.
        (
            Method::POST,
            "/api/2.0/mlflow/model-versions/create",
            json,
            r#"{"name": "model1", "source": "runs:/r1/model", "runId": "r9"}"#,
        ),
        // camelCase and snake_case disagreeing.
        (
            Method::POST,
            "/api/2.0/mlflow/model-versions/create",
            json,
            r#"{"name": "model1", "source": "runs:/r1/model", "run_id": "r1", "runId": "r9"}"#,
        ),
        // A DELETE body is read whatever its content type: it names model2.
        (
            Method::DELETE,
            "/api/2.0/mlflow/registered-models/delete?name=model1",
            Some("text/plain"),
            r#"{"name": "model2"}"#,
        ),
        // A double-encoded body (a JSON string holding JSON) names experiment 2.
        (
            Method::POST,
            "/api/2.0/mlflow/experiments/update",
            json,
            r#""{\"experiment_id\": \"2\", \"new_name\": \"x\"}""#,
        ),
        // A source URI of another experiment's artifacts.
        (
            Method::POST,
            "/api/2.0/mlflow/model-versions/create",
            json,
            r#"{"name": "model1", "source": "mlflow-artifacts:/2/abc/artifacts/model"}"#,
        ),
        // A source scheme mlguard cannot check.
        (
            Method::POST,
            "/api/2.0/mlflow/model-versions/create",
            json,
            r#"{"name": "model1", "source": "s3://bucket/elsewhere"}"#,
        ),
        // An empty run_id falls through to run_uuid in MLflow's handlers.
        (
            Method::POST,
            "/api/2.0/mlflow/runs/log-metric",
            json,
            r#"{"run_id": "", "run_uuid": "r9", "key": "m", "value": 1, "timestamp": 1}"#,
        ),
    ];
    for (method, uri, content_type, body) in refused {
        let (status, forwarded) =
            raw(&setup, EVERYBODY, method.clone(), uri, content_type, body).await;
        assert!(
            !forwarded,
            "{method} {uri} {body} reached MLflow ({status})"
        );
        assert!(
            status == StatusCode::FORBIDDEN || status == StatusCode::BAD_REQUEST,
            "{method} {uri} {body}: {status}"
        );
    }
}

/// Requests mlguard could read differently from MLflow are refused with 400.
#[tokio::test]
async fn ambiguous_requests_are_refused_before_any_decision() {
    let setup = setup();
    let cases = [
        // MLflow reads a GET's JSON body when its query is empty.
        (
            Method::GET,
            "/api/2.0/mlflow/runs/get",
            Some("application/json"),
            r#"{"run_id": "r9"}"#,
        ),
        // run_id and run_uuid naming different runs.
        (
            Method::GET,
            "/api/2.0/mlflow/runs/get?run_id=r1&run_uuid=r9",
            None,
            "",
        ),
        // One id twice with two values.
        (
            Method::GET,
            "/api/2.0/mlflow/experiments/get?experiment_id=1&experiment_id=2",
            None,
            "",
        ),
        // The query and the body disagree.
        (
            Method::POST,
            "/api/2.0/mlflow/experiments/update?experiment_id=2",
            Some("application/json"),
            r#"{"experiment_id": "1", "new_name": "x"}"#,
        ),
        // Not canonical: could name another experiment.
        (
            Method::GET,
            "/api/2.0/mlflow/experiments/get?experiment_id=01",
            None,
            "",
        ),
        // A number where MLflow expects a string id.
        (
            Method::POST,
            "/api/2.0/mlflow/experiments/update",
            Some("application/json"),
            r#"{"experiment_id": 1, "new_name": "x"}"#,
        ),
        // Invalid UTF-8 in the query.
        (
            Method::GET,
            "/api/2.0/mlflow/experiments/get?experiment_id=%FF",
            None,
            "",
        ),
    ];
    for (method, uri, content_type, body) in cases {
        let (status, forwarded) =
            raw(&setup, EVERYBODY, method.clone(), uri, content_type, body).await;
        assert_eq!(
            (status, forwarded),
            (StatusCode::BAD_REQUEST, false),
            "{method} {uri} {body}"
        );
    }
}

/// OPTIONS reads nothing: answered by mlguard with the methods the policy knows,
/// never forwarded, whoever asks and whatever the path names.
#[tokio::test]
async fn options_is_answered_here_and_reads_nothing() {
    let setup = setup();
    for path in [
        "/api/2.0/mlflow/experiments/get?experiment_id=1",
        "/ajax-api/2.0/mlflow/runs/get?run_id=r1",
        "/api/2.0/mlflow-artifacts/artifacts/1/abc",
    ] {
        let before = setup.upstream.seen.lock().expect("lock").len();
        let response = setup
            .router
            .clone()
            .oneshot(
                Request::builder()
                    .method(Method::OPTIONS)
                    .uri(path)
                    .header(
                        header::AUTHORIZATION,
                        format!(
                            "Basic {}",
                            STANDARD.encode(format!("{}:{}", NOBODY.0, NOBODY.1))
                        ),
                    )
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{path}");
        let allow = response.headers()[header::ALLOW]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(
            allow.contains("GET") && allow.contains("HEAD"),
            "{path}: {allow}"
        );
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        assert!(body.is_empty(), "{path}");
        assert_eq!(
            setup.upstream.seen.lock().expect("lock").len(),
            before,
            "{path} was forwarded"
        );
    }
}

/// The UI asks for the assistant's configuration on every page: a non-admin gets
/// "nothing configured" from mlguard itself (HEAD too), never MLflow's file, and may
/// not change it.
#[tokio::test]
async fn the_assistant_configuration_is_the_servers_and_shown_empty_to_users() {
    let setup = setup();
    let path = "/ajax-api/3.0/mlflow/assistant/config";
    for who in [NOBODY, EVERYBODY] {
        let (status, forwarded, body) = send(&setup, who, &Method::GET, path).await;
        assert_eq!((status, forwarded), (StatusCode::OK, false));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).expect("json"),
            json!({"providers": {}, "projects": {}})
        );
        let (status, forwarded, _) = send(&setup, who, &Method::HEAD, path).await;
        assert_eq!((status, forwarded), (StatusCode::OK, false));
        for method in [Method::PUT, Method::POST] {
            let (status, forwarded, _) = send(&setup, who, &method, path).await;
            assert!(!forwarded, "{method} {path}");
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}");
        }
    }
}

/// MLflow's AI gateway passes the client's headers on to the LLM provider: the
/// caller's credentials, cookies and what names the caller or mlguard must not
/// reach it. Other routes keep the request id, for MLflow's logs.
#[tokio::test]
async fn requests_bound_for_llm_providers_carry_no_credentials_or_client_details() {
    let setup = setup();
    let send_with_headers = |path: String| {
        let router = setup.router.clone();
        async move {
            let request = Request::post(path)
                .header(
                    header::AUTHORIZATION,
                    format!(
                        "Basic {}",
                        STANDARD.encode(format!("{}:{}", EVERYBODY.0, EVERYBODY.1))
                    ),
                )
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::COOKIE, "session=abc")
                .header("x-mlflow-authorization", "Basic c2VjcmV0")
                .header("proxy-authorization", "Basic c2VjcmV0")
                .header("x-request-id", "req-1")
                .header("x-forwarded-for", "10.9.9.9")
                .header("forwarded", "for=10.9.9.9")
                .header("x-custom-provider-header", "kept")
                .body(Body::from(r#"{"model": "ep", "experiment_id": "1"}"#))
                .expect("request");
            let mut request = request;
            request.extensions_mut().insert(axum::extract::ConnectInfo(
                std::net::SocketAddr::from(([127, 0, 0, 7], 5000)),
            ));
            router.oneshot(request).await.expect("infallible").status()
        }
    };
    // Every route MLflow's AI gateway passes on, as the table lists them.
    let provider_routes: Vec<String> = RULES
        .iter()
        .filter(|rule| rule.method == "POST" && rule.reaches_llm_providers())
        .filter(|rule| matches!(rule.access, Access::Checks(_)))
        .map(|rule| fill(rule.paths[0]))
        .collect();
    assert!(provider_routes.len() >= 10, "{provider_routes:?}");
    for path in provider_routes {
        let status = send_with_headers(path.clone()).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "{path} reached the fake MLflow"
        );
        let (headers, provider_bound, client) = setup
            .upstream
            .heads
            .lock()
            .expect("lock")
            .pop()
            .expect("forwarded");
        for name in mlguard_policy::WITHHELD_FROM_PROVIDERS {
            assert!(!headers.contains_key(*name), "{path} passed on {name}");
        }
        assert_eq!(
            headers
                .get("x-custom-provider-header")
                .map(|v| v.as_bytes()),
            Some(&b"kept"[..])
        );
        assert!(
            provider_bound,
            "{path}: the forwarder would add X-Forwarded-*"
        );
        assert!(!client, "{path}: the client's address went along");
    }
    // Anything else keeps the request id and the client address.
    let status = send_with_headers("/api/2.0/mlflow/runs/create".to_owned()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (headers, provider_bound, client) = setup
        .upstream
        .heads
        .lock()
        .expect("lock")
        .pop()
        .expect("forwarded");
    assert_eq!(
        headers.get("x-request-id").map(|v| v.as_bytes()),
        Some(&b"req-1"[..])
    );
    assert!(!provider_bound && client);
}

/// An MCP server is `<namespace>/<slug>` and a skill `<organization>/<name>`: a
/// segment that smuggles a slash in (`%2F`, any case, or doubly encoded) must not
/// name the server or skill the caller holds a grant on, nor reach MLflow, whose
/// `{name:path}` would read it as another name. Under every prefix, and by HEAD.
#[tokio::test]
async fn a_smuggled_slash_names_no_mcp_server_or_skill() {
    let setup = setup();
    for prefix in ["/api/3.0/mlflow", "/ajax-api/3.0/mlflow"] {
        // Controls: the plain spellings of what EVERYBODY holds grants on.
        for path in [
            "/mcp-servers/team/search",
            "/skills/@acme/lint",
            "/skills/lint",
        ] {
            let (status, forwarded) = raw(
                &setup,
                EVERYBODY,
                Method::GET,
                &format!("{prefix}{path}"),
                None,
                "",
            )
            .await;
            assert!(forwarded, "{prefix}{path}: {status}, not forwarded");
        }
        for path in [
            "/mcp-servers/team%2Fsearch/x",
            "/mcp-servers/team%2fsearch/x",
            "/mcp-servers/team/search%2Fx",
            "/mcp-servers/team%252Fsearch/x",
            "/skills/@acme%2Flint/x",
            "/skills/acme%2Flint",
            "/skills/@acme/lint%2Fx",
        ] {
            for method in [Method::GET, Method::HEAD, Method::DELETE] {
                let uri = format!("{prefix}{path}");
                let (status, forwarded) =
                    raw(&setup, EVERYBODY, method.clone(), &uri, None, "").await;
                assert!(!forwarded, "{method} {uri} reached MLflow with {status}");
                assert!(
                    status.is_client_error(),
                    "{method} {uri}: {status}, not refused"
                );
            }
        }
    }
}
