//! The MLflow route policy: for every (method, path) MLflow 3.10.1 serves, an
//! explicit decision on who may call it, where the resource ids come from, and what
//! happens after the response. A route missing from the table is denied to
//! non-admins.
//!
//! Paths are matched after [`canonical_route_path`]: `/ajax-api/` is read as `/api/`
//! and `/api/2.0/` and `/api/3.0/` as one, so the same operation under any prefix
//! gets the same decision.
//!
//! Pure data and matching: no HTTP, async or SQL types (see the README).

mod graphql;
mod hooks;
mod lists;
mod request;
mod resolve;
mod table;

use std::collections::HashMap;
use std::sync::OnceLock;

use mlguard_domain::{Capability, ExperimentChild, ResourceType};

pub use graphql::{
    FieldNeed, GRAPHQL_FIELDS, GraphQlField, GraphQlRoot, Requirement, graphql_field,
};
pub use hooks::HookPlan;
pub use lists::{About, ListShape, PageLookups, item_resources, scorer_of};
pub use request::{Found, Headers, InputError, RequestView, narrowable_fields, run_id_or_uuid};
pub use resolve::{Resolved, artifact_experiment, resolve};
pub use table::RULES;

/// A JSON pointer into the request body, for targets that only a JSON body can
/// feed (lists of objects, tag lists). The last segment may also be spelled in
/// camelCase, as MLflow's protobuf parser accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyPointer(pub &'static str);

