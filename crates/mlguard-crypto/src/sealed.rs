//! The one byte format used for values and wrapped keys alike:
//! `version (1) || nonce (12) || ciphertext || tag (16)`.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::Rng;
use zeroize::Zeroizing;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Why sealed bytes could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenFailure {
    /// Not in this format (wrong version, too short).
    Malformed,
    /// The tag did not verify: wrong key, wrong context, or altered bytes.
    NotAuthentic,
}

/// AES-GCM refused to encrypt: only possible for inputs beyond 64 GiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SealFailure;

/// Encrypts `plaintext` under `cipher` with a fresh random nonce, binding `context`.
pub(crate) fn seal(
    cipher: &Aes256Gcm,
    plaintext: &[u8],
    context: &[u8],
) -> Result<Vec<u8>, SealFailure> {
    let nonce_bytes: [u8; NONCE_LEN] = rand::rng().random();
    let ciphertext = cipher
        .encrypt(
            Nonce::from_slice(&nonce_bytes),
            Payload {
                msg: plaintext,
                aad: context,
            },
        )
        .map_err(|_| SealFailure)?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
    out.push(VERSION);
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// Decrypts bytes made by [`seal`] with the same key and context.
pub(crate) fn open(
    cipher: &Aes256Gcm,
    sealed: &[u8],
    context: &[u8],
) -> Result<Zeroizing<Vec<u8>>, OpenFailure> {
    let Some((&VERSION, rest)) = sealed.split_first() else {
        return Err(OpenFailure::Malformed);
    };
    if rest.len() < NONCE_LEN + TAG_LEN {
        return Err(OpenFailure::Malformed);
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: context,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| OpenFailure::NotAuthentic)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes_gcm::KeyInit;

    fn cipher(byte: u8) -> Aes256Gcm {
        Aes256Gcm::new(&[byte; 32].into())
    }

    #[test]
    fn round_trips_and_uses_fresh_nonces() {
        let a = seal(&cipher(1), b"hello", b"ctx").expect("seals");
        let b = seal(&cipher(1), b"hello", b"ctx").expect("seals");
        assert_ne!(a, b, "two seals of the same text must differ");
        assert_eq!(a.len(), 1 + NONCE_LEN + 5 + TAG_LEN);
        assert_eq!(
            open(&cipher(1), &a, b"ctx").expect("opens").as_slice(),
            b"hello"
        );
    }

    #[test]
    fn wrong_key_context_or_bytes_never_decrypt() {
        let sealed = seal(&cipher(1), b"hello", b"ctx").expect("seals");
        assert_eq!(
            open(&cipher(2), &sealed, b"ctx"),
            Err(OpenFailure::NotAuthentic)
        );
        assert_eq!(
            open(&cipher(1), &sealed, b"other"),
            Err(OpenFailure::NotAuthentic)
        );
        for i in 1..sealed.len() {
            let mut altered = sealed.clone();
            altered[i] ^= 0x01;
            assert_eq!(
                open(&cipher(1), &altered, b"ctx"),
                Err(OpenFailure::NotAuthentic),
                "byte {i}"
            );
        }
        let mut wrong_version = sealed.clone();
        wrong_version[0] = 2;
        assert_eq!(
            open(&cipher(1), &wrong_version, b"ctx"),
            Err(OpenFailure::Malformed)
        );
        assert_eq!(
            open(&cipher(1), &sealed[..20], b"ctx"),
            Err(OpenFailure::Malformed)
        );
        assert_eq!(open(&cipher(1), &[], b"ctx"), Err(OpenFailure::Malformed));
    }
}
