use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mlguard_domain::{LookupError, NameError, StoreError, UnknownPermission};
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
        let body = ErrorBody {
            error_code: self.error_code.as_str().to_owned(),
            message: self.message,
        };
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
            br#"{"error_code":"PERMISSION_DENIED","message":"Permission denied."}"#
        );
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