/// Where one id is read from. Names follow MLflow's field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// MLflow's `_get_request_param`: GET reads the query, POST/PATCH/PUT the JSON
    /// body, DELETE the JSON body when it has one and the query otherwise.
    Param(&'static str),
    /// A run, as MLflow's handlers read it: the `run_id` param, or `run_uuid` when
    /// `run_id` is missing or empty. A query `run_id` and `run_uuid` that differ are
    /// refused.
    RunId,
    /// A query parameter, whatever the method.
    Query(&'static str),
    /// A JSON pointer into the request body, e.g. `/experiment_id` or
    /// `/trace/trace_info/trace_location/mlflow_experiment/experiment_id`.
    Body(&'static str),
    /// A named path parameter of the pattern, e.g. `model_id` in `{model_id}`.
    Path(&'static str),
    /// A path parameter up to its last `:`. Gemini's `models/{endpoint_name}:verb`
    /// puts a literal after a parameter inside one segment, which matchit cannot
    /// express, so the rule captures the whole segment. Endpoint names hold no `:`;
    /// a value without one resolves to nothing.
    PathBeforeLastColon(&'static str),
    /// A request header.
    Header(&'static str),
    /// The trace id of every span in an OTLP/HTTP export body, as MLflow files the
    /// span (see `mlguard_http::otlp::export_trace_ids`).
    OtlpSpanTraces,
}

/// The `source` values the MLflow client (`register_prompt`: `dummy-source`) and
/// store (`prompt-template`) give prompt versions. They name no files; mlguard never
/// serves files for them (see [`Target::ModelVersionFiles`]).
pub const PROMPT_PLACEHOLDER_SOURCES: &[&str] = &["dummy-source", "prompt-template"];

/// The trace tag MLflow reads a trace's files from.
pub const ARTIFACT_LOCATION_TAG: &str = "mlflow.artifactLocation";

/// The version tag that marks a registered model version as a prompt version.
pub const PROMPT_TAG: &str = "mlflow.prompt.is_prompt";

/// What a check is about, and how to reach its experiment or model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// An experiment id.
    Experiment(Source),
    /// Every experiment id of a list (JSON array, or a repeated query parameter).
    /// An empty or missing list is denied for non-admins.
    Experiments(Source),
    /// An experiment name, resolved to its id through the tracking server.
    ExperimentByName(Source),
    /// A run id (`run_id`, falling back to `run_uuid`), resolved to its experiment.
    Run(Source),
    /// Every run id of a list, each resolved to its experiment.
    Runs(Source),
    /// A logged model id, resolved to its experiment.
    LoggedModel(Source),
    /// Every `model_id` (or `modelId`) in a JSON array of objects, e.g. the
    /// `metrics` of `runs/log-batch`, each resolved to its experiment.
    LoggedModelsIn(BodyPointer),
    /// A trace (request) id, resolved to its experiment.
    Trace(Source),
    /// A trace id the client chooses for a new trace. If it already names a trace,
    /// the check applies to that trace's experiment (start-trace would overwrite it);
    /// if not, there is nothing to check.
    TraceIfExists(Source),
    /// Every trace id of a list, each resolved to its experiment.
    Traces(Source),
    /// Trace ids spans are written into: each one that names a trace resolves to
    /// its experiment (spans would join it); one that names none needs nothing here
    /// (MLflow starts it in the request's own experiment, checked on its own).
    TracesIfExist(Source),
    /// A trace whose files are served: its experiment, provided the stored
    /// `mlflow.artifactLocation` tag is the one MLflow assigns in that experiment
    /// (`<artifact root>/traces/<trace_id>/artifacts`). Any other location names
    /// nothing, so it is admin-only.
    TraceFiles(Source),
    /// Tags (a key, a `{key: value}` map, or a list of `{key, value}`) that must not
    /// hold `key`: a present reserved key names nothing (denied), anything else needs
    /// nothing. For tags MLflow reads to locate files.
    WithoutTag {
        tags: Source,
        key: &'static str,
    },
    /// A field non-admins may not set (present and non-empty names nothing); absent
    /// or empty needs nothing. For fields MLflow reads to locate files.
    Unset(Source),
    /// An evaluation dataset id, resolved to the experiments it is linked to;
    /// the check must pass on every one, and a dataset linked to none is admin-only.
    Dataset(Source),
    /// A model source URI, resolved to what it reads from: `mlflow-artifacts:/<exp>/…`
    /// (experiment), `runs:/<run_id>/…` (run), `models:/<model_id>` (logged model),
    /// `models:/<name>/<version>` (registered model). Any other scheme names nothing
    /// mlguard can check, so it is admin-only.
    SourceUri(Source),
    /// As [`Target::SourceUri`], except that a prompt version's placeholder source
    /// (see [`PROMPT_PLACEHOLDER_SOURCES`]), sent with the prompt tag in `tags`, reads
    /// nothing and needs nothing.
    VersionSourceUri {
        source: Source,
        tags: BodyPointer,
    },
    /// A registered model name (also the key of model versions, aliases, tags).
    RegisteredModel(Source),
    /// A label schema or an issue by its id, resolved to its experiment; one that
    /// does not exist names nothing.
    ChildOfExperiment(ExperimentChild, Source),
    /// An artifact path whose first segment is the experiment id (`12/abc/artifacts/x`).
    ArtifactPath(Source),
    /// The registered models that have a version whose files (its download URI)
    /// contain this artifact path: a reader of the model may load the version.
    RegisteredModelsServingArtifact(Source),
    /// A registered model version (`name`, `version`) whose files are served: the
    /// registered model, provided the version's stored `source` is a URI mlguard can
    /// check (as for [`Target::SourceUri`]). A placeholder or unknown source names
    /// nothing, so its files are admin-only.
    ModelVersionFiles {
        name: Source,
        version: Source,
    },
    /// A prompt URI (`prompts:/<name>/<version>`, `prompts:/<name>@<alias>`), resolved
    /// to the registered model that holds the prompt.
    PromptUri(Source),
    /// A scorer, named within its experiment.
    Scorer {
        experiment: Source,
        name: Source,
    },
    GatewaySecret(Source),
    GatewayEndpoint(Source),
    /// A gateway endpoint by name, resolved to its id through the tracking server.
    GatewayEndpointByName(Source),
    GatewayModelDefinition(Source),
    /// An MCP server by the two path segments of its name, `<namespace>/<slug>`.
    McpServer {
        namespace: Source,
        slug: Source,
    },
    /// A skill by its name, within its organization when it has one.
    Skill {
        organization: Option<Source>,
        name: Source,
    },
    /// The scorer a gateway guardrail runs, by the guardrail's id; a guardrail that
    /// does not exist names nothing.
    GuardrailScorer(Source),
    /// Every skill a bulk registration names: each `name` of the body's `skills`,
    /// within the body's `organization` (none when empty or absent).
    SkillsIn(BodyPointer),
    /// Every `model_definition_id` in a JSON array of objects, e.g.
    /// `/model_configs` with `model_definition_id` in each element.
    GatewayModelDefinitions(BodyPointer),
}

impl Source {
    /// Whether this source reads the JSON request body (on a method whose body
    /// MLflow reads); path, query and header sources never do.
    pub fn reads_body(&self) -> bool {
        matches!(self, Source::Body(_) | Source::Param(_) | Source::RunId)
    }
}

impl Target {
    /// Every place this target reads an id from.
    pub fn sources(&self) -> Vec<Source> {
        match *self {
            Target::Experiment(s)
            | Target::Experiments(s)
            | Target::ExperimentByName(s)
            | Target::Run(s)
            | Target::Runs(s)
            | Target::LoggedModel(s)
            | Target::Trace(s)
            | Target::TraceIfExists(s)
            | Target::SourceUri(s)
            | Target::Traces(s)
            | Target::TracesIfExist(s)
            | Target::TraceFiles(s)
            | Target::Unset(s)
            | Target::Dataset(s)
            | Target::RegisteredModel(s)
            | Target::ChildOfExperiment(_, s)
            | Target::ArtifactPath(s)
            | Target::RegisteredModelsServingArtifact(s)
            | Target::PromptUri(s)
            | Target::GatewaySecret(s)
            | Target::GatewayEndpoint(s)
            | Target::GatewayEndpointByName(s)
            | Target::GatewayModelDefinition(s)
            | Target::GuardrailScorer(s) => vec![s],
            Target::LoggedModelsIn(pointer) | Target::GatewayModelDefinitions(pointer) => {
                vec![Source::Body(pointer.0)]
            }
            Target::SkillsIn(pointer) => {
                vec![Source::Body("/organization"), Source::Body(pointer.0)]
            }
            Target::Scorer { experiment, name } => vec![experiment, name],
            Target::McpServer { namespace, slug } => vec![namespace, slug],
            Target::Skill { organization, name } => {
                organization.into_iter().chain([name]).collect()
            }
            Target::VersionSourceUri { source, tags } => vec![source, Source::Body(tags.0)],
            Target::WithoutTag { tags, .. } => vec![tags],
            Target::ModelVersionFiles { name, version } => vec![name, version],
        }
    }
}

/// What a check does when the resource it names does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Absent {
    /// Deny: the default permission never applies to something mlguard could not
    /// identify.
    Deny,
    /// Let the tracking server answer its own "does not exist" (a 404), as lookups by
    /// name must for clients that create what they do not find. Only a failure from
    /// upstream is passed on: a success (the resource appeared meanwhile) is denied.
    UpstreamAnswers,
}

/// How a check treats a target that resolves to several resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    /// The capability is needed on every resource.
    All,
    /// The capability on one of them is enough; none resolved denies.
    Any,
    /// A search over a list: the request is narrowed to the resources the caller holds
    /// the capability on, as MLflow narrows it, and answered with an empty page when
    /// none remain. Only a JSON-body list can be narrowed; any other is checked `All`.
    Narrow,
}

/// One required capability on one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    pub target: Target,
    pub capability: Capability,
    /// When true, a request without the id skips this check instead of being denied
    /// (for ids MLflow treats as optional, such as a new `secret_id` on update).
    pub optional: bool,
    pub absent: Absent,
    pub quantifier: Quantifier,
    /// A second way to pass: when this check denies, `otherwise` is tried instead
    /// (a registry reader reading a model version's files, say).
    pub otherwise: Option<&'static Check>,
    /// MLflow 3.17's wildcard-only tier of what the check is about (runs, traces,
    /// logged models, review queues of an experiment). The check then also needs
    /// the capability from the tier's `*` rows, or from the experiment when the
    /// caller holds none: a `(run, *, DENY)` denies every run.
    pub tier: Option<ResourceType>,
}

/// The tier an experiment's sub-resource falls under, by what a target names.
const fn tier_of(target: &Target) -> Option<ResourceType> {
    match target {
        Target::Run(_) | Target::Runs(_) => Some(ResourceType::Run),
        Target::LoggedModel(_) | Target::LoggedModelsIn(_) => Some(ResourceType::LoggedModel),
        Target::Trace(_)
        | Target::Traces(_)
        | Target::TraceIfExists(_)
        | Target::TracesIfExist(_)
        | Target::TraceFiles(_) => Some(ResourceType::Trace),
        Target::ChildOfExperiment(ExperimentChild::ReviewQueue, _) => {
            Some(ResourceType::ReviewQueue)
        }
        _ => None,
    }
}

impl Check {
    pub const fn required(target: Target, capability: Capability) -> Self {
        Self {
            target,
            capability,
            optional: false,
            absent: Absent::Deny,
            quantifier: Quantifier::All,
            otherwise: None,
            tier: tier_of(&target),
        }
    }

    pub const fn optional(target: Target, capability: Capability) -> Self {
        Self {
            optional: true,
            ..Self::required(target, capability)
        }
    }

    /// The request is narrowed to the resources the caller may use this way.
    pub const fn narrowed(target: Target, capability: Capability) -> Self {
        Self {
            quantifier: Quantifier::Narrow,
            ..Self::required(target, capability)
        }
    }

    /// The capability on any one of the resolved resources suffices.
    pub const fn on_any(target: Target, capability: Capability) -> Self {
        Self {
            quantifier: Quantifier::Any,
            ..Self::required(target, capability)
        }
    }

    /// A resource that does not exist gets the tracking server's own answer.
    pub const fn absent_answered_upstream(self) -> Self {
        Self {
            absent: Absent::UpstreamAnswers,
            ..self
        }
    }

    /// When this check denies, `alternative` may still grant.
    pub const fn otherwise(self, alternative: &'static Check) -> Self {
        Self {
            otherwise: Some(alternative),
            ..self
        }
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Any authenticated user: the UI shell, static files, server info.
    Authenticated,
    /// Admins only: server-wide configuration and anything mlguard does not model.
    Admin,
    /// Answered by mlguard itself, never forwarded (users and permission APIs).
    Native,
    /// Every check must pass.
    Checks(&'static [Check]),
    /// GraphQL: each requested field is authorized by its own arguments.
    GraphQl,
    /// Admins reach MLflow; anyone else gets this JSON body (200) from mlguard, for
    /// a UI probe of an admin-only feature that must not fail on every page.
    AdminElseAnswer(&'static str),
    /// An MLflow job by its id: admins, and the user mlguard recorded as its
    /// submitter (see [`AfterHook::RecordJobOwner`]). A job without a record is
    /// admin-only, as MLflow 3.17 denies a job without a creator.
    OwnJob(Source),
}

/// Where a job-submitting answer names what it submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmittedJobs {
    /// One job id, at this JSON pointer.
    One(&'static str),
    /// A list at this JSON pointer, each item naming its job at `job_id`.
    Each(&'static str),
}

/// Which list a search returns, for filtering its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    Experiments,
    RegisteredModels,
    ModelVersions,
    Runs,
    LoggedModels,
    Traces,
    GatewaySecrets,
    GatewayEndpoints,
    GatewayModelDefinitions,
    /// MCP servers, each by its `name`.
    McpServers,
    /// The access endpoints of every MCP server, each by its `server_name`.
    McpAccessEndpoints,
    /// Skills, each by its `organization` and `name`.
    Skills,
    /// Endpoint bindings, each by the endpoint it binds.
    GatewayEndpointBindings,
    /// Evaluation datasets, each readable when all its experiments are.
    Datasets,
    /// Online scoring configs, by their `experiment_id`.
    OnlineScoringConfigs,
    /// Scorers, each by its experiment and `scorer_name`.
    Scorers,
}

/// What a created resource is, for the creator's MANAGE grant. Where its id is
/// read is [`CreatedKind::response_pointer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreatedKind {
    Experiment,
    RegisteredModel,
    /// Named by the request (`experiment_id` and `name`), not by the answer.
    Scorer,
    GatewaySecret,
    GatewayEndpoint,
    GatewayModelDefinition,
    /// An MCP server, named `<namespace>/<slug>` in MLflow's answer.
    McpServer,
    /// A skill, by the `organization` and `name` of MLflow's answer.
    Skill,
}

/// What happens after the upstream answered. Hooks run only on a 2xx.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterHook {
    None,
    /// Give the caller MANAGE on what they created.
    GrantCreator(CreatedKind),
    /// Drop the list items the caller may not read, re-fetching to fill the page.
    FilterList(ListKind),
    /// Delete every grant on the target (it was deleted).
    DeleteGrants(Target),
    /// Move registered-model grants from `name` to `new_name`.
    RenameRegisteredModel,
    /// Remove these top-level fields from the JSON answer for non-admins: server
    /// facts that are an admin's business.
    RedactForNonAdmins(&'static [&'static str]),
    /// Record the caller as the submitter of the jobs the answer names.
    RecordJobOwner(SubmittedJobs),
    /// Keep only the caller's own jobs in the answer's `jobs` (non-admins).
    KeepOwnJobs,
    /// Clear the scorer of each guardrail in the answer's `configs` that the caller
    /// may not read (non-admins): a guardrail carries its scorer's definition.
    RedactGuardrailScorers,
}

/// One row of the policy table: one MLflow route, under every prefix it is served at.
#[derive(Debug, Clone, Copy)]
pub struct RouteRule {
    pub method: &'static str,
    /// MLflow's spellings of the route (`/api/2.0/…`, `/ajax-api/2.0/…`), with
    /// `{param}` and `{*rest}` placeholders (matchit syntax). They share one
    /// canonical form (see [`canonical_route_path`]) and their parameter names.
    pub paths: &'static [&'static str],
    pub access: Access,
    pub after: AfterHook,
}

