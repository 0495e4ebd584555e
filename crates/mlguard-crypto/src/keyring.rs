//! Key-encryption keys given in the configuration.

use std::fmt;

use aes_gcm::aes::Aes256;
use aes_gcm::aes::cipher::BlockEncrypt;
use aes_gcm::{Aes256Gcm, KeyInit};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mlguard_domain::secrets::{CryptoError, DataKey, KekId, KeyManagement, WrappedKey};
use zeroize::Zeroizing;

use crate::sealed::{self, OpenFailure};

/// Why a configured KEK was refused. Messages name the setting, never the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyConfigError {
    #[error("{setting} is not valid base64 (standard alphabet, with padding)")]
    NotBase64 { setting: String },
    #[error(
        "{setting} must decode to exactly 32 bytes, got {len}; generate one with `openssl rand -base64 32`"
    )]
    WrongLength { setting: String, len: usize },
}

/// One KEK: its id and its cipher. The raw key is not kept.
struct Kek {
    id: KekId,
    cipher: Aes256Gcm,
}

impl Kek {
    fn from_base64(setting: &str, encoded: &str) -> Result<Kek, KeyConfigError> {
        let bytes = Zeroizing::new(STANDARD.decode(encoded.trim()).map_err(|_| {
            KeyConfigError::NotBase64 {
                setting: setting.to_owned(),
            }
        })?);
        let key: Zeroizing<[u8; 32]> =
            Zeroizing::new(bytes.as_slice().try_into().map_err(|_| {
                KeyConfigError::WrongLength {
                    setting: setting.to_owned(),
                    len: bytes.len(),
                }
            })?);
        Ok(Kek {
            id: fingerprint(&key),
            cipher: Aes256Gcm::new(key.as_ref().into()),
        })
    }
}

/// A key check value: AES-256 of a fixed block under the key, first 8 bytes in
/// hex. Identifies the key without revealing it, and differs between keys.
fn fingerprint(key: &[u8; 32]) -> KekId {
    let mut block = *b"mlguard:kek-id:1";
    Aes256::new(key.into()).encrypt_block((&mut block).into());
    let hex: String = block[..8].iter().map(|b| format!("{b:02x}")).collect();
    KekId::parse(&format!("kek-{hex}")).unwrap_or_else(|_| unreachable!("hex is a valid id"))
}

/// The current KEK, which wraps every new data key, and the previous ones,
/// which only unwrap (until a rotation has moved everything off them).
pub struct LocalKeyring {
    current: Kek,
    previous: Vec<Kek>,
}

impl fmt::Debug for LocalKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKeyring")
            .field("current", &self.current.id)
            .field(
                "previous",
                &self.previous.iter().map(|k| &k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl LocalKeyring {
    /// `current` and each of `previous` are base64 of 32 bytes (`secrets.kek`,
    /// `secrets.previous_keks`). A previous key equal to the current one is ignored.
    pub fn from_base64(current: &str, previous: &[&str]) -> Result<Self, KeyConfigError> {
        let current = Kek::from_base64("secrets.kek", current)?;
        let mut older: Vec<Kek> = Vec::new();
        for (index, encoded) in previous.iter().enumerate() {
            let kek = Kek::from_base64(&format!("secrets.previous_keks[{index}]"), encoded)?;
            if kek.id != current.id && older.iter().all(|k| k.id != kek.id) {
                older.push(kek);
            }
        }
        Ok(Self {
            current,
            previous: older,
        })
    }

    /// The ids of the previous KEKs, for operators' messages.
    pub fn previous_keks(&self) -> Vec<KekId> {
        self.previous.iter().map(|k| k.id.clone()).collect()
    }

    fn find(&self, id: &KekId) -> Option<&Kek> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| &k.id == id)
    }
}

impl KeyManagement for LocalKeyring {
    fn current_kek(&self) -> KekId {
        self.current.id.clone()
    }

    fn has_kek(&self, kek: &KekId) -> bool {
        self.find(kek).is_some()
    }

    fn wrap(&self, data_key: &DataKey, context: &[u8]) -> Result<WrappedKey, CryptoError> {
        let bytes = sealed::seal(&self.current.cipher, data_key.expose(), context)
            .map_err(|_| CryptoError::Unavailable("AES-GCM refused to wrap a data key".into()))?;
        Ok(WrappedKey {
            kek_id: self.current.id.clone(),
            bytes,
        })
    }

