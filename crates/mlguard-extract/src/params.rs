use axum::body::Body;
use axum::extract::{FromRequest, Query, Request};
use axum::http::{HeaderMap, Method, header};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Largest JSON body mlguard's own API reads.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Request fields, read from the place MLflow's handler reads them:
/// GET (and HEAD) from the query; POST and PATCH from the JSON body; DELETE from the
/// JSON body when there is one, otherwise from the query.
///
/// A field given twice with different values (twice in the query, or in both the
/// query and the body) is refused: MLflow and mlguard could read different ones.
#[derive(Debug, Clone, Default)]
pub struct MlflowParams {
    fields: Map<String, Value>,
}

fn is_json(headers: &HeaderMap) -> Result<bool, ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(false);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::unsupported_media_type())?;
    let essence = value.split(';').next().unwrap_or_default().trim();
    Ok(essence.eq_ignore_ascii_case("application/json"))
}

fn query_fields(request: &Request) -> Result<Map<String, Value>, ApiError> {
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(request.uri())
        .map_err(|_| ApiError::bad_request("The query string is not valid."))?;
    let mut fields = Map::new();
    for (key, value) in pairs {
        match fields.get(&key) {
            Some(existing) if existing.as_str() != Some(value.as_str()) => {
                return Err(conflict(&key));
            }
            _ => {
                fields.insert(key, Value::String(value));
            }
        }
    }
    Ok(fields)
}

fn conflict(key: &str) -> ApiError {
    ApiError::invalid_parameter(format!("Conflicting values for parameter '{key}'."))
}

async fn body_fields(body: Body) -> Result<Map<String, Value>, ApiError> {
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::payload_too_large())?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(ApiError::bad_request(
            "The request body must be a JSON object.",
        )),
        Err(_) => Err(ApiError::bad_request("The request body is not valid JSON.")),
    }
}

impl MlflowParams {
    fn present(&self, name: &str) -> Option<&Value> {
        self.fields.get(name).filter(|v| !v.is_null())
    }

    /// A required string field. Missing or null: MLflow's "Missing value" error.
    pub fn required_str(&self, name: &str) -> Result<&str, ApiError> {
        self.optional_str(name)?
            .ok_or_else(|| ApiError::missing_parameter(name))
    }

    pub fn optional_str(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::invalid_parameter(format!(
                "Invalid value for parameter '{name}': expected a string."
            ))),
        }
    }

    /// A required JSON boolean; `"false"` or `0` are refused rather than guessed.
    pub fn required_bool(&self, name: &str) -> Result<bool, ApiError> {
        match self.present(name) {
            None => Err(ApiError::missing_parameter(name)),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(ApiError::invalid_parameter(format!(
                "Invalid value for parameter '{name}': expected a boolean."
            ))),
        }
    }
}

impl MlflowParams {
    /// A required JSON object field (e.g. `route` in secrets/create-route-and-bind),
    /// read with the same accessors as the request itself.
    pub fn required_object(&self, name: &str) -> Result<MlflowParams, ApiError> {
        match self.present(name) {
            None => Err(ApiError::missing_parameter(name)),
            Some(Value::Object(fields)) => Ok(Self {
                fields: fields.clone(),
            }),
            Some(_) => Err(ApiError::invalid_parameter(format!(
                "Invalid value for parameter '{name}': expected an object."
            ))),
        }
    }
}

impl<S: Send + Sync> FromRequest<S> for MlflowParams {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let query = query_fields(&request)?;
        let method = request.method().clone();
        let has_body = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_none_or(|len| len.as_bytes() != b"0");
        let json = is_json(request.headers())?;

        let reads_body = if method == Method::POST || method == Method::PATCH {
            if !json {
                return Err(ApiError::unsupported_media_type());
            }
            true
        } else {
            method == Method::DELETE && json && has_body
        };
        if !reads_body {
            return Ok(Self { fields: query });
        }

        let fields = body_fields(request.into_body()).await?;
        for (key, value) in &query {
            if fields.get(key).is_some_and(|b| b != value) {
                return Err(conflict(key));
            }
        }
        Ok(Self { fields })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;
    use axum::http::StatusCode;

    async fn extract(
        method: &str,
        uri: &str,
        content_type: Option<&str>,
        body: &str,
    ) -> Result<MlflowParams, ApiError> {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(ct) = content_type {
            builder = builder.header(header::CONTENT_TYPE, ct);
        }
        let request = builder.body(Body::from(body.to_owned())).expect("request");
        MlflowParams::from_request(request, &()).await
    }

    #[tokio::test]
    async fn get_reads_the_query_and_ignores_the_body() {
        let p = extract(
            "GET",
            "/x?username=bob",
            Some("application/json"),
            r#"{"username":"eve"}"#,
        )
        .await
        .expect("ok");
        assert_eq!(p.required_str("username").expect("present"), "bob");
    }

    #[tokio::test]
    async fn post_reads_the_json_body() {
        let p = extract(
            "POST",
            "/x",
            Some("application/json; charset=utf-8"),
            r#"{"username":"bob","is_admin":true}"#,
        )
        .await
        .expect("ok");
        assert_eq!(p.required_str("username").expect("present"), "bob");
        assert!(p.required_bool("is_admin").expect("bool"));
    }

    #[tokio::test]
    async fn post_without_json_content_type_is_415() {
        let err = extract("POST", "/x", Some("text/plain"), "{}")
            .await
            .unwrap_err();
        assert_eq!(err.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let err = extract("PATCH", "/x", None, "{}").await.unwrap_err();
        assert_eq!(err.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    #[tokio::test]
    async fn delete_prefers_body_then_query() {
        let p = extract(
            "DELETE",
            "/x",
            Some("application/json"),
            r#"{"username":"bob"}"#,
        )
        .await
        .expect("ok");
        assert_eq!(p.required_str("username").expect("present"), "bob");
        let p = extract("DELETE", "/x?username=carol", None, "")
            .await
            .expect("ok");
        assert_eq!(p.required_str("username").expect("present"), "carol");
    }

    #[tokio::test]
    async fn conflicting_values_are_refused() {
        let err = extract("GET", "/x?username=bob&username=eve", None, "")
            .await
            .unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        let err = extract(
            "DELETE",
            "/x?username=eve",
            Some("application/json"),
            r#"{"username":"bob"}"#,
        )
        .await
        .unwrap_err();
        assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
        // The same value twice is not a conflict.
        assert!(
            extract("GET", "/x?username=bob&username=bob", None, "")
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn malformed_bodies_and_wrong_types_are_400() {
        for body in ["{", "[]", "\"x\"", ""] {
            let err = extract("POST", "/x", Some("application/json"), body)
                .await
                .unwrap_err();
            assert_eq!(err.status(), StatusCode::BAD_REQUEST, "{body:?}");
        }
        let p = extract(
            "POST",
            "/x",
            Some("application/json"),
            r#"{"username":1,"is_admin":"false"}"#,
        )
        .await
        .expect("ok");
        assert_eq!(
            p.required_str("username").unwrap_err().error_code(),
            ErrorCode::InvalidParameterValue
        );
        assert_eq!(
            p.required_bool("is_admin").unwrap_err().error_code(),
            ErrorCode::InvalidParameterValue
        );
        assert!(
            p.required_str("password")
                .unwrap_err()
                .message()
                .contains("'password'")
        );
    }

    #[tokio::test]
    async fn oversized_body_is_413() {
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_BODY_BYTES));
        let err = extract("POST", "/x", Some("application/json"), &big)
            .await
            .unwrap_err();
        assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
}
