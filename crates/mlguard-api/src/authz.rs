//! The one place a request's capability on a resource is checked against the store.

use mlguard_domain::{Capability, Decision, Principal, Resource, decide};
use mlguard_extract::ApiError;

use crate::state::AppState;

/// Allows `caller` to exercise `capability` on `resource`, or answers 403.
/// Admins pass without a store read.
pub(crate) async fn require(
    state: &AppState,
    caller: &Principal,
    resource: Resource,
    capability: Capability,
) -> Result<(), ApiError> {
    if caller.is_admin {
        return Ok(());
    }
    let user_id = caller.user_id;
    let (explicit, resource) = state
        .blocking(move |store| (store.permission_of(user_id, &resource), resource))
        .await?;
    match decide(caller, explicit?, state.default_permission, capability) {
        Decision::Allow => Ok(()),
        Decision::Deny => {
            tracing::info!(resource.kind = %resource.kind(), resource.key = %resource.key(),
                ?capability, "denied");
            Err(ApiError::permission_denied())
        }
    }
}

/// Whether `caller` may read each resource; `None` (an item naming nothing mlguard
/// can check) is never readable. One store round trip for the whole list.
pub(crate) async fn readable(
    state: &AppState,
    caller: &Principal,
    resources: Vec<Option<Resource>>,
) -> Result<Vec<bool>, ApiError> {
    let user_id = caller.user_id;
    let explicit = state
        .blocking(move |store| {
            resources
                .into_iter()
                .map(|resource| match resource {
                    Some(resource) => store.permission_of(user_id, &resource).map(Some),
                    None => Ok(None),
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await??;
    Ok(explicit
        .into_iter()
        .map(|found| {
            found.is_some_and(|explicit| {
                decide(caller, explicit, state.default_permission, Capability::Read)
                    == Decision::Allow
            })
        })
        .collect())
}
