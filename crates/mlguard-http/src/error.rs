use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mlguard_domain::{
    GrantRuleError, LookupError, NameError, RoleError, RoleNameError, StoreError, UnknownPermission,
};
use serde::Serialize;

/// MLflow's error body.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// MLflow's error code name, e.g. `RESOURCE_DOES_NOT_EXIST`.
    #[schema(example = "PERMISSION_DENIED")]
    pub error_code: String,
    /// A human-readable message. Never contains SQL, hashes or secrets.
    #[schema(example = "Permission denied.")]
    pub message: String,
    /// MLflow 3.17's SQLSTATE-like class of the code (`KAM00` for a caller's error,
    /// `XXM00` for the server's); absent for codes MLflow gives none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "KAM00")]
    pub sqlstate: Option<String>,
    /// MLflow 3.17's error class, e.g. `RESOURCE_NOT_FOUND`; absent with `sqlstate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "PERMISSION_DENIED")]
    pub error_class: Option<String>,
}

impl ErrorBody {
    /// The body for `error_code`, with MLflow 3.17's `sqlstate` and `error_class`.
    pub fn new(error_code: ErrorCode, message: impl Into<String>) -> Self {
        let classified = error_code.classification();
        ErrorBody {
            error_code: error_code.as_str().to_owned(),
            message: message.into(),
            sqlstate: classified.map(|(sqlstate, _)| sqlstate.to_owned()),
            error_class: classified.map(|(_, class)| class.to_owned()),
        }
    }
}

/// MLflow's error codes, those mlguard answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidParameterValue,
    ResourceDoesNotExist,
    ResourceAlreadyExists,
    PermissionDenied,
    Unauthenticated,
    BadRequest,
    EndpointNotFound,
    InternalError,
    TemporarilyUnavailable,
    DeadlineExceeded,
    FeatureDisabled,
    RequestLimitExceeded,
}

impl ErrorCode {
    /// The name MLflow writes in `error_code`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidParameterValue => "INVALID_PARAMETER_VALUE",
            ErrorCode::ResourceDoesNotExist => "RESOURCE_DOES_NOT_EXIST",
            ErrorCode::ResourceAlreadyExists => "RESOURCE_ALREADY_EXISTS",
            ErrorCode::PermissionDenied => "PERMISSION_DENIED",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::BadRequest => "BAD_REQUEST",
            ErrorCode::EndpointNotFound => "ENDPOINT_NOT_FOUND",
            ErrorCode::InternalError => "INTERNAL_ERROR",
            ErrorCode::TemporarilyUnavailable => "TEMPORARILY_UNAVAILABLE",
            ErrorCode::DeadlineExceeded => "DEADLINE_EXCEEDED",
            ErrorCode::FeatureDisabled => "FEATURE_DISABLED",
            ErrorCode::RequestLimitExceeded => "REQUEST_LIMIT_EXCEEDED",
        }
    }
}

impl ErrorCode {
    /// `(sqlstate, error_class)` as MLflow 3.17.2 writes them; `None` where it
    /// writes neither.
    pub const fn classification(self) -> Option<(&'static str, &'static str)> {
        const CALLER: &str = "KAM00";
        const SERVER: &str = "XXM00";
        match self {
            ErrorCode::InvalidParameterValue | ErrorCode::BadRequest => {
                Some((CALLER, "INVALID_PARAMETER_VALUE"))
            }
            ErrorCode::ResourceAlreadyExists => Some((CALLER, "RESOURCE_ALREADY_EXISTS")),
            ErrorCode::ResourceDoesNotExist | ErrorCode::EndpointNotFound => {
                Some((CALLER, "RESOURCE_NOT_FOUND"))
            }
            ErrorCode::PermissionDenied => Some((CALLER, "PERMISSION_DENIED")),
            ErrorCode::FeatureDisabled => Some((CALLER, "FEATURE_DISABLED")),
            ErrorCode::InternalError | ErrorCode::TemporarilyUnavailable => {
                Some((SERVER, "CLIENT_INTERNAL_ERROR"))
            }
            ErrorCode::Unauthenticated
            | ErrorCode::DeadlineExceeded
            | ErrorCode::RequestLimitExceeded => None,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error answered to the client in MLflow's JSON shape.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    error_code: ErrorCode,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, error_code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            error_code,
            message: message.into(),
        }
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidParameterValue,
            message,
        )
    }

    pub fn missing_parameter(name: &str) -> Self {
        Self::invalid_parameter(format!(
            "Missing value for required parameter '{name}'. \
             See the API docs for more information about request parameters."
        ))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::BadRequest,
            "Invalid content type. Must be application/json",
        )
    }

    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::BadRequest,
            "Request body is too large.",
        )
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            "You are not authenticated. Please see \
             https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow \
             on how to authenticate.",
        )
    }

    pub fn permission_denied() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            ErrorCode::PermissionDenied,
            "Permission denied.",
        )
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::ResourceDoesNotExist,
            message,
        )
    }

    pub fn endpoint_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::EndpointNotFound,
            "No such endpoint.",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::BadRequest,
            "The method is not allowed for the requested URL.",
        )
    }

    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::ResourceAlreadyExists,
            message,
        )
    }

    /// The cause is logged here, once; the client sees a plain message.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error.cause = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::InternalError,
            "Internal error. The server log has the details.",
        )
    }

    pub fn unavailable(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error.cause = %cause, "store unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::TemporarilyUnavailable,
            "The permission store is unavailable. Try again later.",
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn error_code(&self) -> ErrorCode {
        self.error_code
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody::new(self.error_code, self.message);
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"mlflow\""),
            );
        }
        response
    }
}

