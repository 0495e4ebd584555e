//! The one place a caller's capability on a resource is checked against the grant
//! store, for the native API and the gateway alike, and the one way blocking store
//! work leaves the async runtime.

use std::sync::Arc;

use mlguard_domain::{Capability, Decision, GrantStore, Permission, Principal, Resource, decide};

use crate::ApiError;

/// Runs blocking work (diesel, argon2) off the async runtime, in the caller's
/// tracing span.
pub async fn blocking<T, F>(work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(work))
        .await
        .map_err(|join_error| ApiError::internal(&join_error))
}

/// The grant store and the default permission: what every decision reads.
#[derive(Clone)]
pub struct Grants {
    store: Arc<dyn GrantStore>,
    default_permission: Permission,
}

impl std::fmt::Debug for Grants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grants")
            .field("default_permission", &self.default_permission)
            .finish_non_exhaustive()
    }
}

/// What a resource without an explicit grant of the caller's is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ungranted {
    /// The configured default permission.
    Default,
    /// Nothing more: allowed.
    Allowed,
}

impl Grants {
    pub fn new(store: Arc<dyn GrantStore>, default_permission: Permission) -> Self {
        Self {
            store,
            default_permission,
        }
    }

    pub fn default_permission(&self) -> Permission {
        self.default_permission
    }

    /// Runs blocking grant-store work off the async runtime.
    pub async fn blocking<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn GrantStore) -> T + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        blocking(move || work(store.as_ref())).await
    }

    /// Allows `caller` to exercise `capability` on `resource`, or answers 403.
    /// Admins pass without a store read.
    pub async fn require(
        &self,
        caller: &Principal,
        resource: Resource,
        capability: Capability,
    ) -> Result<(), ApiError> {
        if caller.is_admin {
            return Ok(());
        }
        let user_id = caller.user_id;
        let (explicit, resource) = self
            .blocking(move |store| (store.permission_of(user_id, &resource), resource))
            .await?;
        match decide(caller, explicit?, self.default_permission, capability) {
            Decision::Allow => Ok(()),
            Decision::Deny => {
                tracing::info!(resource.kind = %resource.kind(), resource.key = %resource.key(),
                    ?capability, "denied");
                Err(ApiError::permission_denied())
            }
        }
    }

    /// Whether `caller` may read each resource; `None` (an item naming nothing
    /// mlguard can check) is never readable. One store round trip for the list.
    pub async fn readable(
        &self,
        caller: &Principal,
        resources: Vec<Option<Resource>>,
    ) -> Result<Vec<bool>, ApiError> {
        self.permitted(caller, resources, Capability::Read).await
    }

    /// Whether `caller` may exercise `capability` on each resource; `None` never.
    /// One store round trip for the whole list; admins need none.
    pub async fn permitted(
        &self,
        caller: &Principal,
        resources: Vec<Option<Resource>>,
        capability: Capability,
    ) -> Result<Vec<bool>, ApiError> {
        self.check_each(caller, resources, capability, Ungranted::Default)
            .await
    }

    /// Whether no grant of the caller's denies reading each resource: a resource
    /// without a grant passes (its parent's check already did), an explicit denial
    /// does not.
    pub async fn not_denied_reading(
        &self,
        caller: &Principal,
        resources: Vec<Option<Resource>>,
    ) -> Result<Vec<bool>, ApiError> {
        self.check_each(caller, resources, Capability::Read, Ungranted::Allowed)
            .await
    }

    async fn check_each(
        &self,
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
        // The common case, one resource per check, is one indexed read.
        let mut explicit = self
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
                        || decide(caller, level, self.default_permission, capability)
                            == Decision::Allow
                }
            })
            .collect())
    }
}
