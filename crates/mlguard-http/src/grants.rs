//! The one place a caller's capability on a resource is checked against the grant
//! store, for the native API and the gateway alike, and the one way blocking store
//! work leaves the async runtime.

use std::sync::Arc;

use mlguard_domain::{
    AccessSnapshot, Capability, Decision, GrantKey, GrantStore, JobOwnerStore, KeyChain, OpaqueId,
    Permission, Principal, Resolution, decide, effective_permission,
};

use crate::ApiError;

/// Runs blocking work (diesel, argon2) off the async runtime, as the caller's
/// request (its log lines name it).
pub async fn blocking<T, F>(work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let request_id = crate::request_id::current();
    tokio::task::spawn_blocking(move || crate::request_id::on_this_thread(request_id, work))
        .await
        .map_err(|join_error| ApiError::internal(&join_error))
}

/// The grant store and the default permission: what every decision reads.
#[derive(Clone)]
pub struct Grants {
    store: Arc<dyn GrantStore>,
    /// Answers from memory when it can; the store otherwise.
    snapshot: Option<Arc<dyn AccessSnapshot>>,
    /// Jobs are decided by who submitted them, not by grants.
    jobs: Arc<dyn JobOwnerStore>,
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
    pub fn new(
        store: Arc<dyn GrantStore>,
        jobs: Arc<dyn JobOwnerStore>,
        default_permission: Permission,
    ) -> Self {
        Self {
            store,
            snapshot: None,
            jobs,
            default_permission,
        }
    }

    /// Resolves from `snapshot` whenever it can vouch for its answer.
    pub fn with_snapshot(mut self, snapshot: Arc<dyn AccessSnapshot>) -> Self {
        self.snapshot = Some(snapshot);
        self
    }

    /// What `user_id`'s roles resolve `keys` to: from memory when the snapshot can
    /// answer, else one store round trip.
    async fn resolve(&self, user_id: i64, keys: &[GrantKey]) -> Result<Resolution, ApiError> {
        if let Some(resolution) = self
            .snapshot
            .as_ref()
            .and_then(|snapshot| snapshot.resolve(user_id, keys))
        {
            return Ok(resolution);
        }
        let keys = keys.to_vec();
        self.blocking(move |store| store.resolve(user_id, &keys))
            .await?
            .map_err(ApiError::from)
    }

    /// Records `caller` as the submitter of `job_ids`.
    pub async fn record_job_owner(
        &self,
        caller: &Principal,
        job_ids: Vec<OpaqueId>,
    ) -> Result<(), ApiError> {
        let jobs = Arc::clone(&self.jobs);
        let user_id = caller.user_id;
        blocking(move || {
            job_ids
                .iter()
                .try_for_each(|job_id| jobs.record_job_owner(job_id, user_id))
        })
        .await?
        .map_err(ApiError::from)
    }

