//! Single sign-on through an OpenID provider: the browser login (`/auth/login`,
//! `/auth/callback`, `/auth/logout`), server-side sessions behind an opaque cookie,
//! the provider's bearer tokens, and the provider's groups as roles and admin.
//!
//! What the provider vouches for becomes an mlguard account (created at first use
//! when `provision` is on). Its groups are mapped to roles at every login and every
//! provider-token request, so leaving a group ends what it gave at the next one.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mlguard_domain::{
    ExternalIdentity, IdentityError, IdentityProvider, Password, Principal, RoleName, StoreError,
    now_ms,
};
use mlguard_http::ApiError;
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::auth::Proof;
use crate::state::AppState;

/// The session cookie: an opaque secret, nothing else. Over https it carries the
/// `__Host-` prefix, so no sibling domain can set one for mlguard.
pub(crate) const SESSION_COOKIE: &str = "mlguard_session";
/// Binds a login under way to the browser that started it (login CSRF).
const LOGIN_COOKIE: &str = "mlguard_login";
/// The longest `next` kept for a login.
const MAX_NEXT_CHARS: usize = 2048;

/// A cookie's name: `__Host-`-prefixed when `Secure`.
fn cookie_name(name: &str, secure: bool) -> String {
    if secure {
        format!("__Host-{name}")
    } else {
        name.to_owned()
    }
}
/// How long a login may take at the provider.
const LOGIN_TTL_MS: i64 = 10 * 60 * 1000;

/// How logins through the provider become mlguard accounts and sessions.
#[derive(Debug, Clone)]
pub struct OidcLogin {
    /// Members of these provider groups are admins.
    pub admin_groups: Vec<String>,
    /// Provider group to role; a group not named maps to the role of its own name.
    pub group_roles: HashMap<String, RoleName>,
    /// Create the account at its first login or provider-token request.
    pub provision: bool,
    pub session_ttl: Duration,
    /// `Secure` on the cookies (off only for plain-http development).
    pub cookie_secure: bool,
    /// Where the provider sends the browser after its logout: mlguard's root.
    pub after_logout_url: String,
}

pub(crate) struct Sso {
    pub(crate) provider: Arc<dyn IdentityProvider>,
    login: OidcLogin,
}

impl std::fmt::Debug for Sso {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sso")
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

impl Sso {
    pub(crate) fn new(provider: Arc<dyn IdentityProvider>, login: OidcLogin) -> Self {
        Self { provider, login }
    }

    /// The roles a provider's groups stand for, sorted and without repeats.
    fn roles_of(&self, groups: &[String]) -> Vec<RoleName> {
        let mut roles: Vec<RoleName> = groups
            .iter()
            .filter_map(|group| match self.login.group_roles.get(group) {
                Some(role) => Some(role.clone()),
                // A group that is no valid role name maps to nothing.
                None => RoleName::parse(group).ok(),
            })
            .collect();
        roles.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        roles.dedup();
        roles
    }

