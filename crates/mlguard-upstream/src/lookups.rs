use axum::http::StatusCode;
use mlguard_domain::{
    BoxFuture, ExperimentChild, ExperimentId, LookupError, ModelKind, OpaqueId, Resource,
    TraceFiles, TrackingLookup, VersionFiles, VersionOrigin,
};
use serde_json::Value;

use crate::cache::{ExperimentCache, ExperimentOf};
use crate::client::{UpstreamClient, UpstreamError};

/// The [`TrackingLookup`] port over MLflow's own REST API.
#[derive(Debug, Clone)]
pub struct TrackingLookups {
    client: UpstreamClient,
    /// A run, trace or logged model never changes experiment, so these answers
    /// are cached (one cache for every request's view of the port).
    experiments: std::sync::Arc<ExperimentCache>,
}

/// RFC 3986 unreserved characters stay; everything else is escaped.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Query-string (and path-segment) encoding of one value.
fn encode(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, QUERY_VALUE).to_string()
}

fn unavailable(error: UpstreamError) -> LookupError {
    LookupError::Unavailable(error.to_string())
}

/// Reads a canonical experiment id at `pointer`; anything else is "no experiment".
fn experiment_at(json: &Value, pointer: &str) -> Option<ExperimentId> {
    json.pointer(pointer)
        .and_then(Value::as_str)
        .and_then(|id| ExperimentId::parse(id).ok())
}

impl TrackingLookups {
    pub fn new(client: UpstreamClient, cache_capacity: usize) -> Self {
        Self {
            client,
            experiments: std::sync::Arc::new(crate::cache::bounded(cache_capacity)),
        }
    }

    /// GETs `path`; `None` for MLflow's 404/400 ("no such thing"), an error otherwise.
    async fn fetch(&self, path: &str) -> Result<Option<Value>, LookupError> {
        let (status, json) = self.client.get_json(path).await.map_err(unavailable)?;
        match status {
            s if s.is_success() => Ok(Some(json)),
            StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST => Ok(None),
            other => Err(LookupError::Unavailable(format!(
                "GET {path} answered {other}"
            ))),
        }
    }

    async fn cached_experiment(
        &self,
        kind: &'static str,
        id: &str,
        path: String,
        pointer: &str,
    ) -> Result<Option<ExperimentId>, LookupError> {
        let key = ExperimentOf {
            kind,
            id: id.to_owned(),
        };
        if let Some(hit) = self.experiments.get(&key) {
            return Ok(Some(hit));
        }
        let found = self
            .fetch(&path)
            .await?
            .and_then(|json| experiment_at(&json, pointer));
        if let Some(experiment) = &found {
            self.experiments.insert(key, experiment.clone());
        }
        Ok(found)
    }
}

impl TrackingLookup for TrackingLookups {
    fn for_request(&self, request_id: &str) -> Option<std::sync::Arc<dyn TrackingLookup>> {
        Some(std::sync::Arc::new(Self {
            client: self.client.with_request_id(request_id),
            experiments: std::sync::Arc::clone(&self.experiments),
        }))
    }

    fn experiment_of_run<'a>(
        &'a self,
        run_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ExperimentId>, LookupError>> {
        Box::pin(self.cached_experiment(
            "run",
            run_id,
            format!("/api/2.0/mlflow/runs/get?run_id={}", encode(run_id)),
            "/run/info/experiment_id",
        ))
    }

    fn experiment_of_logged_model<'a>(
        &'a self,
        model_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ExperimentId>, LookupError>> {
        Box::pin(self.cached_experiment(
            "logged_model",
            model_id,
            format!("/api/2.0/mlflow/logged-models/{}", encode(model_id)),
            "/model/info/experiment_id",
        ))
    }

    fn experiment_of_trace<'a>(
        &'a self,
        trace_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ExperimentId>, LookupError>> {
        Box::pin(self.cached_experiment(
            "trace",
            trace_id,
            format!("/api/3.0/mlflow/traces/{}", encode(trace_id)),
            "/trace/trace_info/trace_location/mlflow_experiment/experiment_id",
        ))
    }

    /// A label schema, an issue or a review queue never moves to another
    /// experiment: cached.
    fn experiment_of_child<'a>(
        &'a self,
        kind: ExperimentChild,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ExperimentId>, LookupError>> {
        let (cache_kind, path, pointer) = match kind {
            ExperimentChild::LabelSchema => (
                "label_schema",
                format!("/api/3.0/mlflow/label-schemas/get?schema_id={}", encode(id)),
                "/label_schema/experiment_id",
            ),
            ExperimentChild::Issue => (
                "issue",
                format!("/api/3.0/mlflow/issues/{}", encode(id)),
                "/issue/experiment_id",
            ),
            ExperimentChild::ReviewQueue => (
                "review_queue",
                format!("/api/3.0/mlflow/review-queues/get?queue_id={}", encode(id)),
                "/review_queue/experiment_id",
            ),
        };
        Box::pin(self.cached_experiment(cache_kind, id, path, pointer))
    }