/// What a route reads from the request body to find its ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyNeed {
    Nothing,
    Json,
    /// An OTLP `ExportTraceServiceRequest` (protobuf or JSON, maybe compressed).
    OtlpExport,
}

impl RouteRule {
    /// What the row's checks and after-hook read from the body. A GET (and so a
    /// HEAD) reads none: MLflow reads its query.
    pub fn needs_body(&self) -> BodyNeed {
        if self.method == "GET" {
            return BodyNeed::Nothing;
        }
        let sources: Vec<Source> = match self.access {
            Access::Checks(checks) => checks
                .iter()
                .flat_map(|check| std::iter::successors(Some(check), |c| c.otherwise))
                .flat_map(|check| check.target.sources())
                .collect(),
            Access::GraphQl => return BodyNeed::Json,
            Access::OwnJob(source) => vec![source],
            Access::Authenticated | Access::Admin | Access::Native | Access::AdminElseAnswer(_) => {
                Vec::new()
            }
        };
        if sources.contains(&Source::OtlpSpanTraces) {
            BodyNeed::OtlpExport
        } else if self.after.reads_body() || sources.iter().any(Source::reads_body) {
            BodyNeed::Json
        } else {
            BodyNeed::Nothing
        }
    }

    /// Whether MLflow sends this route's request on to an LLM provider (its AI
    /// gateway's own routes), so [`WITHHELD_FROM_PROVIDERS`] must not reach it.
    pub fn reaches_llm_providers(&self) -> bool {
        self.paths.iter().any(|path| path.starts_with("/gateway/"))
    }

