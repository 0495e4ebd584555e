//! Reading ids from exactly the place MLflow's handler reads them, from a view of
//! the request that holds no HTTP types.

use mlguard_domain::{LookupError, NameError};
use serde_json::Value;

use crate::{BodyPointer, RouteMatch, Source};

/// Why a request's ids could not be read or resolved.
#[derive(Debug)]
pub enum InputError {
    /// The request names something in a way MLflow could read differently, or in a
    /// form no id takes: MLflow's `INVALID_PARAMETER_VALUE`. The text is for the
    /// caller.
    Invalid(String),
    /// The tracking server could not answer a lookup.
    Lookup(LookupError),
}

impl From<NameError> for InputError {
    fn from(error: NameError) -> Self {
        InputError::Invalid(error.to_string())
    }
}

impl From<LookupError> for InputError {
    fn from(error: LookupError) -> Self {
        InputError::Lookup(error)
    }
}

/// A request's headers, as the policy reads them.
pub trait Headers: Sync {
    /// Every value of the header `name`, in order; `None` for one that is not
    /// visible ASCII text.
    fn values(&self, name: &str) -> Vec<Option<&str>>;
}

/// Everything a check may read from one request.
pub struct RequestView<'a> {
    /// The method name (`GET`, `POST`, ...). HEAD reads as GET.
    pub method: &'a str,
    pub headers: &'a dyn Headers,
    /// Query parameters in order, decoded once.
    pub query: &'a [(String, String)],
    /// The parsed JSON body, when the request had one and it was read.
    pub body: Option<&'a Value>,
    /// The trace ids of an OTLP export body, when the route reads one.
    pub otlp_traces: Option<&'a [String]>,
    pub route: &'a RouteMatch,
}

impl std::fmt::Debug for RequestView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestView")
            .field("method", &self.method)
            .field("route", &self.route.rule.paths[0])
            .finish_non_exhaustive()
    }
}

/// What a source yielded.
#[derive(Debug)]
pub enum Found {
    Missing,
    One(String),
    Many(Vec<String>),
}

pub(crate) fn conflict(name: &str) -> InputError {
    InputError::Invalid(format!("Conflicting values for parameter '{name}'."))
}

pub(crate) fn not_a_string(name: &str) -> InputError {
    InputError::Invalid(format!(
        "Invalid value for parameter '{name}': expected a string."
    ))
}

pub(crate) fn json_scalar(value: &Value, name: &str) -> Result<Option<String>, InputError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(not_a_string(name)),
    }
}

fn json_list(value: &Value, name: &str) -> Result<Vec<String>, InputError> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .map(|item| json_scalar(item, name)?.ok_or_else(|| not_a_string(name)))
            .collect(),
        _ => Err(InputError::Invalid(format!(
            "Invalid value for parameter '{name}': expected a list."
        ))),
    }
}

pub(crate) fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `object[name]`, or its camelCase spelling; both, differing, is a conflict.
pub(crate) fn field<'v>(object: &'v Value, name: &str) -> Result<Option<&'v Value>, InputError> {
    let snake = object.get(name).filter(|v| !v.is_null());
    let camel_name = camel_case(name);
    let camel = (camel_name != name)
        .then(|| object.get(&camel_name))
        .flatten()
        .filter(|v| !v.is_null());
    match (snake, camel) {
        (Some(a), Some(b)) if a != b => Err(conflict(name)),
        (Some(a), _) => Ok(Some(a)),
        (None, b) => Ok(b),
    }
}

/// A JSON field as one string, or as a list of strings for list targets.
fn from_json(value: Option<&Value>, name: &str, list: bool) -> Result<Found, InputError> {
    Ok(match value {
        None => Found::Missing,
        Some(value) if list => {
            let values = json_list(value, name)?;
            if values.is_empty() {
                Found::Missing
            } else {
                Found::Many(values)
            }
        }
        Some(value) => json_scalar(value, name)?.map_or(Found::Missing, Found::One),
    })
}

/// The run MLflow's handlers read: `run_id or run_uuid`, an empty value counting as
/// none. Two that name different runs are refused, so that nothing downstream can
/// read the other one. The REST and the GraphQL readers both decide by this.
pub fn run_id_or_uuid(
    run_id: Option<String>,
    run_uuid: Option<String>,
) -> Result<Option<String>, InputError> {
    let run_id = run_id.filter(|id| !id.is_empty());
    let run_uuid = run_uuid.filter(|id| !id.is_empty());
    match (run_id, run_uuid) {
        (Some(run_id), Some(run_uuid)) if run_id != run_uuid => Err(conflict("run_id")),
        (Some(id), _) | (None, Some(id)) => Ok(Some(id)),
        (None, None) => Ok(None),
    }
}

