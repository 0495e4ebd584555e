//! Every row the policy marks `Native` is one of mlguard's own routes: a native row
//! whose path the router does not serve would answer "endpoint not found" to the
//! stock client instead of the user or permission API it expects.

mod support;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http_body_util::BodyExt;
use mlguard_api::AppState;
use mlguard_domain::Permission;
use mlguard_policy::{Access, RULES};
use tower::ServiceExt;

const ADMIN: (&str, &str) = ("admin", "admin-password-123");

/// The path with each `{param}` filled in.
fn sample(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "1"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_native_row_names_a_route_mlguard_serves() {
    let (store, _dir) = support::store_with_users(&[(ADMIN, true)]);
    let router = mlguard_api::app(AppState::new(Arc::new(store), Permission::Read));
    let auth = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", ADMIN.0, ADMIN.1))
    );
    let mut checked = 0;
    let mut unserved = Vec::new();
    for rule in RULES.iter().filter(|rule| rule.access == Access::Native) {
        for path in rule.paths {
            let request = Request::builder()
                .method(rule.method)
                .uri(sample(path))
                .header(header::AUTHORIZATION, &auth)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))
                .expect("request");
            let response = router.clone().oneshot(request).await.expect("infallible");
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes();
            let text = String::from_utf8_lossy(&body);
            if text.contains("ENDPOINT_NOT_FOUND") || status.as_u16() == 405 {
                unserved.push(format!("{} {path}: {status} {text}", rule.method));
            }
            checked += 1;
        }
    }
    assert!(checked > 30, "only {checked} native spellings");
    // The probe can tell: a path mlguard does not serve is reported as such.
    let request = Request::builder()
        .method("POST")
        .uri("/api/2.0/mlflow/users/no-such-verb")
        .header(header::AUTHORIZATION, &auth)
        .body(Body::from("{}"))
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("ENDPOINT_NOT_FOUND"));
    assert!(
        unserved.is_empty(),
        "native rows mlguard does not serve:\n{}",
        unserved.join("\n")
    );
}
