//! Identities from an external provider (OpenID Connect): who a browser login or a
//! provider-issued bearer token names, the port that checks them, and the
//! server-side sessions a login opens. No HTTP, JWT or SQL types here.

use crate::lookup::BoxFuture;
use crate::names::Username;
use crate::ports::StoreError;
use crate::role::RoleName;

/// Who the provider vouches for: the identity itself (`iss`, `sub`), the account
/// name it asks for (from the configured claim), and the groups it reports, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    pub issuer: String,
    /// The provider's stable id of the identity (`sub`); names can change, this not.
    pub subject: String,
    pub username: Username,
    pub groups: Vec<String>,
    /// When the token that vouched expires (`exp`), seconds since the Unix epoch.
    pub expires_at: i64,
}

/// Why the provider did not vouch. Texts are for logs only: they never hold a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The token, code or answer is not acceptable: forged, expired, for another
    /// audience, a mismatched nonce, a claim missing.
    #[error("rejected: {0}")]
    Rejected(String),
    /// The provider could not be reached, or answered something unreadable.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
}

/// What a login needs kept until the provider sends the browser back: the values
/// the callback must match, and where the user was going.
#[derive(Clone, PartialEq, Eq)]
pub struct PendingLogin {
    pub nonce: String,
    /// PKCE's secret half; only its S256 challenge went to the provider.
    pub code_verifier: String,
    /// A local path (`/…`), never a URL.
    pub next_path: String,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin")
            .field("next_path", &self.next_path)
            .finish_non_exhaustive()
    }
}

/// A login started: where to send the browser, and what to keep under `state`.
#[derive(Debug, Clone)]
pub struct LoginStart {
    pub authorize_url: String,
    pub state: String,
    pub pending: PendingLogin,
}

/// An OpenID provider, as mlguard uses it.
pub trait IdentityProvider: Send + Sync {
    /// A fresh login (new `state`, `nonce` and PKCE verifier) that returns to
    /// `next_path`.
    fn begin_login<'a>(
        &'a self,
        next_path: &'a str,
    ) -> BoxFuture<'a, Result<LoginStart, IdentityError>>;

    /// Exchanges the callback's `code` and validates the ID token against what
    /// `pending` kept.
    fn finish_login<'a>(
        &'a self,
        code: &'a str,
        pending: &'a PendingLogin,
    ) -> BoxFuture<'a, Result<ExternalIdentity, IdentityError>>;

    /// Whether a bearer token says this provider issued it (read, not verified), so
    /// it is checked here rather than as one of mlguard's own tokens.
    fn claims_issuer(&self, token: &str) -> bool;

    /// Verifies a bearer token this provider issued, for mlguard's audience.
    fn verify_bearer<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<ExternalIdentity, IdentityError>>;

    /// Where to send a browser to end its session at the provider too, returning to
    /// `after_logout`; `None` when the provider offers no RP-initiated logout.
    fn logout_url<'a>(
        &'a self,
        after_logout: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, IdentityError>>;
}

/// A browser session, as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: i64,
    pub user_id: i64,
    /// The account's credential version at login: a later password change, admin
    /// change or revoke-all ends the session.
    pub credential_version: i64,
    /// The provider's groups made the user an admin when they logged in.
    pub admin_from_provider: bool,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    pub expires_at: i64,
}

/// Sessions and logins under way, kept in the store so every replica sees them.
/// Secrets and states are passed in already hashed (SHA-256, hex): the store never
/// holds what opens a session.
pub trait SessionStore: Send + Sync {
    /// Opens a session for an existing user, at their current credential version.
    fn create_session(
        &self,
        secret_sha256: &str,
        user_id: i64,
        admin_from_provider: bool,
        expires_at: i64,
    ) -> Result<Session, StoreError>;

    /// The account an identity of the provider was linked to when it was created.
    fn user_of_identity(&self, issuer: &str, subject: &str) -> Result<Option<i64>, StoreError>;

    /// Links an identity to the account made for it. MUST fail if the identity is
    /// already linked (also under a race).
    fn link_identity(&self, user_id: i64, issuer: &str, subject: &str) -> Result<(), StoreError>;

    /// The session, when it exists and `now` is before its expiry.
    fn session_by_secret(
        &self,
        secret_sha256: &str,
        now: i64,
    ) -> Result<Option<Session>, StoreError>;

    /// The user's sessions that have not expired, ordered by id.
    fn sessions_of_user(&self, user_id: i64, now: i64) -> Result<Vec<Session>, StoreError>;

    /// Ends a session; whether there was one.
    fn delete_session(&self, session_id: i64) -> Result<bool, StoreError>;

    /// Keeps a login under way. Expired ones are dropped on the way.
    fn save_pending_login(
        &self,
        state_sha256: &str,
        pending: &PendingLogin,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError>;

    /// Takes a login under way out, once: a second take, or one after expiry, finds
    /// nothing.
    fn take_pending_login(
        &self,
        state_sha256: &str,
        now: i64,
    ) -> Result<Option<PendingLogin>, StoreError>;

    /// Makes the user hold exactly `roles` (of workspace `default`) among the
    /// assignments the provider made: assigns the missing ones, unassigns the
    /// provider's that are no longer named. An assignment an admin made is never
    /// taken away, and names of roles that do not exist are skipped. Returns the
    /// names skipped.
    fn sync_provider_roles(
        &self,
        user_id: i64,
        roles: &[RoleName],
    ) -> Result<Vec<RoleName>, StoreError>;
}
