//! Password hashes written by werkzeug's `generate_password_hash`, the format of
//! MLflow's basic-auth database: `pbkdf2:sha256:<iterations>$<salt>$<hex>` and
//! `scrypt:<n>:<r>:<p>$<salt>$<hex>`. mlguard only verifies them, so that imported
//! accounts keep their passwords until their first login replaces the hash by argon2id.

use std::fmt;

use subtle::ConstantTimeEq;

/// Bounds the work one stored hash can demand. werkzeug's defaults (1,000,000
/// pbkdf2 iterations, scrypt n = 32768, r = 8, p = 1) are well inside them.
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
/// 128 · n · r bytes of scrypt memory: at most 256 MiB.
const MAX_SCRYPT_N_TIMES_R: u64 = 1 << 21;
const MAX_SCRYPT_P: u32 = 16;
/// werkzeug uses the default output length of each function.
const PBKDF2_SHA256_LEN: usize = 32;
const SCRYPT_LEN: usize = 64;

/// Why a stored string is not a werkzeug hash mlguard can verify. The messages name
/// the method at most, never the salt or the digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum UnsupportedHash {
    #[error("not a werkzeug password hash (expected METHOD$SALT$HEX)")]
    NotWerkzeug,
    #[error(
        "unsupported password hash method {0}: only pbkdf2:sha256:<iterations> and \
         scrypt:<n>:<r>:<p> are supported"
    )]
    Method(String),
    #[error("password hash method {method} has unusable parameters: {reason}")]
    Parameters {
        method: String,
        reason: &'static str,
    },
    #[error("password hash method {0} has a malformed digest")]
    Digest(String),
}

/// A parsed werkzeug hash, ready to check a password against.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct WerkzeugHash {
    kdf: Kdf,
    /// werkzeug feeds the salt's characters, not a decoding of them, to the KDF.
    salt: String,
    digest: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kdf {
    Pbkdf2Sha256 { iterations: u32 },
    Scrypt { log_n: u8, r: u32, p: u32 },
}

impl fmt::Debug for WerkzeugHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Salt and digest are what an offline attack needs.
        f.debug_struct("WerkzeugHash")
            .field("kdf", &self.kdf)
            .finish_non_exhaustive()
    }
}

impl WerkzeugHash {
    /// Reads a stored hash. Refuses what werkzeug itself would not verify (another
    /// digest length, upper-case hex) and parameters beyond the work bounds.
    pub(crate) fn parse(stored: &str) -> Result<Self, UnsupportedHash> {
        let mut parts = stored.splitn(3, '$');
        let (Some(method), Some(salt), Some(hex)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(UnsupportedHash::NotWerkzeug);
        };
        if method.is_empty() || salt.is_empty() {
            return Err(UnsupportedHash::NotWerkzeug);
        }
        let shown = shown_method(method);
        let kdf = parse_method(method, &shown)?;
        let expected_len = match kdf {
            Kdf::Pbkdf2Sha256 { .. } => PBKDF2_SHA256_LEN,
            Kdf::Scrypt { .. } => SCRYPT_LEN,
        };
        let digest = decode_lower_hex(hex)
            .filter(|d| d.len() == expected_len)
            .ok_or(UnsupportedHash::Digest(shown))?;
        Ok(WerkzeugHash {
            kdf,
            salt: salt.to_owned(),
            digest,
        })
    }

    /// Whether `password` derives the stored digest; compared in constant time.
    pub(crate) fn verify(&self, password: &[u8]) -> bool {
        let mut derived = vec![0_u8; self.digest.len()];
        let salt = self.salt.as_bytes();
        match self.kdf {
            Kdf::Pbkdf2Sha256 { iterations } => {
                pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, iterations, &mut derived);
            }
            Kdf::Scrypt { log_n, r, p } => {
                // Both were checked by `parse`; failing here would be a bug, and a
                // bug must not let a password through.
                let Ok(params) = scrypt::Params::new(log_n, r, p, derived.len()) else {
                    return false;
                };
                if scrypt::scrypt(password, salt, &params, &mut derived).is_err() {
                    return false;
                }
            }
        }
        derived.ct_eq(&self.digest).into()
    }
}

