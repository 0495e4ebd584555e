//! The secret store's ports: where metadata and sealed values live
//! ([`SecretStore`]), and how values are sealed ([`SecretCipher`], built on a
//! [`KeyManagement`] that holds the key-encryption keys).
//!
//! Every method blocks; async callers run them on a blocking thread. Adapters
//! translate their own errors into the errors below; no adapter type crosses.

use std::fmt;

use zeroize::Zeroizing;

use crate::names::Username;
use crate::permission::Permission;

use super::fields::{BindingKey, KekId, SecretId, SecretValue};
use super::model::{
    AdminBypass, AuditRecord, Binding, NewRoute, NewSecret, Route, SecretCursor, SecretGrant,
    SecretInfo, SecretVisibility, VisibleSecret,
};

// ---------------------------------------------------------------------------
// Sealed material

/// A data key wrapped (encrypted) by a key-encryption key. Opaque bytes whose
/// format belongs to the [`KeyManagement`] adapter that made them.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub kek_id: KekId,
    pub bytes: Vec<u8>,
}

impl fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrappedKey")
            .field("kek_id", &self.kek_id)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// A value as stored: encrypted under its own data key, with that key wrapped.
/// Opaque bytes whose format belongs to the [`SecretCipher`] adapter.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedValue {
    pub ciphertext: Vec<u8>,
    pub wrapped_key: WrappedKey,
}

impl fmt::Debug for SealedValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedValue")
            .field("ciphertext_len", &self.ciphertext.len())
            .field("wrapped_key", &self.wrapped_key)
            .finish()
    }
}

/// A 256-bit data key in the clear. Wiped from memory when dropped; never prints.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

// ---------------------------------------------------------------------------
// Crypto ports

/// Why sealing, opening or re-wrapping failed. Messages are safe to log: they
/// never contain key material or a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The data was sealed under a KEK this process does not have.
    #[error(
        "the data key is wrapped by KEK {0}, which is not configured \
         (set it as secrets.kek or list it in secrets.previous_keks)"
    )]
    UnknownKek(KekId),
    /// The AEAD tag did not verify: a wrong key under a known id, or data that
    /// was altered. Decryption never returns unauthenticated bytes.
    #[error("{what} did not authenticate under KEK {kek_id}: wrong key or altered data")]
    NotAuthentic { what: &'static str, kek_id: KekId },
    /// Stored bytes that no version of this adapter wrote.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// A key source (e.g. an external key manager) could not answer.
    #[error("key management unavailable: {0}")]
    Unavailable(String),
}

/// The key-encryption keys: wraps and unwraps data keys. This is the seam for an
/// external key manager (a cloud KMS, Vault transit): it never sees a value.
///
/// Contract:
/// - `wrap` MUST use the current KEK and record its id in the result.
/// - `unwrap` MUST return `UnknownKek` when `wrapped.kek_id` names no key it
///   has, and `NotAuthentic` when the key is known but the bytes do not verify.
///   It MUST NOT return a key it could not authenticate.
/// - `context` is bound to the wrapping (AEAD associated data): unwrapping with
///   another context MUST fail with `NotAuthentic`.
pub trait KeyManagement: Send + Sync {
    /// The KEK new data keys are wrapped with.
    fn current_kek(&self) -> KekId;

    /// Whether this source can unwrap data keys wrapped by `kek`.
    fn has_kek(&self, kek: &KekId) -> bool;

    fn wrap(&self, data_key: &DataKey, context: &[u8]) -> Result<WrappedKey, CryptoError>;

    fn unwrap(&self, wrapped: &WrappedKey, context: &[u8]) -> Result<DataKey, CryptoError>;
}

