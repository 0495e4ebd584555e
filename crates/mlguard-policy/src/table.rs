//! The policy table: one rule per route of MLflow 3.10.1, in the order of
//! MLflow 3.10.1's route catalogue (vendored for the tests as
//! `crates/mlguard-http/tests/data/routes-3.10.1.tsv`), with `<x>` written `{x}` and `<path:x>` written
//! `{*x}`. Rules that share a canonical path (see [`super::canonical_route_path`]) are
//! one route to the matcher, so they carry the same decision.
//!
//! Where the table's spelling differs from the catalogue:
//! - the v2 trace routes name their path id `{trace_id}`, not `{request_id}`, so the
//!   v2 and v3 spellings of one canonical route read the same parameter;
//! - Gemini's `{endpoint_name}:generateContent` and `:streamGenerateContent` share one
//!   rule on the whole segment, as matchit allows nothing after a parameter inside a
//!   segment;
//! - the catalogue lists `GET /ajax-api/2.0/mlflow/metrics/get-history-bulk-interval`
//!   twice; it has one rule;
//! - FastAPI's `* /*` mount of the Flask app has no rule: whatever matches no rule is
//!   admin-only.
//!
//! Where mlguard decides differently from MLflow's basic-auth app, the route's first
//! row says so in a `//` comment ending in "MLflow: <what MLflow does>".

use mlguard_domain::Capability::{Delete, Manage, Read, Update, Use};
use mlguard_domain::ExperimentChild;

use super::{
    ARTIFACT_LOCATION_TAG, Access, AfterHook, BodyPointer, Check, CreatedKind, ListKind, RouteRule,
    Source, SubmittedJobs, Target,
};

const GET: &str = "GET";
const POST: &str = "POST";
const PUT: &str = "PUT";
const PATCH: &str = "PATCH";
const DELETE: &str = "DELETE";

const fn route(
    method: &'static str,
    paths: &'static [&'static str],
    access: Access,
    after: AfterHook,
) -> RouteRule {
    RouteRule {
        method,
        paths,
        access,
        after,
    }
}

// Where ids come from. `Param` reads where MLflow's handler does: the query for GET,
// the JSON body otherwise.
const EXPERIMENT_ID: Source = Source::Param("experiment_id");
const EXPERIMENT_IDS: Source = Source::Param("experiment_ids");
const RUN_ID: Source = Source::RunId;
const TRACE_ID_IN_PATH: Source = Source::Path("trace_id");
const MODEL_ID_IN_PATH: Source = Source::Path("model_id");
const DATASET_ID_IN_PATH: Source = Source::Path("dataset_id");
const ARTIFACT_PATH_IN_PATH: Source = Source::Path("artifact_path");
const MODEL_NAME: Source = Source::Param("name");
const SECRET_ID: Source = Source::Param("secret_id");
const ENDPOINT_ID: Source = Source::Param("endpoint_id");
const MODEL_DEFINITION_ID: Source = Source::Param("model_definition_id");
/// Start-trace v3 names its experiment inside the trace's location.
const TRACE_V3_EXPERIMENT_ID: Source =
    Source::Body("/trace/trace_info/trace_location/mlflow_experiment/experiment_id");
const NO_LOCATION_IN_TAGS: Target = Target::WithoutTag {
    tags: Source::Param("tags"),
    key: ARTIFACT_LOCATION_TAG,
};
const NO_LOCATION_IN_V3_TAGS: Target = Target::WithoutTag {
    tags: Source::Body("/trace/trace_info/tags"),
    key: ARTIFACT_LOCATION_TAG,
};
const SCORER: Target = Target::Scorer {
    experiment: EXPERIMENT_ID,
    name: Source::Param("name"),
};

const AUTHENTICATED: Access = Access::Authenticated;
const ADMIN: Access = Access::Admin;
const NATIVE: Access = Access::Native;
const GRAPHQL: Access = Access::GraphQl;

// Experiments and runs.
const EXPERIMENT_READ: Access =
    Access::Checks(&[Check::required(Target::Experiment(EXPERIMENT_ID), Read)]);
const EXPERIMENT_UPDATE: Access =
    Access::Checks(&[Check::required(Target::Experiment(EXPERIMENT_ID), Update)]);
const EXPERIMENT_DELETE: Access =
    Access::Checks(&[Check::required(Target::Experiment(EXPERIMENT_ID), Delete)]);
/// The prompt-lab handler reads `request.json` directly, whatever the method.
const EXPERIMENT_UPDATE_BY_BODY: Access = Access::Checks(&[Check::required(
    Target::Experiment(Source::Body("/experiment_id")),
    Update,
)]);
/// Anyone may create an experiment; where its files go is the server's choice.
const EXPERIMENT_CREATE: Access = Access::Checks(&[Check::optional(
    Target::Unset(Source::Param("artifact_location")),
    Update,
)]);
/// A name that names nothing gets MLflow's 404: `set_experiment` creates on it.
const EXPERIMENT_BY_NAME_READ: Access = Access::Checks(&[Check::required(
    Target::ExperimentByName(Source::Param("experiment_name")),
    Read,
)
.absent_answered_upstream()]);
const EXPERIMENTS_READ: Access =
    Access::Checks(&[Check::required(Target::Experiments(EXPERIMENT_IDS), Read)]);
/// Searches narrowed to the readable experiments, as MLflow narrows them.
const EXPERIMENTS_READ_NARROWED: Access =
    Access::Checks(&[Check::narrowed(Target::Experiments(EXPERIMENT_IDS), Read)]);
const EXPERIMENTS_UPDATE: Access =
    Access::Checks(&[Check::required(Target::Experiments(EXPERIMENT_IDS), Update)]);
const RUN_READ: Access = Access::Checks(&[Check::required(Target::Run(RUN_ID), Read)]);
const RUN_UPDATE: Access = Access::Checks(&[Check::required(Target::Run(RUN_ID), Update)]);
/// A metric may name a logged model it is about: that model is written too.
const RUN_LOG_METRIC: Access = Access::Checks(&[
    Check::required(Target::Run(RUN_ID), Update),
    Check::optional(Target::LoggedModel(Source::Param("model_id")), Update),
]);
const RUN_LOG_BATCH: Access = Access::Checks(&[
    Check::required(Target::Run(RUN_ID), Update),
    Check::optional(Target::LoggedModelsIn(BodyPointer("/metrics")), Update),
]);
const RUN_DELETE: Access = Access::Checks(&[Check::required(Target::Run(RUN_ID), Delete)]);
/// The upload handler writes to `run_uuid` and never reads `run_id`.
const RUN_UPDATE_BY_QUERY_RUN_UUID: Access = Access::Checks(&[Check::required(
    Target::Run(Source::Query("run_uuid")),
    Update,
)]);
const RUNS_READ_BY_QUERY_RUN_IDS: Access = Access::Checks(&[Check::required(
    Target::Runs(Source::Query("run_ids")),
    Read,
)]);
const RUNS_READ_BY_QUERY_RUN_ID: Access =
    Access::Checks(&[Check::required(Target::Runs(Source::Query("run_id")), Read)]);

// Traces.
/// v2 and v3 start-trace share one canonical route. The v3 location is required, so a
/// v2 body is admin-only; a v2 `experiment_id` sent alongside is checked too, since
/// the v2 handler would use it.
const TRACE_START: Access = Access::Checks(&[
    Check::required(Target::Experiment(TRACE_V3_EXPERIMENT_ID), Update),
    Check::optional(Target::Experiment(EXPERIMENT_ID), Update),
    // A client-chosen id of an existing trace would overwrite (or move) it.
    Check::optional(
        Target::TraceIfExists(Source::Body("/trace/trace_info/trace_id")),
        Update,
    ),
    // MLflow serves a trace's files from this tag: it is the server's to set.
    Check::optional(NO_LOCATION_IN_V3_TAGS, Update),
    Check::optional(NO_LOCATION_IN_TAGS, Update),
]);
const TRACE_END: Access = Access::Checks(&[
    Check::required(Target::Trace(TRACE_ID_IN_PATH), Update),
    Check::optional(NO_LOCATION_IN_TAGS, Update),
]);
/// Set or delete one trace tag (`key`), never the one that locates its files.
const TRACE_TAG_UPDATE: Access = Access::Checks(&[
    Check::required(Target::Trace(TRACE_ID_IN_PATH), Update),
    Check::required(
        Target::WithoutTag {
            tags: Source::Param("key"),
            key: ARTIFACT_LOCATION_TAG,
        },
        Update,
    ),
]);
const TRACE_READ: Access =
    Access::Checks(&[Check::required(Target::Trace(TRACE_ID_IN_PATH), Read)]);
const TRACE_UPDATE: Access =
    Access::Checks(&[Check::required(Target::Trace(TRACE_ID_IN_PATH), Update)]);
const TRACE_READ_BY_PARAM: Access = Access::Checks(&[Check::required(
    Target::Trace(Source::Param("trace_id")),
    Read,
)]);
const TRACE_UPDATE_BY_PARAM: Access = Access::Checks(&[Check::required(
    Target::Trace(Source::Param("trace_id")),
    Update,
)]);
/// The trace-artifact handler reads `request.args` directly, and the files from the
/// trace's location tag, which must be the one MLflow assigned.
const TRACE_FILES_READ_BY_QUERY_REQUEST_ID: Access = Access::Checks(&[Check::required(
    Target::TraceFiles(Source::Query("request_id")),
    Read,
)]);
const TRACES_READ: Access = Access::Checks(&[Check::required(
    Target::Traces(Source::Param("trace_ids")),
    Read,
)]);
const TRACES_LINK_TO_RUN: Access = Access::Checks(&[
    Check::required(Target::Run(RUN_ID), Update),
    Check::required(Target::Traces(Source::Param("trace_ids")), Update),
]);
/// OTLP export names its experiment in a header (FastAPI's `Header(alias=...)`).
/// New traces go into the header's experiment; a span naming an existing trace
/// joins that trace, wherever it lives.
const OTLP_EXPORT: Access = Access::Checks(&[
    Check::required(
        Target::Experiment(Source::Header("X-Mlflow-Experiment-Id")),
        Update,
    ),
    Check::required(Target::TracesIfExist(Source::OtlpSpanTraces), Update),
]);

// Logged models.
const LOGGED_MODEL_CREATE: Access = Access::Checks(&[
    Check::required(Target::Experiment(EXPERIMENT_ID), Update),
    Check::optional(Target::Run(Source::Param("source_run_id")), Read),
]);
/// Finalize acts on the body's `model_id`, not the path's.
const LOGGED_MODEL_FINALIZE: Access = Access::Checks(&[
    Check::required(Target::LoggedModel(MODEL_ID_IN_PATH), Update),
    Check::required(Target::LoggedModel(Source::Param("model_id")), Update),
]);
const LOGGED_MODEL_READ: Access =
    Access::Checks(&[Check::required(Target::LoggedModel(MODEL_ID_IN_PATH), Read)]);
const LOGGED_MODEL_UPDATE: Access = Access::Checks(&[Check::required(
    Target::LoggedModel(MODEL_ID_IN_PATH),
    Update,
)]);
const LOGGED_MODEL_DELETE: Access = Access::Checks(&[Check::required(
    Target::LoggedModel(MODEL_ID_IN_PATH),
    Delete,
)]);

// Evaluation datasets.
/// The requested experiments must be readable; the list is filtered per dataset.
const DATASET_SEARCH: Access =
    Access::Checks(&[Check::optional(Target::Experiments(EXPERIMENT_IDS), Read)]);
const DATASET_READ: Access =
    Access::Checks(&[Check::required(Target::Dataset(DATASET_ID_IN_PATH), Read)]);
const DATASET_UPDATE: Access =
    Access::Checks(&[Check::required(Target::Dataset(DATASET_ID_IN_PATH), Update)]);
const DATASET_DELETE: Access =
    Access::Checks(&[Check::required(Target::Dataset(DATASET_ID_IN_PATH), Delete)]);
const DATASET_LINK_EXPERIMENTS: Access = Access::Checks(&[
    Check::required(Target::Dataset(DATASET_ID_IN_PATH), Update),
    Check::required(Target::Experiments(EXPERIMENT_IDS), Update),
]);

// Scorers.
const SCORER_READ: Access = Access::Checks(&[Check::required(SCORER, Read)]);
const SCORER_DELETE: Access = Access::Checks(&[Check::required(SCORER, Delete)]);
/// The online-config handler reads the JSON body directly (it is a PUT).
const SCORER_ONLINE_CONFIG_UPDATE: Access = Access::Checks(&[
    Check::required(Target::Experiment(Source::Body("/experiment_id")), Update),
    Check::required(
        Target::Scorer {
            experiment: Source::Body("/experiment_id"),
            name: Source::Body("/name"),
        },
        Update,
    ),
]);

// AI gateway.
const GATEWAY_SECRET_READ: Access =
    Access::Checks(&[Check::required(Target::GatewaySecret(SECRET_ID), Read)]);
