#![doc = include_str!("../README.md")]

mod jwks;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mlguard_domain::{
    BoxFuture, ExternalIdentity, IdentityError, IdentityProvider, LoginStart, PendingLogin,
    Username,
};
use rand::RngCore;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use jwks::KeySet;

/// Largest answer read from the provider (discovery, JWKS, token).
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// What mlguard is configured with for one provider.
#[derive(Clone)]
pub struct OidcSettings {
    /// The issuer, exactly as the provider names itself (`iss`).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// mlguard's own callback (`…/auth/callback`), registered at the provider.
    pub redirect_url: String,
    pub scopes: Vec<String>,
    /// The claim that names the account; `sub` when it is absent.
    pub username_claim: String,
    pub groups_claim: String,
    /// Audiences a provider-issued bearer token may carry; empty: none is accepted.
    pub audiences: Vec<String>,
    /// Bound on each call to the provider.
    pub timeout: Duration,
    /// Shortest time between two JWKS fetches caused by an unknown key id.
    pub jwks_refetch_interval: Duration,
    /// Longest time fetched keys are trusted before the JWKS is fetched again.
    pub jwks_max_age: Duration,
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("redirect_url", &self.redirect_url)
            .finish_non_exhaustive()
    }
}

/// The provider's endpoints, from discovery.
#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    end_session_endpoint: Option<String>,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Vec<String>,
}

/// An OpenID provider reached over HTTP(S).
pub struct OidcClient {
    settings: OidcSettings,
    http: reqwest::Client,
    discovery: OnceCell<Discovery>,
    /// When discovery last failed: retried only after the key refetch interval, so
    /// an outage does not hold every request for a timeout.
    discovery_failed_at: std::sync::Mutex<Option<std::time::Instant>>,
    keys: KeySet,
}

impl std::fmt::Debug for OidcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcClient")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn unavailable(what: &str, error: impl std::fmt::Display) -> IdentityError {
    IdentityError::Unavailable(format!("{what}: {error}"))
}