fn parse_method(method: &str, shown: &str) -> Result<Kdf, UnsupportedHash> {
    let fields: Vec<&str> = method.split(':').collect();
    let bad = |reason| UnsupportedHash::Parameters {
        method: shown.to_owned(),
        reason,
    };
    match fields.as_slice() {
        ["pbkdf2", "sha256", iterations] => {
            let iterations = parse_decimal(iterations)
                .and_then(|i| u32::try_from(i).ok())
                .filter(|i| (1..=MAX_PBKDF2_ITERATIONS).contains(i))
                .ok_or_else(|| bad("iterations must be between 1 and 10000000"))?;
            Ok(Kdf::Pbkdf2Sha256 { iterations })
        }
        ["scrypt", n, r, p] => {
            let (Some(n), Some(r), Some(p)) =
                (parse_decimal(n), parse_decimal(r), parse_decimal(p))
            else {
                return Err(bad("n, r and p must be decimal integers"));
            };
            if n < 2 || !n.is_power_of_two() {
                return Err(bad("n must be a power of two, at least 2"));
            }
            let r = u32::try_from(r).ok().filter(|r| *r >= 1);
            let p = u32::try_from(p)
                .ok()
                .filter(|p| (1..=MAX_SCRYPT_P).contains(p));
            let (Some(r), Some(p)) = (r, p) else {
                return Err(bad("r must be at least 1 and p between 1 and 16"));
            };
            if n.saturating_mul(u64::from(r)) > MAX_SCRYPT_N_TIMES_R {
                return Err(bad("n and r would need more than 256 MiB of memory"));
            }
            let log_n = u8::try_from(n.trailing_zeros()).map_err(|_| bad("n is too large"))?;
            scrypt::Params::new(log_n, r, p, SCRYPT_LEN)
                .map_err(|_| bad("refused by the scrypt implementation"))?;
            Ok(Kdf::Scrypt { log_n, r, p })
        }
        _ => Err(UnsupportedHash::Method(shown.to_owned())),
    }
}

/// `123`, not `+1`, ` 1` or `1_000`: werkzeug wrote it with `str(int)`.
fn parse_decimal(field: &str) -> Option<u64> {
    if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    field.parse().ok()
}

/// The method as a message may show it: it comes from the database, so anything
/// that does not look like a method name is withheld.
fn shown_method(method: &str) -> String {
    let plain = method.len() <= 40
        && method
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'-' | b'_'));
    if plain {
        format!("'{method}'")
    } else {
        "<unrecognised>".to_owned()
    }
}

