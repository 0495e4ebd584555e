//! Validated secret-store fields: the only way raw request strings reach the
//! secrets port. Error messages name the field, never echo a secret value.

use std::fmt;

use zeroize::Zeroizing;

/// Why a raw field was refused. The text is safe to show to the caller: it names
/// the field and the rule, and never repeats what was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid value for parameter '{field}': {rule}")]
pub struct FieldError {
    pub field: &'static str,
    pub rule: &'static str,
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// Text of 1..=`max` characters with no control characters.
fn plain_text(
    field: &'static str,
    raw: &str,
    max: usize,
    rule: &'static str,
) -> Result<String, FieldError> {
    if raw.is_empty() || raw.chars().count() > max || has_control(raw) {
        return Err(FieldError { field, rule });
    }
    Ok(raw.to_owned())
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An identifier mlguard mints for secrets and routes: 1 to 64 ASCII letters,
/// digits, `-`, `_` or `.`. Minted ones are 32 hex digits of randomness, so ids
/// cannot be guessed; parsing accepts the wider set so that asking about any
/// plausible id gets a permission answer, not a syntax one.
fn parse_id(field: &'static str, raw: &str) -> Result<String, FieldError> {
    let valid = !raw.is_empty()
        && raw.len() <= 64
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(FieldError {
            field,
            rule: "must be 1 to 64 ASCII letters, digits, '-', '_' or '.'.",
        })
    }
}

macro_rules! minted_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// A fresh id from 128 random bits supplied by the caller (the domain
            /// has no randomness of its own).
            pub fn from_random(bytes: [u8; 16]) -> Self {
                Self(hex(&bytes))
            }

            pub fn parse(raw: &str) -> Result<Self, FieldError> {
                parse_id($field, raw).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

minted_id!(
    /// The id of a secret.
    SecretId,
    "secret_id"
);
minted_id!(
    /// The id of a route (a provider model reached with a secret).
    RouteId,
    "route_id"
);

/// A secret's display name: 1 to 256 characters, no control characters. Not
/// unique: the id names a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretName(String);

impl SecretName {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        plain_text(
            "name",
            raw,
            256,
            "must be 1 to 256 characters with no control characters.",
        )
        .map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Free text with a field name and a length bound: a provider, a description,
/// a route or model name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label(String);

impl Label {
    pub const PROVIDER_MAX: usize = 64;
    pub const DESCRIPTION_MAX: usize = 1024;
    pub const NAME_MAX: usize = 256;

    /// A provider name such as `openai`: 1 to 64 characters.
    pub fn provider(raw: &str) -> Result<Self, FieldError> {
        plain_text(
            "provider",
            raw,
            Self::PROVIDER_MAX,
            "must be 1 to 64 characters with no control characters.",
        )
        .map(Self)
    }

    /// A description: 1 to 1024 characters. Line breaks are allowed.
    pub fn description(raw: &str) -> Result<Self, FieldError> {
        let valid = !raw.is_empty()
            && raw.chars().count() <= Self::DESCRIPTION_MAX
            && raw
                .chars()
                .all(|c| !c.is_control() || c == '\n' || c == '\t');
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(FieldError {
                field: "description",
                rule: "must be 1 to 1024 characters with no control characters other than line breaks and tabs.",
            })
        }
    }

    /// A name within a route (`route.name`, `route.model_name`): 1 to 256 characters.
    pub fn route_field(field: &'static str, raw: &str) -> Result<Self, FieldError> {
        plain_text(
            field,
            raw,
            Self::NAME_MAX,
            "must be 1 to 256 characters with no control characters.",
        )
        .map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A secret's cleartext value. It never prints itself, is wiped from memory when
/// dropped, and its refusal messages never quote it.
#[derive(Clone)]
pub struct SecretValue(Zeroizing<String>);

impl SecretValue {
    /// Bounds what one request can make mlguard encrypt and store.
    pub const MAX_BYTES: usize = 64 * 1024;

    pub fn new(raw: &str) -> Result<Self, FieldError> {
        if raw.is_empty() || raw.len() > Self::MAX_BYTES {
            return Err(FieldError {
                field: "value",
                rule: "must be a non-empty string of at most 65536 bytes.",
            });
        }
        Ok(Self(Zeroizing::new(raw.to_owned())))
    }

    /// Rebuilds a value from decrypted bytes; `None` if they are not UTF-8.
    pub fn from_decrypted(bytes: Zeroizing<Vec<u8>>) -> Option<Self> {
        let text = std::str::from_utf8(&bytes).ok()?;
        Some(Self(Zeroizing::new(text.to_owned())))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

/// Where a secret is used: a field of a resource. The key of a binding; one
/// key holds at most one secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BindingKey {
    resource_type: String,
    resource_id: String,
    field_name: String,
}

impl BindingKey {
    pub fn parse(
        resource_type: &str,
        resource_id: &str,
        field_name: &str,
    ) -> Result<Self, FieldError> {
        let type_ok = !resource_type.is_empty()
            && resource_type.len() <= 64
            && resource_type
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !type_ok {
            return Err(FieldError {
                field: "resource_type",
                rule: "must be 1 to 64 ASCII letters, digits, '-', '_' or '.'.",
            });
        }
        Ok(Self {
            resource_type: resource_type.to_owned(),
            resource_id: plain_text(
                "resource_id",
                resource_id,
                256,
                "must be 1 to 256 characters with no control characters.",
            )?,
            field_name: plain_text(
                "field_name",
                field_name,
                128,
                "must be 1 to 128 characters with no control characters.",
            )?,
        })
    }

    /// The key under which a route uses its secret.
    pub fn for_route(route: &RouteId, field_name: &str) -> Result<Self, FieldError> {
        Self::parse(Self::ROUTE_RESOURCE_TYPE, route.as_str(), field_name)
    }

    pub const ROUTE_RESOURCE_TYPE: &'static str = "route";

    pub fn resource_type(&self) -> &str {
        &self.resource_type
    }

    pub fn resource_id(&self) -> &str {
        &self.resource_id
    }

    pub fn field_name(&self) -> &str {
        &self.field_name
    }
}

impl fmt::Display for BindingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "resource_type={}, resource_id={}, field_name={}",
            self.resource_type, self.resource_id, self.field_name
        )
    }
}

/// Names a key-encryption key. Stored next to every wrapped data key, so a
/// rotation knows what to re-wrap and a wrong key is told apart from a corrupt row.
/// Not secret: it identifies a key without revealing it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KekId(String);

impl KekId {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        parse_id("kek_id", raw).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for KekId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KekId({})", self.0)
    }
}

impl fmt::Display for KekId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_ids_are_hex_and_parse_back() {
        let id = SecretId::from_random([0xab; 16]);
        assert_eq!(id.as_str(), "ab".repeat(16));
        assert_eq!(SecretId::parse(id.as_str()), Ok(id));
        for bad in ["", "a b", "a/b", "é", &"x".repeat(65), "a\n"] {
            assert!(SecretId::parse(bad).is_err(), "accepted {bad:?}");
        }
        assert!(RouteId::parse("route-1.v2_x").is_ok());
    }