const GATEWAY_SECRET_UPDATE: Access =
    Access::Checks(&[Check::required(Target::GatewaySecret(SECRET_ID), Update)]);
const GATEWAY_SECRET_DELETE: Access =
    Access::Checks(&[Check::required(Target::GatewaySecret(SECRET_ID), Delete)]);
const GATEWAY_ENDPOINT_CREATE: Access = Access::Checks(&[
    Check::required(
        Target::GatewayModelDefinitions(BodyPointer("/model_configs")),
        Use,
    ),
    // Usage tracking writes traces into this experiment.
    Check::optional(Target::Experiment(EXPERIMENT_ID), Update),
]);
const GATEWAY_ENDPOINT_READ: Access =
    Access::Checks(&[Check::required(Target::GatewayEndpoint(ENDPOINT_ID), Read)]);
/// Bindings of one endpoint need read on it; without one, the list of every
/// binding is filtered to the readable endpoints' (MLflow 3.17 keeps it for admins,
/// and its own gateway page asks for it).
const GATEWAY_BINDINGS_LIST: Access =
    Access::Checks(&[Check::optional(Target::GatewayEndpoint(ENDPOINT_ID), Read)]);
const GATEWAY_ENDPOINT_UPDATE: Access = Access::Checks(&[Check::required(
    Target::GatewayEndpoint(ENDPOINT_ID),
    Update,
)]);
/// Attaching a guardrail serves its scorer's definition with the endpoint, so the
/// caller must also read that scorer (MLflow 3.17: not be denied it).
const GATEWAY_GUARDRAIL_ATTACH: Access = Access::Checks(&[
    Check::required(Target::GatewayEndpoint(ENDPOINT_ID), Update),
    Check::required(Target::GuardrailScorer(Source::Param("guardrail_id")), Read),
]);
const GATEWAY_ENDPOINT_UPDATE_CONFIG: Access = Access::Checks(&[
    Check::required(Target::GatewayEndpoint(ENDPOINT_ID), Update),
    Check::optional(
        Target::GatewayModelDefinitions(BodyPointer("/model_configs")),
        Use,
    ),
    Check::optional(Target::Experiment(EXPERIMENT_ID), Update),
]);
const GATEWAY_ENDPOINT_ATTACH_MODEL: Access = Access::Checks(&[
    Check::required(Target::GatewayEndpoint(ENDPOINT_ID), Update),
    Check::required(
        Target::GatewayModelDefinition(Source::Body("/model_config/model_definition_id")),
        Use,
    ),
]);
const GATEWAY_ENDPOINT_DELETE: Access = Access::Checks(&[Check::required(
    Target::GatewayEndpoint(ENDPOINT_ID),
    Delete,
)]);
const GATEWAY_MODEL_DEFINITION_CREATE: Access =
    Access::Checks(&[Check::required(Target::GatewaySecret(SECRET_ID), Use)]);
const GATEWAY_MODEL_DEFINITION_READ: Access = Access::Checks(&[Check::required(
    Target::GatewayModelDefinition(MODEL_DEFINITION_ID),
    Read,
)]);
const GATEWAY_MODEL_DEFINITION_UPDATE: Access = Access::Checks(&[
    Check::required(Target::GatewayModelDefinition(MODEL_DEFINITION_ID), Update),
    Check::optional(Target::GatewaySecret(SECRET_ID), Use),
]);
const GATEWAY_MODEL_DEFINITION_DELETE: Access = Access::Checks(&[Check::required(
    Target::GatewayModelDefinition(MODEL_DEFINITION_ID),
    Delete,
)]);
const GATEWAY_INVOKE_BY_PATH: Access = Access::Checks(&[Check::required(
    Target::GatewayEndpointByName(Source::Path("endpoint_name")),
    Use,
)]);
/// The OpenAI/Anthropic-style routes name the endpoint in the body's `model`.
const GATEWAY_INVOKE_BY_MODEL: Access = Access::Checks(&[Check::required(
    Target::GatewayEndpointByName(Source::Body("/model")),
    Use,
)]);
const GATEWAY_INVOKE_BY_GEMINI_PATH: Access = Access::Checks(&[Check::required(
    Target::GatewayEndpointByName(Source::PathBeforeLastColon("endpoint_name_and_verb")),
    Use,
)]);

// Model registry.
/// Reads by name: a model or prompt that does not exist gets MLflow's own 404, which
/// `register_prompt` and `register_model` take as "create it".
const REGISTERED_MODEL_LOOKUP: Access =
    Access::Checks(&[
        Check::required(Target::RegisteredModel(MODEL_NAME), Read).absent_answered_upstream()
    ]);
/// The version's files: a registry reader may fetch them, but only when the
/// version's source is one mlguard can check (never a placeholder or a server path).
const MODEL_VERSION_DOWNLOAD_URI: Access = Access::Checks(&[
    Check::required(Target::RegisteredModel(MODEL_NAME), Read).absent_answered_upstream(),
    Check::required(
        Target::ModelVersionFiles {
            name: MODEL_NAME,
            version: Source::Param("version"),
        },
        Read,
    )
    .absent_answered_upstream(),
]);
const REGISTERED_MODEL_UPDATE: Access =
    Access::Checks(&[Check::required(Target::RegisteredModel(MODEL_NAME), Update)]);
const REGISTERED_MODEL_DELETE: Access =
    Access::Checks(&[Check::required(Target::RegisteredModel(MODEL_NAME), Delete)]);
/// `/model-versions/get-artifact` reads `request.args` directly.
const MODEL_VERSION_ARTIFACT_READ: Access = Access::Checks(&[Check::required(
    Target::ModelVersionFiles {
        name: Source::Query("name"),
        version: Source::Query("version"),
    },
    Read,
)]);
/// A new version may copy a run's or a logged model's artifacts: the caller must be
/// able to read the source.
const MODEL_VERSION_CREATE: Access = Access::Checks(&[
    Check::required(Target::RegisteredModel(MODEL_NAME), Update),
    // The version serves its source's files through model-versions/get-artifact; a
    // prompt version's placeholder source names no files.
    Check::required(
        Target::VersionSourceUri {
            source: Source::Param("source"),
            tags: BodyPointer("/tags"),
        },
        Read,
    ),
    Check::optional(Target::Run(RUN_ID), Read),
    Check::optional(Target::LoggedModel(Source::Param("model_id")), Read),
]);

// The artifact proxy: the experiment is the first segment of the artifact path. A
// reader of a registered model may also read the files of its versions.
const ARTIFACT_READ: Access =
    Access::Checks(&[
        Check::required(Target::ArtifactPath(ARTIFACT_PATH_IN_PATH), Read).otherwise(
            &Check::on_any(
                Target::RegisteredModelsServingArtifact(ARTIFACT_PATH_IN_PATH),
                Read,
            ),
        ),
    ]);
const ARTIFACT_UPDATE: Access = Access::Checks(&[Check::required(
    Target::ArtifactPath(ARTIFACT_PATH_IN_PATH),
    Update,
)]);
const ARTIFACT_DELETE: Access = Access::Checks(&[Check::required(
    Target::ArtifactPath(ARTIFACT_PATH_IN_PATH),
    Delete,
)]);
const ARTIFACT_LIST: Access =
    Access::Checks(&[
        Check::required(Target::ArtifactPath(Source::Query("path")), Read).otherwise(
            &Check::on_any(
                Target::RegisteredModelsServingArtifact(Source::Query("path")),
                Read,
            ),
        ),
    ]);

// Prompt optimization: the job writes runs into the experiment and reads the source
// prompt and the dataset it names.
const PROMPT_OPTIMIZATION_CREATE: Access = Access::Checks(&[
    Check::required(Target::Experiment(Source::Body("/experiment_id")), Update),
    Check::required(Target::PromptUri(Source::Body("/source_prompt_uri")), Read),
    Check::optional(Target::Dataset(Source::Body("/config/dataset_id")), Read),
]);

