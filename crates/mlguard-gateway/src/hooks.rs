//! After-hooks, carried out: what changes in mlguard's store once MLflow has
//! answered 2xx. What each hook is about was read before the request left
//! ([`HookPlan`], from the policy).

use axum::body::Body;
use axum::http::Response;
use http_body_util::BodyExt;
use mlguard_domain::{Permission, Principal, Resource, StoreError};
use mlguard_http::ApiError;
use mlguard_policy::HookPlan;
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
            let (mut parts, body) = response.into_parts();
            let bytes = http_body_util::Limited::new(body, MAX_HOOK_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| hook_failed(&format!("reading an answer to redact: {e}")))?
                .to_bytes();
            // An answer that cannot be redacted is not passed on.
            let mut json: Value = serde_json::from_slice(&bytes)
                .map_err(|e| hook_failed(&format!("an answer to redact is not JSON: {e}")))?;
            if let Some(object) = json.as_object_mut() {
                for field in fields {
                    object.remove(*field);
                }
            }
            let bytes = serde_json::to_vec(&json).map_err(|e| hook_failed(&e))?;
            parts.headers.remove(axum::http::header::CONTENT_LENGTH);
            parts.headers.remove(axum::http::header::CONTENT_ENCODING);
            Ok(super::rebuilt(parts, bytes.into()))
        }
        HookPlan::GrantCreator(kind, from_request) => {
            let (parts, body) = response.into_parts();
            let bytes = http_body_util::Limited::new(body, MAX_HOOK_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| hook_failed(&format!("reading a creation answer: {e}")))?
                .to_bytes();
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