/// Envelope encryption of secret values: what the API and the rotation use.
///
/// Contract:
/// - `seal` MUST use a fresh random data key per call and wrap it under the
///   current KEK. The result is bound to `secret`: opening it as another secret
///   MUST fail with `NotAuthentic`.
/// - `open` MUST return the exact value sealed, or an error; never other bytes.
///   Its errors are those of [`KeyManagement::unwrap`], plus `NotAuthentic` or
///   `Malformed` for the ciphertext itself.
/// - `rewrap` MUST return the same data key wrapped under the current KEK,
///   without touching the ciphertext. Re-wrapping a key that is already under the
///   current KEK is allowed and harmless.
pub trait SecretCipher: Send + Sync {
    fn current_kek(&self) -> KekId;

    fn has_kek(&self, kek: &KekId) -> bool;

    fn seal(&self, secret: &SecretId, value: &SecretValue) -> Result<SealedValue, CryptoError>;

    fn open(&self, secret: &SecretId, sealed: &SealedValue) -> Result<SecretValue, CryptoError>;

    fn rewrap(&self, secret: &SecretId, wrapped: &WrappedKey) -> Result<WrappedKey, CryptoError>;
}

// ---------------------------------------------------------------------------
// Storage port

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretStoreError {
    #[error("Secret with secret_id={0} not found")]
    SecretNotFound(SecretId),
    #[error("No secret is bound to {0}")]
    BindingNotFound(BindingKey),
    #[error("A secret is already bound to {0}; unbind it first")]
    BindingAlreadyExists(BindingKey),
    #[error("User with username={0} not found")]
    UserNotFound(Username),
    #[error("Secret permission with secret_id={secret_id} and username={username} not found")]
    GrantNotFound {
        secret_id: SecretId,
        username: Username,
    },
    #[error("Secret permission (secret_id={secret_id}, username={username}) already exists.")]
    GrantAlreadyExists {
        secret_id: SecretId,
        username: Username,
    },
    /// The store could not answer. The text is for logs only: it may hold
    /// adapter details and must never reach a client. It never holds a value.
    #[error("secret store unavailable: {0}")]
    Unavailable(String),
}

/// How many data keys one KEK wraps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KekUsage {
    pub kek_id: KekId,
    pub values: u64,
}

/// Secret metadata, sealed values, bindings, routes, per-secret grants and the
/// admin-bypass audit trail. The store never sees a value in the clear and never
/// interprets a permission: the rules are the domain's.
pub trait SecretStore: Send + Sync {
    /// Creates the secret, its sealed value, its first binding and, when
    /// `creator_grant` is given, that user's grant, all or nothing.
    /// MUST return `BindingAlreadyExists` if the key is taken (nothing is created,
    /// also under a race) and `UserNotFound` if the granted user is gone.
    fn create_secret(
        &self,
        secret: &NewSecret,
        sealed: &SealedValue,
        first_binding: &BindingKey,
        creator_grant: Option<(&Username, Permission)>,
    ) -> Result<(SecretInfo, Binding), SecretStoreError>;

    /// MUST return `SecretNotFound` for an unknown id.
    fn secret_info(&self, secret: &SecretId) -> Result<SecretInfo, SecretStoreError>;

    /// Up to `limit` secrets that `visibility` allows, after `cursor`, in
    /// (created_at, id) order. The filter MUST be applied by the query itself, so
    /// a page is short only when no visible secret is left.
    fn list_secrets(
        &self,
        visibility: &SecretVisibility,
        cursor: Option<&SecretCursor>,
        limit: usize,
    ) -> Result<Vec<VisibleSecret>, SecretStoreError>;

    /// Replaces the sealed value and bumps `updated_at`.
    /// MUST return `SecretNotFound` for an unknown id.
    fn replace_value(
        &self,
        secret: &SecretId,
        sealed: &SealedValue,
    ) -> Result<SecretInfo, SecretStoreError>;

    /// MUST return `SecretNotFound` for an unknown id.
    fn sealed_value(&self, secret: &SecretId) -> Result<SealedValue, SecretStoreError>;

    /// Deletes the secret with its value, bindings, routes and grants, atomically.
    /// MUST return `SecretNotFound` for an unknown id.
    fn delete_secret(&self, secret: &SecretId) -> Result<(), SecretStoreError>;