    fn is_admin_by_groups(&self, groups: &[String]) -> bool {
        groups.iter().any(|g| self.login.admin_groups.contains(g))
    }
}

fn sha256_hex(value: &str) -> String {
    Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn random_secret() -> String {
    let mut bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A cookie's value from the request, if it sent exactly one of that name.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut found = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(key, _)| *key == name)
        .map(|(_, value)| value);
    let first = found.next()?;
    // Two cookies of one name (one planted by a sibling domain) name nothing.
    found.next().is_none().then_some(first)
}

fn set_cookie(name: &str, value: &str, path: &str, max_age_secs: u64, secure: bool) -> HeaderValue {
    let name = cookie_name(name, secure);
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A plain page for the browser: what went wrong, without detail.
fn page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>mlguard sign-in</title></head>\
         <body><h1>Sign-in did not complete</h1><p>{message}</p><p><a href=\"/auth/login\">Sign in again</a></p></body></html>"
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

fn redirect(location: &str) -> Response {
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, location.to_owned()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response()
}

/// Where a login may return to: a local path only, never another site.
pub(crate) fn local_path(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && path.len() <= MAX_NEXT_CHARS
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// What a provider identity signs in as.
enum Account {
    Found(mlguard_domain::User),
    /// Provisioning is off and no account was made for the identity.
    NotProvisioned,
    /// An account of the name exists, made for someone else (locally, or for
    /// another identity): a provider name never takes it over.
    NameTaken,
}

/// The account made for a provider identity (created when allowed), its provider
/// roles synced and its admin standing by groups.
pub(crate) async fn principal_of(
    state: &AppState,
    sso: &Sso,
    identity: &ExternalIdentity,
) -> Result<(Principal, bool), IdentityError> {
    let provision = sso.login.provision;
    // Nobody knows this password: the account signs in through the provider only.
    let password = Password::new(&random_secret())
        .map_err(|e| IdentityError::Unavailable(format!("a generated password: {e}")))?;
    let store_failed = |e: StoreError| IdentityError::Unavailable(e.to_string());
    let found = identity.clone();
    let account = state
        .blocking(move |store| {
            let (issuer, subject) = (found.issuer.as_str(), found.subject.as_str());
            if let Some(user_id) = store.user_of_identity(issuer, subject)? {
                return Ok(match store.credential_state(user_id)? {
                    Some(current) => Account::Found(current.user),
                    None => Account::NotProvisioned,
                });
            }
            if !provision {
                return Ok(Account::NotProvisioned);
            }
            match store.create_user(&found.username, &password, false) {
                Ok(user) => {
                    store.link_identity(user.id, issuer, subject)?;
                    tracing::info!(user.name = %found.username, "account provisioned from the identity provider");
                    Ok(Account::Found(user))
                }
                // Taken, or made by a concurrent first request of this identity.
                Err(StoreError::UserAlreadyExists(_)) => {
                    Ok(match store.user_of_identity(issuer, subject)? {
                        Some(user_id) => match store.credential_state(user_id)? {
                            Some(current) => Account::Found(current.user),
                            None => Account::NotProvisioned,
                        },
                        None => Account::NameTaken,
                    })
                }
                Err(e) => Err(e),
            }
        })
        .await
        .map_err(|e| IdentityError::Unavailable(format!("{e:?}")))?
        .map_err(store_failed)?;
    let user = match account {
        Account::Found(user) => user,
        Account::NotProvisioned => {
            return Err(IdentityError::Rejected(
                "no account was made for this identity, and provisioning is off".to_owned(),
            ));
        }
        Account::NameTaken => {
            return Err(IdentityError::Rejected(
                "an account of that name exists and was not made for this identity".to_owned(),
            ));
        }
    };
    let (user_id, wanted) = (user.id, sso.roles_of(&identity.groups));
    let skipped = state
        .blocking(move |store| store.sync_provider_roles(user_id, &wanted))
        .await
        .map_err(|e| IdentityError::Unavailable(format!("{e:?}")))?
        .map_err(store_failed)?;
    if !skipped.is_empty() {
        let names: Vec<&str> = skipped.iter().map(RoleName::as_str).collect();
        tracing::debug!(roles = ?names, "provider groups name no role of that name");
    }
    let admin_from_provider = sso.is_admin_by_groups(&identity.groups);
    let mut principal: Principal = user.into();
    principal.is_admin |= admin_from_provider;
    Ok((principal, admin_from_provider))
}

/// A provider-issued bearer token, verified, as the account it names.
pub(crate) async fn bearer(
    state: &AppState,
    sso: &Sso,
    token: &str,
) -> Result<(Principal, Proof), IdentityError> {
    let identity = sso.provider.verify_bearer(token).await?;
    let (principal, _) = principal_of(state, sso, &identity).await?;
    Ok((
        principal,
        Proof::Token {
            expires_at: identity.expires_at,
        },
    ))
}

/// The session the request's cookie opens, if any.
pub(crate) async fn session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(Principal, Proof)>, ApiError> {
    let Some(sso) = &state.sso else {
        return Ok(None);
    };
    let name = cookie_name(SESSION_COOKIE, sso.login.cookie_secure);
    let Some(secret) = cookie(headers, &name) else {
        return Ok(None);
    };
    let hashed = sha256_hex(secret);
    let found = state
        .blocking(move |store| {
            let Some(session) = store.session_by_secret(&hashed, now_ms())? else {
                return Ok(None);
            };
            // A password change, admin change or revoke-all since the login ends it.
            Ok::<_, StoreError>(
                store
                    .credential_state(session.user_id)?
                    .filter(|current| current.version == session.credential_version)
                    .map(|current| (session, current)),
            )
        })
        .await??;
    Ok(found.map(|(session, current)| {
        let mut principal: Principal = current.user.into();
        principal.is_admin |= session.admin_from_provider;
        (
            principal,
            Proof::Session {
                session_id: session.id,
                expires_at: session.expires_at / 1000,
            },
        )
    }))
}

#[derive(Debug, Deserialize)]
pub(crate) struct LoginQuery {
    next: Option<String>,
}

/// `GET /auth/login?next=<path>`: off to the provider.
pub(crate) async fn login(
    State(state): State<AppState>,
    Query(query): Query<LoginQuery>,
) -> Response {
    let Some(sso) = state.sso.clone() else {
        return page(StatusCode::NOT_FOUND, "Single sign-on is not configured.");
    };
    let next = local_path(query.next.as_deref());
    let start = match sso.provider.begin_login(&next).await {
        Ok(start) => start,
        Err(error) => {
            tracing::warn!(error = %error, "login could not start");
            return page(
                StatusCode::BAD_GATEWAY,
                "The identity provider cannot be reached.",
            );
        }
    };
    let (hashed, pending) = (sha256_hex(&start.state), start.pending.clone());
    let now = now_ms();
    let saved = state
        .blocking(move |store| store.save_pending_login(&hashed, &pending, now + LOGIN_TTL_MS, now))
        .await;
    if let Err(error) = saved.and_then(|r| r.map_err(ApiError::from)) {
        tracing::error!(error = ?error, "login could not be kept");
        return page(StatusCode::SERVICE_UNAVAILABLE, "Try again in a moment.");
    }
    let mut response = redirect(&start.authorize_url);
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            LOGIN_COOKIE,
            &start.state,
            "/",
            (LOGIN_TTL_MS / 1000) as u64,
            sso.login.cookie_secure,
        ),
    );
    response
}

#[derive(Debug, Deserialize)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /auth/callback`: back from the provider; opens a session.
pub(crate) async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let Some(sso) = state.sso.clone() else {
        return page(StatusCode::NOT_FOUND, "Single sign-on is not configured.");
    };
    if let Some(error) = &query.error {
        // The provider's code only (`access_denied`, ...): its words are not ours.
        let code: String = error
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(64)
            .collect();
        tracing::info!(error.code = %code, "the identity provider refused the login");
        return page(
            StatusCode::UNAUTHORIZED,
            "The identity provider did not sign you in.",
        );
    }
    let (Some(code), Some(login_state)) = (query.code.as_deref(), query.state.as_deref()) else {
        tracing::info!("login callback without code or state");
        return page(StatusCode::BAD_REQUEST, "The sign-in link is incomplete.");
    };
    // The state comes back to the browser that started the login, once.
    let login_cookie = cookie_name(LOGIN_COOKIE, sso.login.cookie_secure);
    if cookie(&headers, &login_cookie) != Some(login_state) {
        tracing::info!("login callback from a browser that did not start it");
        return page(
            StatusCode::BAD_REQUEST,
            "This sign-in was started elsewhere. Sign in again.",
        );
    }
    let hashed = sha256_hex(login_state);
    let pending = match state
        .blocking(move |store| store.take_pending_login(&hashed, now_ms()))
        .await
    {
        Ok(Ok(Some(pending))) => pending,
        Ok(Ok(None)) => {
            tracing::info!("login callback with an unknown, used or expired state");
            return page(
                StatusCode::BAD_REQUEST,
                "This sign-in has expired or was used. Sign in again.",
            );
        }
        Ok(Err(error)) => {
            tracing::error!(error = %error, "pending login unreadable");
            return page(StatusCode::SERVICE_UNAVAILABLE, "Try again in a moment.");
        }
        Err(error) => {
            tracing::error!(error = ?error, "pending login unreadable");
            return page(StatusCode::SERVICE_UNAVAILABLE, "Try again in a moment.");
        }
    };
    let identity = match sso.provider.finish_login(code, &pending).await {
        Ok(identity) => identity,
        Err(IdentityError::Rejected(why)) => {
            tracing::info!(reason = %why, "login rejected");
            return page(
                StatusCode::UNAUTHORIZED,
                "The sign-in could not be verified.",
            );
        }
        Err(IdentityError::Unavailable(why)) => {
            tracing::warn!(reason = %why, "login failed: identity provider unavailable");
            return page(
                StatusCode::BAD_GATEWAY,
                "The identity provider cannot be reached.",
            );
        }
    };
    let (principal, admin_from_provider) = match principal_of(&state, &sso, &identity).await {
        Ok(found) => found,
        Err(IdentityError::Rejected(why)) => {
            tracing::info!(user.name = %identity.username, reason = %why, "login refused");
            return page(
                StatusCode::FORBIDDEN,
                "Your account may not use this server.",
            );
        }
        Err(IdentityError::Unavailable(why)) => {
            tracing::error!(reason = %why, "login failed");
            return page(StatusCode::SERVICE_UNAVAILABLE, "Try again in a moment.");
        }
    };
    let secret = random_secret();
    let (hashed, user_id) = (sha256_hex(&secret), principal.user_id);
    let ttl = sso.login.session_ttl;
    let expires_at = now_ms().saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
    let opened = state
        .blocking(move |store| {
            store.create_session(&hashed, user_id, admin_from_provider, expires_at)
        })
        .await;
    match opened.and_then(|r| r.map_err(ApiError::from)) {
        Ok(session) => {
            tracing::info!(user.name = %principal.username, session.id = session.id, "signed in");
        }
        Err(error) => {
            tracing::error!(error = ?error, "session could not be opened");
            return page(StatusCode::SERVICE_UNAVAILABLE, "Try again in a moment.");
        }
    }
    let mut response = redirect(&pending.next_path);
    let secure = sso.login.cookie_secure;
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, &secret, "/", ttl.as_secs(), secure),
    );
    headers.append(
        header::SET_COOKIE,
        set_cookie(LOGIN_COOKIE, "", "/", 0, secure),
    );
    response
}

