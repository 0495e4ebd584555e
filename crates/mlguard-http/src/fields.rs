//! Request fields read into a typed struct, with the messages MLflow answers: a
//! missing field is "Missing value for required parameter", a mistyped one names
//! the field and what was expected. Null counts as absent.

use std::fmt;

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::ApiError;

/// `fields` (a JSON object) read into `T`.
pub(crate) fn read<T: DeserializeOwned>(fields: &Value) -> Result<T, ApiError> {
    T::deserialize(Field(fields)).map_err(ApiError::from)
}

#[derive(Debug, Clone)]
enum Problem {
    Missing(&'static str),
    Expected(String),
    Other(String),
}

/// Why a field could not be read. The object holding the field names it, so
/// the innermost name is the one reported.
#[derive(Debug, Clone)]
struct FieldError {
    field: Option<String>,
    problem: Problem,
}

impl FieldError {
    fn expected(what: &str) -> Self {
        Self {
            field: None,
            problem: Problem::Expected(what.to_owned()),
        }
    }

    fn within(mut self, field: &str) -> Self {
        self.field.get_or_insert_with(|| field.to_owned());
        self
    }
}

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> Self {
        let message = match (error.problem, error.field) {
            (Problem::Missing(name), _) => return ApiError::missing_parameter(name),
            (Problem::Expected(what), Some(field)) => {
                format!("Invalid value for parameter '{field}': expected {what}.")
            }
            (Problem::Other(message), Some(field)) => {
                format!("Invalid value for parameter '{field}': {message}")
            }
            (Problem::Expected(what), None) => format!("Invalid request: expected {what}."),
            (Problem::Other(message), None) => message,
        };
        ApiError::invalid_parameter(message)
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(ApiError::from(self.clone()).message())
    }
}

impl std::error::Error for FieldError {}

impl de::Error for FieldError {
    fn custom<M: fmt::Display>(message: M) -> Self {
        Self {
            field: None,
            problem: Problem::Other(message.to_string()),
        }
    }

    fn invalid_type(_: de::Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        Self::expected(&expected.to_string())
    }

    fn missing_field(field: &'static str) -> Self {
        Self {
            field: None,
            problem: Problem::Missing(field),
        }
    }
}

/// One JSON value, read as a request field.
struct Field<'a>(&'a Value);

impl<'de> de::Deserializer<'de> for Field<'de> {
    type Error = FieldError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => visitor.visit_u64(u),
                (None, Some(i), _) => visitor.visit_i64(i),
                (None, None, Some(x)) => visitor.visit_f64(x),
                (None, None, None) => Err(FieldError::expected("a number")),
            },
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => visitor.visit_seq(Items(items.iter())),
            Value::Object(fields) => visitor.visit_map(Entries::new(fields, &[])),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        match self.0 {
            Value::Bool(b) => visitor.visit_bool(*b),
            _ => Err(FieldError::expected("a boolean")),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        match self.0 {
            Value::String(s) => visitor.visit_borrowed_str(s),
            _ => Err(FieldError::expected("a string")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        match self.0 {
            Value::Array(items) => visitor.visit_seq(Items(items.iter())),
            _ => Err(FieldError::expected("an array")),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        self.deserialize_struct("", &[], visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        order: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FieldError> {
        match self.0 {
            Value::Object(fields) => visitor.visit_map(Entries::new(fields, order)),
            _ => Err(FieldError::expected("an object")),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FieldError> {
        match self.0 {
            Value::String(s) => visitor.visit_enum(BorrowedStrDeserializer::new(s)),
            _ => Err(FieldError::expected("a string")),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, FieldError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf
        unit unit_struct tuple tuple_struct identifier
    }
}

/// An object's fields, null ones left out. A struct's come in its declaration
/// order, so of several mistyped fields the first declared is reported.
struct Entries<'a> {
    entries: std::vec::IntoIter<(&'a String, &'a Value)>,
    value: Option<(&'a str, &'a Value)>,
}

impl<'a> Entries<'a> {
    fn new(fields: &'a Map<String, Value>, order: &[&str]) -> Self {
        let mut entries: Vec<_> = fields.iter().filter(|(_, v)| !v.is_null()).collect();
        entries.sort_by_key(|(key, _)| {
            order
                .iter()
                .position(|name| name == key)
                .unwrap_or(order.len())
        });
        Self {
            entries: entries.into_iter(),
            value: None,
        }
    }
}

impl<'de> MapAccess<'de> for Entries<'de> {
    type Error = FieldError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, FieldError> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some((key, value));
        seed.deserialize(BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, FieldError> {
        let (key, value) = self
            .value
            .take()
            .ok_or_else(|| de::Error::custom("a value was read before its key"))?;
        seed.deserialize(Field(value))
            .map_err(|error| error.within(key))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

struct Items<'a>(std::slice::Iter<'a, Value>);

impl<'de> SeqAccess<'de> for Items<'de> {
    type Error = FieldError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, FieldError> {
        self.0
            .next()
            .map(|item| seed.deserialize(Field(item)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}
