//! After-hooks: what changes in mlguard's store once MLflow has answered 2xx.

use axum::body::Body;
use axum::http::Response;
use http_body_util::BodyExt;
use mlguard_domain::{
    ExperimentId, ModelName, OpaqueId, Permission, Principal, Resource, StoreError, TrackingLookup,
};
use mlguard_extract::ApiError;
use mlguard_policy::{AfterHook, CreatedKind, Source, Target};
use serde_json::Value;

use super::inputs::{Found, RequestInputs, Resolved, resolve};
use crate::GatewayState;

/// Largest creation response read to find the new id.
const MAX_CREATED_BYTES: usize = 16 * 1024 * 1024;

/// A hook with everything it needs from the request already read.
#[derive(Debug)]
pub(crate) enum Prepared {
    Nothing,
    GrantCreator(CreatedKind, Option<Resource>),
    DeleteGrants(Resource),
    Rename { from: ModelName, to: ModelName },
    Redact(&'static [&'static str]),
}

fn one(inputs: &RequestInputs<'_>, source: Source) -> Result<Option<String>, ApiError> {
    Ok(match inputs.read(source, false)? {
        Found::One(value) => Some(value),
        Found::Missing | Found::Many(_) => None,
    })
}

/// The one resource a target names, resolved as the checks resolve it.
async fn named(
    target: Target,
    inputs: &RequestInputs<'_>,
    lookup: &dyn TrackingLookup,
) -> Result<Option<Resource>, ApiError> {
    Ok(match resolve(target, inputs, lookup).await? {
        Resolved::Resources(resources) if resources.len() == 1 => resources.into_iter().next(),
        Resolved::Resources(_) | Resolved::Missing | Resolved::Nothing | Resolved::Absent => None,
    })
}

pub(crate) async fn prepare(
    after: AfterHook,
    inputs: &RequestInputs<'_>,
    lookup: &dyn TrackingLookup,
) -> Result<Prepared, ApiError> {
    Ok(match after {
        AfterHook::None | AfterHook::FilterList(_) => Prepared::Nothing,
        AfterHook::RedactForNonAdmins(fields) => Prepared::Redact(fields),
        AfterHook::GrantCreator(CreatedKind::Scorer) => {
            let scorer = named(
                Target::Scorer {
                    experiment: Source::Param("experiment_id"),
                    name: Source::Param("name"),
                },
                inputs,
                lookup,
            )
            .await?;
            Prepared::GrantCreator(CreatedKind::Scorer, scorer)
        }
        AfterHook::GrantCreator(kind) => Prepared::GrantCreator(kind, None),
        AfterHook::DeleteGrants(target) => match named(target, inputs, lookup).await? {
            Some(resource) => Prepared::DeleteGrants(resource),
            None => Prepared::Nothing,
        },
        AfterHook::RenameRegisteredModel => {
            match (
                one(inputs, Source::Param("name"))?,
                one(inputs, Source::Param("new_name"))?,
            ) {
                (Some(from), Some(to)) => Prepared::Rename {
                    from: ModelName::parse(&from)?,
                    to: ModelName::parse(&to)?,
                },
                _ => Prepared::Nothing,
            }
        }
    })
}

fn hook_failed(cause: &dyn std::fmt::Display) -> ApiError {
    ApiError::internal(cause)
}

/// The id of what a creation made, from MLflow's answer.
fn created(kind: CreatedKind, json: &Value) -> Option<Resource> {
    let at = |pointer: &str| json.pointer(pointer).and_then(Value::as_str);
    match kind {
        CreatedKind::Experiment => at("/experiment_id")
            .and_then(|id| ExperimentId::parse(id).ok())
            .map(Resource::Experiment),
        CreatedKind::RegisteredModel => at("/registered_model/name")
            .and_then(|name| ModelName::parse(name).ok())
            .map(Resource::RegisteredModel),
        CreatedKind::GatewaySecret => at("/secret/secret_id")
            .and_then(|id| OpaqueId::parse(id).ok())
            .map(Resource::GatewaySecret),
        CreatedKind::GatewayEndpoint => at("/endpoint/endpoint_id")
            .and_then(|id| OpaqueId::parse(id).ok())
            .map(Resource::GatewayEndpoint),
        CreatedKind::GatewayModelDefinition => at("/model_definition/model_definition_id")
            .and_then(|id| OpaqueId::parse(id).ok())
            .map(Resource::GatewayModelDefinition),
        CreatedKind::Scorer => None,
    }
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
    prepared: Prepared,
    response: Response<Body>,
) -> Result<Response<Body>, ApiError> {
    match prepared {
        Prepared::Nothing => Ok(response),
        Prepared::Redact(_) if caller.is_admin => Ok(response),
        Prepared::Redact(fields) => {
            let (mut parts, body) = response.into_parts();
            let bytes = http_body_util::Limited::new(body, MAX_CREATED_BYTES)
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
        Prepared::GrantCreator(kind, from_request) => {
            let (parts, body) = response.into_parts();
            let bytes = http_body_util::Limited::new(body, MAX_CREATED_BYTES)
                .collect()
                .await
                .map_err(|e| hook_failed(&format!("reading a creation answer: {e}")))?
                .to_bytes();
            let resource = match from_request {
                Some(resource) => Some(resource),
                None => serde_json::from_slice::<Value>(&bytes)
                    .ok()
                    .and_then(|json| created(kind, &json)),
            };
            let Some(resource) = resource else {
                return Err(hook_failed(&format!(
                    "{kind:?} created, but its id is not in the answer"
                )));
            };
            grant_manage(state, caller, resource).await?;
            Ok(super::rebuilt(parts, bytes))
        }
        Prepared::DeleteGrants(resource) => {
            state
                .grants
                .blocking(move |store| store.delete_grants_on(&resource))
                .await?
                .map_err(|e| hook_failed(&e))?;
            Ok(response)
        }
        Prepared::Rename { from, to } => {
            state
                .grants
                .blocking(move |store| store.rename_registered_model(&from, &to))
                .await?
                .map_err(|e| hook_failed(&e))?;
            Ok(response)
        }
    }
}
