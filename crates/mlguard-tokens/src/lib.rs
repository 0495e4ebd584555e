#![doc = include_str!("../README.md")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use mlguard_domain::{SigningKey, TokenClaims, TokenCodec, TokenError, TokenStore, now_ms};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Shortest key accepted: HS256 keys under 256 bits are guessable.
pub const MIN_KEY_BYTES: usize = 32;

/// A key's id: a fingerprint of the key, never the key.
pub fn key_id(secret: &[u8]) -> String {
    let digest = Sha256::digest(secret);
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Serialize, Deserialize)]
struct WireClaims {
    sub: String,
    uid: i64,
    ver: i64,
    jti: String,
    iat: i64,
    exp: i64,
}

/// Where keys come from.
pub enum KeySource {
    /// From configuration: the current key, and optionally the one it replaced,
    /// accepted until the operator removes it.
    Configured {
        current: Vec<u8>,
        previous: Option<Vec<u8>>,
    },
    /// From the shared store; retired keys verify for `grace` after retirement.
    Stored {
        store: Arc<dyn TokenStore>,
        grace: Duration,
    },
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Configured { previous, .. } => f
                .debug_struct("Configured")
                .field("has_previous", &previous.is_some())
                .finish_non_exhaustive(),
            KeySource::Stored { grace, .. } => f
                .debug_struct("Stored")
                .field("grace", grace)
                .finish_non_exhaustive(),
        }
    }
}

struct KeySet {
    current_id: String,
    current: EncodingKey,
    /// Key id → decoding key and, for retired keys, the end of their grace (ms).
    verifying: HashMap<String, (DecodingKey, Option<i64>)>,
}

/// HS256 tokens over a [`KeySource`].
pub struct JwtCodec {
    source: KeySource,
    keys: RwLock<KeySet>,
    /// Reloads on unknown key ids are rate-limited: a forged `kid` must not turn
    /// into a database query per request.
    last_reload: Mutex<Instant>,
    /// Tokens whose signature and claims were checked, by a keyed fingerprint of
    /// their text (the cache holds no token): a client sends the same token with
    /// every request, and decoding it (two JSON documents, the HMAC) is most of
    /// what a Bearer request costs. What changes with time is checked on every use
    /// all the same: expiry, and whether the signing key still verifies.
    verified: quick_cache::sync::Cache<[u8; 32], Verified>,
    fingerprint_key: [u8; 32],
}

/// A token checked once: its claims and the key that signed it.
#[derive(Clone)]
struct Verified {
    claims: TokenClaims,
    key_id: String,
}

/// Tokens remembered as verified; a few hundred bytes each.
const VERIFIED_CAPACITY: usize = 10_000;

impl std::fmt::Debug for JwtCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtCodec")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

const RELOAD_INTERVAL: Duration = Duration::from_secs(1);

fn unavailable(message: impl Into<String>) -> TokenError {
    TokenError::Unavailable(message.into())
}

impl JwtCodec {
    /// Builds the codec. With stored keys and none stored yet, generates the first
    /// key with `new_secret` and stores it, so every replica signs with the same key.
    pub fn new(
        source: KeySource,
        new_secret: impl FnOnce() -> Vec<u8>,
    ) -> Result<Self, TokenError> {
        if let KeySource::Stored { store, .. } = &source {
            let stored = store
                .signing_keys()
                .map_err(|e| unavailable(e.to_string()))?;
            if !stored.iter().any(|k| k.retired_at_ms.is_none()) {
                let secret = new_secret();
                store
                    .rotate_signing_key(SigningKey {
                        key_id: key_id(&secret),
                        secret,
                        created_at_ms: now_ms(),
                        retired_at_ms: None,
                    })
                    .map_err(|e| unavailable(e.to_string()))?;
            }
        }
        let keys = Self::load(&source)?;
        Ok(Self {
            source,
            keys: RwLock::new(keys),
            last_reload: Mutex::new(Instant::now()),
            verified: quick_cache::sync::Cache::new(VERIFIED_CAPACITY),
            fingerprint_key: rand::random(),
        })
    }