/// The assistant's configuration as non-admins see it: nothing configured.
const ASSISTANT_CONFIG: Access = Access::AdminElseAnswer(r#"{"providers":{},"projects":{}}"#);
/// The assistant's providers as non-admins see them: none. The 3.17 UI asks on
/// every page; MLflow's shape, so it renders without an error.
const ASSISTANT_PROVIDERS: Access =
    Access::AdminElseAnswer(r#"{"providers":[],"resolved":null,"gateway_vendor_options":{}}"#);

// MLflow 3.17 and 3.18.
/// A presigned URL hands out bytes that never pass mlguard again: it needs the
/// grant of the transfer it stands for.
const PRESIGNED_DOWNLOAD_URL: Access = RUN_READ;
/// Exactly one of `run_id` and `model_id` (MLflow refuses both or neither): an
/// upload into that run's or logged model's files.
const PRESIGNED_UPLOAD_URL: Access =
    Access::Checks(&[
        Check::required(Target::Run(RUN_ID), Update).otherwise(&Check::required(
            Target::LoggedModel(Source::Param("model_id")),
            Update,
        )),
    ]);
/// Label schemas shape how an experiment's traces are labelled; MLflow 3.17 lets
/// only the experiment's managers create them.
const LABEL_SCHEMA_CREATE: Access =
    Access::Checks(&[Check::required(Target::Experiment(EXPERIMENT_ID), Manage)]);
/// A label schema by id: read with its experiment, changed by the experiment's
/// managers (MLflow 3.17's rule).
const LABEL_SCHEMA_READ: Access = Access::Checks(&[Check::required(
    Target::ChildOfExperiment(ExperimentChild::LabelSchema, Source::Query("schema_id")),
    Read,
)]);
const LABEL_SCHEMA_MANAGE: Access = Access::Checks(&[Check::required(
    Target::ChildOfExperiment(ExperimentChild::LabelSchema, Source::Param("schema_id")),
    Manage,
)]);
/// An issue by id: read and updated as its experiment.
const ISSUE_READ: Access = Access::Checks(&[Check::required(
    Target::ChildOfExperiment(ExperimentChild::Issue, Source::Path("issue_id")),
    Read,
)]);
const ISSUE_UPDATE: Access = Access::Checks(&[Check::required(
    Target::ChildOfExperiment(ExperimentChild::Issue, Source::Path("issue_id")),
    Update,
)]);
/// A review queue by id, decided as its experiment. mlguard does not read a queue's
/// members or creator, so what MLflow 3.17 also opens to them is kept to the
/// experiment's editors (reading, adding items) and managers (changing the queue,
/// removing items, setting an item's status).
const REVIEW_QUEUE_IN_QUERY: Target =
    Target::ChildOfExperiment(ExperimentChild::ReviewQueue, Source::Query("queue_id"));
const REVIEW_QUEUE_IN_BODY: Target =
    Target::ChildOfExperiment(ExperimentChild::ReviewQueue, Source::Param("queue_id"));
const REVIEW_QUEUE_READ: Access = Access::Checks(&[Check::required(REVIEW_QUEUE_IN_QUERY, Update)]);
const REVIEW_QUEUE_ADD: Access = Access::Checks(&[Check::required(REVIEW_QUEUE_IN_BODY, Update)]);
const REVIEW_QUEUE_MANAGE: Access =
    Access::Checks(&[Check::required(REVIEW_QUEUE_IN_BODY, Manage)]);
/// An MCP server, by the `<namespace>/<slug>` of its path.
const MCP_SERVER: Target = Target::McpServer {
    namespace: Source::Path("namespace"),
    slug: Source::Path("slug"),
};
const MCP_SERVER_READ: Access = Access::Checks(&[Check::required(MCP_SERVER, Read)]);
const MCP_SERVER_UPDATE: Access = Access::Checks(&[Check::required(MCP_SERVER, Update)]);
const MCP_SERVER_DELETE: Access = Access::Checks(&[Check::required(MCP_SERVER, Delete)]);
/// A skill, by its name, or its organization and name (`/skills/@<org>/<name>`).
const SKILL: Target = Target::Skill {
    organization: None,
    name: Source::Path("name"),
};
const ORG_SKILL: Target = Target::Skill {
    organization: Some(Source::Path("organization")),
    name: Source::Path("name"),
};
const SKILLS_BULK_REGISTER: Access = Access::Checks(&[Check::required(
    Target::SkillsIn(BodyPointer("/skills")),
    Update,
)]);
const SKILL_READ: Access = Access::Checks(&[Check::required(SKILL, Read)]);
const SKILL_UPDATE: Access = Access::Checks(&[Check::required(SKILL, Update)]);
const SKILL_DELETE: Access = Access::Checks(&[Check::required(SKILL, Delete)]);
const ORG_SKILL_READ: Access = Access::Checks(&[Check::required(ORG_SKILL, Read)]);
const ORG_SKILL_UPDATE: Access = Access::Checks(&[Check::required(ORG_SKILL, Update)]);
const ORG_SKILL_DELETE: Access = Access::Checks(&[Check::required(ORG_SKILL, Delete)]);
/// Issue detection runs a judge over the experiment's traces, with the caller's
/// gateway secret when one is named.
const ISSUE_INVOKE: Access = Access::Checks(&[
    Check::required(Target::Experiment(EXPERIMENT_ID), Update),
    Check::optional(Target::GatewaySecret(SECRET_ID), Use),
]);

const NONE: AfterHook = AfterHook::None;
/// Jobs are their submitter's: each answer that names a new job records the caller.
const RECORD_JOB: AfterHook = AfterHook::RecordJobOwner(SubmittedJobs::One("/job_id"));
const RECORD_JOBS: AfterHook = AfterHook::RecordJobOwner(SubmittedJobs::Each("/jobs"));
const RECORD_PROMPT_OPTIMIZATION_JOB: AfterHook =
    AfterHook::RecordJobOwner(SubmittedJobs::One("/job/job_id"));
const OWN_JOB: Access = Access::OwnJob(Source::Path("job_id"));
const REDACT_KEK_STATE: AfterHook = AfterHook::RedactForNonAdmins(&["using_default_passphrase"]);
const GRANT_CREATOR_EXPERIMENT: AfterHook = AfterHook::GrantCreator(CreatedKind::Experiment);
const GRANT_CREATOR_REGISTERED_MODEL: AfterHook =
    AfterHook::GrantCreator(CreatedKind::RegisteredModel);
const GRANT_CREATOR_SCORER: AfterHook = AfterHook::GrantCreator(CreatedKind::Scorer);
const GRANT_CREATOR_GATEWAY_SECRET: AfterHook = AfterHook::GrantCreator(CreatedKind::GatewaySecret);
const GRANT_CREATOR_GATEWAY_ENDPOINT: AfterHook =
    AfterHook::GrantCreator(CreatedKind::GatewayEndpoint);
const GRANT_CREATOR_GATEWAY_MODEL_DEFINITION: AfterHook =
    AfterHook::GrantCreator(CreatedKind::GatewayModelDefinition);
const FILTER_EXPERIMENTS: AfterHook = AfterHook::FilterList(ListKind::Experiments);
const FILTER_RUNS: AfterHook = AfterHook::FilterList(ListKind::Runs);
const FILTER_TRACES: AfterHook = AfterHook::FilterList(ListKind::Traces);
const FILTER_LOGGED_MODELS: AfterHook = AfterHook::FilterList(ListKind::LoggedModels);
const FILTER_REGISTERED_MODELS: AfterHook = AfterHook::FilterList(ListKind::RegisteredModels);
const FILTER_MODEL_VERSIONS: AfterHook = AfterHook::FilterList(ListKind::ModelVersions);
const FILTER_GATEWAY_SECRETS: AfterHook = AfterHook::FilterList(ListKind::GatewaySecrets);
const FILTER_GATEWAY_ENDPOINTS: AfterHook = AfterHook::FilterList(ListKind::GatewayEndpoints);
const FILTER_GATEWAY_MODEL_DEFINITIONS: AfterHook =
    AfterHook::FilterList(ListKind::GatewayModelDefinitions);
const FILTER_MCP_SERVERS: AfterHook = AfterHook::FilterList(ListKind::McpServers);
const GRANT_CREATOR_MCP_SERVER: AfterHook = AfterHook::GrantCreator(CreatedKind::McpServer);
const DELETE_MCP_SERVER_GRANTS: AfterHook = AfterHook::DeleteGrants(MCP_SERVER);
const FILTER_SKILLS: AfterHook = AfterHook::FilterList(ListKind::Skills);
const GRANT_CREATOR_SKILL: AfterHook = AfterHook::GrantCreator(CreatedKind::Skill);
const DELETE_SKILL_GRANTS: AfterHook = AfterHook::DeleteGrants(SKILL);
const DELETE_ORG_SKILL_GRANTS: AfterHook = AfterHook::DeleteGrants(ORG_SKILL);
const FILTER_GATEWAY_BINDINGS: AfterHook = AfterHook::FilterList(ListKind::GatewayEndpointBindings);
const FILTER_DATASETS: AfterHook = AfterHook::FilterList(ListKind::Datasets);
/// A scorer may be denied on its own, below its experiment's permission.
const FILTER_SCORERS: AfterHook = AfterHook::FilterList(ListKind::Scorers);
const FILTER_ONLINE_SCORING_CONFIGS: AfterHook =
    AfterHook::FilterList(ListKind::OnlineScoringConfigs);
const DELETE_REGISTERED_MODEL_GRANTS: AfterHook =
    AfterHook::DeleteGrants(Target::RegisteredModel(MODEL_NAME));
const DELETE_SCORER_GRANTS: AfterHook = AfterHook::DeleteGrants(SCORER);
const DELETE_GATEWAY_SECRET_GRANTS: AfterHook =
    AfterHook::DeleteGrants(Target::GatewaySecret(SECRET_ID));
const DELETE_GATEWAY_ENDPOINT_GRANTS: AfterHook =
    AfterHook::DeleteGrants(Target::GatewayEndpoint(ENDPOINT_ID));
const DELETE_GATEWAY_MODEL_DEFINITION_GRANTS: AfterHook =
    AfterHook::DeleteGrants(Target::GatewayModelDefinition(MODEL_DEFINITION_ID));
const RENAME_REGISTERED_MODEL: AfterHook = AfterHook::RenameRegisteredModel;

// One line per route (with every prefix spelling MLflow serves it under) keeps the
// table readable against the catalogue.
#[rustfmt::skip]
pub static RULES: &[RouteRule] = &[
    route(GET, &["/build/{*filename}"], AUTHENTICATED, NONE),
    route(GET, &["/api/2.0/mlflow/experiments/get-by-name", "/ajax-api/2.0/mlflow/experiments/get-by-name"], EXPERIMENT_BY_NAME_READ, NONE),
    // An artifact location of the caller's choosing is admin-only: it could be
    // another experiment's files. MLflow: any user.
    route(POST, &["/api/2.0/mlflow/experiments/create", "/ajax-api/2.0/mlflow/experiments/create"], EXPERIMENT_CREATE, GRANT_CREATOR_EXPERIMENT),
    route(POST, &["/api/2.0/mlflow/experiments/search", "/ajax-api/2.0/mlflow/experiments/search"], AUTHENTICATED, FILTER_EXPERIMENTS),
    route(GET, &["/api/2.0/mlflow/experiments/search", "/ajax-api/2.0/mlflow/experiments/search"], AUTHENTICATED, FILTER_EXPERIMENTS),
    route(GET, &["/api/2.0/mlflow/experiments/get", "/ajax-api/2.0/mlflow/experiments/get"], EXPERIMENT_READ, NONE),
    route(POST, &["/api/2.0/mlflow/experiments/delete", "/ajax-api/2.0/mlflow/experiments/delete"], EXPERIMENT_DELETE, NONE),
    route(POST, &["/api/2.0/mlflow/experiments/restore", "/ajax-api/2.0/mlflow/experiments/restore"], EXPERIMENT_DELETE, NONE),
    route(POST, &["/api/2.0/mlflow/experiments/update", "/ajax-api/2.0/mlflow/experiments/update"], EXPERIMENT_UPDATE, NONE),
    route(POST, &["/api/2.0/mlflow/runs/create", "/ajax-api/2.0/mlflow/runs/create"], EXPERIMENT_UPDATE, NONE),
    route(POST, &["/api/2.0/mlflow/runs/update", "/ajax-api/2.0/mlflow/runs/update"], RUN_UPDATE, NONE),
    route(POST, &["/api/2.0/mlflow/runs/delete", "/ajax-api/2.0/mlflow/runs/delete"], RUN_DELETE, NONE),
    route(POST, &["/api/2.0/mlflow/runs/restore", "/ajax-api/2.0/mlflow/runs/restore"], RUN_DELETE, NONE),
    // Also UPDATE on the logged model a metric names. MLflow: run only.
    route(POST, &["/api/2.0/mlflow/runs/log-metric", "/ajax-api/2.0/mlflow/runs/log-metric"], RUN_LOG_METRIC, NONE),
    route(POST, &["/api/2.0/mlflow/runs/log-parameter", "/ajax-api/2.0/mlflow/runs/log-parameter"], RUN_UPDATE, NONE),
    route(POST, &["/api/2.0/mlflow/experiments/set-experiment-tag", "/ajax-api/2.0/mlflow/experiments/set-experiment-tag"], EXPERIMENT_UPDATE, NONE),
    route(POST, &["/api/2.0/mlflow/experiments/delete-experiment-tag", "/ajax-api/2.0/mlflow/experiments/delete-experiment-tag"], EXPERIMENT_UPDATE, NONE),
    route(POST, &["/api/2.0/mlflow/runs/set-tag", "/ajax-api/2.0/mlflow/runs/set-tag"], RUN_UPDATE, NONE),
    // MLflow: unprotected.
    route(PATCH, &["/api/2.0/mlflow/traces/{trace_id}/tags", "/ajax-api/2.0/mlflow/traces/{trace_id}/tags", "/api/3.0/mlflow/traces/{trace_id}/tags", "/ajax-api/3.0/mlflow/traces/{trace_id}/tags"], TRACE_TAG_UPDATE, NONE),
    // MLflow: unprotected.
    route(DELETE, &["/api/2.0/mlflow/traces/{trace_id}/tags", "/ajax-api/2.0/mlflow/traces/{trace_id}/tags", "/api/3.0/mlflow/traces/{trace_id}/tags", "/ajax-api/3.0/mlflow/traces/{trace_id}/tags"], TRACE_TAG_UPDATE, NONE),
    route(POST, &["/api/2.0/mlflow/runs/delete-tag", "/ajax-api/2.0/mlflow/runs/delete-tag"], RUN_UPDATE, NONE),
    route(GET, &["/api/2.0/mlflow/runs/get", "/ajax-api/2.0/mlflow/runs/get"], RUN_READ, NONE),
    // Narrowed to the readable experiments, as MLflow narrows it; the page is filtered too.
    route(POST, &["/api/2.0/mlflow/runs/search", "/ajax-api/2.0/mlflow/runs/search"], EXPERIMENTS_READ_NARROWED, FILTER_RUNS),
    route(GET, &["/api/2.0/mlflow/artifacts/list", "/ajax-api/2.0/mlflow/artifacts/list"], RUN_READ, NONE),
    route(GET, &["/api/2.0/mlflow/metrics/get-history", "/ajax-api/2.0/mlflow/metrics/get-history"], RUN_READ, NONE),
    // MLflow: unprotected under /api, checked under /ajax-api.
    route(GET, &["/api/2.0/mlflow/metrics/get-history-bulk-interval", "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval"], RUNS_READ_BY_QUERY_RUN_IDS, NONE),
    // Also UPDATE on every logged model its metrics name. MLflow: run only.
    route(POST, &["/api/2.0/mlflow/runs/log-batch", "/ajax-api/2.0/mlflow/runs/log-batch"], RUN_LOG_BATCH, NONE),
    route(POST, &["/api/2.0/mlflow/runs/log-model", "/ajax-api/2.0/mlflow/runs/log-model"], RUN_UPDATE, NONE),
    // MLflow: unprotected.
    route(POST, &["/api/2.0/mlflow/runs/log-inputs", "/ajax-api/2.0/mlflow/runs/log-inputs"], RUN_UPDATE, NONE),
    // MLflow: unprotected.
    route(POST, &["/api/2.0/mlflow/runs/outputs", "/ajax-api/2.0/mlflow/runs/outputs"], RUN_UPDATE, NONE),
    // Missing slash is MLflow's; the handler answers 404. MLflow: unprotected.
    route(POST, &["/api/2.0mlflow/experiments/search-datasets", "/ajax-api/2.0mlflow/experiments/search-datasets"], EXPERIMENTS_READ, NONE),
    // Not implemented upstream (404). MLflow: unprotected.
    route(GET, &["/api/2.0/mlflow/unified-traces", "/ajax-api/2.0/mlflow/unified-traces"], ADMIN, NONE),
    // Not implemented upstream (404). MLflow: unprotected.
    route(GET, &["/api/2.0/mlflow/get-online-trace-details", "/ajax-api/2.0/mlflow/get-online-trace-details"], ADMIN, NONE),
    // v2 and v3 start-trace share a canonical route and need the v3 experiment (a
    // v2 `experiment_id` is checked too when present). MLflow: unprotected.
    // Same canonical route as v2 start-trace above: a v2-only body is admin-only.
    // MLflow: unprotected.
    route(POST, &["/api/2.0/mlflow/traces", "/ajax-api/2.0/mlflow/traces", "/api/3.0/mlflow/traces", "/ajax-api/3.0/mlflow/traces"], TRACE_START, NONE),
    // MLflow: unprotected.
    route(PATCH, &["/api/2.0/mlflow/traces/{trace_id}", "/ajax-api/2.0/mlflow/traces/{trace_id}"], TRACE_END, NONE),
    // MLflow: unprotected.
    route(GET, &["/api/2.0/mlflow/traces/{trace_id}/info", "/ajax-api/2.0/mlflow/traces/{trace_id}/info"], TRACE_READ, NONE),
    // MLflow: unprotected.
    route(GET, &["/api/3.0/mlflow/traces/{trace_id}", "/ajax-api/3.0/mlflow/traces/{trace_id}"], TRACE_READ, NONE),
    // MLflow: unprotected.
    route(GET, &["/api/3.0/mlflow/traces/get", "/ajax-api/3.0/mlflow/traces/get"], TRACE_READ_BY_PARAM, NONE),
    // MLflow: unprotected.
    route(GET, &["/api/3.0/mlflow/traces/batchGet", "/ajax-api/3.0/mlflow/traces/batchGet"], TRACES_READ, NONE),
    // MLflow: unprotected.
    route(GET, &["/api/2.0/mlflow/traces", "/ajax-api/2.0/mlflow/traces"], EXPERIMENTS_READ, FILTER_TRACES),
    // Locations are objects, not ids: the response filter decides. MLflow: unprotected.
    route(POST, &["/api/3.0/mlflow/traces/search", "/ajax-api/3.0/mlflow/traces/search"], AUTHENTICATED, FILTER_TRACES),
    // MLflow: unprotected.
    route(POST, &["/api/2.0/mlflow/traces/link-to-run", "/ajax-api/2.0/mlflow/traces/link-to-run"], TRACES_LINK_TO_RUN, NONE),
    // MLflow: unprotected.
    route(POST, &["/api/2.0/mlflow/traces/link-prompts", "/ajax-api/2.0/mlflow/traces/link-prompts"], TRACE_UPDATE_BY_PARAM, NONE),
    // MLflow: unprotected.
    route(POST, &["/api/2.0/mlflow/traces/delete-traces", "/ajax-api/2.0/mlflow/traces/delete-traces", "/api/3.0/mlflow/traces/delete-traces", "/ajax-api/3.0/mlflow/traces/delete-traces"], EXPERIMENT_DELETE, NONE),
    // MLflow: unprotected.
    route(POST, &["/api/3.0/mlflow/traces/calculate-filter-correlation", "/ajax-api/3.0/mlflow/traces/calculate-filter-correlation"], EXPERIMENTS_READ, NONE),
    // MLflow: unprotected.
    route(POST, &["/api/3.0/mlflow/traces/metrics", "/ajax-api/3.0/mlflow/traces/metrics"], EXPERIMENTS_READ, NONE),
    // Workspaces (this block): admin only, as mlguard does not serve workspaces.
    // MLflow: the list is filtered and the GET by name open to workspace readers.
    route(GET, &["/api/3.0/mlflow/workspaces", "/ajax-api/3.0/mlflow/workspaces"], ADMIN, NONE),
    route(POST, &["/api/3.0/mlflow/workspaces", "/ajax-api/3.0/mlflow/workspaces"], ADMIN, NONE),
    route(GET, &["/api/3.0/mlflow/workspaces/{workspace_name}", "/ajax-api/3.0/mlflow/workspaces/{workspace_name}"], ADMIN, NONE),
    route(PATCH, &["/api/3.0/mlflow/workspaces/{workspace_name}", "/ajax-api/3.0/mlflow/workspaces/{workspace_name}"], ADMIN, NONE),
    route(DELETE, &["/api/3.0/mlflow/workspaces/{workspace_name}", "/ajax-api/3.0/mlflow/workspaces/{workspace_name}"], ADMIN, NONE),
    // Also READ on `source_run_id` when given. MLflow: experiment only.
    route(POST, &["/api/2.0/mlflow/logged-models", "/ajax-api/2.0/mlflow/logged-models"], LOGGED_MODEL_CREATE, NONE),
    // The handler finalizes the body's `model_id`: both ids are checked. MLflow: path only.
    route(PATCH, &["/api/2.0/mlflow/logged-models/{model_id}", "/ajax-api/2.0/mlflow/logged-models/{model_id}"], LOGGED_MODEL_FINALIZE, NONE),
    route(GET, &["/api/2.0/mlflow/logged-models/{model_id}", "/ajax-api/2.0/mlflow/logged-models/{model_id}"], LOGGED_MODEL_READ, NONE),
    route(DELETE, &["/api/2.0/mlflow/logged-models/{model_id}", "/ajax-api/2.0/mlflow/logged-models/{model_id}"], LOGGED_MODEL_DELETE, NONE),
    // Narrowed to the readable experiments. MLflow: response filter only.
    route(POST, &["/api/2.0/mlflow/logged-models/search", "/ajax-api/2.0/mlflow/logged-models/search"], EXPERIMENTS_READ_NARROWED, FILTER_LOGGED_MODELS),
    route(PATCH, &["/api/2.0/mlflow/logged-models/{model_id}/tags", "/ajax-api/2.0/mlflow/logged-models/{model_id}/tags"], LOGGED_MODEL_UPDATE, NONE),
    route(DELETE, &["/api/2.0/mlflow/logged-models/{model_id}/tags/{tag_key}", "/ajax-api/2.0/mlflow/logged-models/{model_id}/tags/{tag_key}"], LOGGED_MODEL_DELETE, NONE),
    // MLflow: unprotected.
    route(GET, &["/api/2.0/mlflow/logged-models/{model_id}/artifacts/directories", "/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/directories"], LOGGED_MODEL_READ, NONE),
    route(POST, &["/api/2.0/mlflow/logged-models/{model_id}/params", "/ajax-api/2.0/mlflow/logged-models/{model_id}/params"], LOGGED_MODEL_UPDATE, NONE),
    // MLflow: unprotected.
    route(GET, &["/api/3.0/mlflow/traces/{trace_id}/assessments/{assessment_id}", "/ajax-api/3.0/mlflow/traces/{trace_id}/assessments/{assessment_id}"], TRACE_READ, NONE),
    // MLflow: unprotected.
    route(POST, &["/api/3.0/mlflow/traces/{trace_id}/assessments", "/ajax-api/3.0/mlflow/traces/{trace_id}/assessments"], TRACE_UPDATE, NONE),
    // MLflow: unprotected.
    route(PATCH, &["/api/3.0/mlflow/traces/{trace_id}/assessments/{assessment_id}", "/ajax-api/3.0/mlflow/traces/{trace_id}/assessments/{assessment_id}"], TRACE_UPDATE, NONE),
    // MLflow: unprotected.
    route(DELETE, &["/api/3.0/mlflow/traces/{trace_id}/assessments/{assessment_id}", "/ajax-api/3.0/mlflow/traces/{trace_id}/assessments/{assessment_id}"], TRACE_UPDATE, NONE),
    // MLflow: unprotected. No experiment ids: admin only.
    route(POST, &["/api/3.0/mlflow/datasets/create", "/ajax-api/3.0/mlflow/datasets/create"], EXPERIMENTS_UPDATE, NONE),
    // MLflow: unprotected.
    route(GET, &["/api/3.0/mlflow/datasets/{dataset_id}", "/ajax-api/3.0/mlflow/datasets/{dataset_id}"], DATASET_READ, NONE),
    // MLflow: unprotected.
    route(DELETE, &["/api/3.0/mlflow/datasets/{dataset_id}", "/ajax-api/3.0/mlflow/datasets/{dataset_id}"], DATASET_DELETE, NONE),
    // Read on each requested experiment; a dataset is listed only when all its
    // experiments are readable. MLflow: unprotected.
    route(POST, &["/api/3.0/mlflow/datasets/search", "/ajax-api/3.0/mlflow/datasets/search"], DATASET_SEARCH, FILTER_DATASETS),
    // MLflow: unprotected.
    route(GET, &["/api/3.0/mlflow/datasets/search", "/ajax-api/3.0/mlflow/datasets/search"], DATASET_SEARCH, FILTER_DATASETS),
    // MLflow: unprotected.
    route(PATCH, &["/api/3.0/mlflow/datasets/{dataset_id}/tags", "/ajax-api/3.0/mlflow/datasets/{dataset_id}/tags"], DATASET_UPDATE, NONE),
    // MLflow: unprotected.
    route(DELETE, &["/api/3.0/mlflow/datasets/{dataset_id}/tags/{key}", "/ajax-api/3.0/mlflow/datasets/{dataset_id}/tags/{key}"], DATASET_UPDATE, NONE),
    // MLflow: unprotected.
    route(POST, &["/api/3.0/mlflow/datasets/{dataset_id}/records", "/ajax-api/3.0/mlflow/datasets/{dataset_id}/records"], DATASET_UPDATE, NONE),
    // MLflow: unprotected.
    route(GET, &["/api/3.0/mlflow/datasets/{dataset_id}/experiment-ids", "/ajax-api/3.0/mlflow/datasets/{dataset_id}/experiment-ids"], DATASET_READ, NONE),
    route(POST, &["/api/3.0/mlflow/scorers/register", "/ajax-api/3.0/mlflow/scorers/register"], EXPERIMENT_UPDATE, GRANT_CREATOR_SCORER),
    route(GET, &["/api/3.0/mlflow/scorers/list", "/ajax-api/3.0/mlflow/scorers/list"], EXPERIMENT_READ, FILTER_SCORERS),
    route(GET, &["/api/3.0/mlflow/scorers/versions", "/ajax-api/3.0/mlflow/scorers/versions"], SCORER_READ, NONE),
    route(GET, &["/api/3.0/mlflow/scorers/get", "/ajax-api/3.0/mlflow/scorers/get"], SCORER_READ, NONE),
    route(DELETE, &["/api/3.0/mlflow/scorers/delete", "/ajax-api/3.0/mlflow/scorers/delete"], SCORER_DELETE, DELETE_SCORER_GRANTS),
    // MLflow: unprotected.
    route(GET, &["/api/3.0/mlflow/datasets/{dataset_id}/records", "/ajax-api/3.0/mlflow/datasets/{dataset_id}/records"], DATASET_READ, NONE),
    // MLflow: unprotected.
    route(DELETE, &["/api/3.0/mlflow/datasets/{dataset_id}/records", "/ajax-api/3.0/mlflow/datasets/{dataset_id}/records"], DATASET_UPDATE, NONE),
    // MLflow: unprotected.
    route(POST, &["/api/3.0/mlflow/datasets/{dataset_id}/add-experiments", "/ajax-api/3.0/mlflow/datasets/{dataset_id}/add-experiments"], DATASET_LINK_EXPERIMENTS, NONE),
    // MLflow: unprotected.
    route(POST, &["/api/3.0/mlflow/datasets/{dataset_id}/remove-experiments", "/ajax-api/3.0/mlflow/datasets/{dataset_id}/remove-experiments"], DATASET_LINK_EXPERIMENTS, NONE),
    route(POST, &["/api/3.0/mlflow/gateway/secrets/create", "/ajax-api/3.0/mlflow/gateway/secrets/create"], AUTHENTICATED, GRANT_CREATOR_GATEWAY_SECRET),
    route(GET, &["/api/3.0/mlflow/gateway/secrets/get", "/ajax-api/3.0/mlflow/gateway/secrets/get"], GATEWAY_SECRET_READ, NONE),
    route(POST, &["/api/3.0/mlflow/gateway/secrets/update", "/ajax-api/3.0/mlflow/gateway/secrets/update"], GATEWAY_SECRET_UPDATE, NONE),
    route(DELETE, &["/api/3.0/mlflow/gateway/secrets/delete", "/ajax-api/3.0/mlflow/gateway/secrets/delete"], GATEWAY_SECRET_DELETE, DELETE_GATEWAY_SECRET_GRANTS),
    // MLflow: unprotected, unfiltered.
    route(GET, &["/api/3.0/mlflow/gateway/secrets/list", "/ajax-api/3.0/mlflow/gateway/secrets/list"], AUTHENTICATED, FILTER_GATEWAY_SECRETS),
    // Also UPDATE on a usage-tracking `experiment_id`. MLflow: model definitions only.
    route(POST, &["/api/3.0/mlflow/gateway/endpoints/create", "/ajax-api/3.0/mlflow/gateway/endpoints/create"], GATEWAY_ENDPOINT_CREATE, GRANT_CREATOR_GATEWAY_ENDPOINT),
    route(GET, &["/api/3.0/mlflow/gateway/endpoints/get", "/ajax-api/3.0/mlflow/gateway/endpoints/get"], GATEWAY_ENDPOINT_READ, NONE),
    // Also UPDATE on a usage-tracking `experiment_id`. MLflow: no experiment check.
    route(POST, &["/api/3.0/mlflow/gateway/endpoints/update", "/ajax-api/3.0/mlflow/gateway/endpoints/update"], GATEWAY_ENDPOINT_UPDATE_CONFIG, NONE),
    route(DELETE, &["/api/3.0/mlflow/gateway/endpoints/delete", "/ajax-api/3.0/mlflow/gateway/endpoints/delete"], GATEWAY_ENDPOINT_DELETE, DELETE_GATEWAY_ENDPOINT_GRANTS),
    // MLflow: unprotected, unfiltered.
    route(GET, &["/api/3.0/mlflow/gateway/endpoints/list", "/ajax-api/3.0/mlflow/gateway/endpoints/list"], AUTHENTICATED, FILTER_GATEWAY_ENDPOINTS),
    route(POST, &["/api/3.0/mlflow/gateway/model-definitions/create", "/ajax-api/3.0/mlflow/gateway/model-definitions/create"], GATEWAY_MODEL_DEFINITION_CREATE, GRANT_CREATOR_GATEWAY_MODEL_DEFINITION),
    route(GET, &["/api/3.0/mlflow/gateway/model-definitions/get", "/ajax-api/3.0/mlflow/gateway/model-definitions/get"], GATEWAY_MODEL_DEFINITION_READ, NONE),
    // MLflow: unprotected, unfiltered.
    route(GET, &["/api/3.0/mlflow/gateway/model-definitions/list", "/ajax-api/3.0/mlflow/gateway/model-definitions/list"], AUTHENTICATED, FILTER_GATEWAY_MODEL_DEFINITIONS),
    route(POST, &["/api/3.0/mlflow/gateway/model-definitions/update", "/ajax-api/3.0/mlflow/gateway/model-definitions/update"], GATEWAY_MODEL_DEFINITION_UPDATE, NONE),
    route(DELETE, &["/api/3.0/mlflow/gateway/model-definitions/delete", "/ajax-api/3.0/mlflow/gateway/model-definitions/delete"], GATEWAY_MODEL_DEFINITION_DELETE, DELETE_GATEWAY_MODEL_DEFINITION_GRANTS),
    // Also USE on the attached model definition. MLflow: endpoint only.
    route(POST, &["/api/3.0/mlflow/gateway/endpoints/models/attach", "/ajax-api/3.0/mlflow/gateway/endpoints/models/attach"], GATEWAY_ENDPOINT_ATTACH_MODEL, NONE),
    route(POST, &["/api/3.0/mlflow/gateway/endpoints/models/detach", "/ajax-api/3.0/mlflow/gateway/endpoints/models/detach"], GATEWAY_ENDPOINT_UPDATE, NONE),
    route(POST, &["/api/3.0/mlflow/gateway/endpoints/bindings/create", "/ajax-api/3.0/mlflow/gateway/endpoints/bindings/create"], GATEWAY_ENDPOINT_UPDATE, NONE),
    route(DELETE, &["/api/3.0/mlflow/gateway/endpoints/bindings/delete", "/ajax-api/3.0/mlflow/gateway/endpoints/bindings/delete"], GATEWAY_ENDPOINT_UPDATE, NONE),
    route(GET, &["/api/3.0/mlflow/gateway/endpoints/bindings/list", "/ajax-api/3.0/mlflow/gateway/endpoints/bindings/list"], GATEWAY_BINDINGS_LIST, FILTER_GATEWAY_BINDINGS),
    route(POST, &["/api/3.0/mlflow/gateway/endpoints/set-tag", "/ajax-api/3.0/mlflow/gateway/endpoints/set-tag"], GATEWAY_ENDPOINT_UPDATE, NONE),
    route(DELETE, &["/api/3.0/mlflow/gateway/endpoints/delete-tag", "/ajax-api/3.0/mlflow/gateway/endpoints/delete-tag"], GATEWAY_ENDPOINT_UPDATE, NONE),
    // Also READ on the source prompt and the dataset. MLflow: experiment UPDATE only.
    route(POST, &["/api/3.0/mlflow/prompt-optimization/jobs", "/ajax-api/3.0/mlflow/prompt-optimization/jobs"], PROMPT_OPTIMIZATION_CREATE, RECORD_PROMPT_OPTIMIZATION_JOB),
    // Admin only: job ids do not resolve to an experiment. MLflow: unprotected.
    route(GET, &["/api/3.0/mlflow/prompt-optimization/jobs/{job_id}", "/ajax-api/3.0/mlflow/prompt-optimization/jobs/{job_id}"], ADMIN, NONE),
    route(POST, &["/api/3.0/mlflow/prompt-optimization/jobs/search", "/ajax-api/3.0/mlflow/prompt-optimization/jobs/search"], EXPERIMENT_READ, NONE),
    route(GET, &["/api/3.0/mlflow/prompt-optimization/jobs/search", "/ajax-api/3.0/mlflow/prompt-optimization/jobs/search"], EXPERIMENT_READ, NONE),
    // Admin only (job id). MLflow: unprotected.
    route(POST, &["/api/3.0/mlflow/prompt-optimization/jobs/{job_id}/cancel", "/ajax-api/3.0/mlflow/prompt-optimization/jobs/{job_id}/cancel"], ADMIN, NONE),
    // Admin only (job id). MLflow: unprotected.
    route(DELETE, &["/api/3.0/mlflow/prompt-optimization/jobs/{job_id}", "/ajax-api/3.0/mlflow/prompt-optimization/jobs/{job_id}"], ADMIN, NONE),
    // Filtered to the configs of readable experiments. MLflow: unprotected.
    route(GET, &["/ajax-api/3.0/mlflow/scorers/online-configs", "/api/3.0/mlflow/scorers/online-configs"], AUTHENTICATED, FILTER_ONLINE_SCORING_CONFIGS),
    // MLflow: unprotected.
    route(PUT, &["/ajax-api/3.0/mlflow/scorers/online-config", "/api/3.0/mlflow/scorers/online-config"], SCORER_ONLINE_CONFIG_UPDATE, NONE),
    route(POST, &["/api/2.0/mlflow/registered-models/create", "/ajax-api/2.0/mlflow/registered-models/create"], AUTHENTICATED, GRANT_CREATOR_REGISTERED_MODEL),
    route(POST, &["/api/2.0/mlflow/registered-models/rename", "/ajax-api/2.0/mlflow/registered-models/rename"], REGISTERED_MODEL_UPDATE, RENAME_REGISTERED_MODEL),
    route(PATCH, &["/api/2.0/mlflow/registered-models/update", "/ajax-api/2.0/mlflow/registered-models/update"], REGISTERED_MODEL_UPDATE, NONE),
    route(DELETE, &["/api/2.0/mlflow/registered-models/delete", "/ajax-api/2.0/mlflow/registered-models/delete"], REGISTERED_MODEL_DELETE, DELETE_REGISTERED_MODEL_GRANTS),
    route(GET, &["/api/2.0/mlflow/registered-models/get", "/ajax-api/2.0/mlflow/registered-models/get"], REGISTERED_MODEL_LOOKUP, NONE),
    route(GET, &["/api/2.0/mlflow/registered-models/search", "/ajax-api/2.0/mlflow/registered-models/search"], AUTHENTICATED, FILTER_REGISTERED_MODELS),
    route(POST, &["/api/2.0/mlflow/registered-models/get-latest-versions", "/ajax-api/2.0/mlflow/registered-models/get-latest-versions"], REGISTERED_MODEL_LOOKUP, NONE),
    route(GET, &["/api/2.0/mlflow/registered-models/get-latest-versions", "/ajax-api/2.0/mlflow/registered-models/get-latest-versions"], REGISTERED_MODEL_LOOKUP, NONE),
    // Also READ on the source `run_id` / `model_id` when given. MLflow: model only.
    route(POST, &["/api/2.0/mlflow/model-versions/create", "/ajax-api/2.0/mlflow/model-versions/create"], MODEL_VERSION_CREATE, NONE),
    route(PATCH, &["/api/2.0/mlflow/model-versions/update", "/ajax-api/2.0/mlflow/model-versions/update"], REGISTERED_MODEL_UPDATE, NONE),
    route(POST, &["/api/2.0/mlflow/model-versions/transition-stage", "/ajax-api/2.0/mlflow/model-versions/transition-stage"], REGISTERED_MODEL_UPDATE, NONE),
    route(DELETE, &["/api/2.0/mlflow/model-versions/delete", "/ajax-api/2.0/mlflow/model-versions/delete"], REGISTERED_MODEL_DELETE, NONE),
    route(GET, &["/api/2.0/mlflow/model-versions/get", "/ajax-api/2.0/mlflow/model-versions/get"], REGISTERED_MODEL_LOOKUP, NONE),
    // MLflow filters without re-fetching; mlguard fills the page.
    route(GET, &["/api/2.0/mlflow/model-versions/search", "/ajax-api/2.0/mlflow/model-versions/search"], AUTHENTICATED, FILTER_MODEL_VERSIONS),
    route(GET, &["/api/2.0/mlflow/model-versions/get-download-uri", "/ajax-api/2.0/mlflow/model-versions/get-download-uri"], MODEL_VERSION_DOWNLOAD_URI, NONE),
    route(POST, &["/api/2.0/mlflow/registered-models/set-tag", "/ajax-api/2.0/mlflow/registered-models/set-tag"], REGISTERED_MODEL_UPDATE, NONE),
    route(POST, &["/api/2.0/mlflow/model-versions/set-tag", "/ajax-api/2.0/mlflow/model-versions/set-tag"], REGISTERED_MODEL_UPDATE, NONE),
    route(DELETE, &["/api/2.0/mlflow/registered-models/delete-tag", "/ajax-api/2.0/mlflow/registered-models/delete-tag"], REGISTERED_MODEL_UPDATE, NONE),
    route(DELETE, &["/api/2.0/mlflow/model-versions/delete-tag", "/ajax-api/2.0/mlflow/model-versions/delete-tag"], REGISTERED_MODEL_DELETE, NONE),
    route(POST, &["/api/2.0/mlflow/registered-models/alias", "/ajax-api/2.0/mlflow/registered-models/alias"], REGISTERED_MODEL_UPDATE, NONE),
    route(DELETE, &["/api/2.0/mlflow/registered-models/alias", "/ajax-api/2.0/mlflow/registered-models/alias"], REGISTERED_MODEL_DELETE, NONE),
    route(GET, &["/api/2.0/mlflow/registered-models/alias", "/ajax-api/2.0/mlflow/registered-models/alias"], REGISTERED_MODEL_LOOKUP, NONE),
    route(GET, &["/api/2.0/mlflow-artifacts/artifacts/{*artifact_path}", "/ajax-api/2.0/mlflow-artifacts/artifacts/{*artifact_path}"], ARTIFACT_READ, NONE),
    route(PUT, &["/api/2.0/mlflow-artifacts/artifacts/{*artifact_path}", "/ajax-api/2.0/mlflow-artifacts/artifacts/{*artifact_path}"], ARTIFACT_UPDATE, NONE),
    // The seed case: the experiment is the first segment of `?path=`.
    route(GET, &["/api/2.0/mlflow-artifacts/artifacts", "/ajax-api/2.0/mlflow-artifacts/artifacts"], ARTIFACT_LIST, NONE),
    route(DELETE, &["/api/2.0/mlflow-artifacts/artifacts/{*artifact_path}", "/ajax-api/2.0/mlflow-artifacts/artifacts/{*artifact_path}"], ARTIFACT_DELETE, NONE),
    route(POST, &["/api/2.0/mlflow-artifacts/mpu/create/{*artifact_path}", "/ajax-api/2.0/mlflow-artifacts/mpu/create/{*artifact_path}"], ARTIFACT_UPDATE, NONE),
    route(POST, &["/api/2.0/mlflow-artifacts/mpu/complete/{*artifact_path}", "/ajax-api/2.0/mlflow-artifacts/mpu/complete/{*artifact_path}"], ARTIFACT_UPDATE, NONE),
    route(POST, &["/api/2.0/mlflow-artifacts/mpu/abort/{*artifact_path}", "/ajax-api/2.0/mlflow-artifacts/mpu/abort/{*artifact_path}"], ARTIFACT_UPDATE, NONE),
    // Webhooks (this block): admin only, as a webhook sees events of every resource.
    // MLflow: unprotected.
    route(POST, &["/api/2.0/mlflow/webhooks", "/ajax-api/2.0/mlflow/webhooks"], ADMIN, NONE),
    route(GET, &["/api/2.0/mlflow/webhooks", "/ajax-api/2.0/mlflow/webhooks"], ADMIN, NONE),
    route(GET, &["/api/2.0/mlflow/webhooks/{webhook_id}", "/ajax-api/2.0/mlflow/webhooks/{webhook_id}"], ADMIN, NONE),
    route(PATCH, &["/api/2.0/mlflow/webhooks/{webhook_id}", "/ajax-api/2.0/mlflow/webhooks/{webhook_id}"], ADMIN, NONE),
    route(DELETE, &["/api/2.0/mlflow/webhooks/{webhook_id}", "/ajax-api/2.0/mlflow/webhooks/{webhook_id}"], ADMIN, NONE),
    route(POST, &["/api/2.0/mlflow/webhooks/{webhook_id}/test", "/ajax-api/2.0/mlflow/webhooks/{webhook_id}/test"], ADMIN, NONE),
    route(GET, &["/graphql"], GRAPHQL, NONE),
    route(POST, &["/graphql"], GRAPHQL, NONE),
    route(GET, &["/api/3.0/mlflow/server-info", "/ajax-api/3.0/mlflow/server-info"], AUTHENTICATED, NONE),
    route(GET, &["/ajax-api/3.0/mlflow/gateway/supported-providers"], AUTHENTICATED, NONE),
    route(GET, &["/ajax-api/3.0/mlflow/gateway/supported-models"], AUTHENTICATED, NONE),
    route(GET, &["/ajax-api/3.0/mlflow/gateway/provider-config"], AUTHENTICATED, NONE),
    // Whether the default KEK passphrase is in use is an admin's business; the
    // UI's "secrets available" flag stays. MLflow: any user sees both.
    route(GET, &["/ajax-api/3.0/mlflow/gateway/secrets/config"], AUTHENTICATED, REDACT_KEK_STATE),
    // Runs server-side jobs over arbitrary trace ids. MLflow: always allowed.
    route(POST, &["/ajax-api/3.0/mlflow/scorer/invoke"], ADMIN, RECORD_JOBS),
    // Demo data (these two): admin only, server-wide side effects. MLflow: any user
    // (then HTTP 500).
    route(POST, &["/ajax-api/3.0/mlflow/demo/generate"], ADMIN, NONE),
    route(POST, &["/ajax-api/3.0/mlflow/demo/delete"], ADMIN, NONE),
    // mlguard answers its own `/health` before this table. MLflow: public.
    route(GET, &["/health"], AUTHENTICATED, NONE),
    route(GET, &["/version"], AUTHENTICATED, NONE),
    // The handler reads `run_id`, else `run_uuid` (which the UI sends), from the query.
    route(GET, &["/get-artifact"], RUN_READ, NONE),
    route(GET, &["/model-versions/get-artifact"], MODEL_VERSION_ARTIFACT_READ, NONE),
    route(GET, &["/ajax-api/2.0/mlflow/metrics/get-history-bulk"], RUNS_READ_BY_QUERY_RUN_ID, NONE),
    route(POST, &["/ajax-api/2.0/mlflow/experiments/search-datasets"], EXPERIMENTS_READ, NONE),
    route(POST, &["/ajax-api/2.0/mlflow/runs/create-promptlab-run"], EXPERIMENT_UPDATE_BY_BODY, NONE),
    // The runs table lists the deployments server's endpoints: MLflow lets a GET
    // read nothing but that list (`gateway_path` must be `api/2.0/endpoints`).
    route(GET, &["/ajax-api/2.0/mlflow/gateway-proxy"], AUTHENTICATED, NONE),
    // Admin only: it invokes an endpoint of the deployments server with the
    // server's credentials, which mlguard does not model. MLflow: always allowed.
    route(POST, &["/ajax-api/2.0/mlflow/gateway-proxy"], ADMIN, NONE),
    // MLflow checks `run_id` first, but the handler writes to `run_uuid`: mlguard checks `run_uuid`.
    route(POST, &["/ajax-api/2.0/mlflow/upload-artifact"], RUN_UPDATE_BY_QUERY_RUN_UUID, NONE),
    // MLflow: unprotected under 3.0.
    route(GET, &["/ajax-api/3.0/mlflow/get-trace-artifact", "/ajax-api/2.0/mlflow/get-trace-artifact"], TRACE_FILES_READ_BY_QUERY_REQUEST_ID, NONE),
    // MLflow: unprotected.
    route(GET, &["/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files"], LOGGED_MODEL_READ, NONE),
    route(GET, &["/ajax-api/3.0/mlflow/ui-telemetry"], AUTHENTICATED, NONE),
    route(POST, &["/ajax-api/3.0/mlflow/ui-telemetry"], AUTHENTICATED, NONE),
    // MLflow: public.
    route(GET, &["/static-files/{*path}"], AUTHENTICATED, NONE),
    route(GET, &["/"], AUTHENTICATED, NONE),
    // Served by mlguard, for admins, as MLflow's own form is.
    route(GET, &["/signup"], NATIVE, NONE),
    // Served by mlguard, for admins, with a CSRF token. MLflow: any user holding a
    // token from the admin-only form.
    route(POST, &["/api/2.0/mlflow/users/create-ui"], NATIVE, NONE),
    route(POST, &["/api/2.0/mlflow/users/create", "/ajax-api/2.0/mlflow/users/create"], NATIVE, NONE),
    route(GET, &["/api/2.0/mlflow/users/get", "/ajax-api/2.0/mlflow/users/get"], NATIVE, NONE),
    route(GET, &["/api/2.0/mlflow/users/list", "/ajax-api/2.0/mlflow/users/list"], NATIVE, NONE),
    route(PATCH, &["/api/2.0/mlflow/users/update-password", "/ajax-api/2.0/mlflow/users/update-password"], NATIVE, NONE),
    route(PATCH, &["/api/2.0/mlflow/users/update-admin", "/ajax-api/2.0/mlflow/users/update-admin"], NATIVE, NONE),
    route(DELETE, &["/api/2.0/mlflow/users/delete", "/ajax-api/2.0/mlflow/users/delete"], NATIVE, NONE),
    // MLflow 3.17: the caller's own account, which its UI reads on every page.
    route(GET, &["/api/2.0/mlflow/users/current", "/ajax-api/2.0/mlflow/users/current"], NATIVE, NONE),
    // MLflow 3.17: roles, their rows and assignments, and per-user permission rows.
    route(POST, &["/api/3.0/mlflow/roles/create", "/ajax-api/3.0/mlflow/roles/create"], NATIVE, NONE),
    route(GET, &["/api/3.0/mlflow/roles/get", "/ajax-api/3.0/mlflow/roles/get"], NATIVE, NONE),
    route(GET, &["/api/3.0/mlflow/roles/list", "/ajax-api/3.0/mlflow/roles/list"], NATIVE, NONE),
    route(PATCH, &["/api/3.0/mlflow/roles/update", "/ajax-api/3.0/mlflow/roles/update"], NATIVE, NONE),
    route(DELETE, &["/api/3.0/mlflow/roles/delete", "/ajax-api/3.0/mlflow/roles/delete"], NATIVE, NONE),
    route(POST, &["/api/3.0/mlflow/roles/permissions/add", "/ajax-api/3.0/mlflow/roles/permissions/add"], NATIVE, NONE),
    route(DELETE, &["/api/3.0/mlflow/roles/permissions/remove", "/ajax-api/3.0/mlflow/roles/permissions/remove"], NATIVE, NONE),
    route(GET, &["/api/3.0/mlflow/roles/permissions/list", "/ajax-api/3.0/mlflow/roles/permissions/list"], NATIVE, NONE),
    route(PATCH, &["/api/3.0/mlflow/roles/permissions/update", "/ajax-api/3.0/mlflow/roles/permissions/update"], NATIVE, NONE),
    route(POST, &["/api/3.0/mlflow/roles/assign", "/ajax-api/3.0/mlflow/roles/assign"], NATIVE, NONE),
    route(DELETE, &["/api/3.0/mlflow/roles/unassign", "/ajax-api/3.0/mlflow/roles/unassign"], NATIVE, NONE),
    route(GET, &["/api/3.0/mlflow/users/roles/list", "/ajax-api/3.0/mlflow/users/roles/list"], NATIVE, NONE),
    route(GET, &["/api/3.0/mlflow/roles/users/list", "/ajax-api/3.0/mlflow/roles/users/list"], NATIVE, NONE),
    route(POST, &["/api/3.0/mlflow/users/permissions/grant", "/ajax-api/3.0/mlflow/users/permissions/grant"], NATIVE, NONE),
    route(POST, &["/api/3.0/mlflow/users/permissions/revoke", "/ajax-api/3.0/mlflow/users/permissions/revoke"], NATIVE, NONE),
    route(GET, &["/api/3.0/mlflow/users/permissions/get", "/ajax-api/3.0/mlflow/users/permissions/get"], NATIVE, NONE),
    route(GET, &["/api/3.0/mlflow/users/permissions/list", "/ajax-api/3.0/mlflow/users/permissions/list"], NATIVE, NONE),
    route(GET, &["/api/3.0/mlflow/users/current/permissions", "/ajax-api/3.0/mlflow/users/current/permissions"], NATIVE, NONE),
    route(POST, &["/api/2.0/mlflow/experiments/permissions/create"], NATIVE, NONE),
    route(GET, &["/api/2.0/mlflow/experiments/permissions/get"], NATIVE, NONE),
    route(PATCH, &["/api/2.0/mlflow/experiments/permissions/update"], NATIVE, NONE),
    route(DELETE, &["/api/2.0/mlflow/experiments/permissions/delete"], NATIVE, NONE),
    route(POST, &["/api/2.0/mlflow/registered-models/permissions/create"], NATIVE, NONE),
    route(GET, &["/api/2.0/mlflow/registered-models/permissions/get"], NATIVE, NONE),
    route(PATCH, &["/api/2.0/mlflow/registered-models/permissions/update"], NATIVE, NONE),
    route(DELETE, &["/api/2.0/mlflow/registered-models/permissions/delete"], NATIVE, NONE),
    route(POST, &["/api/3.0/mlflow/scorers/permissions/create"], NATIVE, NONE),
    route(GET, &["/api/3.0/mlflow/scorers/permissions/get"], NATIVE, NONE),
    route(PATCH, &["/api/3.0/mlflow/scorers/permissions/update"], NATIVE, NONE),
    route(DELETE, &["/api/3.0/mlflow/scorers/permissions/delete"], NATIVE, NONE),
    route(POST, &["/api/3.0/mlflow/gateway/secrets/permissions/create"], NATIVE, NONE),
    route(GET, &["/api/3.0/mlflow/gateway/secrets/permissions/get"], NATIVE, NONE),
    route(PATCH, &["/api/3.0/mlflow/gateway/secrets/permissions/update"], NATIVE, NONE),
    route(DELETE, &["/api/3.0/mlflow/gateway/secrets/permissions/delete"], NATIVE, NONE),
    route(POST, &["/api/3.0/mlflow/gateway/endpoints/permissions/create"], NATIVE, NONE),
    route(GET, &["/api/3.0/mlflow/gateway/endpoints/permissions/get"], NATIVE, NONE),
    route(PATCH, &["/api/3.0/mlflow/gateway/endpoints/permissions/update"], NATIVE, NONE),
    route(DELETE, &["/api/3.0/mlflow/gateway/endpoints/permissions/delete"], NATIVE, NONE),
    route(POST, &["/api/3.0/mlflow/gateway/model-definitions/permissions/create"], NATIVE, NONE),
    route(GET, &["/api/3.0/mlflow/gateway/model-definitions/permissions/get"], NATIVE, NONE),
    route(PATCH, &["/api/3.0/mlflow/gateway/model-definitions/permissions/update"], NATIVE, NONE),
    route(DELETE, &["/api/3.0/mlflow/gateway/model-definitions/permissions/delete"], NATIVE, NONE),
    // Workspace grants (these three): admin only. MLflow: workspace MANAGE.
    route(GET, &["/api/3.0/mlflow/workspaces/{workspace_name}/permissions"], ADMIN, NONE),
    route(POST, &["/api/3.0/mlflow/workspaces/{workspace_name}/permissions"], ADMIN, NONE),
    route(DELETE, &["/api/3.0/mlflow/workspaces/{workspace_name}/permissions"], ADMIN, NONE),
    route(GET, &["/api/3.0/mlflow/workspace-permissions"], ADMIN, NONE),
    route(POST, &["/v1/traces"], OTLP_EXPORT, NONE),
    // Jobs are their submitter's, as in MLflow 3.17: reading and cancelling one is
    // for admins and the user mlguard saw submit it; the search lists only the
    // caller's own. Submitting one by name stays admin-only: its params name
    // experiments and traces that nothing checks. MLflow: any user submits.
    route(GET, &["/ajax-api/3.0/jobs/{job_id}"], OWN_JOB, NONE),
    route(POST, &["/ajax-api/3.0/jobs/"], ADMIN, RECORD_JOB),
    route(PATCH, &["/ajax-api/3.0/jobs/cancel/{job_id}"], OWN_JOB, NONE),
    route(POST, &["/ajax-api/3.0/jobs/search"], AUTHENTICATED, AfterHook::KeepOwnJobs),
    route(POST, &["/gateway/{endpoint_name}/mlflow/invocations"], GATEWAY_INVOKE_BY_PATH, NONE),
    route(POST, &["/gateway/mlflow/v1/chat/completions"], GATEWAY_INVOKE_BY_MODEL, NONE),
    route(POST, &["/gateway/openai/v1/chat/completions"], GATEWAY_INVOKE_BY_MODEL, NONE),
    route(POST, &["/gateway/openai/v1/embeddings"], GATEWAY_INVOKE_BY_MODEL, NONE),
    route(POST, &["/gateway/openai/v1/responses"], GATEWAY_INVOKE_BY_MODEL, NONE),
    route(POST, &["/gateway/anthropic/v1/messages"], GATEWAY_INVOKE_BY_MODEL, NONE),
    // Serves both `{endpoint_name}:generateContent` and `:streamGenerateContent`.
    route(POST, &["/gateway/gemini/v1beta/models/{endpoint_name_and_verb}"], GATEWAY_INVOKE_BY_GEMINI_PATH, NONE),
    // Assistant (this block): admin only, as it acts with the server's credentials.
    // MLflow: any user.
    route(POST, &["/ajax-api/3.0/mlflow/assistant/message"], ADMIN, NONE),
    route(GET, &["/ajax-api/3.0/mlflow/assistant/sessions/{session_id}/stream"], ADMIN, NONE),
    route(PATCH, &["/ajax-api/3.0/mlflow/assistant/sessions/{session_id}"], ADMIN, NONE),
    route(GET, &["/ajax-api/3.0/mlflow/assistant/providers/{provider}/health"], ADMIN, NONE),
    // The UI reads this on every page. Others get an empty configuration, so the
    // assistant shows as not set up: what it holds (providers, local project paths)
    // is the server's, and MLflow's own guard (loopback callers only) cannot tell
    // users apart behind mlguard, whose requests all come from loopback.
    route(GET, &["/ajax-api/3.0/mlflow/assistant/config"], ASSISTANT_CONFIG, NONE),
    route(PUT, &["/ajax-api/3.0/mlflow/assistant/config"], ADMIN, NONE),
    route(POST, &["/ajax-api/3.0/mlflow/assistant/skills/install"], ADMIN, NONE),
    // --- MLflow 3.17 and 3.18 -------------------------------------------------------
    // Presigned transfers: the grant of the download or upload they stand for.
    route(GET, &["/api/2.0/mlflow-artifacts/presigned/{*artifact_path}", "/ajax-api/2.0/mlflow-artifacts/presigned/{*artifact_path}"], ARTIFACT_READ, NONE),
    route(POST, &["/api/2.0/mlflow/artifacts/presigned-download-url", "/ajax-api/2.0/mlflow/artifacts/presigned-download-url"], PRESIGNED_DOWNLOAD_URL, NONE),
    route(POST, &["/api/2.0/mlflow/artifacts/presigned-upload-url", "/ajax-api/2.0/mlflow/artifacts/presigned-upload-url"], PRESIGNED_UPLOAD_URL, NONE),
    // Every trace of the batch must be readable; an empty batch names nothing.
    route(POST, &["/api/3.0/mlflow/traces/batchGetInfos", "/ajax-api/3.0/mlflow/traces/batchGetInfos"], TRACES_READ, NONE),
    route(POST, &["/ajax-api/3.0/mlflow/genai/evaluate/invoke"], EXPERIMENT_UPDATE, RECORD_JOB),
    // Label schemas, by their experiment; one named by schema id is looked up.
    route(POST, &["/api/3.0/mlflow/label-schemas/create", "/ajax-api/3.0/mlflow/label-schemas/create"], LABEL_SCHEMA_CREATE, NONE),
    route(GET, &["/api/3.0/mlflow/label-schemas/get-by-name", "/ajax-api/3.0/mlflow/label-schemas/get-by-name"], EXPERIMENT_READ, NONE),
    route(GET, &["/api/3.0/mlflow/label-schemas/list", "/ajax-api/3.0/mlflow/label-schemas/list"], EXPERIMENT_READ, NONE),
    route(GET, &["/api/3.0/mlflow/label-schemas/get", "/ajax-api/3.0/mlflow/label-schemas/get"], LABEL_SCHEMA_READ, NONE),
    route(PATCH, &["/api/3.0/mlflow/label-schemas/update", "/ajax-api/3.0/mlflow/label-schemas/update"], LABEL_SCHEMA_MANAGE, NONE),
    route(DELETE, &["/api/3.0/mlflow/label-schemas/delete", "/ajax-api/3.0/mlflow/label-schemas/delete"], LABEL_SCHEMA_MANAGE, NONE),
    // Issues, by their experiment; one named by issue id is looked up. Scheduling
    // detection is server-wide.
    route(POST, &["/api/3.0/mlflow/issues", "/ajax-api/3.0/mlflow/issues"], EXPERIMENT_UPDATE, NONE),
    route(POST, &["/api/3.0/mlflow/issues/search", "/ajax-api/3.0/mlflow/issues/search"], EXPERIMENT_READ, NONE),
    route(POST, &["/ajax-api/3.0/mlflow/issues/invoke"], ISSUE_INVOKE, RECORD_JOB),
    route(GET, &["/api/3.0/mlflow/issues/{issue_id}", "/ajax-api/3.0/mlflow/issues/{issue_id}"], ISSUE_READ, NONE),
    route(PATCH, &["/api/3.0/mlflow/issues/{issue_id}", "/ajax-api/3.0/mlflow/issues/{issue_id}"], ISSUE_UPDATE, NONE),
    route(POST, &["/ajax-api/3.0/mlflow/issues/schedule/state"], ADMIN, NONE),
    // Review queues, by their experiment (see REVIEW_QUEUE_READ): reading one, or
    // the experiment's list of them, needs update, as MLflow 3.17 shows every queue
    // to the experiment's editors and only their own to members.
    route(POST, &["/api/3.0/mlflow/review-queues/create", "/ajax-api/3.0/mlflow/review-queues/create"], EXPERIMENT_UPDATE, NONE),
    route(POST, &["/api/3.0/mlflow/review-queues/get-or-create-user", "/ajax-api/3.0/mlflow/review-queues/get-or-create-user"], EXPERIMENT_UPDATE, NONE),
    route(GET, &["/api/3.0/mlflow/review-queues/get", "/ajax-api/3.0/mlflow/review-queues/get"], REVIEW_QUEUE_READ, NONE),
    route(GET, &["/api/3.0/mlflow/review-queues/get-by-name", "/ajax-api/3.0/mlflow/review-queues/get-by-name"], EXPERIMENT_UPDATE, NONE),
    route(GET, &["/api/3.0/mlflow/review-queues/list", "/ajax-api/3.0/mlflow/review-queues/list"], EXPERIMENT_UPDATE, NONE),
    route(POST, &["/api/3.0/mlflow/review-queues/update", "/ajax-api/3.0/mlflow/review-queues/update"], REVIEW_QUEUE_MANAGE, NONE),
    route(POST, &["/api/3.0/mlflow/review-queues/delete", "/ajax-api/3.0/mlflow/review-queues/delete"], REVIEW_QUEUE_MANAGE, NONE),
    route(POST, &["/api/3.0/mlflow/review-queues/items/add", "/ajax-api/3.0/mlflow/review-queues/items/add"], REVIEW_QUEUE_ADD, NONE),
    route(POST, &["/api/3.0/mlflow/review-queues/items/remove", "/ajax-api/3.0/mlflow/review-queues/items/remove"], REVIEW_QUEUE_MANAGE, NONE),
    route(GET, &["/api/3.0/mlflow/review-queues/items/list", "/ajax-api/3.0/mlflow/review-queues/items/list"], REVIEW_QUEUE_READ, NONE),
    route(POST, &["/api/3.0/mlflow/review-queues/items/set-status", "/ajax-api/3.0/mlflow/review-queues/items/set-status"], REVIEW_QUEUE_MANAGE, NONE),
    // Gateway budgets and guardrails themselves are server-wide policy: admin only
    // (MLflow lets any user read budgets, which can name who is limited). An
    // endpoint's guardrails are the endpoint's; each carries its scorer, which is
    // shown only to who may read that scorer.
    route(POST, &["/api/3.0/mlflow/gateway/budgets/create", "/ajax-api/3.0/mlflow/gateway/budgets/create"], ADMIN, NONE),
    route(GET, &["/api/3.0/mlflow/gateway/budgets/get", "/ajax-api/3.0/mlflow/gateway/budgets/get"], ADMIN, NONE),
    route(POST, &["/api/3.0/mlflow/gateway/budgets/update", "/ajax-api/3.0/mlflow/gateway/budgets/update"], ADMIN, NONE),
    route(DELETE, &["/api/3.0/mlflow/gateway/budgets/delete", "/ajax-api/3.0/mlflow/gateway/budgets/delete"], ADMIN, NONE),
    route(GET, &["/api/3.0/mlflow/gateway/budgets/list", "/ajax-api/3.0/mlflow/gateway/budgets/list"], ADMIN, NONE),
    route(GET, &["/api/3.0/mlflow/gateway/budgets/windows", "/ajax-api/3.0/mlflow/gateway/budgets/windows"], ADMIN, NONE),
    route(POST, &["/api/3.0/mlflow/gateway/guardrails/create", "/ajax-api/3.0/mlflow/gateway/guardrails/create"], ADMIN, NONE),
    route(GET, &["/api/3.0/mlflow/gateway/guardrails/get", "/ajax-api/3.0/mlflow/gateway/guardrails/get"], ADMIN, NONE),
    route(DELETE, &["/api/3.0/mlflow/gateway/guardrails/delete", "/ajax-api/3.0/mlflow/gateway/guardrails/delete"], ADMIN, NONE),
    route(GET, &["/api/3.0/mlflow/gateway/guardrails/list", "/ajax-api/3.0/mlflow/gateway/guardrails/list"], ADMIN, NONE),
    route(POST, &["/api/3.0/mlflow/gateway/guardrails/add-to-endpoint", "/ajax-api/3.0/mlflow/gateway/guardrails/add-to-endpoint"], GATEWAY_GUARDRAIL_ATTACH, NONE),
    route(PATCH, &["/api/3.0/mlflow/gateway/guardrails/update-config", "/ajax-api/3.0/mlflow/gateway/guardrails/update-config"], GATEWAY_GUARDRAIL_ATTACH, NONE),
    route(GET, &["/api/3.0/mlflow/gateway/guardrails/list-for-endpoint", "/ajax-api/3.0/mlflow/gateway/guardrails/list-for-endpoint"], GATEWAY_ENDPOINT_READ, AfterHook::RedactGuardrailScorers),
    // Detaching a guardrail only changes the endpoint.
    route(DELETE, &["/api/3.0/mlflow/gateway/guardrails/remove-from-endpoint", "/ajax-api/3.0/mlflow/gateway/guardrails/remove-from-endpoint"], GATEWAY_ENDPOINT_UPDATE, NONE),
    // The gateway's own invocation routes: USE on the endpoint they name.
    route(POST, &["/gateway/proxy/{endpoint_name}/{*path}"], GATEWAY_INVOKE_BY_PATH, NONE),
    route(POST, &["/gateway/typesafe/v1/systemone"], GATEWAY_INVOKE_BY_MODEL, NONE),
    route(POST, &["/gateway/openai/v1/responses/compact"], GATEWAY_INVOKE_BY_MODEL, NONE),
    // The endpoint list, unfiltered: admin only until its answer is filtered.
    route(GET, &["/gateway/mlflow/v1/models"], ADMIN, NONE),
    // The assistant acts with the server's credentials: admin only, as the rest of it.
    route(GET, &["/ajax-api/3.0/mlflow/assistant/providers"], ASSISTANT_PROVIDERS, NONE),
    route(GET, &["/ajax-api/3.0/mlflow/assistant/providers/{provider}/models"], ADMIN, NONE),
    route(POST, &["/ajax-api/3.0/mlflow/assistant/sessions/{session_id}/permission"], ADMIN, NONE),
    route(POST, &["/ajax-api/3.0/mlflow/assistant/sessions/{session_id}/tool-result"], ADMIN, NONE),
    // Jobs, by their submitter, as the other job routes.
    route(GET, &["/ajax-api/3.0/mlflow/jobs/{job_id}"], OWN_JOB, NONE),
    route(PATCH, &["/ajax-api/3.0/mlflow/jobs/cancel/{job_id}"], OWN_JOB, NONE),
    // MCP servers (3.17): each is decided by its own grants, on its name
    // `namespace/slug` (two segments; a path that names it otherwise matches no row,
    // so it is admin only). Creating one makes the creator its manager; the search
    // lists the readable ones, and the search of every access endpoint the readable
    // servers' endpoints. Versions, aliases,
    // endpoints and tags are the server's, as 3.17 decides them without a
    // `mcp_server_version` row.
    route(GET, &["/api/3.0/mlflow/mcp-servers", "/ajax-api/3.0/mlflow/mcp-servers"], AUTHENTICATED, FILTER_MCP_SERVERS),
    route(POST, &["/api/3.0/mlflow/mcp-servers", "/ajax-api/3.0/mlflow/mcp-servers"], AUTHENTICATED, GRANT_CREATOR_MCP_SERVER),
    route(GET, &["/api/3.0/mlflow/mcp-servers/endpoints", "/ajax-api/3.0/mlflow/mcp-servers/endpoints"], AUTHENTICATED, AfterHook::FilterList(ListKind::McpAccessEndpoints)),
    route(GET, &["/api/3.0/mlflow/mcp-servers/{namespace}/{slug}", "/ajax-api/3.0/mlflow/mcp-servers/{namespace}/{slug}"], MCP_SERVER_READ, NONE),
    route(PATCH, &["/api/3.0/mlflow/mcp-servers/{namespace}/{slug}", "/ajax-api/3.0/mlflow/mcp-servers/{namespace}/{slug}"], MCP_SERVER_UPDATE, NONE),
    route(DELETE, &["/api/3.0/mlflow/mcp-servers/{namespace}/{slug}", "/ajax-api/3.0/mlflow/mcp-servers/{namespace}/{slug}"], MCP_SERVER_DELETE, DELETE_MCP_SERVER_GRANTS),
    route(POST, &["/api/3.0/mlflow/mcp-servers/{namespace}/{slug}/aliases", "/ajax-api/3.0/mlflow/mcp-servers/{namespace}/{slug}/aliases"], MCP_SERVER_UPDATE, NONE),
    route(GET, &["/api/3.0/mlflow/mcp-servers/{namespace}/{slug}/aliases/{alias}", "/ajax-api/3.0/mlflow/mcp-servers/{namespace}/{slug}/aliases/{alias}"], MCP_SERVER_READ, NONE),
    route(DELETE, &["/api/3.0/mlflow/mcp-servers/{namespace}/{slug}/aliases/{alias}", "/ajax-api/3.0/mlflow/mcp-servers/{namespace}/{slug}/aliases/{alias}"], MCP_SERVER_DELETE, NONE),
    route(GET, &["/api/3.0/mlflow/mcp-servers/{namespace}/{slug}/endpoints", "/ajax-api/3.0/mlflow/mcp-servers/{namespace}/{slug}/endpoints"], MCP_SERVER_READ, NONE),
    route(POST, &["/api/3.0/mlflow/mcp-servers/{namespace}/{slug}/endpoints", "/ajax-api/3.0/mlflow/mcp-servers/{namespace}/{slug}/endpoints"], MCP_SERVER_UPDATE, NONE),
    route(GET, &["/api/3.0/mlflow/mcp-servers/{namespace}/{slug}/endpoints/{endpoint_id}", "/ajax-api/3.0/mlflow/mcp-servers/{namespace}/{slug}/endpoints/{endpoint_id}"], MCP_SERVER_READ, NONE),
    route(PATCH, &["/api/3.0/mlflow/mcp-servers/{namespace}/{slug}/endpoints/{endpoint_id}", "/ajax-api/3.0/mlflow/mcp-servers/{namespace}/{slug}/endpoints/{endpoint_id}"], MCP_SERVER_UPDATE, NONE),
    route(DELETE, &["/api/3.0/mlflow/mcp-servers/{namespace}/{slug}/endpoints/{endpoint_id}", "/ajax-api/3.0/mlflow/mcp-servers/{namespace}/{slug}/endpoints/{endpoint_id}"], MCP_SERVER_DELETE, NONE),
    route(POST, &["/api/3.0/mlflow/mcp-servers/{namespace}/{slug}/tags", "/ajax-api/3.0/mlflow/mcp-servers/{namespace}/{slug}/tags"], MCP_SERVER_UPDATE, NONE),
    route(DELETE, &["/api/3.0/mlflow/mcp-servers/{namespace}/{slug}/tags/{*key}", "/ajax-api/3.0/mlflow/mcp-servers/{namespace}/{slug}/tags/{*key}"], MCP_SERVER_DELETE, NONE),
    route(GET, &["/api/3.0/mlflow/mcp-servers/{namespace}/{slug}/versions", "/ajax-api/3.0/mlflow/mcp-servers/{namespace}/{slug}/versions"], MCP_SERVER_READ, NONE),
    route(POST, &["/api/3.0/mlflow/mcp-servers/{namespace}/{slug}/versions", "/ajax-api/3.0/mlflow/mcp-servers/{namespace}/{slug}/versions"], MCP_SERVER_UPDATE, NONE),
    route(GET, &["/api/3.0/mlflow/mcp-servers/{namespace}/{slug}/versions/{version}", "/ajax-api/3.0/mlflow/mcp-servers/{namespace}/{slug}/versions/{version}"], MCP_SERVER_READ, NONE),
    route(PATCH, &["/api/3.0/mlflow/mcp-servers/{namespace}/{slug}/versions/{version}", "/ajax-api/3.0/mlflow/mcp-servers/{namespace}/{slug}/versions/{version}"], MCP_SERVER_UPDATE, NONE),
    route(DELETE, &["/api/3.0/mlflow/mcp-servers/{namespace}/{slug}/versions/{version}", "/ajax-api/3.0/mlflow/mcp-servers/{namespace}/{slug}/versions/{version}"], MCP_SERVER_DELETE, NONE),
    route(POST, &["/api/3.0/mlflow/mcp-servers/{namespace}/{slug}/versions/{version}/tags", "/ajax-api/3.0/mlflow/mcp-servers/{namespace}/{slug}/versions/{version}/tags"], MCP_SERVER_UPDATE, NONE),
    route(DELETE, &["/api/3.0/mlflow/mcp-servers/{namespace}/{slug}/versions/{version}/tags/{*key}", "/ajax-api/3.0/mlflow/mcp-servers/{namespace}/{slug}/versions/{version}/tags/{*key}"], MCP_SERVER_DELETE, NONE),
    // Skills (3.18): each is decided by its own `skill` grants, on
    // `<organization>/<name>` or `<name>`, as MCP servers are. Bulk registration
    // adds versions to skills that exist: update on every one it names (a new skill
    // is created on its own first, which makes its creator the manager).
    route(GET, &["/api/3.0/mlflow/skills", "/ajax-api/3.0/mlflow/skills"], AUTHENTICATED, FILTER_SKILLS),
    route(POST, &["/api/3.0/mlflow/skills", "/ajax-api/3.0/mlflow/skills"], AUTHENTICATED, GRANT_CREATOR_SKILL),
    route(GET, &["/api/3.0/mlflow/skills/@{organization}/{name}", "/ajax-api/3.0/mlflow/skills/@{organization}/{name}"], ORG_SKILL_READ, NONE),
    route(PATCH, &["/api/3.0/mlflow/skills/@{organization}/{name}", "/ajax-api/3.0/mlflow/skills/@{organization}/{name}"], ORG_SKILL_UPDATE, NONE),
    route(DELETE, &["/api/3.0/mlflow/skills/@{organization}/{name}", "/ajax-api/3.0/mlflow/skills/@{organization}/{name}"], ORG_SKILL_DELETE, DELETE_ORG_SKILL_GRANTS),
    route(POST, &["/api/3.0/mlflow/skills/@{organization}/{name}/aliases", "/ajax-api/3.0/mlflow/skills/@{organization}/{name}/aliases"], ORG_SKILL_UPDATE, NONE),
    route(GET, &["/api/3.0/mlflow/skills/@{organization}/{name}/aliases/{alias}", "/ajax-api/3.0/mlflow/skills/@{organization}/{name}/aliases/{alias}"], ORG_SKILL_READ, NONE),
    route(DELETE, &["/api/3.0/mlflow/skills/@{organization}/{name}/aliases/{alias}", "/ajax-api/3.0/mlflow/skills/@{organization}/{name}/aliases/{alias}"], ORG_SKILL_DELETE, NONE),
    route(POST, &["/api/3.0/mlflow/skills/@{organization}/{name}/tags", "/ajax-api/3.0/mlflow/skills/@{organization}/{name}/tags"], ORG_SKILL_UPDATE, NONE),
    route(DELETE, &["/api/3.0/mlflow/skills/@{organization}/{name}/tags/{*key}", "/ajax-api/3.0/mlflow/skills/@{organization}/{name}/tags/{*key}"], ORG_SKILL_DELETE, NONE),
    route(GET, &["/api/3.0/mlflow/skills/@{organization}/{name}/versions", "/ajax-api/3.0/mlflow/skills/@{organization}/{name}/versions"], ORG_SKILL_READ, NONE),
    route(POST, &["/api/3.0/mlflow/skills/@{organization}/{name}/versions", "/ajax-api/3.0/mlflow/skills/@{organization}/{name}/versions"], ORG_SKILL_UPDATE, NONE),
    route(GET, &["/api/3.0/mlflow/skills/@{organization}/{name}/versions/{version}", "/ajax-api/3.0/mlflow/skills/@{organization}/{name}/versions/{version}"], ORG_SKILL_READ, NONE),
    route(PATCH, &["/api/3.0/mlflow/skills/@{organization}/{name}/versions/{version}", "/ajax-api/3.0/mlflow/skills/@{organization}/{name}/versions/{version}"], ORG_SKILL_UPDATE, NONE),
    route(DELETE, &["/api/3.0/mlflow/skills/@{organization}/{name}/versions/{version}", "/ajax-api/3.0/mlflow/skills/@{organization}/{name}/versions/{version}"], ORG_SKILL_DELETE, NONE),
    route(POST, &["/api/3.0/mlflow/skills/@{organization}/{name}/versions/{version}/tags", "/ajax-api/3.0/mlflow/skills/@{organization}/{name}/versions/{version}/tags"], ORG_SKILL_UPDATE, NONE),
    route(DELETE, &["/api/3.0/mlflow/skills/@{organization}/{name}/versions/{version}/tags/{*key}", "/ajax-api/3.0/mlflow/skills/@{organization}/{name}/versions/{version}/tags/{*key}"], ORG_SKILL_DELETE, NONE),
    route(POST, &["/api/3.0/mlflow/skills/bulk-register", "/ajax-api/3.0/mlflow/skills/bulk-register"], SKILLS_BULK_REGISTER, NONE),
    route(GET, &["/api/3.0/mlflow/skills/{name}", "/ajax-api/3.0/mlflow/skills/{name}"], SKILL_READ, NONE),
    route(PATCH, &["/api/3.0/mlflow/skills/{name}", "/ajax-api/3.0/mlflow/skills/{name}"], SKILL_UPDATE, NONE),
    route(DELETE, &["/api/3.0/mlflow/skills/{name}", "/ajax-api/3.0/mlflow/skills/{name}"], SKILL_DELETE, DELETE_SKILL_GRANTS),
    route(POST, &["/api/3.0/mlflow/skills/{name}/aliases", "/ajax-api/3.0/mlflow/skills/{name}/aliases"], SKILL_UPDATE, NONE),
    route(GET, &["/api/3.0/mlflow/skills/{name}/aliases/{alias}", "/ajax-api/3.0/mlflow/skills/{name}/aliases/{alias}"], SKILL_READ, NONE),
    route(DELETE, &["/api/3.0/mlflow/skills/{name}/aliases/{alias}", "/ajax-api/3.0/mlflow/skills/{name}/aliases/{alias}"], SKILL_DELETE, NONE),
    route(POST, &["/api/3.0/mlflow/skills/{name}/tags", "/ajax-api/3.0/mlflow/skills/{name}/tags"], SKILL_UPDATE, NONE),
    route(DELETE, &["/api/3.0/mlflow/skills/{name}/tags/{*key}", "/ajax-api/3.0/mlflow/skills/{name}/tags/{*key}"], SKILL_DELETE, NONE),
    route(GET, &["/api/3.0/mlflow/skills/{name}/versions", "/ajax-api/3.0/mlflow/skills/{name}/versions"], SKILL_READ, NONE),
    route(POST, &["/api/3.0/mlflow/skills/{name}/versions", "/ajax-api/3.0/mlflow/skills/{name}/versions"], SKILL_UPDATE, NONE),
    route(GET, &["/api/3.0/mlflow/skills/{name}/versions/{version}", "/ajax-api/3.0/mlflow/skills/{name}/versions/{version}"], SKILL_READ, NONE),
    route(PATCH, &["/api/3.0/mlflow/skills/{name}/versions/{version}", "/ajax-api/3.0/mlflow/skills/{name}/versions/{version}"], SKILL_UPDATE, NONE),
    route(DELETE, &["/api/3.0/mlflow/skills/{name}/versions/{version}", "/ajax-api/3.0/mlflow/skills/{name}/versions/{version}"], SKILL_DELETE, NONE),
    route(POST, &["/api/3.0/mlflow/skills/{name}/versions/{version}/tags", "/ajax-api/3.0/mlflow/skills/{name}/versions/{version}/tags"], SKILL_UPDATE, NONE),
    route(DELETE, &["/api/3.0/mlflow/skills/{name}/versions/{version}/tags/{*key}", "/ajax-api/3.0/mlflow/skills/{name}/versions/{version}/tags/{*key}"], SKILL_DELETE, NONE),
    // `* /*`, FastAPI's mount of the Flask app, has no rule: whatever matches no rule
    // is admin-only.
    // Server-wide metrics. MLflow: any user.
    route(GET, &["/metrics"], ADMIN, NONE),
];
