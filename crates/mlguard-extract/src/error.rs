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

/// An error answered to the client in MLflow's JSON shape.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    error_code: &'static str,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, error_code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            error_code,
            message: message.into(),
        }
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", message)
    }

    pub fn missing_parameter(name: &str) -> Self {
        Self::invalid_parameter(format!(
            "Missing value for required parameter '{name}'. \
             See the API docs for more information about request parameters."
        ))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_REQUEST",
            "Invalid content type. Must be application/json",
        )
    }

    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BAD_REQUEST",
            "Request body is too large.",
        )
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "You are not authenticated. Please see \
             https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow \
             on how to authenticate.",
        )
    }

    pub fn permission_denied() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "Permission denied.",
        )
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST", message)
    }

    pub fn endpoint_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ENDPOINT_NOT_FOUND",
            "No such endpoint.",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "BAD_REQUEST",
            "The method is not allowed for the requested URL.",
        )
    }

    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "RESOURCE_ALREADY_EXISTS", message)
    }

    /// The cause is logged here, once; the client sees a plain message.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error.cause = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "Internal error. The server log has the details.",
        )
    }

    pub fn unavailable(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error.cause = %cause, "store unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "TEMPORARILY_UNAVAILABLE",
            "The permission store is unavailable. Try again later.",
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn error_code(&self) -> &'static str {
        self.error_code
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error_code: self.error_code.to_owned(),
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
            "TEMPORARILY_UNAVAILABLE",
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
