use axum::extract::State;
use axum::http::StatusCode;
use mlguard_http::{ApiError, ErrorBody};

use crate::state::AppState;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/health", tag = "health", operation_id = "health",
    responses((status = 200, description = "The process is alive", body = String, content_type = "text/plain")))]
pub(crate) async fn health() -> &'static str {
    "OK"
}

/// Readiness: the permission store answers.
#[utoipa::path(get, path = "/ready", tag = "health", operation_id = "ready",
    responses(
        (status = 200, description = "Ready to serve", body = String, content_type = "text/plain"),
        (status = 503, description = "The store does not answer", body = ErrorBody),
    ))]
pub(crate) async fn ready(
    State(state): State<AppState>,
) -> Result<(StatusCode, &'static str), ApiError> {
    state.blocking(|store| store.ping()).await??;
    Ok((StatusCode::OK, "READY"))
}