    /// MUST return `SecretNotFound` for an unknown secret, then
    /// `BindingAlreadyExists` if the key holds a secret (also under a race).
    fn bind(
        &self,
        secret: &SecretId,
        key: &BindingKey,
        created_by: &Username,
    ) -> Result<Binding, SecretStoreError>;

    /// The binding at `key`. MUST return `BindingNotFound` if there is none.
    fn binding(&self, key: &BindingKey) -> Result<Binding, SecretStoreError>;

    /// Removes the binding at `key` only if it still holds `bound`, so a caller
    /// checked against one secret can never remove another's binding.
    /// MUST return `BindingNotFound` otherwise.
    fn unbind(&self, key: &BindingKey, bound: &SecretId) -> Result<(), SecretStoreError>;

    /// A secret's bindings, ordered by creation time then key.
    /// MUST return `SecretNotFound` for an unknown id.
    fn bindings_of(&self, secret: &SecretId) -> Result<Vec<Binding>, SecretStoreError>;

    /// Creates the route and binds its secret at (`route`, route id,
    /// `field_name`), all or nothing. MUST return `SecretNotFound` for an
    /// unknown secret.
    fn create_route_and_bind(
        &self,
        route: &NewRoute,
        field_name: &str,
    ) -> Result<(Route, Binding), SecretStoreError>;

    /// The user's explicit level on the secret, if any. One indexed lookup.
    fn secret_permission_of(
        &self,
        user_id: i64,
        secret: &SecretId,
    ) -> Result<Option<Permission>, SecretStoreError>;

    /// MUST return `SecretNotFound`, then `UserNotFound`, then
    /// `GrantAlreadyExists` (also under a race).
    fn create_secret_grant(
        &self,
        secret: &SecretId,
        username: &Username,
        permission: Permission,
    ) -> Result<SecretGrant, SecretStoreError>;

    /// MUST return `SecretNotFound`, then `UserNotFound`, then `GrantNotFound`.
    fn get_secret_grant(
        &self,
        secret: &SecretId,
        username: &Username,
    ) -> Result<SecretGrant, SecretStoreError>;

    /// MUST return `SecretNotFound`, then `UserNotFound`, then `GrantNotFound`.
    fn update_secret_grant(
        &self,
        secret: &SecretId,
        username: &Username,
        permission: Permission,
    ) -> Result<(), SecretStoreError>;

    /// MUST return `SecretNotFound`, then `UserNotFound`, then `GrantNotFound`.
    fn delete_secret_grant(
        &self,
        secret: &SecretId,
        username: &Username,
    ) -> Result<(), SecretStoreError>;

    /// Appends entries to the audit trail, stamped with the current time, all
    /// or nothing. The trail outlives the secrets it names.
    fn record_admin_bypasses(&self, entries: &[AdminBypass]) -> Result<(), SecretStoreError>;

    /// Up to `limit` audit entries, newest first, with ids below `before`, and
    /// only those naming `secret` when given.
    fn audit_trail(
        &self,
        secret: Option<&SecretId>,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, SecretStoreError>;

    /// How many stored data keys each KEK wraps.
    fn kek_usage(&self) -> Result<Vec<KekUsage>, SecretStoreError>;

    /// Up to `limit` wrapped data keys not under `kek`, ordered by secret id,
    /// after `after`.
    fn wrapped_keys_not_under(
        &self,
        kek: &KekId,
        after: Option<&SecretId>,
        limit: usize,
    ) -> Result<Vec<(SecretId, WrappedKey)>, SecretStoreError>;

    /// Replaces one wrapped data key if it is still `expected` (compare and
    /// swap in one atomic statement); `Ok(false)` if it changed meanwhile or the
    /// secret is gone. The ciphertext is never touched.
    fn replace_wrapped_key(
        &self,
        secret: &SecretId,
        expected: &WrappedKey,
        replacement: &WrappedKey,
    ) -> Result<bool, SecretStoreError>;
}