fn random_token() -> String {
    let mut bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// RFC 7636's S256 challenge of a verifier.
fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// RFC 6749 §2.3.1: client credentials are form-encoded before HTTP Basic.
fn form_encoded(value: &str) -> String {
    url_form(&[("v", value)])
        .strip_prefix("v=")
        .map(str::to_owned)
        .unwrap_or_default()
}

fn url_form(pairs: &[(&str, &str)]) -> String {
    let mut url = reqwest::Url::parse("http://form.invalid/").expect("static URL");
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_owned()
}

impl OidcClient {
    pub fn new(settings: OidcSettings) -> Result<Self, IdentityError> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            // The token endpoint's answer is the provider's own, never a redirect's.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| unavailable("HTTP client", e))?;
        let keys = KeySet::new(settings.jwks_refetch_interval, settings.jwks_max_age);
        Ok(Self {
            settings,
            http,
            discovery: OnceCell::new(),
            discovery_failed_at: std::sync::Mutex::new(None),
            keys,
        })
    }

    async fn read_json(response: reqwest::Response, what: &str) -> Result<Value, IdentityError> {
        let mut response = response;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| unavailable(what, e))? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(IdentityError::Unavailable(format!(
                    "{what}: answer too large"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|_| unavailable(what, "not JSON"))
    }

    async fn get_json(&self, url: &str, what: &str) -> Result<Value, IdentityError> {
        let response = self
            .http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| unavailable(what, e))?;
        if !response.status().is_success() {
            return Err(unavailable(what, response.status()));
        }
        Self::read_json(response, what).await
    }

    /// Discovery, fetched once it succeeds; a failure is retried at the next use.
    async fn discovery(&self) -> Result<&Discovery, IdentityError> {
        if let Some(found) = self.discovery.get() {
            return Ok(found);
        }
        let recently_failed = self
            .discovery_failed_at
            .lock()
            .ok()
            .and_then(|at| *at)
            .is_some_and(|at| at.elapsed() < self.settings.jwks_refetch_interval);
        if recently_failed {
            return Err(IdentityError::Unavailable(
                "discovery failed moments ago".to_owned(),
            ));
        }
        let found = self
            .discovery
            .get_or_try_init(|| async {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    self.settings.issuer.trim_end_matches('/')
                );
                let json = self.get_json(&url, "discovery").await?;
                let found: Discovery = serde_json::from_value(json)
                    .map_err(|_| unavailable("discovery", "missing endpoints"))?;
                // OpenID Connect Discovery §4.3: the issuer must be the one asked.
                if found.issuer != self.settings.issuer {
                    return Err(IdentityError::Unavailable(
                        "discovery: the provider names another issuer".to_owned(),
                    ));
                }
                Ok(found)
            })
            .await;
        if found.is_err()
            && let Ok(mut at) = self.discovery_failed_at.lock()
        {
            *at = Some(std::time::Instant::now());
        }
        found
    }

    /// The claims of a token signed by the provider for one of `audiences`.
    async fn verified_claims(
        &self,
        token: &str,
        audiences: &[String],
    ) -> Result<Value, IdentityError> {
        let discovery = self.discovery().await?;
        let fetch = || self.get_json(&discovery.jwks_uri, "JWKS");
        self.keys
            .verify(token, &self.settings.issuer, audiences, fetch)
            .await
    }

    fn identity(&self, claims: &Value) -> Result<ExternalIdentity, IdentityError> {
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|sub| !sub.is_empty())
            .ok_or_else(|| IdentityError::Rejected("no sub claim".to_owned()))?;
        // An address names an account only once the provider has verified it.
        if self.settings.username_claim == "email"
            && claims.get("email_verified").and_then(Value::as_bool) != Some(true)
        {
            return Err(IdentityError::Rejected(
                "the email address is not verified".to_owned(),
            ));
        }
        let name = claims
            .get(&self.settings.username_claim)
            .and_then(Value::as_str)
            .or_else(|| claims.get("sub").and_then(Value::as_str))
            .ok_or_else(|| IdentityError::Rejected("no username claim".to_owned()))?;
        let username = Username::parse(name).map_err(|_| {
            IdentityError::Rejected("the username claim is not a valid name".to_owned())
        })?;
        let groups = match claims.get(&self.settings.groups_claim) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Some(Value::String(one)) => vec![one.clone()],
            _ => Vec::new(),
        };
        let expires_at = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or_else(|| IdentityError::Rejected("no exp claim".to_owned()))?;
        Ok(ExternalIdentity {
            issuer: self.settings.issuer.clone(),
            subject: subject.to_owned(),
            username,
            groups,
            expires_at,
        })
    }

    async fn exchange_code(&self, code: &str, verifier: &str) -> Result<String, IdentityError> {
        let discovery = self.discovery().await?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.settings.redirect_url.as_str()),
            ("code_verifier", verifier),
        ];
        let methods = &discovery.token_endpoint_auth_methods_supported;
        // Basic is the default (RFC 6749); `post` only where the provider says it
        // takes nothing else.
        let basic = methods.is_empty() || methods.iter().any(|m| m == "client_secret_basic");
        if !basic {
            form.push(("client_id", self.settings.client_id.as_str()));
            form.push(("client_secret", self.settings.client_secret.as_str()));
        }
        let mut request = self
            .http
            .post(&discovery.token_endpoint)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(url_form(&form));
        if basic {
            let credentials = format!(
                "{}:{}",
                form_encoded(&self.settings.client_id),
                form_encoded(&self.settings.client_secret)
            );
            request = request.header(
                "authorization",
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(credentials)
                ),
            );
        }
        let response = request
            .send()
            .await
            .map_err(|e| unavailable("token endpoint", e))?;
        let status = response.status();
        let json = Self::read_json(response, "token endpoint").await?;
        if !status.is_success() {
            // The error code only: a description may quote what was sent.
            let code = json
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            return Err(IdentityError::Rejected(format!(
                "the token endpoint refused the code ({status}, {code})"
            )));
        }
        json.get("id_token")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| IdentityError::Unavailable("token endpoint: no id_token".to_owned()))
    }
}

