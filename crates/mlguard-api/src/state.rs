use std::sync::Arc;

use mlguard_domain::{GrantStore, Permission, UserStore};
use mlguard_extract::ApiError;

/// Everything the API needs from storage, as one object.
pub trait AccessStore: UserStore + GrantStore {}
impl<T: UserStore + GrantStore> AccessStore for T {}

/// Shared state of the handlers: ports only, never a concrete adapter.
#[derive(Clone)]
pub struct AppState {
    pub(crate) store: Arc<dyn AccessStore>,
    pub(crate) default_permission: Permission,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("default_permission", &self.default_permission)
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(store: Arc<dyn AccessStore>, default_permission: Permission) -> Self {
        Self {
            store,
            default_permission,
        }
    }

    /// Runs blocking store work (diesel, argon2) off the async runtime, in the
    /// caller's tracing span.
    pub(crate) async fn blocking<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn AccessStore) -> T + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(|| work(store.as_ref())))
            .await
            .map_err(|join_error| ApiError::internal(&join_error))
    }
}
