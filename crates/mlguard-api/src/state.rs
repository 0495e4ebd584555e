use std::sync::Arc;

use mlguard_domain::{
    AccessSnapshot, GrantStore, IdentityProvider, JobOwnerStore, Permission, RoleStore,
    SessionStore, TokenCodec, TokenStore, TrackingLookup, UserStore,
};
use mlguard_http::{ApiError, Grants};

/// Everything the API needs from storage, as one object.
pub trait AccessStore:
    UserStore + GrantStore + RoleStore + TokenStore + JobOwnerStore + SessionStore
{
}
impl<T: UserStore + GrantStore + RoleStore + TokenStore + JobOwnerStore + SessionStore> AccessStore
    for T
{
}

/// Shared state of the handlers: ports only, never a concrete adapter. Every
/// layer and handler clones it per request, so it is one reference count.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] shares; built once, through the `with_*` methods.
#[derive(Clone)]
pub struct Shared {
    pub(crate) store: Arc<dyn AccessStore>,
    pub(crate) default_permission: Permission,
    /// Every capability check reads these.
    pub(crate) grants: Grants,
    /// The MLflow gateway; without it, unknown paths are simply not found.
    pub(crate) gateway: Option<GatewayMount>,
    /// Authentication: the verified-credential cache, throttling, bearer tokens.
    pub(crate) auth: Arc<crate::auth::AuthServices>,
    /// The secret store; without it, the secrets endpoints answer FEATURE_DISABLED.
    pub(crate) secrets: Option<crate::secrets::SecretsBackend>,
    /// Accepted `Host` values and foreign origins; by default any `Host`, no
    /// foreign origin.
    pub(crate) origins: Arc<crate::origin::RequestOrigins>,
    /// Single sign-on through an OpenID provider; without it, `/auth/*` is not found
    /// and only passwords and mlguard's tokens authenticate.
    pub(crate) sso: Option<Arc<crate::sso::Sso>>,
    /// The in-process authorization view; without it, every check reads the store.
    pub(crate) snapshot: Option<Arc<dyn AccessSnapshot>>,
}

/// The service answering every path that is not mlguard's own.
pub(crate) type GatewayService = tower::util::BoxCloneSyncService<
    axum::extract::Request,
    axum::response::Response,
    std::convert::Infallible,
>;

/// The gateway, as this API mounts it: the service that answers every path that is
/// not mlguard's own, and MLflow's `--static-prefix` it was configured with.
#[derive(Clone)]
pub(crate) struct GatewayMount {
    pub(crate) service: GatewayService,
    pub(crate) static_prefix: Option<String>,
    /// The tracking server, for questions the native API asks it itself.
    pub(crate) lookup: Arc<dyn TrackingLookup>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("default_permission", &self.default_permission)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("default_permission", &self.default_permission)
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(store: Arc<dyn AccessStore>, default_permission: Permission) -> Self {
        Self(Arc::new(Shared {
            grants: Grants::new(store.clone(), store.clone(), default_permission),
            store,
            default_permission,
            gateway: None,
            auth: Arc::new(crate::auth::AuthServices::new(
                &crate::auth::AuthSettings::default(),
                None,
            )),
            secrets: None,
            origins: Arc::default(),
            sso: None,
            snapshot: None,
        }))
    }

    /// Changes the shared state while it is being built (before any clone is
    /// handed out, so nothing is copied).
    fn edit(self, change: impl FnOnce(&mut Shared)) -> Self {
        let mut shared = Arc::unwrap_or_clone(self.0);
        change(&mut shared);
        Self(Arc::new(shared))
    }

    /// Answers authentication's and every check's reads from `snapshot` whenever it
    /// can vouch for them. Call before [`AppState::grants`] hands the grants out.
    pub fn with_access_snapshot(self, snapshot: Arc<dyn AccessSnapshot>) -> Self {
        self.edit(|shared| {
            shared.grants = shared.grants.clone().with_snapshot(Arc::clone(&snapshot));
            shared.snapshot = Some(snapshot);
        })
    }

    /// The account's credentials now: from the snapshot, else from the store.
    pub(crate) async fn credential_state(
        &self,
        user_id: i64,
    ) -> Result<Option<mlguard_domain::CredentialState>, ApiError> {
        if let Some(known) = self
            .snapshot
            .as_ref()
            .and_then(|snapshot| snapshot.credential_state(user_id))
        {
            return Ok(known);
        }
        self.blocking(move |store| store.credential_state(user_id))
            .await?
            .map_err(ApiError::from)
    }

