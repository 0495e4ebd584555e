//! After-hooks, carried out: what changes in mlguard's store once MLflow has
//! answered 2xx. What each hook is about was read before the request left
//! ([`HookPlan`], from the policy).

use axum::body::{Body, Bytes};
use axum::http::Response;
use http_body_util::BodyExt;
use mlguard_domain::{Capability, OpaqueId, Permission, Principal, Resource, StoreError};
use mlguard_http::ApiError;
use mlguard_policy::{HookPlan, scorer_of};
use serde_json::Value;

use crate::GatewayState;

/// Largest answer a hook reads: a creation's, for its id, or one to redact.
const MAX_HOOK_ANSWER_BYTES: usize = 16 * 1024 * 1024;

fn hook_failed(cause: &dyn std::fmt::Display) -> ApiError {
    ApiError::internal(cause)
}

async fn grant_manage(
    state: &GatewayState,
    caller: &Principal,
    resource: Resource,
) -> Result<(), ApiError> {
    let username = caller.username.clone();
    state
        .grants
        .blocking(move |store| {
            // Registering a scorer under a taken name adds a version to someone
            // else's scorer; that must not make the caller its manager.
            if matches!(resource, Resource::Scorer { .. }) && store.has_grants_on(&resource)? {
                return Ok(());
            }
            match store.create_grant(&username, &resource, Permission::Manage) {
                Ok(_) => Ok(()),
                // Re-created under a reused id or name: the creator manages it now.
                Err(StoreError::GrantAlreadyExists { .. }) => {
                    store.update_grant(&username, &resource, Permission::Manage)
                }
                Err(error) => Err(error),
            }
        })
        .await?
        .map_err(|e| hook_failed(&e))
}

/// The whole answer, within bounds.
async fn answer_bytes(
    response: Response<Body>,
    what: &str,
) -> Result<(axum::http::response::Parts, Bytes), ApiError> {
    let (parts, body) = response.into_parts();
    let bytes = http_body_util::Limited::new(body, MAX_HOOK_ANSWER_BYTES)
        .collect()
        .await
        .map_err(|e| hook_failed(&format!("reading the answer to {what}: {e}")))?
        .to_bytes();
    Ok((parts, bytes))
}

/// The answer as JSON, to be changed. One that is not JSON is not passed on.
async fn json_answer(
    response: Response<Body>,
    what: &str,
) -> Result<(axum::http::response::Parts, Value), ApiError> {
    let (parts, bytes) = answer_bytes(response, what).await?;
    let json = serde_json::from_slice(&bytes)
        .map_err(|e| hook_failed(&format!("an answer to {what} is not JSON: {e}")))?;
    Ok((parts, json))
}

/// A list to filter in a shape mlguard does not know is not passed on unfiltered.
fn refuse_unexpected_list(json: &Value, field: &str) -> Result<(), ApiError> {
    match json.get(field) {
        None | Some(Value::Null | Value::Array(_)) if json.is_object() => Ok(()),
        _ => Err(hook_failed(&format!("an answer's `{field}` is not a list"))),
    }
}

/// A changed JSON answer, with the headers that described the old bytes dropped.
fn reencoded(
    mut parts: axum::http::response::Parts,
    json: &Value,
) -> Result<Response<Body>, ApiError> {
    let bytes = serde_json::to_vec(json).map_err(|e| hook_failed(&e))?;
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.remove(axum::http::header::CONTENT_ENCODING);
    Ok(super::rebuilt(parts, bytes.into()))
}

