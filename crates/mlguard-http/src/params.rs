use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, Method, header};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::fields;
use crate::query::query_pairs;

/// Largest JSON body mlguard's own API reads.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Request fields, read from the place MLflow's handler reads them:
/// GET (and HEAD) from the query; POST and PATCH from the JSON body; DELETE from the
/// JSON body when there is one, otherwise from the query.
///
/// A field given twice with different values (twice in the query, or in both the
/// query and the body) is refused: MLflow and mlguard could read different ones.
///
/// A handler that checks something before it reads the request takes this and
/// [`parse`](Self::parse)s it after the check; one that does not takes [`Mlflow`].
#[derive(Debug, Clone)]
pub struct MlflowParams {
    /// Always an object.
    fields: Value,
}

/// Request fields read into `T`, from the places [`MlflowParams`] reads them.
///
/// A missing field answers MLflow's "Missing value for required parameter" error,
/// a mistyped one names the field and what it should be; null counts as absent.
/// Optional fields are `Option`s. Fields are read in `T`'s declaration order, so
/// of several mistyped ones the first declared is reported; a missing one is
/// reported only if none is mistyped.
#[derive(Debug, Clone)]
pub struct Mlflow<T>(pub T);

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
    let pairs = query_pairs(request.uri().query())?;
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
    /// The fields read into `T`, as [`Mlflow`] reads them.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        fields::read(&self.fields)
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
            return Ok(Self {
                fields: Value::Object(query),
            });
        }

        let fields = body_fields(request.into_body()).await?;
        for (key, value) in &query {
            if fields.get(key).is_some_and(|b| b != value) {
                return Err(conflict(key));
            }
        }
        Ok(Self {
            fields: Value::Object(fields),
        })
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Mlflow<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        MlflowParams::from_request(request, state)
            .await?
            .parse()
            .map(Mlflow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;
    use axum::http::StatusCode;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct User {
        username: String,
    }

    #[derive(Debug, Deserialize)]
    struct Login {
        username: String,
        password: String,
    }

    #[derive(Debug, Deserialize)]
    struct Admin {
        username: String,
        is_admin: bool,
    }

    #[derive(Debug, Deserialize)]
    struct Described {
        description: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    struct Route {
        name: String,
    }

    #[derive(Debug, Deserialize)]
    struct WithRoute {
        route: Route,
    }

    fn request(method: &str, uri: &str, content_type: Option<&str>, body: &str) -> Request {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(ct) = content_type {
            builder = builder.header(header::CONTENT_TYPE, ct);
        }
        builder.body(Body::from(body.to_owned())).expect("request")
    }

    async fn extract<T: DeserializeOwned>(
        method: &str,
        uri: &str,
        content_type: Option<&str>,
        body: &str,
    ) -> Result<T, ApiError> {
        let Mlflow(fields) =
            Mlflow::<T>::from_request(request(method, uri, content_type, body), &()).await?;
        Ok(fields)
    }

    async fn post<T: DeserializeOwned>(body: &str) -> Result<T, ApiError> {
        extract("POST", "/x", Some("application/json"), body).await
    }

    #[tokio::test]
    async fn get_and_head_read_the_query_and_ignore_the_body() {
        for method in ["GET", "HEAD"] {
            let user: User = extract(
                method,
                "/x?username=bob",
                Some("application/json"),
                r#"{"username":"eve"}"#,
            )
            .await
            .expect("ok");
            assert_eq!(user.username, "bob", "{method}");
        }
    }

    #[tokio::test]
    async fn post_and_patch_read_the_json_body() {
        for method in ["POST", "PATCH"] {
            let admin: Admin = extract(
                method,
                "/x",
                Some("application/json; charset=utf-8"),
                r#"{"username":"bob","is_admin":true}"#,
            )
            .await
            .expect("ok");
            assert_eq!(admin.username, "bob", "{method}");
            assert!(admin.is_admin, "{method}");
        }
    }

    #[tokio::test]
    async fn a_body_reader_does_not_take_fields_from_the_query() {
        let err = extract::<User>("POST", "/x?username=bob", Some("application/json"), "{}")
            .await
            .unwrap_err();
        assert!(err.message().contains("'username'"), "{}", err.message());
    }

    #[tokio::test]
    async fn post_without_json_content_type_is_415() {
        let err = extract::<User>("POST", "/x", Some("text/plain"), "{}")
            .await
            .unwrap_err();
        assert_eq!(err.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let err = extract::<User>("PATCH", "/x", None, "{}")
            .await
            .unwrap_err();
        assert_eq!(err.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }

    #[tokio::test]
    async fn delete_prefers_body_then_query() {
        let user: User = extract(
            "DELETE",
            "/x",
            Some("application/json"),
            r#"{"username":"bob"}"#,
        )
        .await
        .expect("ok");
        assert_eq!(user.username, "bob");
        let user: User = extract("DELETE", "/x?username=carol", None, "")
            .await
            .expect("ok");
        assert_eq!(user.username, "carol");
        // A JSON content type with an empty body is no body.
        let mut empty = request("DELETE", "/x?username=dave", Some("application/json"), "");
        empty
            .headers_mut()
            .insert(header::CONTENT_LENGTH, "0".parse().expect("header"));
        let Mlflow(user) = Mlflow::<User>::from_request(empty, &()).await.expect("ok");
        assert_eq!(user.username, "dave");
    }

    #[tokio::test]
    async fn conflicting_values_are_refused() {
        let err = extract::<User>("GET", "/x?username=bob&username=eve", None, "")
            .await
            .unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            err.message(),
            "Conflicting values for parameter 'username'."
        );
        let err = extract::<User>(
            "DELETE",
            "/x?username=eve",
            Some("application/json"),
            r#"{"username":"bob"}"#,
        )
        .await
        .unwrap_err();
        assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
        let err = extract::<User>(
            "POST",
            "/x?username=eve",
            Some("application/json"),
            r#"{"username":"bob"}"#,
        )
        .await
        .unwrap_err();
        assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
        // The same value twice is not a conflict.
        let user: User = extract("GET", "/x?username=bob&username=bob", None, "")
            .await
            .expect("ok");
        assert_eq!(user.username, "bob");
    }

    #[tokio::test]
    async fn a_missing_or_null_field_is_mlflows_missing_value() {
        for body in [
            r#"{"username":"bob"}"#,
            r#"{"username":"bob","password":null}"#,
        ] {
            let err = post::<Login>(body).await.unwrap_err();
            assert_eq!(err.status(), StatusCode::BAD_REQUEST);
            assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue);
            assert_eq!(
                err.message(),
                "Missing value for required parameter 'password'. \
                 See the API docs for more information about request parameters.",
                "{body}"
            );
        }
        let err = extract::<User>("GET", "/x", None, "").await.unwrap_err();
        assert!(err.message().contains("'username'"), "{}", err.message());
    }

    #[tokio::test]
    async fn a_mistyped_field_is_named_with_the_type_expected() {
        let cases = [
            (
                r#"{"username":1,"is_admin":true}"#,
                "Invalid value for parameter 'username': expected a string.",
            ),
            (
                r#"{"username":"bob","is_admin":"false"}"#,
                "Invalid value for parameter 'is_admin': expected a boolean.",
            ),
            (
                r#"{"username":"bob","is_admin":0}"#,
                "Invalid value for parameter 'is_admin': expected a boolean.",
            ),
        ];
        for (body, message) in cases {
            let err = post::<Admin>(body).await.unwrap_err();
            assert_eq!(err.error_code(), ErrorCode::InvalidParameterValue, "{body}");
            assert_eq!(err.message(), message, "{body}");
        }
        let err = post::<WithRoute>(r#"{"route":"r"}"#).await.unwrap_err();
        assert_eq!(
            err.message(),
            "Invalid value for parameter 'route': expected an object."
        );
        let err = post::<Described>(r#"{"description":["d"]}"#)
            .await
            .unwrap_err();
        assert_eq!(
            err.message(),
            "Invalid value for parameter 'description': expected a string."
        );
    }

    #[tokio::test]
    async fn a_nested_object_is_read_by_the_same_rules() {
        let with_route: WithRoute = post(r#"{"route":{"name":"r","unknown":1}}"#)
            .await
            .expect("ok");
        assert_eq!(with_route.route.name, "r");
    }

    #[tokio::test]
    async fn a_nested_field_at_fault_is_named_by_itself() {
        let err = post::<WithRoute>(r#"{"route":{}}"#).await.unwrap_err();
        assert!(
            err.message()
                .starts_with("Missing value for required parameter 'name'."),
            "{}",
            err.message()
        );
        let err = post::<WithRoute>(r#"{"route":{"name":7}}"#)
            .await
            .unwrap_err();
        assert_eq!(
            err.message(),
            "Invalid value for parameter 'name': expected a string."
        );
    }

    #[tokio::test]
    async fn of_several_mistyped_fields_the_first_declared_is_reported() {
        // Stored in key order, `password` would come first.
        let err = post::<Login>(r#"{"password":1,"username":2}"#)
            .await
            .unwrap_err();
        assert!(err.message().contains("'username'"), "{}", err.message());
    }

    #[tokio::test]
    async fn optional_fields_may_be_absent_or_null_and_unknown_ones_are_ignored() {
        for body in ["{}", r#"{"description":null}"#] {
            let described: Described = post(body).await.expect("ok");
            assert_eq!(described.description, None, "{body}");
        }
        let described: Described = post(r#"{"description":"d","other":[1,{"x":null}]}"#)
            .await
            .expect("ok");
        assert_eq!(described.description.as_deref(), Some("d"));
    }

    #[tokio::test]
    async fn malformed_bodies_are_400() {
        for body in ["{", "[]", "\"x\"", ""] {
            let err = post::<Described>(body).await.unwrap_err();
            assert_eq!(err.status(), StatusCode::BAD_REQUEST, "{body:?}");
            assert_eq!(err.error_code(), ErrorCode::BadRequest, "{body:?}");
        }
    }

    #[tokio::test]
    async fn oversized_body_is_413() {
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_BODY_BYTES));
        let err = post::<Described>(&big).await.unwrap_err();
        assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn params_read_once_parse_into_each_type_asked_for() {
        let params = MlflowParams::from_request(
            request(
                "POST",
                "/x",
                Some("application/json"),
                r#"{"username":"bob","password":"pw"}"#,
            ),
            &(),
        )
        .await
        .expect("ok");
        assert_eq!(params.parse::<User>().expect("user").username, "bob");
        let login: Login = params.parse().expect("login");
        assert_eq!(
            (login.username.as_str(), login.password.as_str()),
            ("bob", "pw")
        );
        assert!(params.parse::<Admin>().is_err());
    }
}
