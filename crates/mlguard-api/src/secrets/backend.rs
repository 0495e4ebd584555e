//! The secret store and cipher as the handlers use them: off the async runtime,
//! with every permission check decided by the domain and every admin bypass
//! written to the audit trail before the operation runs.

use std::sync::Arc;

use axum::http::StatusCode;
use mlguard_domain::secrets::{
    AdminBypass, CryptoError, FieldError, SecretAccess, SecretCipher, SecretId, SecretOperation,
    SecretStore, SecretStoreError, authorize_secret,
};
use mlguard_domain::{Permission, Principal};
use mlguard_http::{ApiError, ErrorCode};

use crate::state::AppState;

#[derive(Clone)]
pub(crate) struct SecretsBackend {
    store: Arc<dyn SecretStore>,
    cipher: Arc<dyn SecretCipher>,
}

impl SecretsBackend {
    pub(crate) fn new(store: Arc<dyn SecretStore>, cipher: Arc<dyn SecretCipher>) -> Self {
        Self { store, cipher }
    }

    /// Runs blocking work (diesel, AES) off the async runtime, in the caller's span.
    pub(crate) async fn run<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn SecretStore, &dyn SecretCipher) -> T + Send + 'static,
    {
        let (store, cipher) = (Arc::clone(&self.store), Arc::clone(&self.cipher));
        mlguard_http::blocking(move || work(store.as_ref(), cipher.as_ref())).await
    }

    /// Checks `operation` on `secret` for `caller`, before anything is written.
    /// An admin bypass is recorded first; if it cannot be recorded, the operation
    /// is refused (fail closed).
    pub(crate) async fn authorize(
        &self,
        caller: &Principal,
        default: Permission,
        secret: &SecretId,
        operation: SecretOperation,
    ) -> Result<(), ApiError> {
        let (user_id, target) = (caller.user_id, secret.clone());
        let explicit = self
            .run(move |store, _| store.secret_permission_of(user_id, &target))
            .await?
            .map_err(store_error)?;
        match authorize_secret(caller, explicit, default, operation) {
            SecretAccess::Allowed => Ok(()),
            SecretAccess::Denied => Err(ApiError::permission_denied()),
            SecretAccess::AdminBypass => {
                self.record_bypasses(vec![AdminBypass {
                    actor: caller.username.clone(),
                    operation,
                    secret_id: Some(secret.clone()),
                }])
                .await
            }
        }
    }

    pub(crate) async fn record_bypasses(&self, entries: Vec<AdminBypass>) -> Result<(), ApiError> {
        if entries.is_empty() {
            return Ok(());
        }
        for entry in &entries {
            tracing::info!(
                audit = "secret_admin_bypass",
                operation = %entry.operation,
                secret.id = entry.secret_id.as_ref().map(SecretId::as_str),
                "admin bypassed a secret permission check"
            );
        }
        self.run(move |store, _| store.record_admin_bypasses(&entries))
            .await?
            .map_err(store_error)
    }
}

/// The backend, or FEATURE_DISABLED when the server runs without a secret store.
pub(crate) fn backend(state: &AppState) -> Result<&SecretsBackend, ApiError> {
    state.secrets.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            ErrorCode::FeatureDisabled,
            "The secret store is disabled on this server. An operator enables it with \
             secrets.enabled = true and a key-encryption key in secrets.kek.",
        )
    })
}

/// A store answer in MLflow's terms. One exhaustive match: a new error variant
/// must be given its status here.
pub(crate) fn store_error(error: SecretStoreError) -> ApiError {
    match &error {
        SecretStoreError::SecretNotFound(_)
        | SecretStoreError::BindingNotFound(_)
        | SecretStoreError::UserNotFound(_)
        | SecretStoreError::GrantNotFound { .. } => ApiError::not_found(error.to_string()),
        SecretStoreError::BindingAlreadyExists(_) | SecretStoreError::GrantAlreadyExists { .. } => {
            ApiError::already_exists(error.to_string())
        }
        SecretStoreError::Unavailable(_) => ApiError::unavailable(&error),
    }
}

/// Sealing failed: the cause is logged (it never holds a key or a value), the
/// caller gets a plain 500.
pub(crate) fn crypto_error(error: CryptoError) -> ApiError {
    ApiError::internal(&error)
}

pub(crate) fn field_error(error: FieldError) -> ApiError {
    ApiError::invalid_parameter(error.to_string())
}
