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
    permitted(state, caller, resources, Capability::Read).await
}

/// Whether `caller` may exercise `capability` on each resource; `None` never. One
/// store round trip for the whole list; admins need none.
pub(crate) async fn permitted(
    state: &AppState,
    caller: &Principal,
    resources: Vec<Option<Resource>>,
    capability: Capability,
) -> Result<Vec<bool>, ApiError> {
    check_each(state, caller, resources, capability, Ungranted::Default).await
}

/// Whether no grant of the caller's denies reading each resource: a resource without
/// a grant passes (its parent's check already did), an explicit denial does not.
pub(crate) async fn not_denied_reading(
    state: &AppState,
    caller: &Principal,
    resources: Vec<Option<Resource>>,
) -> Result<Vec<bool>, ApiError> {
    check_each(
        state,
        caller,
        resources,
        Capability::Read,
        Ungranted::Allowed,
    )
    .await
}

/// What a resource without an explicit grant of the caller's is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ungranted {
    /// The configured default permission.
    Default,
    /// Nothing more: allowed.
    Allowed,
}

async fn check_each(
    state: &AppState,
    caller: &Principal,
    resources: Vec<Option<Resource>>,
    capability: Capability,
    ungranted: Ungranted,
) -> Result<Vec<bool>, ApiError> {
    if caller.is_admin {
        return Ok(resources.iter().map(Option::is_some).collect());
    }
    let user_id = caller.user_id;
    let known: Vec<Resource> = resources.iter().flatten().cloned().collect();
    // The common case, one resource per check, is one indexed read, as for `require`.
    let mut explicit = state
        .blocking(move |store| match known.as_slice() {
            [] => Ok(Vec::new()),
            [one] => store.permission_of(user_id, one).map(|level| vec![level]),
            many => store.permissions_of(user_id, many),
        })
        .await??
        .into_iter();
    // Answers come in the order of the known resources; an unknown one takes none.
    Ok(resources
        .iter()
        .map(|resource| {
            resource.is_some() && {
                let level = explicit.next().flatten();
                (level.is_none() && ungranted == Ungranted::Allowed)
                    || decide(caller, level, state.default_permission, capability)
                        == Decision::Allow
            }
        })
        .collect())
}