    fn load(source: &KeySource) -> Result<KeySet, TokenError> {
        match source {
            KeySource::Configured { current, previous } => {
                for key in std::iter::once(current).chain(previous) {
                    if key.len() < MIN_KEY_BYTES {
                        return Err(unavailable(format!(
                            "a signing key must be at least {MIN_KEY_BYTES} bytes"
                        )));
                    }
                }
                let mut verifying = HashMap::new();
                for key in std::iter::once(current).chain(previous) {
                    verifying.insert(key_id(key), (DecodingKey::from_secret(key), None));
                }
                Ok(KeySet {
                    current_id: key_id(current),
                    current: EncodingKey::from_secret(current),
                    verifying,
                })
            }
            KeySource::Stored { store, grace } => {
                let stored = store
                    .signing_keys()
                    .map_err(|e| unavailable(e.to_string()))?;
                let current = stored
                    .iter()
                    .find(|k| k.retired_at_ms.is_none())
                    .ok_or_else(|| unavailable("no current signing key is stored"))?;
                let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
                let verifying = stored
                    .iter()
                    .map(|k| {
                        let until = k.retired_at_ms.map(|t| t.saturating_add(grace_ms));
                        (
                            k.key_id.clone(),
                            (DecodingKey::from_secret(&k.secret), until),
                        )
                    })
                    .collect();
                Ok(KeySet {
                    current_id: current.key_id.clone(),
                    current: EncodingKey::from_secret(&current.secret),
                    verifying,
                })
            }
        }
    }

    /// Reloads stored keys if allowed by the rate limit; configured keys never change.
    fn reload(&self) {
        if matches!(self.source, KeySource::Configured { .. }) {
            return;
        }
        {
            let mut last = self
                .last_reload
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            if last.elapsed() < RELOAD_INTERVAL {
                return;
            }
            *last = Instant::now();
        }
        match Self::load(&self.source) {
            Ok(keys) => {
                *self
                    .keys
                    .write()
                    .unwrap_or_else(|poison| poison.into_inner()) = keys;
            }
            Err(error) => tracing::warn!(%error, "could not reload signing keys"),
        }
    }

    fn fingerprint(&self, token: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.fingerprint_key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(token.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The key named `kid`, if it still verifies; stored keys are reloaded once
    /// when this process has not seen it (another replica rotated).
    fn verifying_key(&self, kid: &str) -> Result<DecodingKey, TokenError> {
        let known = |codec: &Self| {
            codec
                .keys
                .read()
                .unwrap_or_else(|poison| poison.into_inner())
                .verifying
                .get(kid)
                .cloned()
        };
        let (key, until) = match known(self) {
            Some(found) => found,
            None => {
                self.reload();
                known(self).ok_or(TokenError::Invalid)?
            }
        };
        if until.is_some_and(|until| now_ms() > until) {
            return Err(TokenError::Invalid);
        }
        Ok(key)
    }

    fn decode(&self, token: &str, check_expiry: bool) -> Result<TokenClaims, TokenError> {
        let fingerprint = self.fingerprint(token);
        if let Some(verified) = self.verified.get(&fingerprint) {
            self.verifying_key(&verified.key_id)?;
            // jsonwebtoken's rule with no leeway: expired once `exp` is past.
            if check_expiry && verified.claims.expires_at < now_ms() / 1000 {
                return Err(TokenError::Invalid);
            }
            return Ok(verified.claims);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::Invalid);
        }
        let kid = header.kid.ok_or(TokenError::Invalid)?;
        let key = self.verifying_key(&kid)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_exp = check_expiry;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<WireClaims>(token, &key, &validation)
            .map_err(|_| TokenError::Invalid)?;
        let c = data.claims;
        let claims = TokenClaims {
            user_id: c.uid,
            username: c.sub,
            version: c.ver,
            token_id: c.jti,
            issued_at: c.iat,
            expires_at: c.exp,
        };
        self.verified.insert(
            fingerprint,
            Verified {
                claims: claims.clone(),
                key_id: kid,
            },
        );
        Ok(claims)
    }
}

impl TokenCodec for JwtCodec {
    fn issue(&self, claims: &TokenClaims) -> Result<String, TokenError> {
        let keys = self
            .keys
            .read()
            .unwrap_or_else(|poison| poison.into_inner());
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(keys.current_id.clone());
        let wire = WireClaims {
            sub: claims.username.clone(),
            uid: claims.user_id,
            ver: claims.version,
            jti: claims.token_id.clone(),
            iat: claims.issued_at,
            exp: claims.expires_at,
        };
        jsonwebtoken::encode(&header, &wire, &keys.current).map_err(|e| unavailable(e.to_string()))
    }