    fn unwrap(&self, wrapped: &WrappedKey, context: &[u8]) -> Result<DataKey, CryptoError> {
        let kek = self
            .find(&wrapped.kek_id)
            .ok_or_else(|| CryptoError::UnknownKek(wrapped.kek_id.clone()))?;
        let bytes = sealed::open(&kek.cipher, &wrapped.bytes, context).map_err(|e| match e {
            OpenFailure::Malformed => CryptoError::Malformed("wrapped data key"),
            OpenFailure::NotAuthentic => CryptoError::NotAuthentic {
                what: "the wrapped data key",
                kek_id: kek.id.clone(),
            },
        })?;
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::Malformed("wrapped data key"))?;
        Ok(DataKey::from_bytes(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(byte: u8) -> String {
        STANDARD.encode([byte; 32])
    }

    #[test]
    fn ids_are_fingerprints_of_the_key() {
        let a = LocalKeyring::from_base64(&b64(1), &[]).expect("valid");
        let again = LocalKeyring::from_base64(&b64(1), &[]).expect("valid");
        let b = LocalKeyring::from_base64(&b64(2), &[]).expect("valid");
        assert_eq!(a.current_kek(), again.current_kek());
        assert_ne!(a.current_kek(), b.current_kek());
        assert!(a.current_kek().as_str().starts_with("kek-"));
        assert_eq!(a.current_kek().as_str().len(), 4 + 16);
    }

    #[test]
    fn bad_keys_are_refused_without_echoing_them() {
        let short = STANDARD.encode([9u8; 16]);
        for (bad, expected) in [
            ("not base64!", "not valid base64"),
            (short.as_str(), "exactly 32 bytes, got 16"),
            ("", "exactly 32 bytes, got 0"),
        ] {
            let err = LocalKeyring::from_base64(bad, &[]).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
            assert!(err.contains("secrets.kek"), "{err}");
            if !bad.is_empty() {
                assert!(!err.contains(bad), "{err}");
            }
        }
        let err = LocalKeyring::from_base64(&b64(1), &[&b64(2), "x"]).unwrap_err();
        assert_eq!(
            err,
            KeyConfigError::NotBase64 {
                setting: "secrets.previous_keks[1]".into()
            }
        );
    }

    #[test]
    fn debug_shows_ids_only() {
        let ring = LocalKeyring::from_base64(&b64(1), &[&b64(2), &b64(1)]).expect("valid");
        let shown = format!("{ring:?}");
        assert!(!shown.contains(&b64(1)) && !shown.contains(&b64(2)));
        assert_eq!(
            ring.previous_keks().len(),
            1,
            "the current key is not its own predecessor"
        );
    }

    #[test]
    fn previous_keys_unwrap_but_never_wrap() {
        let old = LocalKeyring::from_base64(&b64(1), &[]).expect("valid");
        let key = DataKey::from_bytes([5; 32]);
        let wrapped = old.wrap(&key, b"ctx").expect("wraps");
        assert_eq!(wrapped.kek_id, old.current_kek());

        let rotated = LocalKeyring::from_base64(&b64(2), &[&b64(1)]).expect("valid");
        assert_eq!(
            rotated.unwrap(&wrapped, b"ctx").expect("unwraps").expose(),
            &[5; 32]
        );
        assert_ne!(
            rotated.wrap(&key, b"ctx").expect("wraps").kek_id,
            old.current_kek()
        );

        let forgot = LocalKeyring::from_base64(&b64(2), &[]).expect("valid");
        assert_eq!(
            forgot.unwrap(&wrapped, b"ctx").map(|_| ()),
            Err(CryptoError::UnknownKek(old.current_kek()))
        );
        assert!(matches!(
            old.unwrap(&wrapped, b"other context"),
            Err(CryptoError::NotAuthentic { .. })
        ));
    }

    #[test]
    fn a_wrong_key_under_a_known_id_is_not_authentic() {
        let ring = LocalKeyring::from_base64(&b64(1), &[]).expect("valid");
        let other = LocalKeyring::from_base64(&b64(2), &[]).expect("valid");
        let mut wrapped = other
            .wrap(&DataKey::from_bytes([5; 32]), b"ctx")
            .expect("wraps");
        // A row that claims the wrong KEK id: the tag, not the label, decides.
        wrapped.kek_id = ring.current_kek();
        let err = ring.unwrap(&wrapped, b"ctx").map(|_| ()).unwrap_err();
        assert!(matches!(err, CryptoError::NotAuthentic { .. }), "{err}");
        assert!(err.to_string().contains("wrong key"));
    }
}