    /// The route as the matcher sees it.
    pub fn canonical_path(&self) -> String {
        canonical_route_path(self.paths[0])
    }
}

/// What MLflow's AI gateway must not pass on to an LLM provider: on its
/// `/gateway/` routes it forwards the client's headers, so the caller's
/// credentials and whatever identifies the caller or mlguard are withheld.
pub const WITHHELD_FROM_PROVIDERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-mlflow-authorization",
    "x-request-id",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
    "forwarded",
];

/// Stands for either API version in canonical paths.
const ANY_VERSION: &str = "/api/~v/";

/// The canonical form of a request path for matching: `/ajax-api/` becomes `/api/`,
/// and `/api/2.0/` and `/api/3.0/` both become `/api/~v/`. A request that spells the
/// placeholder itself is moved out of the way, so it cannot match a versioned rule.
pub fn canonical_route_path(path: &str) -> String {
    // Built by pushing, not `format!`: this runs on every request.
    let joined = |head: &str, tail: &str| {
        let mut joined = String::with_capacity(head.len() + tail.len());
        joined.push_str(head);
        joined.push_str(tail);
        joined
    };
    let path = match path.strip_prefix("/ajax-api/") {
        Some(rest) => joined("/api/", rest),
        None => path.to_owned(),
    };
    if path.starts_with(ANY_VERSION) {
        return joined("/~literal", &path);
    }
    for version in ["/api/2.0/", "/api/3.0/"] {
        if let Some(rest) = path.strip_prefix(version) {
            return joined(ANY_VERSION, rest);
        }
    }
    path
}

