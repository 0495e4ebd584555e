//! The crate's own error for opening and migrating a store. Errors of the port
//! methods are [`mlguard_domain::StoreError`].

/// Why a store could not be opened or migrated.
///
/// Messages are meant for the operator (logs, a failed start). They never contain
/// the password of a database URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The URL names no supported backend. Only its scheme is shown.
    #[error(
        "unsupported database URL (scheme {scheme:?}): expected sqlite://PATH, sqlite:PATH, \
         sqlite::memory:, postgres://... or postgresql://..."
    )]
    UnsupportedUrl { scheme: String },
    /// The URL has a supported scheme but is unusable (for example an empty path).
    #[error("invalid database URL {url}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// The pool options are unusable.
    #[error("invalid pool options: {0}")]
    InvalidOptions(String),
    /// The first connection could not be established.
    #[error("could not connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    /// The pool could not be filled.
    #[error("could not open a connection pool to {url}: {reason}")]
    Pool { url: String, reason: String },
    /// Applying the embedded migrations failed.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// The authorization view could not be loaded or followed.
    #[error("authorization change feed: {0}")]
    Feed(String),
}