/// Python's `bytes.hex()` output: lower-case pairs only.
fn decode_lower_hex(hex: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    if hex.is_empty() || !hex.len().is_multiple_of(2) {
        return None;
    }
    hex.as_bytes()
        .chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Generated with werkzeug 3.1.9 (the one mlflow 3.10.1 installs):
    // generate_password_hash(password, method).
    const PASSWORD: &str = "correct horse battery";
    const PBKDF2_1000: &str = "pbkdf2:sha256:1000$qM95YZkHsuzV7Y8H$1264c38fc24fed643015c1e82fcf7f9d08ec36f46a6058f142a4ff2b7311ca54";
    const PBKDF2_600000: &str = "pbkdf2:sha256:600000$dNqElxgjB6iWr0Q6$bc7bff2a54775ff23363cf97d2a110b031a4a9937f3ebe8eeadbb040e76492b9";
    /// werkzeug's default, and so what MLflow 3.10.1 writes.
    const SCRYPT_DEFAULT: &str = "scrypt:32768:8:1$cAz5Tp5lWiuZiUcg$5838cb723a522327167a9e579dbf2f0ba1f8a2b894c9de16920e0bba5c22ff5daf17ef536d884cbb6caef891f6182e9b36425a1249eaba13563b7fd71dc68f87";
    const SCRYPT_P2: &str = "scrypt:2048:4:2$W3huAAuvPI5HCmey$0ae3682f1f4ac212f8bc69d615256ff06703425d85a0716e30bc8bb0fd71aa46bdac4e364950133cae7b467c45db9b2c5379ae83952a8505b5ebb29a7fb60270";
    /// Non-ASCII password: werkzeug hashes its UTF-8 bytes.
    const UNICODE_PASSWORD: &str = "pässwörd ✓";
    const SCRYPT_UNICODE: &str = "scrypt:1024:8:1$oDLKmxwfZQHJ3MaD$7cd90ebaa06596d2014eaf56bc5f97001f181ae4cc1f2a68f56d4c90ff8b96945fbd07c0c0d7e28de55ff8ed36c7cf57973ccdaa0ee87b9acc26c585d307ec8a";

    fn verifies(stored: &str, password: &str) -> bool {
        WerkzeugHash::parse(stored)
            .unwrap_or_else(|e| panic!("{stored}: {e}"))
            .verify(password.as_bytes())
    }

    #[test]
    fn werkzeug_vectors_verify_with_the_right_password_only() {
        for stored in [PBKDF2_1000, PBKDF2_600000, SCRYPT_DEFAULT, SCRYPT_P2] {
            assert!(verifies(stored, PASSWORD), "{stored}");
            assert!(!verifies(stored, "correct horse batterY"), "{stored}");
            assert!(!verifies(stored, ""), "{stored}");
        }
        assert!(verifies(SCRYPT_UNICODE, UNICODE_PASSWORD));
        assert!(!verifies(SCRYPT_UNICODE, "passwort ✓"));
    }

    #[test]
    fn a_changed_salt_or_digest_no_longer_verifies() {
        let other_salt = PBKDF2_1000.replace("qM95YZkHsuzV7Y8H", "qM95YZkHsuzV7Y8I");
        assert!(!verifies(&other_salt, PASSWORD));
        let other_digest = SCRYPT_P2.replace("0ae3682f", "1ae3682f");
        assert!(!verifies(&other_digest, PASSWORD));
    }

    #[test]
    fn unsupported_formats_are_named_without_their_secret_parts() {
        let cases = [
            ("", UnsupportedHash::NotWerkzeug),
            (
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
                UnsupportedHash::NotWerkzeug,
            ),
            ("plaintext", UnsupportedHash::NotWerkzeug),
            (
                "pbkdf2:sha1:1000$salt$0011",
                UnsupportedHash::Method("'pbkdf2:sha1:1000'".into()),
            ),
            ("sha256$salt$00", UnsupportedHash::Method("'sha256'".into())),
            ("bcrypt$salt$00", UnsupportedHash::Method("'bcrypt'".into())),
            (
                "pbkdf2:sha256$salt$00",
                UnsupportedHash::Method("'pbkdf2:sha256'".into()),
            ),
            (
                "x y\n$salt$00",
                UnsupportedHash::Method("<unrecognised>".into()),
            ),
        ];
        for (stored, expected) in cases {
            assert_eq!(WerkzeugHash::parse(stored), Err(expected), "{stored:?}");
        }
        for stored in [
            "pbkdf2:sha256:0$salt$00",
            "pbkdf2:sha256:+5$salt$00",
            "pbkdf2:sha256:99999999$salt$00",
            "scrypt:1000:8:1$salt$00",
            "scrypt:1048576:8:1$salt$00",
            "scrypt:32768:8:0$salt$00",
            "scrypt:32768:8:17$salt$00",
        ] {
            let err = WerkzeugHash::parse(stored).expect_err(stored);
            assert!(
                matches!(err, UnsupportedHash::Parameters { .. }),
                "{stored}: {err:?}"
            );
        }
        let upper = PBKDF2_1000.replace("1264c38f", "1264C38F");
        let short = &PBKDF2_1000[..PBKDF2_1000.len() - 2];
        for stored in [upper.as_str(), short] {
            assert!(matches!(
                WerkzeugHash::parse(stored),
                Err(UnsupportedHash::Digest(_))
            ));
        }
        let message = WerkzeugHash::parse("pbkdf2:sha1:1000$mysalt$abcdef")
            .expect_err("sha1")
            .to_string();
        assert!(
            !message.contains("mysalt") && !message.contains("abcdef"),
            "{message}"
        );
        let debug = format!("{:?}", WerkzeugHash::parse(PBKDF2_1000).expect("valid"));
        assert!(
            !debug.contains("qM95") && !debug.contains("1264"),
            "{debug}"
        );
    }
}