/// `POST /auth/logout`: ends the cookie's session, here and, where the provider
/// offers it, at the provider.
pub(crate) async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let secure = state.sso.as_ref().is_none_or(|sso| sso.login.cookie_secure);
    if let Some(secret) = cookie(&headers, &cookie_name(SESSION_COOKIE, secure)) {
        let hashed = sha256_hex(secret);
        let ended = state
            .blocking(
                move |store| match store.session_by_secret(&hashed, now_ms())? {
                    Some(session) => store.delete_session(session.id).map(|_| Some(session)),
                    None => Ok(None),
                },
            )
            .await;
        match ended.and_then(|r| r.map_err(ApiError::from)) {
            Ok(Some(session)) => tracing::info!(session.id = session.id, "signed out"),
            Ok(None) => {}
            Err(error) => {
                tracing::error!(error = ?error, "session could not be ended");
                return page(StatusCode::SERVICE_UNAVAILABLE, "Try again in a moment.");
            }
        }
    }
    let after = match &state.sso {
        Some(sso) => match sso.provider.logout_url(&sso.login.after_logout_url).await {
            Ok(Some(url)) => url,
            Ok(None) => "/".to_owned(),
            Err(error) => {
                tracing::warn!(error = %error, "provider logout unavailable");
                "/".to_owned()
            }
        },
        None => "/".to_owned(),
    };
    let mut response = (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, after),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", "/", 0, secure),
    );
    response
}