pub(crate) async fn run(
    state: &GatewayState,
    caller: &Principal,
    plan: HookPlan,
    response: Response<Body>,
) -> Result<Response<Body>, ApiError> {
    match plan {
        HookPlan::Nothing => Ok(response),
        HookPlan::Redact(_) if caller.is_admin => Ok(response),
        HookPlan::Redact(fields) => {
            let (parts, mut json) = json_answer(response, "redact").await?;
            if let Some(object) = json.as_object_mut() {
                for field in fields {
                    object.remove(*field);
                }
            }
            reencoded(parts, &json)
        }
        HookPlan::RecordJobOwner(submitted) => {
            let (parts, bytes) = answer_bytes(response, "a job submission").await?;
            let job_ids = serde_json::from_slice::<Value>(&bytes)
                .map(|json| submitted.job_ids(&json))
                .unwrap_or_default();
            if job_ids.is_empty() {
                // Without the record, the submitter could not follow their job.
                return Err(hook_failed(
                    &"a job was submitted, but its id is not in the answer",
                ));
            }
            state.grants.record_job_owner(caller, job_ids).await?;
            Ok(super::rebuilt(parts, bytes))
        }
        HookPlan::RedactGuardrailScorers if caller.is_admin => Ok(response),
        HookPlan::RedactGuardrailScorers => {
            let (parts, mut json) = json_answer(response, "redact").await?;
            refuse_unexpected_list(&json, "configs")?;
            if let Some(Value::Array(configs)) = json.get_mut("configs") {
                let scorers: Vec<Option<&mut serde_json::Map<String, Value>>> = configs
                    .iter_mut()
                    .map(|config| {
                        config
                            .pointer_mut("/guardrail")
                            .and_then(Value::as_object_mut)
                    })
                    .collect();
                let named: Vec<Option<Resource>> = scorers
                    .iter()
                    .map(|guardrail| guardrail.as_ref()?.get("scorer").map(scorer_of))
                    .map(Option::flatten)
                    .collect();
                // A scorer mlguard cannot name is not readable.
                let readable = state
                    .grants
                    .permitted(caller, named, Capability::Read)
                    .await?;
                for (guardrail, readable) in scorers.into_iter().zip(readable) {
                    if let Some(guardrail) = guardrail
                        && !readable
                    {
                        guardrail.remove("scorer");
                    }
                }
            }
            reencoded(parts, &json)
        }
        HookPlan::KeepOwnJobs if caller.is_admin => Ok(response),
        HookPlan::KeepOwnJobs => {
            let (parts, mut json) = json_answer(response, "filter").await?;
            refuse_unexpected_list(&json, "jobs")?;
            if let Some(Value::Array(jobs)) = json.get_mut("jobs") {
                let ids: Vec<Option<OpaqueId>> = jobs
                    .iter()
                    .map(|job| {
                        job.get("job_id")
                            .and_then(Value::as_str)
                            .and_then(|id| OpaqueId::parse(id).ok())
                    })
                    .collect();
                let named: Vec<OpaqueId> = ids.iter().flatten().cloned().collect();
                let mut owned = state.grants.own_jobs(caller, named).await?.into_iter();
                // A job without a readable id is nobody's.
                let keep: Vec<bool> = ids
                    .iter()
                    .map(|id| id.is_some() && owned.next().unwrap_or(false))
                    .collect();
                let mut keep = keep.into_iter();
                jobs.retain(|_| keep.next().unwrap_or(false));
            }
            reencoded(parts, &json)
        }
        HookPlan::GrantCreator(kind, from_request) => {
            let (parts, bytes) = answer_bytes(response, "a creation").await?;
            let resource = match from_request {
                Some(resource) => Some(resource),
                None => serde_json::from_slice::<Value>(&bytes)
                    .ok()
                    .and_then(|json| kind.created(&json)),
            };
            let Some(resource) = resource else {
                return Err(hook_failed(&format!(
                    "{kind:?} created, but its id is not in the answer"
                )));
            };
            grant_manage(state, caller, resource).await?;
            Ok(super::rebuilt(parts, bytes))
        }
        HookPlan::DeleteGrants(resources) => {
            state
                .grants
                .blocking(move |store| {
                    resources
                        .iter()
                        .try_for_each(|resource| store.delete_grants_on(resource).map(drop))
                })
                .await?
                .map_err(|e| hook_failed(&e))?;
            Ok(response)
        }
        HookPlan::Rename { from, to } => {
            state
                .grants
                .blocking(move |store| store.rename_registered_model(&from, &to))
                .await?
                .map_err(|e| hook_failed(&e))?;
            Ok(response)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_of_an_unknown_shape_is_refused_not_passed_on() {
        let ok = |json: Value| refuse_unexpected_list(&json, "jobs").is_ok();
        assert!(ok(serde_json::json!({"jobs": []})));
        assert!(ok(serde_json::json!({"jobs": null})));
        assert!(ok(serde_json::json!({})));
        assert!(!ok(serde_json::json!({"jobs": {"job_id": "j-1"}})));
        assert!(!ok(serde_json::json!({"jobs": "j-1"})));
        assert!(!ok(serde_json::json!([{"job_id": "j-1"}])));
    }
}
