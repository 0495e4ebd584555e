//! The authentication layer: HTTP Basic (with the verified-credential cache and
//! login throttling) and bearer tokens. Every failure answers the same 401, so a
//! caller cannot tell an unknown user from a wrong password or a revoked token.

mod cache;
mod throttle;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mlguard_domain::{CredentialCheck, Password, Principal, TokenCodec, Username};
use mlguard_http::{ApiError, BasicCredentials, Credentials, ErrorCode, parse_authorization};
use tokio::sync::Semaphore;

use crate::state::AppState;
pub use cache::{CredentialCache, Fingerprint};
pub use throttle::ThrottleSettings;

use throttle::Throttle;

/// How authentication is tuned.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Verified credentials remembered at once; 0 turns the cache off.
    pub cache_entries: usize,
    /// How long a verified credential is remembered without a new argon2 check.
    pub cache_ttl: Duration,
    /// argon2 checks running at once (each takes ~19 MiB).
    pub max_concurrent_hashes: usize,
    pub throttle: ThrottleSettings,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            cache_entries: 10_000,
            cache_ttl: Duration::from_secs(900),
            max_concurrent_hashes: 4,
            throttle: ThrottleSettings::default(),
        }
    }
}

/// Bearer-token issuing: the codec and the lifetime of new tokens.
#[derive(Clone)]
pub(crate) struct TokenIssuer {
    pub codec: Arc<dyn TokenCodec>,
    pub lifetime: Duration,
}

pub(crate) struct AuthServices {
    cache: CredentialCache,
    throttle: Arc<Throttle>,
    /// Held by the blocking check itself, so the bound survives a caller that goes
    /// away while its hash runs.
    hashing: Arc<Semaphore>,
    /// One first check at a time per set of credentials: a browser or a client
    /// opening many connections at once with the same password waits for one
    /// argon2 check, not one each.
    first_checks: FirstChecks,
    /// Password checks run so far (argon2 or an imported MLflow hash).
    pub(crate) checks_run: std::sync::atomic::AtomicU64,
    pub(crate) tokens: Option<TokenIssuer>,
}

impl std::fmt::Debug for AuthServices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthServices")
            .field("cache", &self.cache)
            .field("tokens", &self.tokens.is_some())
            .finish_non_exhaustive()
    }
}

/// Per-fingerprint turns for the slow path. An entry lives while someone holds or
/// awaits its turn; dead ones are swept once there are many.
#[derive(Default)]
struct FirstChecks {
    turns: std::sync::Mutex<std::collections::HashMap<Fingerprint, Weak<tokio::sync::Mutex<()>>>>,
}

impl FirstChecks {
    const SWEEP_ABOVE: usize = 1024;

    async fn turn(&self, fingerprint: Fingerprint) -> tokio::sync::OwnedMutexGuard<()> {
        let turn = {
            let mut turns = self
                .turns
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match turns.get(&fingerprint).and_then(Weak::upgrade) {
                Some(turn) => turn,
                None => {
                    if turns.len() >= Self::SWEEP_ABOVE {
                        turns.retain(|_, turn| turn.strong_count() > 0);
                    }
                    let turn = Arc::new(tokio::sync::Mutex::new(()));
                    turns.insert(fingerprint, Arc::downgrade(&turn));
                    turn
                }
            }
        };
        turn.lock_owned().await
    }
}

impl AuthServices {
    pub(crate) fn new(settings: &AuthSettings, tokens: Option<TokenIssuer>) -> Self {
        Self {
            cache: CredentialCache::new(settings.cache_entries, settings.cache_ttl),
            throttle: Arc::new(Throttle::new(settings.throttle.clone())),
            hashing: Arc::new(Semaphore::new(settings.max_concurrent_hashes.max(1))),
            first_checks: FirstChecks::default(),
            checks_run: std::sync::atomic::AtomicU64::new(0),
            tokens,
        }
    }
}

fn too_many_attempts(retry_after: Duration) -> Response {
    let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::RequestLimitExceeded,
        "Too many failed login attempts. Try again later.",
    )
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// How the caller proved who they are, for handlers whose power depends on it: a
/// token must not do what only the password may (change it, outlive itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proof {
    Password,
    /// A bearer token (mlguard's or the identity provider's), valid until
    /// `expires_at` (seconds since the epoch).
    Token {
        expires_at: i64,
    },
    /// The session cookie of a browser login, valid until `expires_at` (seconds).
    Session {
        session_id: i64,
        expires_at: i64,
    },
}

