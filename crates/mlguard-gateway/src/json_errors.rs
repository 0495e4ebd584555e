//! Upstream errors in MLflow's JSON shape. MLflow answers unknown API paths and
//! some failures with Flask's HTML pages or plain text; API clients get
//! `{"error_code", "message"}` instead, with the same status. The UI's own pages
//! (`/`, static files) keep whatever MLflow sent.

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode, header};
use mlguard_http::{ApiError, ErrorCode};

/// Paths whose clients expect JSON errors.
fn is_api_path(route_path: &str) -> bool {
    ["/api/", "/ajax-api/", "/graphql", "/v1/", "/gateway/"]
        .iter()
        .any(|prefix| route_path.starts_with(prefix))
}

fn is_json(response: &Response<Body>) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let essence = v.split(';').next().unwrap_or_default().trim();
            essence.eq_ignore_ascii_case("application/json") || essence.ends_with("+json")
        })
}

/// The error code MLflow uses for a status, for errors that came without one.
fn error_code(status: StatusCode) -> (ErrorCode, &'static str) {
    match status {
        StatusCode::NOT_FOUND => (ErrorCode::EndpointNotFound, "No API endpoint at this path."),
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorCode::EndpointNotFound,
            "This method is not allowed on this path.",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            ErrorCode::InvalidParameterValue,
            "The request's content type is not supported here.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            ErrorCode::InvalidParameterValue,
            "The request is too large.",
        ),
        s if s.is_client_error() => (
            ErrorCode::BadRequest,
            "The tracking server refused the request.",
        ),
        _ => (
            ErrorCode::InternalError,
            "The tracking server failed to answer the request.",
        ),
    }
}

/// `response` as it is, unless it is a non-JSON error on an API path: then MLflow's
/// JSON error shape with the same status. The upstream's text is not passed on (it
/// may be an HTML page, or a server detail).
pub(crate) async fn upstream_error(response: Response<Body>, route_path: &str) -> Response<Body> {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || !is_api_path(route_path)
        || is_json(&response)
    {
        return response;
    }
    let (code, message) = error_code(status);
    let mut rebuilt =
        axum::response::IntoResponse::into_response(ApiError::new(status, code, message));
    // Keep what the client needs to retry or re-authenticate.
    for name in [header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(value) = response.headers().get(&name) {
            rebuilt.headers_mut().insert(name, value.clone());
        }
    }
    rebuilt.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    rebuilt
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html(status: StatusCode) -> Response<Body> {
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
            .body(Body::from("<!doctype html><title>404 Not Found</title>"))
            .expect("response")
    }

    async fn body_json(response: Response<Body>) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        serde_json::from_slice(&bytes).expect("json")
    }

    #[tokio::test]
    async fn html_errors_on_api_paths_become_mlflow_json() {
        let response =
            upstream_error(html(StatusCode::NOT_FOUND), "/api/2.0/mlflow/no-such-route").await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let json = body_json(response).await;
        assert_eq!(json["error_code"], "ENDPOINT_NOT_FOUND");
        assert!(!json["message"].as_str().unwrap_or_default().contains('<'));
    }

    #[tokio::test]
    async fn json_errors_and_ui_pages_pass_through() {
        let json_error = Response::builder()
            .status(StatusCode::NOT_FOUND)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                r#"{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"x"}"#,
            ))
            .expect("response");
        let kept = upstream_error(json_error, "/api/2.0/mlflow/experiments/get").await;
        assert_eq!(
            body_json(kept).await["error_code"],
            "RESOURCE_DOES_NOT_EXIST"
        );

        let page = upstream_error(html(StatusCode::NOT_FOUND), "/static-files/x.js").await;
        assert_eq!(
            page.headers().get(header::CONTENT_TYPE).expect("type"),
            "text/html; charset=utf-8"
        );
    }
}
