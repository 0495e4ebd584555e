//! Validated newtypes: the only way raw strings from a request enter the domain.

use std::fmt;

/// Why a raw string was refused. The text is safe to show to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("Username and password cannot be empty.")]
    Empty,
    #[error("Username must be at most {max} characters.", max = Username::MAX_CHARS)]
    UsernameTooLong,
    #[error(
        "Username must not contain ':' or control characters, nor start or end with whitespace."
    )]
    UsernameInvalidCharacter,
    #[error("Password must be a string longer than 12 characters.")]
    PasswordTooShort,
    #[error("Password must be at most {max} bytes.", max = Password::MAX_BYTES)]
    PasswordTooLong,
    #[error(
        "Invalid experiment id '{0}': it must be a non-negative decimal integer with no sign, spaces or leading zeros."
    )]
    ExperimentId(String),
    #[error("Invalid registered model name: it must be 1 to {max} characters with no control characters.", max = ModelName::MAX_CHARS)]
    ModelName,
    #[error("Invalid identifier: it must be 1 to {max} characters with no control characters.", max = OpaqueId::MAX_CHARS)]
    OpaqueId,
    /// `*` is a grant row's wildcard: as one resource's name it would grant them all.
    #[error("Invalid name '*': it is reserved for grants on every resource of a type.")]
    Wildcard,
}

/// Refuses the one name a grant row reads as "every resource".
fn not_wildcard(raw: &str) -> Result<(), NameError> {
    if raw == "*" {
        Err(NameError::Wildcard)
    } else {
        Ok(())
    }
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// A login name. Never empty, no `:` (HTTP Basic splits on it), no control
/// characters and no surrounding whitespace, so two names that look alike are alike.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
/// Shared, not copied: every authenticated request passes its caller's name on
/// (to the decision, the access line) several times.
pub struct Username(std::sync::Arc<str>);

impl Username {
    pub const MAX_CHARS: usize = 255;

    pub fn parse(raw: &str) -> Result<Self, NameError> {
        Self::check(raw)?;
        Ok(Self(raw.into()))
    }

    /// Whether `raw` is a valid login name, without making one.
    pub fn check(raw: &str) -> Result<(), NameError> {
        if raw.is_empty() {
            return Err(NameError::Empty);
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(NameError::UsernameTooLong);
        }
        if raw.contains(':') || has_control(raw) || raw.trim() != raw {
            return Err(NameError::UsernameInvalidCharacter);
        }
        Ok(())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A cleartext password on its way to the hasher. It never prints itself.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// MLflow 3.10.1 refuses passwords shorter than 12 characters.
    pub const MIN_CHARS: usize = 12;
    /// Bounds the hashing work one request can cause.
    pub const MAX_BYTES: usize = 1024;

    /// A new password chosen by a user: length rules apply.
    pub fn new(raw: &str) -> Result<Self, NameError> {
        if raw.is_empty() {
            return Err(NameError::Empty);
        }
        if raw.chars().count() < Self::MIN_CHARS {
            return Err(NameError::PasswordTooShort);
        }
        if raw.len() > Self::MAX_BYTES {
            return Err(NameError::PasswordTooLong);
        }
        Ok(Self(raw.to_owned()))
    }

    /// A password offered at login: only checked, never stored, so no length rule
    /// beyond the work bound (an old account may have a shorter one).
    pub fn offered(raw: &str) -> Result<Self, NameError> {
        if raw.len() > Self::MAX_BYTES {
            return Err(NameError::PasswordTooLong);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// An MLflow experiment id in canonical decimal form: `0`, `1`, `42`, never
/// `01`, ` 1`, `+1` or `1.0`, which MLflow might read as a different id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExperimentId(String);

impl ExperimentId {
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let canonical = !raw.is_empty()
            && raw.bytes().all(|b| b.is_ascii_digit())
            && (raw == "0" || !raw.starts_with('0'))
            && raw.parse::<i64>().is_ok();
        if canonical {
            Ok(Self(raw.to_owned()))
        } else {
            Err(NameError::ExperimentId(raw.chars().take(64).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ExperimentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExperimentId({})", self.0)
    }
}

impl fmt::Display for ExperimentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A registered model name, the key MLflow uses for model grants.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelName(String);

impl ModelName {
    pub const MAX_CHARS: usize = 256;

    pub fn parse(raw: &str) -> Result<Self, NameError> {
        if raw.is_empty() || raw.chars().count() > Self::MAX_CHARS || has_control(raw) {
            return Err(NameError::ModelName);
        }
        not_wildcard(raw)?;
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ModelName({:?})", self.0)
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An identifier MLflow mints and mlguard only compares: a scorer name, a gateway
/// secret, endpoint or model-definition id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpaqueId(String);

impl OpaqueId {
    pub const MAX_CHARS: usize = 256;

    pub fn parse(raw: &str) -> Result<Self, NameError> {
        if raw.is_empty() || raw.chars().count() > Self::MAX_CHARS || has_control(raw) {
            return Err(NameError::OpaqueId);
        }
        not_wildcard(raw)?;
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OpaqueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpaqueId({:?})", self.0)
    }
}

impl fmt::Display for OpaqueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn experiment_ids_must_be_canonical() {
        for ok in ["0", "1", "42", "9223372036854775807"] {
            assert_eq!(ExperimentId::parse(ok).map(|e| e.0), Ok(ok.to_owned()));
        }
        for bad in [
            "",
            "01",
            "00",
            " 1",
            "1 ",
            "+1",
            "-1",
            "1.0",
            "1e3",
            "0x1",
            "１",
            "9223372036854775808",
        ] {
            assert!(ExperimentId::parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn usernames_reject_ambiguous_forms() {
        assert!(Username::parse("alice").is_ok());
        assert!(Username::parse("alice smith@example.com").is_ok());
        for bad in ["", "a:b", " alice", "alice ", "al\nice", "al\u{0}ice"] {
            assert!(Username::parse(bad).is_err(), "accepted {bad:?}");
        }
        assert_eq!(
            Username::parse(&"x".repeat(256)),
            Err(NameError::UsernameTooLong)
        );
    }

    #[test]
    fn passwords_need_twelve_characters_and_never_print() {
        assert_eq!(
            Password::new("elevenchars").map(|_| ()),
            Err(NameError::PasswordTooShort)
        );
        assert_eq!(Password::new("").map(|_| ()), Err(NameError::Empty));
        let p = Password::new("twelve-chars").expect("12 characters is enough");
        assert!(!format!("{p:?}").contains("twelve"));
        // Characters, not bytes: 12 accented letters pass.
        assert!(Password::new(&"é".repeat(12)).is_ok());
        assert!(Password::new(&"x".repeat(Password::MAX_BYTES + 1)).is_err());
        assert!(Password::offered("short").is_ok());
    }

    #[test]
    fn model_names() {
        assert!(ModelName::parse("my model/v2").is_ok());
        assert!(ModelName::parse("").is_err());
        assert!(ModelName::parse("a\tb").is_err());
    }

    #[test]
    fn a_lone_star_names_no_single_resource() {
        assert_eq!(ModelName::parse("*"), Err(NameError::Wildcard));
        assert_eq!(OpaqueId::parse("*"), Err(NameError::Wildcard));
        assert!(ModelName::parse("**").is_ok());
        assert!(OpaqueId::parse("a*").is_ok());
    }
}
