//! Envelope encryption over any [`KeyManagement`].

use aes_gcm::{Aes256Gcm, KeyInit};
use mlguard_domain::secrets::{
    CryptoError, DataKey, KekId, KeyManagement, SealedValue, SecretCipher, SecretId, SecretValue,
    WrappedKey,
};
use rand::Rng;
use zeroize::Zeroizing;

use crate::sealed::{self, OpenFailure};

/// Seals each value under its own random data key, wrapped by `K`.
#[derive(Debug)]
pub struct Envelope<K> {
    keys: K,
}

/// The associated data binding a value to its secret.
fn value_context(secret: &SecretId) -> Vec<u8> {
    format!("mlguard:value:v1:{secret}").into_bytes()
}

/// The associated data binding a wrapped data key to its secret.
fn key_context(secret: &SecretId) -> Vec<u8> {
    format!("mlguard:data-key:v1:{secret}").into_bytes()
}

impl<K: KeyManagement> Envelope<K> {
    pub fn new(keys: K) -> Self {
        Self { keys }
    }

    pub fn keys(&self) -> &K {
        &self.keys
    }
}

impl<K: KeyManagement> SecretCipher for Envelope<K> {
    fn current_kek(&self) -> KekId {
        self.keys.current_kek()
    }

    fn has_kek(&self, kek: &KekId) -> bool {
        self.keys.has_kek(kek)
    }

    fn seal(&self, secret: &SecretId, value: &SecretValue) -> Result<SealedValue, CryptoError> {
        let mut fresh = Zeroizing::new([0u8; 32]);
        rand::rng().fill(fresh.as_mut_slice());
        let data_key = DataKey::from_bytes(*fresh);
        let cipher = Aes256Gcm::new(data_key.expose().into());
        let ciphertext =
            sealed::seal(&cipher, value.expose().as_bytes(), &value_context(secret))
                .map_err(|_| CryptoError::Unavailable("AES-GCM refused to seal a value".into()))?;
        let wrapped_key = self.keys.wrap(&data_key, &key_context(secret))?;
        Ok(SealedValue {
            ciphertext,
            wrapped_key,
        })
    }

    fn open(
        &self,
        secret: &SecretId,
        sealed_value: &SealedValue,
    ) -> Result<SecretValue, CryptoError> {
        let data_key = self
            .keys
            .unwrap(&sealed_value.wrapped_key, &key_context(secret))?;
        let cipher = Aes256Gcm::new(data_key.expose().into());
        let bytes = sealed::open(&cipher, &sealed_value.ciphertext, &value_context(secret))
            .map_err(|e| match e {
                OpenFailure::Malformed => CryptoError::Malformed("sealed value"),
                OpenFailure::NotAuthentic => CryptoError::NotAuthentic {
                    what: "the sealed value",
                    kek_id: sealed_value.wrapped_key.kek_id.clone(),
                },
            })?;
        SecretValue::from_decrypted(bytes).ok_or(CryptoError::Malformed("sealed value"))
    }

    fn rewrap(&self, secret: &SecretId, wrapped: &WrappedKey) -> Result<WrappedKey, CryptoError> {
        let context = key_context(secret);
        let data_key = self.keys.unwrap(wrapped, &context)?;
        self.keys.wrap(&data_key, &context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LocalKeyring;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    fn envelope(current: u8, previous: &[u8]) -> Envelope<LocalKeyring> {
        let previous: Vec<String> = previous.iter().map(|b| STANDARD.encode([*b; 32])).collect();
        let previous: Vec<&str> = previous.iter().map(String::as_str).collect();
        Envelope::new(
            LocalKeyring::from_base64(&STANDARD.encode([current; 32]), &previous).expect("valid"),
        )
    }

    fn id(byte: u8) -> SecretId {
        SecretId::from_random([byte; 16])
    }

    fn value(raw: &str) -> SecretValue {
        SecretValue::new(raw).expect("valid")
    }

    #[test]
    fn seal_then_open_returns_the_value_and_hides_it() {
        let cipher = envelope(1, &[]);
        let sealed = cipher
            .seal(&id(1), &value("sk-live-abcdef"))
            .expect("seals");
        assert_eq!(
            cipher.open(&id(1), &sealed).expect("opens").expose(),
            "sk-live-abcdef"
        );
        let plain = b"sk-live-abcdef";
        assert!(!sealed.ciphertext.windows(plain.len()).any(|w| w == plain));
        assert!(!format!("{sealed:?}").contains("sk-live"));
        // A fresh data key each time: the same value seals differently.
        let again = cipher
            .seal(&id(1), &value("sk-live-abcdef"))
            .expect("seals");
        assert_ne!(sealed.ciphertext, again.ciphertext);
        assert_ne!(sealed.wrapped_key.bytes, again.wrapped_key.bytes);
    }

    #[test]
    fn a_value_is_bound_to_its_secret() {
        let cipher = envelope(1, &[]);
        let sealed = cipher.seal(&id(1), &value("v")).expect("seals");
        assert!(matches!(
            cipher.open(&id(2), &sealed),
            Err(CryptoError::NotAuthentic { .. })
        ));
        // Swapping in another secret's ciphertext under this key fails too.
        let other = cipher.seal(&id(1), &value("w")).expect("seals");
        let swapped = SealedValue {
            ciphertext: other.ciphertext,
            wrapped_key: sealed.wrapped_key,
        };
        assert!(matches!(
            cipher.open(&id(1), &swapped),
            Err(CryptoError::NotAuthentic { .. })
        ));
    }

    #[test]
    fn a_wrong_kek_is_reported_not_decrypted() {
        let sealed = envelope(1, &[]).seal(&id(1), &value("v")).expect("seals");
        let err = envelope(2, &[])
            .open(&id(1), &sealed)
            .map(|_| ())
            .unwrap_err();
        assert_eq!(
            err,
            CryptoError::UnknownKek(sealed.wrapped_key.kek_id.clone())
        );
        assert!(err.to_string().contains("not configured"));
    }

    #[test]
    fn rewrap_moves_the_key_and_leaves_the_ciphertext() {
        let old = envelope(1, &[]);
        let sealed = old.seal(&id(1), &value("rotate me")).expect("seals");
        let rotated = envelope(2, &[1]);
        let rewrapped = rotated
            .rewrap(&id(1), &sealed.wrapped_key)
            .expect("rewraps");
        assert_eq!(rewrapped.kek_id, rotated.current_kek());
        let moved = SealedValue {
            ciphertext: sealed.ciphertext.clone(),
            wrapped_key: rewrapped,
        };
        // Readable with the new KEK alone once moved.
        assert_eq!(
            envelope(2, &[])
                .open(&id(1), &moved)
                .expect("opens")
                .expose(),
            "rotate me"
        );
        assert!(
            rotated.rewrap(&id(2), &sealed.wrapped_key).is_err(),
            "bound to its secret"
        );
    }
}