    fn verify(&self, token: &str) -> Result<TokenClaims, TokenError> {
        self.decode(token, true)
    }

    fn verify_ignoring_expiry(&self, token: &str) -> Result<TokenClaims, TokenError> {
        self.decode(token, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(expires_in: i64) -> TokenClaims {
        let now = now_ms() / 1000;
        TokenClaims {
            user_id: 7,
            username: "alice".to_owned(),
            version: 3,
            token_id: "t-1".to_owned(),
            issued_at: now,
            expires_at: now + expires_in,
        }
    }

    fn configured(current: &[u8], previous: Option<&[u8]>) -> JwtCodec {
        JwtCodec::new(
            KeySource::Configured {
                current: current.to_vec(),
                previous: previous.map(<[u8]>::to_vec),
            },
            Vec::new,
        )
        .expect("codec")
    }

    const OLD: &[u8] = b"an-old-signing-key-of-32-bytes!!";
    const NEW: &[u8] = b"a-new-signing-key-of-32-bytes!!!";

    #[test]
    fn round_trips_and_refuses_tampering() {
        let codec = configured(NEW, None);
        let token = codec.issue(&claims(60)).expect("issued");
        assert_eq!(codec.verify(&token).expect("valid"), claims(60));
        let mut tampered = token.clone();
        tampered.pop();
        tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(codec.verify(&tampered), Err(TokenError::Invalid));
        assert_eq!(codec.verify("not.a.token"), Err(TokenError::Invalid));
    }

    #[test]
    fn expired_tokens_are_refused_unless_asked() {
        let codec = configured(NEW, None);
        let token = codec.issue(&claims(-5)).expect("issued");
        assert_eq!(codec.verify(&token), Err(TokenError::Invalid));
        assert_eq!(
            codec
                .verify_ignoring_expiry(&token)
                .expect("signed")
                .user_id,
            7
        );
    }

    #[test]
    fn a_token_verified_before_is_still_refused_once_it_expires() {
        let codec = configured(NEW, None);
        let token = codec.issue(&claims(1)).expect("issued");
        let expires_at = claims(1).expires_at;
        assert_eq!(codec.verify(&token).expect("valid").token_id, "t-1");
        // The second check is answered from the verified tokens; so is the one
        // after expiry, which must refuse all the same.
        assert_eq!(codec.verify(&token).expect("valid").expires_at, expires_at);
        while now_ms() / 1000 <= expires_at {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(codec.verify(&token), Err(TokenError::Invalid));
        assert_eq!(
            codec
                .verify_ignoring_expiry(&token)
                .expect("signed")
                .user_id,
            7
        );
        // A token that was never valid is not remembered as verified.
        let mut tampered = codec.issue(&claims(60)).expect("issued");
        tampered.insert(tampered.len() - 2, 'x');
        for _ in 0..2 {
            assert_eq!(codec.verify(&tampered), Err(TokenError::Invalid));
        }
    }

    #[test]
    fn rotation_keeps_the_previous_key_for_verification_only() {
        let old_token = configured(OLD, None).issue(&claims(60)).expect("issued");
        let rotated = configured(NEW, Some(OLD));
        assert!(rotated.verify(&old_token).is_ok());
        let new_token = rotated.issue(&claims(60)).expect("issued");
        // New tokens are signed with the new key: the old codec cannot read them.
        assert_eq!(
            configured(OLD, None).verify(&new_token),
            Err(TokenError::Invalid)
        );
        // Once the previous key is dropped, its tokens stop working.
        assert_eq!(
            configured(NEW, None).verify(&old_token),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn short_keys_and_other_algorithms_are_refused() {
        let short = JwtCodec::new(
            KeySource::Configured {
                current: b"short".to_vec(),
                previous: None,
            },
            Vec::new,
        );
        assert!(short.is_err());
        let codec = configured(NEW, None);
        let none_alg =
            "eyJhbGciOiJub25lIiwia2lkIjoieCJ9.eyJzdWIiOiJhZG1pbiIsImV4cCI6OTk5OTk5OTk5OX0.";
        assert_eq!(codec.verify(none_alg), Err(TokenError::Invalid));
    }
}