    /// Whether the account's credentials are unchanged and the token not revoked:
    /// from the snapshot, else in one blocking store visit.
    pub(crate) async fn token_standing(
        &self,
        user_id: i64,
        token_id: &str,
    ) -> Result<(Option<mlguard_domain::CredentialState>, bool), ApiError> {
        if let Some(snapshot) = &self.snapshot
            && let (Some(current), Some(revoked)) = (
                snapshot.credential_state(user_id),
                snapshot.is_token_revoked(token_id),
            )
        {
            return Ok((current, revoked));
        }
        let token_id = token_id.to_owned();
        self.blocking(move |store| {
            Ok::<_, mlguard_domain::StoreError>((
                store.credential_state(user_id)?,
                store.is_token_revoked(&token_id)?,
            ))
        })
        .await?
        .map_err(ApiError::from)
    }

    /// Signs browsers in through `provider` and accepts its bearer tokens.
    pub fn with_oidc(
        self,
        provider: Arc<dyn IdentityProvider>,
        login: crate::sso::OidcLogin,
    ) -> Self {
        self.edit(|shared| shared.sso = Some(Arc::new(crate::sso::Sso::new(provider, login))))
    }

    /// Answers only to the `Host` values `origins` accepts, and takes state changes
    /// from browsers only from mlguard's own origin and the ones it lists.
    pub fn with_request_origins(self, origins: crate::origin::RequestOrigins) -> Self {
        self.edit(|shared| shared.origins = Arc::new(origins))
    }

    /// Tunes authentication and enables bearer tokens signed by `codec`, issued for
    /// `token_lifetime`. Without it, defaults apply and bearer tokens are refused.
    pub fn with_auth(
        self,
        settings: &crate::auth::AuthSettings,
        codec: Option<Arc<dyn TokenCodec>>,
        token_lifetime: std::time::Duration,
    ) -> Self {
        let tokens = codec.map(|codec| crate::auth::TokenIssuer {
            codec,
            lifetime: token_lifetime,
        });
        self.edit(|shared| shared.auth = Arc::new(crate::auth::AuthServices::new(settings, tokens)))
    }

    /// Serves the secrets endpoints from `store`, sealing values with `cipher`.
    pub fn with_secrets(
        self,
        store: Arc<dyn mlguard_domain::secrets::SecretStore>,
        cipher: Arc<dyn mlguard_domain::secrets::SecretCipher>,
    ) -> Self {
        self.edit(|shared| {
            shared.secrets = Some(crate::secrets::SecretsBackend::new(store, cipher))
        })
    }

    /// Login password checks run so far (each an argon2 check or an imported
    /// MLflow hash): what a cached login saves.
    pub fn password_checks_run(&self) -> u64 {
        self.auth
            .checks_run
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The grants and default permission this API decides by, for the gateway to
    /// decide by the same.
    pub fn grants(&self) -> Grants {
        self.grants.clone()
    }

    /// MLflow's `--static-prefix`, when the gateway is configured with one.
    pub(crate) fn static_prefix(&self) -> Option<&str> {
        self.gateway
            .as_ref()
            .and_then(|g| g.static_prefix.as_deref())
    }

    /// Serves every other path by authorizing it and forwarding it to MLflow.
    /// `service` (mlguard-gateway's) answers them behind this API's authentication;
    /// `static_prefix` (normalized, `/mlflow`) also prefixes the native routes;
    /// `lookup` is the tracking server the gateway resolves ids through.
    pub fn with_gateway<G>(
        self,
        service: G,
        static_prefix: Option<&str>,
        lookup: Arc<dyn TrackingLookup>,
    ) -> Self
    where
        G: tower::Service<
                axum::extract::Request,
                Response = axum::response::Response,
                Error = std::convert::Infallible,
            > + Clone
            + Send
            + Sync
            + 'static,
        G::Future: Send + 'static,
    {
        self.edit(|shared| {
            shared.gateway = Some(GatewayMount {
                service: GatewayService::new(service),
                static_prefix: static_prefix.map(str::to_owned),
                lookup,
            });
        })
    }

    /// Runs blocking store work (diesel, argon2) off the async runtime, in the
    /// caller's tracing span.
    pub(crate) async fn blocking<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn AccessStore) -> T + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        mlguard_http::blocking(move || work(store.as_ref())).await
    }
}
