//! KEK rotation: re-wraps every data key under the current KEK. Values are
//! never decrypted or rewritten.
//!
//! Safe to interrupt: each data key is swapped in one atomic compare-and-swap,
//! so a stop leaves every row either old (still readable through the previous
//! KEK) or new, and a re-run carries on with whatever is still under another KEK.

use super::fields::SecretId;
use super::ports::{CryptoError, SecretCipher, SecretStore, SecretStoreError};

/// How far a rotation got.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// Data keys now wrapped by the current KEK because of this run.
    pub rewrapped: u64,
    /// Data keys that changed while being re-wrapped (a value update sealed
    /// them anew, or the secret was deleted); nothing left to do for them.
    pub changed_meanwhile: u64,
    /// False when `keep_going` stopped the run early.
    pub finished: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error(transparent)]
    Store(#[from] SecretStoreError),
    #[error("cannot re-wrap the data key of secret {secret_id}: {source}")]
    Crypto {
        secret_id: SecretId,
        source: CryptoError,
    },
}

/// Re-wraps, `batch_size` rows at a time, every data key not under the cipher's
/// current KEK. `keep_going` is asked after each row with the report so far;
/// returning false stops the run cleanly (`finished: false`).
///
/// Stops at the first data key it cannot unwrap (its KEK is not configured, or
/// the key is wrong): the rows before it are done, and a re-run resumes.
pub fn rotate_kek(
    store: &dyn SecretStore,
    cipher: &dyn SecretCipher,
    batch_size: usize,
    mut keep_going: impl FnMut(&RotationReport) -> bool,
) -> Result<RotationReport, RotationError> {
    let current = cipher.current_kek();
    let mut report = RotationReport::default();
    let mut after: Option<SecretId> = None;
    loop {
        let batch = store.wrapped_keys_not_under(&current, after.as_ref(), batch_size.max(1))?;
        if batch.is_empty() {
            report.finished = true;
            return Ok(report);
        }
        for (secret_id, wrapped) in batch {
            let replacement =
                cipher
                    .rewrap(&secret_id, &wrapped)
                    .map_err(|source| RotationError::Crypto {
                        secret_id: secret_id.clone(),
                        source,
                    })?;
            if store.replace_wrapped_key(&secret_id, &wrapped, &replacement)? {
                report.rewrapped += 1;
            } else {
                report.changed_meanwhile += 1;
            }
            after = Some(secret_id);
            if !keep_going(&report) {
                return Ok(report);
            }
        }
    }
}