/// Whether the request is a browser opening a page (not an API call): such a
/// request without a session goes to the login.
pub(crate) fn is_page_navigation(
    method: &axum::http::Method,
    path: &str,
    headers: &HeaderMap,
) -> bool {
    const API: [&str; 8] = [
        "/api/",
        "/ajax-api/",
        "/graphql",
        "/v1/",
        "/gateway/",
        "/auth/",
        "/health",
        "/version",
    ];
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    (*method == axum::http::Method::GET || *method == axum::http::Method::HEAD)
        && wants_html
        && !API
            .iter()
            .any(|prefix| path.starts_with(prefix) || path.contains(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_returns_to_local_paths_only() {
        assert_eq!(local_path(Some("/#/experiments/1")), "/#/experiments/1");
        assert_eq!(local_path(Some("/mlflow/?x=1")), "/mlflow/?x=1");
        for foreign in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "evil",
            "",
            "/a\nb",
        ] {
            assert_eq!(local_path(Some(foreign)), "/", "{foreign:?}");
        }
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn a_cookie_counts_only_when_sent_once() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; mlguard_session=s1"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("s1"));
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("mlguard_session=s2"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), None);
        assert_eq!(cookie(&headers, "missing"), None);
    }

    #[test]
    fn session_cookies_are_http_only_lax_and_secure_unless_turned_off() {
        let secure = set_cookie(SESSION_COOKIE, "v", "/", 60, true);
        assert_eq!(
            secure.to_str().unwrap(),
            "__Host-mlguard_session=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
        );
        let plain = set_cookie(SESSION_COOKIE, "v", "/", 60, false);
        assert!(!plain.to_str().unwrap().contains("Secure"));
    }

    #[test]
    fn pages_are_told_from_api_calls() {
        let mut html = HeaderMap::new();
        html.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html,application/xhtml+xml"),
        );
        let get = axum::http::Method::GET;
        assert!(is_page_navigation(&get, "/", &html));
        assert!(is_page_navigation(&get, "/#/experiments", &html));
        assert!(!is_page_navigation(
            &get,
            "/api/2.0/mlflow/experiments/search",
            &html
        ));
        assert!(!is_page_navigation(
            &get,
            "/ajax-api/2.0/mlflow/runs/get",
            &html
        ));
        assert!(!is_page_navigation(&axum::http::Method::POST, "/", &html));
        assert!(!is_page_navigation(&get, "/", &HeaderMap::new()));
    }
}