    /// Not cached: guardrails are few, and attaching one is rare.
    fn scorer_of_guardrail<'a>(
        &'a self,
        guardrail_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Resource>, LookupError>> {
        Box::pin(async move {
            let path = format!(
                "/api/3.0/mlflow/gateway/guardrails/get?guardrail_id={}",
                encode(guardrail_id)
            );
            let Some(json) = self.fetch(&path).await? else {
                return Ok(None);
            };
            Ok(json
                .pointer("/guardrail/scorer")
                .and_then(mlguard_policy::scorer_of))
        })
    }

    fn experiment_by_name<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ExperimentId>, LookupError>> {
        Box::pin(async move {
            let path = format!(
                "/api/2.0/mlflow/experiments/get-by-name?experiment_name={}",
                encode(name)
            );
            Ok(self
                .fetch(&path)
                .await?
                .and_then(|json| experiment_at(&json, "/experiment/experiment_id")))
        })
    }

    fn experiments_of_dataset<'a>(
        &'a self,
        dataset_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<ExperimentId>>, LookupError>> {
        Box::pin(async move {
            let path = format!(
                "/api/3.0/mlflow/datasets/{}/experiment-ids",
                encode(dataset_id)
            );
            let Some(json) = self.fetch(&path).await? else {
                return Ok(None);
            };
            let ids = json
                .get("experiment_ids")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            // One unreadable id makes the whole answer unusable: deny, don't guess.
            ids.iter()
                .map(|id| id.as_str().and_then(|s| ExperimentId::parse(s).ok()))
                .collect::<Option<Vec<_>>>()
                .map_or_else(
                    || {
                        Err(LookupError::Unavailable(format!(
                            "dataset {dataset_id} lists a non-canonical experiment id"
                        )))
                    },
                    |ids| Ok(Some(ids)),
                )
        })
    }