/// Checks `password` as `username`'s current one, as a login would: throttled (the
/// attempt is reserved before the hash runs), bounded in concurrency, and counted as
/// a failure when wrong. Answers 403 when it is not the current password.
pub(crate) async fn prove_password(
    state: &AppState,
    username: &str,
    password: &str,
    address: Option<IpAddr>,
) -> Result<(), ApiError> {
    let auth = Arc::clone(&state.auth);
    let wrong = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::PermissionDenied,
            "The current password is not correct.",
        )
    };
    let password = Password::offered(password).map_err(|_| wrong())?;
    let attempt = auth
        .throttle
        .reserve(username, address)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::RequestLimitExceeded,
                "Too many failed login attempts. Try again later.",
            )
        })?;
    let permit = Arc::clone(&auth.hashing)
        .acquire_owned()
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let name = username.to_owned();
    // The attempt is settled where the hash runs, so it counts even when the
    // caller goes away before the answer.
    let check = state
        .blocking(move |store| {
            let _permit = permit;
            let check = store.verify_credentials(&name, &password)?;
            match &check {
                CredentialCheck::Valid(_) => attempt.succeeded(),
                CredentialCheck::Invalid => attempt.failed(),
            }
            Ok::<_, mlguard_domain::StoreError>(check)
        })
        .await??;
    match check {
        CredentialCheck::Valid(_) => Ok(()),
        CredentialCheck::Invalid => {
            tracing::info!(user.name = %username, "current password not proven");
            Err(wrong())
        }
    }
}

/// Authenticates every request it wraps, or answers 401 (429 when throttled).
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let outcome = match parse_authorization(request.headers()) {
        Ok(Some(Credentials::Basic(credentials))) => basic(&state, credentials, address)
            .await
            .map(|principal| (principal, Proof::Password)),
        Ok(Some(Credentials::Bearer(token))) => match &state.sso {
            Some(sso) if sso.provider.claims_issuer(&token) => {
                provider_bearer(&state, sso, &token).await
            }
            _ => bearer(&state, &token).await,
        },
        Ok(None) => match cookie_session(
            &state,
            request.method().clone(),
            request.uri().authority().map(|a| a.as_str().to_owned()),
            request.headers(),
        )
        .await
        {
            Some(outcome) => outcome,
            None => Err(without_credentials(&state, &request)),
        },
        Err(_) => Err(ApiError::unauthenticated().into_response()),
    };
    match outcome {
        Ok((principal, proof)) => {
            let user = crate::access_log::AuthenticatedAs(principal.username.clone());
            request.extensions_mut().insert(principal);
            request.extensions_mut().insert(proof);
            let mut response = next.run(request).await;
            response.extensions_mut().insert(user);
            response
        }
        Err(response) => response,
    }
}

fn unauthenticated() -> Response {
    ApiError::unauthenticated().into_response()
}

/// No credentials at all: a browser opening a page goes to the provider's login
/// when single sign-on is on; anything else gets the Basic challenge.
fn without_credentials(state: &AppState, request: &Request) -> Response {
    let page = state.sso.is_some()
        && crate::sso::is_page_navigation(
            request.method(),
            request.uri().path(),
            request.headers(),
        );
    if !page {
        return unauthenticated();
    }
    let next = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    let query = serde_urlencoded::to_string([("next", next.as_str())]).unwrap_or_default();
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, format!("/auth/login?{query}")),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response()
}

/// The session the cookie opens, if it opens one. A state change must come from
/// mlguard's own pages: the cookie rides along on requests other sites make.
async fn cookie_session(
    state: &AppState,
    method: axum::http::Method,
    authority: Option<String>,
    headers: &axum::http::HeaderMap,
) -> Option<Result<(Principal, Proof), Response>> {
    let found = match crate::sso::session(state, headers).await {
        Ok(found) => found?,
        Err(error) => return Some(Err(error.into_response())),
    };
    let safe = matches!(
        method,
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    if !safe
        && !state
            .origins
            .comes_from_own_pages(headers, authority.as_deref())
    {
        tracing::info!("refused a session-cookie state change that names no own page");
        return Some(Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::PermissionDenied,
            "A change made with the session cookie must come from this server's own pages.",
        )
        .into_response()));
    }
    Some(Ok(found))
}

async fn provider_bearer(
    state: &AppState,
    sso: &crate::sso::Sso,
    token: &str,
) -> Result<(Principal, Proof), Response> {
    crate::sso::bearer(state, sso, token).await.map_err(|error| {
        match &error {
            mlguard_domain::IdentityError::Rejected(why) => {
                tracing::info!(reason = %why, "provider token refused");
            }
            mlguard_domain::IdentityError::Unavailable(why) => {
                tracing::warn!(reason = %why, "provider token not checked: provider unavailable");
            }
        }
        unauthenticated()
    })
}