/// A matched route: its rule and the path parameters, decoded.
#[derive(Debug, Clone)]
pub struct RouteMatch {
    pub rule: &'static RouteRule,
    pub params: Vec<(String, String)>,
    /// The rule's [`RouteRule::needs_body`], worked out once when the table is
    /// indexed, not per request.
    pub body_need: BodyNeed,
}

impl RouteMatch {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Index {
    by_method: HashMap<&'static str, matchit::Router<(&'static RouteRule, BodyNeed)>>,
    /// Rows the matcher could not take (two rows for one route, a bad pattern).
    conflicts: Vec<String>,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut by_method: HashMap<&'static str, matchit::Router<(&'static RouteRule, BodyNeed)>> =
            HashMap::new();
        let mut conflicts = Vec::new();
        for rule in RULES {
            let router = by_method.entry(rule.method).or_default();
            if let Err(error) = router.insert(rule.canonical_path(), (rule, rule.needs_body())) {
                conflicts.push(format!("{} {}: {error}", rule.method, rule.paths[0]));
            }
        }
        Index {
            by_method,
            conflicts,
        }
    })
}

/// Rows the matcher refused; empty for a sound table (tested). A refused row would
/// leave its route to the "no rule, admin only" fallback.
pub fn table_conflicts() -> &'static [String] {
    &index().conflicts
}

/// The rule for a request, by its method name (`GET`, `POST`, ...) and its decoded
/// path. HEAD is matched as GET. `None` means no rule: deny unless the caller is an
/// admin.
pub fn match_route(method: &str, decoded_path: &str) -> Option<RouteMatch> {
    let method = if method == "HEAD" { "GET" } else { method };
    let router = index().by_method.get(method)?;
    let canonical = canonical_route_path(decoded_path);
    let found = router.at(&canonical).ok()?;
    let (rule, body_need) = *found.value;
    Some(RouteMatch {
        rule,
        body_need,
        params: found
            .params
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    })
}

/// Methods that have a rule for this path, for `Allow` on OPTIONS.
pub fn allowed_methods(decoded_path: &str) -> Vec<&'static str> {
    let canonical = canonical_route_path(decoded_path);
    let mut methods: Vec<&'static str> = index()
        .by_method
        .iter()
        .filter(|(_, router)| router.at(&canonical).is_ok())
        .map(|(method, _)| *method)
        .collect();
    if methods.contains(&"GET") {
        methods.push("HEAD");
    }
    methods.sort_unstable();
    methods
}