impl RequestView<'_> {
    fn query_values(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A single query value; differing repeats are refused.
    fn query_one(&self, name: &str) -> Result<Option<String>, InputError> {
        let values = self.query_values(name);
        match values.split_first() {
            None => Ok(None),
            Some((first, rest)) if rest.iter().all(|v| v == first) => Ok(Some((*first).to_owned())),
            Some(_) => Err(conflict(name)),
        }
    }

    /// Where MLflow's handlers read a field: GET from the query; every other method
    /// from the JSON body, whatever its content type. A DELETE without a body is read
    /// from the query, as MLflow's auth app does.
    pub(crate) fn param_reads_body(&self) -> bool {
        match self.method {
            "GET" | "HEAD" => false,
            "DELETE" => self.body.is_some(),
            _ => true,
        }
    }

    /// A body field by JSON pointer; the last segment may also be spelled in
    /// camelCase, which MLflow's protobuf parser accepts.
    pub(crate) fn body_at(&self, pointer: &str) -> Result<Option<&Value>, InputError> {
        let Some(body) = self.body else {
            return Ok(None);
        };
        let (parent, last) = pointer.rsplit_once('/').unwrap_or(("", pointer));
        match body.pointer(parent) {
            Some(parent) => field(parent, last),
            None => Ok(None),
        }
    }

    /// A `Param` as MLflow's `_get_request_param` reads it.
    fn read_param(&self, name: &str, list: bool) -> Result<Found, InputError> {
        if !self.param_reads_body() {
            return self.read_query(name, list);
        }
        let value = match self.body {
            Some(body) => field(body, name)?,
            None => None,
        };
        let found = from_json(value, name, list)?;
        // The same field in the query must not say something else.
        if let Found::One(body_value) = &found
            && self.query_values(name).iter().any(|v| v != body_value)
        {
            return Err(conflict(name));
        }
        Ok(found)
    }

    fn read_query(&self, name: &str, list: bool) -> Result<Found, InputError> {
        Ok(if list {
            let values: Vec<String> = self
                .query_values(name)
                .into_iter()
                .map(str::to_owned)
                .collect();
            if values.is_empty() {
                Found::Missing
            } else {
                Found::Many(values)
            }
        } else {
            self.query_one(name)?.map_or(Found::Missing, Found::One)
        })
    }

    fn read_one_param(&self, name: &str) -> Result<Option<String>, InputError> {
        Ok(match self.read_param(name, false)? {
            Found::One(value) => Some(value),
            Found::Missing | Found::Many(_) => None,
        })
    }

    /// Reads a source as one value, or a list for list targets.
    pub fn read(&self, source: Source, list: bool) -> Result<Found, InputError> {
        let found = match source {
            Source::Param(name) => self.read_param(name, list)?,
            Source::Query(name) => self.read_query(name, list)?,
            Source::RunId => run_id_or_uuid(
                self.read_one_param("run_id")?,
                self.read_one_param("run_uuid")?,
            )?
            .map_or(Found::Missing, Found::One),
            Source::Body(pointer) => from_json(self.body_at(pointer)?, pointer, list)?,
            Source::Path(name) => self
                .route
                .param(name)
                .map_or(Found::Missing, |v| Found::One(v.to_owned())),
            Source::PathBeforeLastColon(name) => self
                .route
                .param(name)
                .and_then(|v| v.rsplit_once(':'))
                .map_or(Found::Missing, |(before, _)| Found::One(before.to_owned())),
            Source::OtlpSpanTraces => match self.otlp_traces {
                Some(ids) if !ids.is_empty() => Found::Many(ids.to_vec()),
                _ => Found::Missing,
            },
            Source::Header(name) => match self.headers.values(name).as_slice() {
                [] => Found::Missing,
                [Some(value)] => Found::One((*value).to_owned()),
                [None] => return Err(InputError::Invalid(format!("Invalid header '{name}'."))),
                [_, _, ..] => return Err(conflict(name)),
            },
        };
        Ok(found)
    }

    /// The raw JSON a body-read source points at (`Param` on a body-reading method,
    /// or `Body`); `None` for anything else.
    pub(crate) fn raw_json(&self, source: Source) -> Result<Option<&Value>, InputError> {
        match source {
            Source::Param(name) if self.param_reads_body() => match self.body {
                Some(body) => field(body, name),
                None => Ok(None),
            },
            Source::Body(pointer) => self.body_at(pointer),
            _ => Ok(None),
        }
    }

    /// The JSON a body pointer names.
    pub(crate) fn at(&self, pointer: BodyPointer) -> Result<Option<&Value>, InputError> {
        self.body_at(pointer.0)
    }

    /// Whether a JSON list of `{key, value}` tags at `pointer` holds `key`.
    pub(crate) fn has_tag(&self, pointer: BodyPointer, key: &str) -> Result<bool, InputError> {
        Ok(match self.at(pointer)? {
            Some(Value::Array(tags)) => tags
                .iter()
                .any(|tag| tag.get("key").and_then(Value::as_str) == Some(key)),
            _ => false,
        })
    }

    /// A source's values: none, one, or a list for list targets.
    pub fn values(&self, source: Source, list: bool) -> Result<Vec<String>, InputError> {
        Ok(match self.read(source, list)? {
            Found::Missing => Vec::new(),
            Found::One(v) => vec![v],
            Found::Many(vs) => vs,
        })
    }

    /// A source's single value, if it has one.
    pub fn one(&self, source: Source) -> Result<Option<String>, InputError> {
        Ok(match self.read(source, false)? {
            Found::One(value) => Some(value),
            Found::Missing | Found::Many(_) => None,
        })
    }
}

/// Where, in the JSON body, the list a narrowing check read lives: a pointer to
/// every spelling the request used (MLflow's parser keeps whichever comes last, so
/// all are narrowed). `None` when the list is not in the body (a query), which
/// cannot be narrowed.
pub fn narrowable_fields(target: crate::Target, request: &RequestView<'_>) -> Option<Vec<String>> {
    let crate::Target::Experiments(source) = target else {
        return None;
    };
    let (parent, name) = match source {
        Source::Param(name) if request.param_reads_body() => ("", name),
        Source::Body(pointer) => pointer.rsplit_once('/')?,
        _ => return None,
    };
    let object = request.body?.pointer(parent)?;
    let camel = camel_case(name);
    let fields: Vec<String> = [name, camel.as_str()]
        .into_iter()
        .filter(|key| object.get(*key).is_some_and(|v| !v.is_null()))
        .map(|key| format!("{parent}/{key}"))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    (!fields.is_empty()).then_some(fields)
}