impl ApiError {
    /// A lookup on the tracking server failed: nothing can be decided (502). The
    /// cause is logged, never sent.
    pub fn lookup_failed(error: LookupError) -> Self {
        tracing::error!(error.cause = %error, "tracking server lookup failed");
        Self::new(
            StatusCode::BAD_GATEWAY,
            ErrorCode::TemporarilyUnavailable,
            "The tracking server could not be reached to authorize this request.",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match &error {
            StoreError::UserNotFound(_) | StoreError::GrantNotFound { .. } => {
                ApiError::not_found(error.to_string())
            }
            StoreError::UserAlreadyExists(_) | StoreError::GrantAlreadyExists { .. } => {
                ApiError::already_exists(error.to_string())
            }
            StoreError::Unavailable(_) => ApiError::unavailable(&error),
        }
    }
}

impl From<RoleError> for ApiError {
    fn from(error: RoleError) -> Self {
        match &error {
            RoleError::Unavailable(_) => ApiError::unavailable(&error),
            _ => match error.code() {
                "RESOURCE_DOES_NOT_EXIST" => ApiError::not_found(error.to_string()),
                "RESOURCE_ALREADY_EXISTS" => ApiError::already_exists(error.to_string()),
                _ => ApiError::invalid_parameter(error.to_string()),
            },
        }
    }
}

impl From<RoleNameError> for ApiError {
    fn from(error: RoleNameError) -> Self {
        ApiError::invalid_parameter(error.to_string())
    }
}

impl From<GrantRuleError> for ApiError {
    fn from(error: GrantRuleError) -> Self {
        ApiError::invalid_parameter(error.to_string())
    }
}

impl From<NameError> for ApiError {
    fn from(error: NameError) -> Self {
        ApiError::invalid_parameter(error.to_string())
    }
}

impl From<UnknownPermission> for ApiError {
    fn from(error: UnknownPermission) -> Self {
        ApiError::invalid_parameter(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_wire_shape_is_mlflows() {
        let response = ApiError::permission_denied().into_response();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .expect("body");
        assert_eq!(
            &body[..],
            br#"{"error_code":"PERMISSION_DENIED","message":"Permission denied.","sqlstate":"KAM00","error_class":"PERMISSION_DENIED"}"#
        );
        // MLflow 3.17 classifies no UNAUTHENTICATED: the keys are left out.
        let body = axum::body::to_bytes(
            ApiError::unauthenticated().into_response().into_body(),
            1024,
        )
        .await
        .expect("body");
        let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(json.as_object().map(|o| o.len()), Some(2), "{json}");
    }

    #[test]
    fn classes_follow_mlflow_3_17() {
        let expected = [
            (
                ErrorCode::InvalidParameterValue,
                Some(("KAM00", "INVALID_PARAMETER_VALUE")),
            ),
            (
                ErrorCode::BadRequest,
                Some(("KAM00", "INVALID_PARAMETER_VALUE")),
            ),
            (
                ErrorCode::ResourceAlreadyExists,
                Some(("KAM00", "RESOURCE_ALREADY_EXISTS")),
            ),
            (
                ErrorCode::ResourceDoesNotExist,
                Some(("KAM00", "RESOURCE_NOT_FOUND")),
            ),
            (
                ErrorCode::EndpointNotFound,
                Some(("KAM00", "RESOURCE_NOT_FOUND")),
            ),
            (
                ErrorCode::PermissionDenied,
                Some(("KAM00", "PERMISSION_DENIED")),
            ),
            (
                ErrorCode::FeatureDisabled,
                Some(("KAM00", "FEATURE_DISABLED")),
            ),
            (
                ErrorCode::InternalError,
                Some(("XXM00", "CLIENT_INTERNAL_ERROR")),
            ),
            (
                ErrorCode::TemporarilyUnavailable,
                Some(("XXM00", "CLIENT_INTERNAL_ERROR")),
            ),
            (ErrorCode::Unauthenticated, None),
            (ErrorCode::DeadlineExceeded, None),
            (ErrorCode::RequestLimitExceeded, None),
        ];
        for (code, classes) in expected {
            assert_eq!(code.classification(), classes, "{code}");
        }
    }

    #[test]
    fn codes_are_written_by_mlflows_names() {
        let codes = [
            (ErrorCode::InvalidParameterValue, "INVALID_PARAMETER_VALUE"),
            (ErrorCode::ResourceDoesNotExist, "RESOURCE_DOES_NOT_EXIST"),
            (ErrorCode::ResourceAlreadyExists, "RESOURCE_ALREADY_EXISTS"),
            (ErrorCode::PermissionDenied, "PERMISSION_DENIED"),
            (ErrorCode::Unauthenticated, "UNAUTHENTICATED"),
            (ErrorCode::BadRequest, "BAD_REQUEST"),
            (ErrorCode::EndpointNotFound, "ENDPOINT_NOT_FOUND"),
            (ErrorCode::InternalError, "INTERNAL_ERROR"),
            (ErrorCode::TemporarilyUnavailable, "TEMPORARILY_UNAVAILABLE"),
            (ErrorCode::DeadlineExceeded, "DEADLINE_EXCEEDED"),
            (ErrorCode::FeatureDisabled, "FEATURE_DISABLED"),
            (ErrorCode::RequestLimitExceeded, "REQUEST_LIMIT_EXCEEDED"),
        ];
        for (code, name) in codes {
            assert_eq!(code.as_str(), name);
            assert_eq!(code.to_string(), name);
        }
    }
}
