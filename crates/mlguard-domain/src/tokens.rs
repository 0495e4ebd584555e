//! Bearer tokens and credential freshness: the ports behind fast authentication.

use crate::ports::StoreError;
use crate::user::User;

/// An account's current credentials as the store knows them. A cached login or a
/// token is valid only while its recorded `version` equals this one: a password
/// change, an admin change, a revoke-all or a deletion moves it on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialState {
    pub user: User,
    pub version: i64,
}

/// What a bearer token says. Times are seconds since the epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    pub user_id: i64,
    pub username: String,
    /// The account's credential version when the token was issued.
    pub version: i64,
    /// Unique per token; the handle for revoking just this one.
    pub token_id: String,
    pub issued_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Bad signature, unknown key, malformed, or expired. Deliberately one case:
    /// the caller learns nothing about why.
    #[error("invalid token")]
    Invalid,
    /// Signing keys could not be loaded or used. For logs only.
    #[error("token keys unavailable: {0}")]
    Unavailable(String),
}

/// Signs and checks tokens. Checking covers signature and expiry only; whether the
/// token was revoked or its account changed is the caller's check against
/// [`CredentialState`] and [`TokenStore::is_token_revoked`].
pub trait TokenCodec: Send + Sync {
    /// MUST sign with the current key and name that key in the token.
    fn issue(&self, claims: &TokenClaims) -> Result<String, TokenError>;

    /// MUST accept tokens signed with the current key or a previous key still in
    /// its grace period, and MUST refuse expired tokens.
    fn verify(&self, token: &str) -> Result<TokenClaims, TokenError>;

    /// Like `verify`, but accepts an expired token (to revoke it, say).
    fn verify_ignoring_expiry(&self, token: &str) -> Result<TokenClaims, TokenError>;
}

/// A stored signing key.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub key_id: String,
    pub secret: Vec<u8>,
    pub created_at_ms: i64,
    /// When a newer key replaced it; verification honours it for a grace period.
    pub retired_at_ms: Option<i64>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.key_id)
            .field("created_at_ms", &self.created_at_ms)
            .field("retired_at_ms", &self.retired_at_ms)
            .finish_non_exhaustive()
    }
}

/// Token state shared by every replica.
pub trait TokenStore: Send + Sync {
    /// The account's current credentials; `None` if it no longer exists.
    fn credential_state(&self, user_id: i64) -> Result<Option<CredentialState>, StoreError>;

    /// Invalidates every token and cached login of the account.
    /// MUST return `UserNotFound` for an unknown name.
    fn revoke_all_credentials(&self, username: &crate::Username) -> Result<(), StoreError>;

    /// Records one revoked token until it would have expired anyway. Idempotent.
    fn revoke_token(&self, token_id: &str, expires_at: i64) -> Result<(), StoreError>;

    fn is_token_revoked(&self, token_id: &str) -> Result<bool, StoreError>;

    /// Signing keys, newest first.
    fn signing_keys(&self) -> Result<Vec<SigningKey>, StoreError>;

    /// Adds a key and retires every other one as of now, atomically.
    fn rotate_signing_key(&self, key: SigningKey) -> Result<(), StoreError>;
}