async fn basic(
    state: &AppState,
    credentials: BasicCredentials,
    address: Option<IpAddr>,
) -> Result<Principal, Response> {
    let auth = Arc::clone(&state.auth);
    // A name that could never be an account's (control characters, a `:`,
    // surrounding space, too long) is refused before it costs a hash or reaches a
    // log line.
    if Username::check(&credentials.username).is_err() {
        tracing::info!("authentication failed: not a valid username");
        return Err(unauthenticated());
    }
    let password = Password::offered(&credentials.password).map_err(|_| unauthenticated())?;
    let fingerprint = auth
        .cache
        .fingerprint(&credentials.username, password.expose());

    // Fast path: verified before, and the account has not changed since.
    if let Some(principal) = cached(state, &fingerprint).await? {
        return Ok(principal);
    }
    // Whoever checks the same credentials first, the others wait for, and then
    // find them verified.
    let _turn = auth.first_checks.turn(fingerprint).await;
    if let Some(principal) = cached(state, &fingerprint).await? {
        return Ok(principal);
    }

    // Slow path: one argon2 check, throttled and bounded in concurrency. The
    // attempt is reserved before the hash (so a burst cannot outrun the limit) and
    // settled where the hash runs (so it counts even if the caller goes away).
    let username = credentials.username;
    let attempt = auth
        .throttle
        .reserve(&username, address)
        .await
        .map_err(too_many_attempts)?;
    let permit = Arc::clone(&auth.hashing)
        .acquire_owned()
        .await
        .map_err(|e| ApiError::internal(&e).into_response())?;
    let name = username.clone();
    let services = Arc::clone(&auth);
    let verified = state
        .blocking(move |store| {
            let _permit = permit;
            // The version is read before and after the check: if the password
            // changed in between, the answer is used once but not remembered.
            let id = Username::parse(&name)
                .ok()
                .and_then(|u| store.get_user(&u).ok())
                .map(|u| u.id);
            let before = match id {
                Some(id) => store.credential_state(id)?.map(|s| s.version),
                None => None,
            };
            let check = store.verify_credentials(&name, &password)?;
            services
                .checks_run
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let CredentialCheck::Valid(user) = check else {
                attempt.failed();
                return Ok(None);
            };
            attempt.succeeded();
            let after = store.credential_state(user.id)?;
            Ok::<_, mlguard_domain::StoreError>(after.map(|after| {
                let stable = before == Some(after.version);
                (after, stable)
            }))
        })
        .await
        .map_err(IntoResponse::into_response)?
        .map_err(|e| ApiError::from(e).into_response())?;
    match verified {
        Some((current, stable)) => {
            if stable {
                auth.cache
                    .insert(fingerprint, current.user.id, current.version);
            }
            Ok(current.user.into())
        }
        None => {
            tracing::info!(user.name = %username, "authentication failed");
            Err(unauthenticated())
        }
    }
}

/// The principal a verified fingerprint stands for, if its account is unchanged.
async fn cached(
    state: &AppState,
    fingerprint: &Fingerprint,
) -> Result<Option<Principal>, Response> {
    let auth = &state.auth;
    let Some((user_id, version)) = auth.cache.get(fingerprint) else {
        return Ok(None);
    };
    let current = state
        .credential_state(user_id)
        .await
        .map_err(IntoResponse::into_response)?;
    match current {
        Some(current) if current.version == version => Ok(Some(current.user.into())),
        _ => {
            auth.cache.remove(fingerprint);
            Ok(None)
        }
    }
}

async fn bearer(state: &AppState, token: &str) -> Result<(Principal, Proof), Response> {
    let Some(tokens) = &state.auth.tokens else {
        return Err(unauthenticated());
    };
    let claims = tokens.codec.verify(token).map_err(|error| {
        if let mlguard_domain::TokenError::Unavailable(cause) = &error {
            tracing::error!(error.cause = %cause, "token keys unavailable");
        }
        unauthenticated()
    })?;
    let (current, revoked) = state
        .token_standing(claims.user_id, &claims.token_id)
        .await
        .map_err(IntoResponse::into_response)?;
    match current {
        Some(current) if current.version == claims.version && !revoked => Ok((
            current.user.into(),
            Proof::Token {
                expires_at: claims.expires_at,
            },
        )),
        _ => Err(unauthenticated()),
    }
}
