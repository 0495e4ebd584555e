//! Password hashing: argon2id with OWASP's parameters, PHC strings in the
//! database. No hash ever leaves this crate.

use std::sync::OnceLock;

use argon2::password_hash::{self, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use mlguard_domain::{Password, StoreError};

use crate::werkzeug::WerkzeugHash;

/// OWASP: argon2id, 19 MiB of memory, 2 iterations, 1 lane.
const MEMORY_KIB: u32 = 19_456;
const ITERATIONS: u32 = 2;
const LANES: u32 = 1;

fn hasher() -> Result<Argon2<'static>, StoreError> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, None)
        .map_err(|e| StoreError::Unavailable(format!("argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// A fresh PHC string for `password`, with a random 128-bit salt.
pub(crate) fn hash(password: &Password) -> Result<String, StoreError> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| StoreError::Unavailable(format!("password salt: {e}")))?;
    hasher()?
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| StoreError::Unavailable(format!("password hashing: {e}")))
}

/// Whether `password` matches the stored hash: a PHC string, or a werkzeug hash
/// imported from MLflow (those never start with `$`). A stored value that is not a
/// valid hash is a broken row, not a wrong password.
pub(crate) fn verify(password: &Password, stored: &str) -> Result<bool, StoreError> {
    if needs_rehash(stored) {
        let legacy = WerkzeugHash::parse(stored).map_err(|e| {
            StoreError::Unavailable(format!("stored password hash unreadable: {e}"))
        })?;
        return Ok(legacy.verify(password.expose().as_bytes()));
    }
    let parsed = PasswordHash::new(stored)
        .map_err(|e| StoreError::Unavailable(format!("stored password hash unreadable: {e}")))?;
    match hasher()?.verify_password(password.expose().as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(password_hash::Error::Password) => Ok(false),
        Err(e) => Err(StoreError::Unavailable(format!(
            "password verification: {e}"
        ))),
    }
}

/// Whether `stored` is an imported (werkzeug) hash, to be replaced by argon2id on
/// the next successful login.
pub(crate) fn needs_rehash(stored: &str) -> bool {
    !stored.starts_with('$')
}

/// Spends the same work as verifying a real account, for a login whose user does
/// not exist, so the time taken does not tell which names exist.
pub(crate) fn verify_nothing(password: &Password) {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| {
        Password::offered("mlguard: no such user")
            .ok()
            .and_then(|p| hash(&p).ok())
    });
    let outcome = match dummy {
        Some(dummy) => verify(password, dummy).map(|_| ()),
        // Unreachable in practice (hashing only fails on bad parameters); hashing
        // costs the same as verifying.
        None => hash(password).map(|_| ()),
    };
    if let Err(e) = outcome {
        tracing::warn!(error = %e, "dummy password verification failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters_and_salted() {
        let password = Password::new("correct horse battery").expect("valid");
        let first = hash(&password).expect("hash");
        let second = hash(&password).expect("hash");
        assert!(
            first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{first}"
        );
        assert_ne!(first, second, "salt must differ");
        assert_eq!(verify(&password, &first), Ok(true));
        let wrong = Password::offered("correct horse battery!").expect("valid");
        assert_eq!(verify(&wrong, &first), Ok(false));
        assert!(matches!(
            verify(&password, "not a hash"),
            Err(StoreError::Unavailable(_))
        ));
    }
}
