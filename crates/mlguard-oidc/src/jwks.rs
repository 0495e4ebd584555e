//! The provider's signing keys: fetched from its JWKS, kept, and fetched again when a
//! token names a key id not seen yet (a rotation), at most once per interval so a
//! flood of forged key ids cannot turn mlguard against the provider. Kept keys are
//! fetched again after a maximum age, so a key the provider withdrew stops being
//! trusted.

use std::future::Future;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mlguard_domain::IdentityError;
use serde_json::Value;
use tokio::sync::{Mutex, RwLock};

/// Asymmetric algorithms only: never `none`, never an HMAC keyed by something public.
const ACCEPTED: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 60;

struct Key {
    id: Option<String>,
    algorithm: Option<Algorithm>,
    key: DecodingKey,
}

#[derive(Default)]
struct Cached {
    keys: Vec<Key>,
    fetched_at: Option<Instant>,
    /// The last fetch, successful or not: what the refetch interval counts from.
    attempted_at: Option<Instant>,
}

pub(crate) struct KeySet {
    cached: RwLock<Cached>,
    /// One fetch at a time; others wait for it and use its keys.
    fetching: Mutex<()>,
    refetch_interval: Duration,
    max_age: Duration,
}

fn rejected(why: &str) -> IdentityError {
    IdentityError::Rejected(why.to_owned())
}

fn parse_keys(json: Value) -> Result<Vec<Key>, IdentityError> {
    let set: JwkSet = serde_json::from_value(json)
        .map_err(|_| IdentityError::Unavailable("JWKS: not a key set".to_owned()))?;
    Ok(set
        .keys
        .iter()
        // Encryption keys never sign.
        .filter(|jwk| !matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)))
        .filter_map(|jwk| {
            Some(Key {
                id: jwk.common.key_id.clone(),
                algorithm: jwk
                    .common
                    .key_algorithm
                    .and_then(|a| a.to_string().parse::<Algorithm>().ok()),
                key: DecodingKey::from_jwk(jwk).ok()?,
            })
        })
        .collect())
}

impl KeySet {
    pub(crate) fn new(refetch_interval: Duration, max_age: Duration) -> Self {
        Self {
            cached: RwLock::new(Cached::default()),
            fetching: Mutex::new(()),
            refetch_interval,
            max_age,
        }
    }

    async fn is_stale(&self) -> bool {
        self.cached
            .read()
            .await
            .fetched_at
            .is_some_and(|at| at.elapsed() >= self.max_age)
    }

    /// The key for a token's `kid` (or the only key, when the token names none).
    async fn find(&self, kid: Option<&str>, algorithm: Algorithm) -> Option<DecodingKey> {
        let cached = self.cached.read().await;
        // Keys past their age are not trusted, even while a fetch keeps failing.
        if cached
            .fetched_at
            .is_none_or(|at| at.elapsed() >= self.max_age)
        {
            return None;
        }
        let usable: Vec<&Key> = cached
            .keys
            .iter()
            .filter(|key| key.algorithm.is_none_or(|a| a == algorithm))
            .collect();
        match kid {
            Some(kid) => usable
                .iter()
                .find(|key| key.id.as_deref() == Some(kid))
                .map(|key| key.key.clone()),
            None if usable.len() == 1 => Some(usable[0].key.clone()),
            None => None,
        }
    }

    async fn refetch<F, Fut>(&self, fetch: F) -> Result<(), IdentityError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Value, IdentityError>>,
    {
        let seen = self.cached.read().await.attempted_at;
        let _one_at_a_time = self.fetching.lock().await;
        let current = self.cached.read().await.attempted_at;
        // Someone fetched while we waited, or the last attempt is too recent.
        if current != seen || current.is_some_and(|at| at.elapsed() < self.refetch_interval) {
            return Ok(());
        }
        self.cached.write().await.attempted_at = Some(Instant::now());
        let keys = parse_keys(fetch().await?)?;
        tracing::info!(
            keys = keys.len(),
            "fetched the identity provider's signing keys"
        );
        let now = Instant::now();
        *self.cached.write().await = Cached {
            keys,
            fetched_at: Some(now),
            attempted_at: Some(now),
        };
        Ok(())
    }

    /// The claims of `token`, checked: signature by a provider key, algorithm,
    /// `iss`, one of `audiences`, `exp` and `nbf`.
    pub(crate) async fn verify<F, Fut>(
        &self,
        token: &str,
        issuer: &str,
        audiences: &[String],
        fetch: F,
    ) -> Result<Value, IdentityError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Value, IdentityError>>,
    {
        let header = jsonwebtoken::decode_header(token).map_err(|_| rejected("not a JWT"))?;
        if !ACCEPTED.contains(&header.alg) {
            return Err(rejected("a signing algorithm mlguard does not accept"));
        }
        let kid = header.kid.as_deref();
        let mut fetch = Some(fetch);
        if self.is_stale().await
            && let Some(fetch) = fetch.take()
        {
            self.refetch(fetch).await?;
        }
        let key = match (self.find(kid, header.alg).await, fetch) {
            (Some(key), _) => key,
            (None, None) => return Err(rejected("signed by a key the provider does not list")),
            (None, Some(fetch)) => {
                self.refetch(fetch).await?;
                self.find(kid, header.alg)
                    .await
                    .ok_or_else(|| rejected("signed by a key the provider does not list"))?
            }
        };
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[issuer]);
        validation.set_audience(audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|error| {
                use jsonwebtoken::errors::ErrorKind;
                let why = match error.kind() {
                    ErrorKind::ExpiredSignature => "expired",
                    ErrorKind::ImmatureSignature => "not valid yet",
                    ErrorKind::InvalidAudience => "for another audience",
                    ErrorKind::InvalidIssuer => "from another issuer",
                    ErrorKind::InvalidSignature => "a bad signature",
                    ErrorKind::MissingRequiredClaim(_) => "a required claim is missing",
                    _ => "not a valid token",
                };
                rejected(why)
            })
    }
}
