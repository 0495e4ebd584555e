//! The tracking-server port: ids a request names indirectly (a run, a trace, a
//! logged model...) resolved to the experiment or resource a grant is about.

use std::future::Future;
use std::pin::Pin;

use crate::names::{ExperimentId, OpaqueId};
use crate::resource::Resource;

/// A boxed, sendable future, so the port stays object-safe without an async runtime.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The tracking server did not answer, or answered something unreadable. The
    /// text is for logs only.
    #[error("tracking server lookup failed: {0}")]
    Unavailable(String),
}

/// Resolves derived ids through the tracking server.
///
/// Every method MUST return `Ok(None)` when the tracking server says the thing does
/// not exist (or names no experiment), and `Err(Unavailable)` when it cannot tell;
/// callers deny in both cases. Adapters MAY cache answers that never change (the
/// experiment of a run, trace or logged model) and MUST NOT cache `None` or answers
/// that can change (an experiment's name, a dataset's experiments).
pub trait TrackingLookup: Send + Sync {
    /// This port for one request: what it sends names `request_id`, so the tracking
    /// server's logs tie each lookup to the request that caused it. `None`: the
    /// adapter sends nothing that could carry it; use it as it is.
    fn for_request(&self, _request_id: &str) -> Option<std::sync::Arc<dyn TrackingLookup>> {
        None
    }

    fn experiment_of_run<'a>(
        &'a self,
        run_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ExperimentId>, LookupError>>;

    fn experiment_of_logged_model<'a>(
        &'a self,
        model_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ExperimentId>, LookupError>>;

    fn experiment_of_trace<'a>(
        &'a self,
        trace_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ExperimentId>, LookupError>>;

    fn experiment_by_name<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ExperimentId>, LookupError>>;

    /// The experiments an evaluation dataset is linked to; `Some(vec![])` when none.
    fn experiments_of_dataset<'a>(
        &'a self,
        dataset_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<ExperimentId>>, LookupError>>;

    fn gateway_endpoint_by_name<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<OpaqueId>, LookupError>>;

    /// Whether a registered model (or prompt) of this name exists.
    fn registered_model_exists<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<bool, LookupError>>;

    /// The experiment a label schema, an issue or a review queue (MLflow 3.17)
    /// belongs to; `None`
    /// when it does not exist. An adapter that cannot ask refuses: callers deny.
    fn experiment_of_child<'a>(
        &'a self,
        kind: ExperimentChild,
        _id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ExperimentId>, LookupError>> {
        Box::pin(async move {
            Err(LookupError::Unavailable(format!(
                "this tracking lookup cannot find the experiment of a {kind:?}"
            )))
        })
    }

    /// The scorer a gateway guardrail (MLflow 3.17) runs, as a scorer resource;
    /// `None` when the guardrail does not exist. An adapter that cannot ask refuses:
    /// callers deny.
    fn scorer_of_guardrail<'a>(
        &'a self,
        _guardrail_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Resource>, LookupError>> {
        Box::pin(async move {
            Err(LookupError::Unavailable(
                "this tracking lookup cannot find the scorer of a guardrail".to_owned(),
            ))
        })
    }

    /// Whether the registered model of this name is a prompt, from its stored
    /// `mlflow.prompt.is_prompt` tag; `None` when it does not exist. Never cached: a
    /// name can be deleted and made again as the other kind.
    fn registered_model_kind<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ModelKind>, LookupError>> {
        Box::pin(async move {
            Ok(self
                .registered_model_exists(name)
                .await?
                .then_some(ModelKind::Model))
        })
    }

    /// Whether a grantable resource exists on the tracking server: an experiment, a
    /// registered model or prompt, a scorer, a gateway secret, endpoint or model
    /// definition. Never cached: a grant must not outlive or precede its resource.
    fn resource_exists<'a>(
        &'a self,
        resource: &'a Resource,
    ) -> BoxFuture<'a, Result<bool, LookupError>>;

    /// A registered model version's `source`; `None` when the version does not exist.
    fn model_version_source<'a>(
        &'a self,
        name: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, LookupError>>;

    /// Where a trace's files are: its experiment and the `mlflow.artifactLocation`
    /// tag MLflow reads them from (`None` when the tag is absent); `None` when the
    /// trace does not exist. Never cached: tags change.
    fn trace_files<'a>(
        &'a self,
        trace_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<TraceFiles>, LookupError>>;

    /// An experiment's artifact root (`artifact_location`); `None` when the
    /// experiment does not exist.
    fn experiment_artifact_root<'a>(
        &'a self,
        experiment: &'a ExperimentId,
    ) -> BoxFuture<'a, Result<Option<String>, LookupError>>;

    /// The registered model versions made from this run or logged model, each with
    /// the URI its files are downloaded from (MLflow's `get-download-uri`).
    fn model_versions_from<'a>(
        &'a self,
        origin: VersionOrigin<'a>,
    ) -> BoxFuture<'a, Result<Vec<VersionFiles>, LookupError>>;
}

/// Things MLflow 3.17 keeps inside one experiment, looked up by their own id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExperimentChild {
    LabelSchema,
    Issue,
    ReviewQueue,
}

/// What a stored registered model is: MLflow keeps prompts as registered models
/// tagged `mlflow.prompt.is_prompt = "true"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    Model,
    Prompt,
}

impl ModelKind {
    /// The tag that makes a registered model a prompt, and the value it needs.
    pub const PROMPT_TAG: (&'static str, &'static str) = ("mlflow.prompt.is_prompt", "true");

    /// The kind a list of MLflow tags (`[{"key": .., "value": ..}]` pairs) gives.
    pub fn from_tags<'t>(tags: impl IntoIterator<Item = (&'t str, &'t str)>) -> Self {
        let (key, value) = Self::PROMPT_TAG;
        if tags
            .into_iter()
            .any(|(k, v)| k == key && v.eq_ignore_ascii_case(value))
        {
            ModelKind::Prompt
        } else {
            ModelKind::Model
        }
    }

    /// The resource a registered model of this kind and name is.
    pub fn resource(self, name: crate::names::ModelName) -> Resource {
        match self {
            ModelKind::Model => Resource::RegisteredModel(name),
            ModelKind::Prompt => Resource::Prompt(name),
        }
    }
}

/// A trace's experiment and the location its files are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceFiles {
    pub experiment: ExperimentId,
    pub artifact_location: Option<String>,
}

/// What a registered model version was made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionOrigin<'a> {
    Run(&'a str),
    LoggedModel(&'a str),
}

/// A registered model version and where its files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionFiles {
    pub model_name: String,
    pub version: String,
    pub download_uri: String,
}