/// The unverified payload of a JWT, to route it; never trusted as is.
fn peek_claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}

impl IdentityProvider for OidcClient {
    fn begin_login<'a>(
        &'a self,
        next_path: &'a str,
    ) -> BoxFuture<'a, Result<LoginStart, IdentityError>> {
        Box::pin(async move {
            let discovery = self.discovery().await?;
            let (state, nonce, verifier) = (random_token(), random_token(), random_token());
            let mut url = reqwest::Url::parse(&discovery.authorization_endpoint)
                .map_err(|_| unavailable("discovery", "authorization endpoint is no URL"))?;
            url.query_pairs_mut()
                .append_pair("response_type", "code")
                .append_pair("client_id", &self.settings.client_id)
                .append_pair("redirect_uri", &self.settings.redirect_url)
                .append_pair("scope", &self.settings.scopes.join(" "))
                .append_pair("state", &state)
                .append_pair("nonce", &nonce)
                .append_pair("code_challenge", &pkce_challenge(&verifier))
                .append_pair("code_challenge_method", "S256");
            Ok(LoginStart {
                authorize_url: url.into(),
                state,
                pending: PendingLogin {
                    nonce,
                    code_verifier: verifier,
                    next_path: next_path.to_owned(),
                },
            })
        })
    }

    fn finish_login<'a>(
        &'a self,
        code: &'a str,
        pending: &'a PendingLogin,
    ) -> BoxFuture<'a, Result<ExternalIdentity, IdentityError>> {
        Box::pin(async move {
            let id_token = self.exchange_code(code, &pending.code_verifier).await?;
            let audience = [self.settings.client_id.clone()];
            let claims = self.verified_claims(&id_token, &audience).await?;
            match claims.get("nonce").and_then(Value::as_str) {
                Some(nonce) if nonce == pending.nonce => {}
                _ => {
                    return Err(IdentityError::Rejected(
                        "the nonce does not match".to_owned(),
                    ));
                }
            }
            self.identity(&claims)
        })
    }

    fn claims_issuer(&self, token: &str) -> bool {
        peek_claims(token)
            .and_then(|claims| claims.get("iss").and_then(Value::as_str).map(str::to_owned))
            .is_some_and(|iss| iss == self.settings.issuer)
    }

    fn verify_bearer<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<ExternalIdentity, IdentityError>> {
        Box::pin(async move {
            if self.settings.audiences.is_empty() {
                return Err(IdentityError::Rejected(
                    "no audience is configured for provider tokens".to_owned(),
                ));
            }
            let claims = self
                .verified_claims(token, &self.settings.audiences)
                .await?;
            self.identity(&claims)
        })
    }

    fn logout_url<'a>(
        &'a self,
        after_logout: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, IdentityError>> {
        Box::pin(async move {
            let discovery = self.discovery().await?;
            let Some(endpoint) = &discovery.end_session_endpoint else {
                return Ok(None);
            };
            let mut url = reqwest::Url::parse(endpoint)
                .map_err(|_| unavailable("discovery", "end_session endpoint is no URL"))?;
            url.query_pairs_mut()
                .append_pair("client_id", &self.settings.client_id)
                .append_pair("post_logout_redirect_uri", after_logout);
            Ok(Some(url.into()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pkce_challenge_is_rfc_7636s() {
        // RFC 7636, appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn client_credentials_are_form_encoded_for_basic() {
        assert_eq!(form_encoded("a b+c%d:e"), "a+b%2Bc%25d%3Ae");
        assert_eq!(form_encoded("plain-id_1.x"), "plain-id_1.x");
    }

    #[test]
    fn a_token_is_routed_by_its_unverified_issuer_only() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"iss":"https://idp.example"}"#);
        let token = format!("e30.{payload}.sig");
        assert_eq!(
            peek_claims(&token).and_then(|c| c["iss"].as_str().map(str::to_owned)),
            Some("https://idp.example".to_owned())
        );
        assert!(peek_claims("not-a-jwt").is_none());
        assert!(peek_claims("a.!!!.c").is_none());
    }

    #[test]
    fn random_values_are_long_and_fresh() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
    }
}