    #[test]
    fn values_never_print_and_errors_never_quote_them() {
        let value = SecretValue::new("sk-live-123").expect("valid");
        assert!(!format!("{value:?}").contains("sk-live"));
        let too_long = "sk-".repeat(SecretValue::MAX_BYTES);
        let err = SecretValue::new(&too_long).map(|_| ()).unwrap_err();
        assert!(!err.to_string().contains("sk-"));
        assert!(err.to_string().contains("'value'"));
        assert!(SecretValue::new("").is_err());
    }

    #[test]
    fn binding_keys_validate_each_part() {
        let key = BindingKey::parse("scorer_job", "job 42", "api_key").expect("valid");
        assert_eq!(
            key.to_string(),
            "resource_type=scorer_job, resource_id=job 42, field_name=api_key"
        );
        assert_eq!(
            BindingKey::parse("a b", "1", "f").unwrap_err().field,
            "resource_type"
        );
        assert_eq!(
            BindingKey::parse("t", "", "f").unwrap_err().field,
            "resource_id"
        );
        assert_eq!(
            BindingKey::parse("t", "1", "a\u{0}").unwrap_err().field,
            "field_name"
        );
        let route = RouteId::from_random([1; 16]);
        assert_eq!(
            BindingKey::for_route(&route, "api_key")
                .expect("valid")
                .resource_type(),
            "route"
        );
    }

    #[test]
    fn labels_have_bounds() {
        assert!(Label::provider("openai").is_ok());
        assert!(Label::provider(&"p".repeat(65)).is_err());
        assert!(Label::description("line one\nline two").is_ok());
        assert!(Label::description("bell\u{7}").is_err());
        assert!(SecretName::parse("").is_err());
        assert_eq!(
            Label::route_field("model_name", "").unwrap_err().field,
            "model_name"
        );
    }
}