    /// Which of `job_ids` `caller` may read and cancel: every one for an admin, else
    /// those they submitted. Admins pass without a store read.
    pub async fn own_jobs(
        &self,
        caller: &Principal,
        job_ids: Vec<OpaqueId>,
    ) -> Result<Vec<bool>, ApiError> {
        if caller.is_admin {
            return Ok(vec![true; job_ids.len()]);
        }
        let jobs = Arc::clone(&self.jobs);
        let user_id = caller.user_id;
        blocking(move || jobs.owns_jobs(user_id, &job_ids))
            .await?
            .map_err(ApiError::from)
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

    /// Allows `caller` to exercise `capability` on the operation decided by `chain`
    /// (a `Resource` is its own key alone), or answers 403. Admins pass without a
    /// store read.
    pub async fn require(
        &self,
        caller: &Principal,
        chain: impl Into<KeyChain>,
        capability: Capability,
    ) -> Result<(), ApiError> {
        if caller.is_admin {
            return Ok(());
        }
        let (resolution, chain) = self.resolved(caller.user_id, chain.into()).await?;
        let standing = resolution.standing(0..chain.keys().len());
        match decide(caller, standing, self.default_permission, capability) {
            Decision::Allow => Ok(()),
            Decision::Deny => {
                let own = chain.own();
                tracing::info!(resource.kind = %own.resource_type, resource.key = %own.id,
                    ?capability, "denied");
                Err(ApiError::permission_denied())
            }
        }
    }

    /// The level a runtime check gives `principal` on the operation decided by
    /// `chain`: what `users/permissions/get` reports.
    pub async fn effective(
        &self,
        principal: &Principal,
        chain: impl Into<KeyChain>,
    ) -> Result<Permission, ApiError> {
        if principal.is_admin {
            return Ok(Permission::Manage);
        }
        let (resolution, chain) = self.resolved(principal.user_id, chain.into()).await?;
        let standing = resolution.standing(0..chain.keys().len());
        Ok(effective_permission(
            principal,
            standing,
            self.default_permission,
        ))
    }

    /// What the store resolves `chain` to for `user_id`: one round trip.
    async fn resolved(
        &self,
        user_id: i64,
        chain: KeyChain,
    ) -> Result<(Resolution, KeyChain), ApiError> {
        let resolution = self.resolve(user_id, chain.keys()).await?;
        Ok((resolution, chain))
    }

    /// Whether one of the roles `user_id` holds in `default` carries
    /// `(workspace, *, MANAGE)`: a workspace admin, with workspaces off.
    pub async fn is_workspace_admin(&self, user_id: i64) -> Result<bool, ApiError> {
        Ok(self.resolve(user_id, &[]).await?.workspace_admin)
    }

    /// Whether `caller` may read each resource; `None` (an item naming nothing
    /// mlguard can check) is never readable. One store round trip for the list.
    pub async fn readable<T: Into<KeyChain>>(
        &self,
        caller: &Principal,
        resources: Vec<Option<T>>,
    ) -> Result<Vec<bool>, ApiError> {
        self.permitted(caller, resources, Capability::Read).await
    }

    /// Whether `caller` may exercise `capability` on each resource; `None` never.
    /// One store round trip for the whole list; admins need none.
    pub async fn permitted<T: Into<KeyChain>>(
        &self,
        caller: &Principal,
        resources: Vec<Option<T>>,
        capability: Capability,
    ) -> Result<Vec<bool>, ApiError> {
        self.check_each(caller, resources, capability, Ungranted::Default)
            .await
    }

    /// Whether no grant of the caller's denies reading each resource: a resource
    /// without a grant passes (its parent's check already did), an explicit denial
    /// does not.
    pub async fn not_denied_reading<T: Into<KeyChain>>(
        &self,
        caller: &Principal,
        resources: Vec<Option<T>>,
    ) -> Result<Vec<bool>, ApiError> {
        self.check_each(caller, resources, Capability::Read, Ungranted::Allowed)
            .await
    }

    async fn check_each<T: Into<KeyChain>>(
        &self,
        caller: &Principal,
        resources: Vec<Option<T>>,
        capability: Capability,
        ungranted: Ungranted,
    ) -> Result<Vec<bool>, ApiError> {
        let chains: Vec<Option<KeyChain>> =
            resources.into_iter().map(|r| r.map(Into::into)).collect();
        if caller.is_admin {
            return Ok(chains.iter().map(Option::is_some).collect());
        }
        let user_id = caller.user_id;
        // Every chain's keys in one list: one query for one key, few for many.
        let keys: Vec<GrantKey> = chains
            .iter()
            .flatten()
            .flat_map(|chain| chain.keys().iter().cloned())
            .collect();
        let resolution = if keys.is_empty() {
            Resolution::default()
        } else {
            self.resolve(user_id, &keys).await?
        };
        let mut next = 0;
        Ok(chains
            .iter()
            .map(|chain| {
                let Some(chain) = chain else { return false };
                let range = next..next + chain.keys().len();
                next = range.end;
                let standing = resolution.standing(range);
                let no_row =
                    !standing.workspace_admin && standing.chain.iter().all(Option::is_none);
                (no_row && ungranted == Ungranted::Allowed)
                    || decide(caller, standing, self.default_permission, capability)
                        == Decision::Allow
            })
            .collect())
    }
}