    fn gateway_endpoint_by_name<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<OpaqueId>, LookupError>> {
        Box::pin(async move {
            let Some(json) = self.fetch("/api/3.0/mlflow/gateway/endpoints/list").await? else {
                return Ok(None);
            };
            Ok(json
                .get("endpoints")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|endpoint| endpoint.get("name").and_then(Value::as_str) == Some(name))
                .and_then(|endpoint| endpoint.get("endpoint_id").and_then(Value::as_str))
                .and_then(|id| OpaqueId::parse(id).ok()))
        })
    }
    fn registered_model_exists<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<bool, LookupError>> {
        Box::pin(async move { Ok(self.registered_model_kind(name).await?.is_some()) })
    }

    fn registered_model_kind<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ModelKind>, LookupError>> {
        Box::pin(async move {
            let path = format!(
                "/api/2.0/mlflow/registered-models/get?name={}",
                encode(name)
            );
            let Some(json) = self.fetch(&path).await? else {
                return Ok(None);
            };
            let Some(model) = json
                .get("registered_model")
                .filter(|model| model.get("name").is_some())
            else {
                return Ok(None);
            };
            let tags = model
                .get("tags")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|tag| Some((tag.get("key")?.as_str()?, tag.get("value")?.as_str()?)));
            Ok(Some(ModelKind::from_tags(tags)))
        })
    }

    fn resource_exists<'a>(
        &'a self,
        resource: &'a Resource,
    ) -> BoxFuture<'a, Result<bool, LookupError>> {
        Box::pin(async move {
            // MLflow's own "get" for the kind, and where its answer names the resource.
            let (path, pointer) =
                match resource {
                    Resource::RegisteredModel(name) => {
                        return Ok(self.registered_model_kind(name.as_str()).await?
                            == Some(ModelKind::Model));
                    }
                    Resource::Prompt(name) => {
                        return Ok(self.registered_model_kind(name.as_str()).await?
                            == Some(ModelKind::Prompt));
                    }
                    Resource::Experiment(id) => (
                        format!(
                            "/api/2.0/mlflow/experiments/get?experiment_id={}",
                            encode(id.as_str())
                        ),
                        "/experiment/experiment_id",
                    ),
                    Resource::Scorer {
                        experiment_id,
                        name,
                    } => (
                        format!(
                            "/api/3.0/mlflow/scorers/get?experiment_id={}&name={}",
                            encode(experiment_id.as_str()),
                            encode(name.as_str())
                        ),
                        "/scorer/scorer_name",
                    ),
                    Resource::GatewaySecret(id) => (
                        format!(
                            "/api/3.0/mlflow/gateway/secrets/get?secret_id={}",
                            encode(id.as_str())
                        ),
                        "/secret/secret_id",
                    ),
                    Resource::GatewayEndpoint(id) => (
                        format!(
                            "/api/3.0/mlflow/gateway/endpoints/get?endpoint_id={}",
                            encode(id.as_str())
                        ),
                        "/endpoint/endpoint_id",
                    ),
                    Resource::GatewayModelDefinition(id) => (
                        format!(
                            "/api/3.0/mlflow/gateway/model-definitions/get?model_definition_id={}",
                            encode(id.as_str())
                        ),
                        "/model_definition/model_definition_id",
                    ),
                    // `<namespace>/<slug>`: each segment encoded, the slash kept.
                    Resource::McpServer(name) => (
                        format!(
                            "/api/3.0/mlflow/mcp-servers/{}",
                            name.as_str()
                                .split('/')
                                .map(encode)
                                .collect::<Vec<_>>()
                                .join("/")
                        ),
                        "/name",
                    ),
                    // `<organization>/<name>` is served at `/skills/@<org>/<name>`.
                    Resource::Skill(id) => (
                        match id.as_str().split_once('/') {
                            Some((organization, name)) => format!(
                                "/api/3.0/mlflow/skills/@{}/{}",
                                encode(organization),
                                encode(name)
                            ),
                            None => format!("/api/3.0/mlflow/skills/{}", encode(id.as_str())),
                        },
                        "/name",
                    ),
                };
            Ok(self
                .fetch(&path)
                .await?
                .is_some_and(|json| json.pointer(pointer).is_some()))
        })
    }

    fn trace_files<'a>(
        &'a self,
        trace_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<TraceFiles>, LookupError>> {
        Box::pin(async move {
            let path = format!("/api/3.0/mlflow/traces/{}", encode(trace_id));
            let Some(json) = self.fetch(&path).await? else {
                return Ok(None);
            };
            let info = json.pointer("/trace/trace_info");
            let experiment = info.and_then(|info| {
                experiment_at(info, "/trace_location/mlflow_experiment/experiment_id")
            });
            Ok(experiment.map(|experiment| TraceFiles {
                experiment,
                artifact_location: info
                    .and_then(|info| info.pointer("/tags/mlflow.artifactLocation"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            }))
        })
    }

    fn experiment_artifact_root<'a>(
        &'a self,
        experiment: &'a ExperimentId,
    ) -> BoxFuture<'a, Result<Option<String>, LookupError>> {
        Box::pin(async move {
            let path = format!(
                "/api/2.0/mlflow/experiments/get?experiment_id={}",
                encode(experiment.as_str())
            );
            Ok(self.fetch(&path).await?.and_then(|json| {
                json.pointer("/experiment/artifact_location")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            }))
        })
    }

    fn model_version_source<'a>(
        &'a self,
        name: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, LookupError>> {
        Box::pin(async move {
            let path = format!(
                "/api/2.0/mlflow/model-versions/get?name={}&version={}",
                encode(name),
                encode(version)
            );
            Ok(self.fetch(&path).await?.and_then(|json| {
                json.pointer("/model_version/source")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            }))
        })
    }

    fn model_versions_from<'a>(
        &'a self,
        origin: VersionOrigin<'a>,
    ) -> BoxFuture<'a, Result<Vec<VersionFiles>, LookupError>> {
        Box::pin(async move {
            let (id, filter) = match origin {
                VersionOrigin::Run(id) => (id, format!("run_id = '{id}'")),
                VersionOrigin::LoggedModel(id) => (id, format!("source_path = 'models:/{id}'")),
            };
            // Ids go into a filter expression: only the characters MLflow's ids use.
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Ok(Vec::new());
            }
            let mut found = Vec::new();
            let mut page_token: Option<String> = None;
            // A run or logged model feeds a handful of versions; a bound keeps a
            // pathological one from turning one request into many.
            for _ in 0..10 {
                let mut path = format!(
                    "/api/2.0/mlflow/model-versions/search?max_results=200&filter={}",
                    encode(&filter)
                );
                if let Some(token) = &page_token {
                    path.push_str(&format!("&page_token={}", encode(token)));
                }
                let Some(json) = self.fetch(&path).await? else {
                    break;
                };
                for version in json
                    .get("model_versions")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let (Some(name), Some(number)) = (
                        version.get("name").and_then(Value::as_str),
                        version.get("version").and_then(Value::as_str),
                    ) else {
                        continue;
                    };
                    let uri_path = format!(
                        "/api/2.0/mlflow/model-versions/get-download-uri?name={}&version={}",
                        encode(name),
                        encode(number)
                    );
                    if let Some(uri) = self.fetch(&uri_path).await?.and_then(|json| {
                        json.get("artifact_uri")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    }) {
                        found.push(VersionFiles {
                            model_name: name.to_owned(),
                            version: number.to_owned(),
                            download_uri: uri,
                        });
                    }
                }
                page_token = json
                    .get("next_page_token")
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned);
                if page_token.is_none() {
                    break;
                }
            }
            Ok(found)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_query_values() {
        assert_eq!(encode("a b/c&d=é"), "a%20b%2Fc%26d%3D%C3%A9");
        assert_eq!(encode("run-1_x.y~"), "run-1_x.y~");
    }

    #[test]
    fn only_canonical_experiment_ids_are_read() {
        let json = serde_json::json!({"run": {"info": {"experiment_id": "01"}}});
        assert_eq!(experiment_at(&json, "/run/info/experiment_id"), None);
        let json = serde_json::json!({"run": {"info": {"experiment_id": "12"}}});
        assert_eq!(
            experiment_at(&json, "/run/info/experiment_id").map(|e| e.to_string()),
            Some("12".to_owned())
        );
    }
}
