//! In-process API tests: the real router on a real SQLite file, one per test.

mod support;

#[path = "api/roles.rs"]
mod roles;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http_body_util::BodyExt;
use mlguard_api::AppState;
use mlguard_domain::{
    BoxFuture, ExperimentId, LookupError, ModelKind, ModelName, OpaqueId, Permission, Resource,
    TraceFiles, TrackingLookup, VersionFiles, VersionOrigin,
};
use mlguard_gateway::{ForwardError, Gateway, GatewayState};
use serde_json::{Value, json};
use tower::ServiceExt;

const ADMIN: (&str, &str) = ("admin", "admin-password-123");
const ALICE: (&str, &str) = ("alice", "alice-password-123");
const BOB: (&str, &str) = ("bob", "bob-password-12345");

struct TestApp {
    router: Router,
    tracking: Arc<Tracking>,
    _dir: tempfile::TempDir,
}

/// The resources these tests name but the tracking server does not hold.
fn missing_samples() -> Vec<Resource> {
    let opaque = |id: &str| OpaqueId::parse(id).expect("id");
    vec![
        Resource::Experiment(ExperimentId::parse("404").expect("id")),
        Resource::RegisteredModel(ModelName::parse("missing-model").expect("name")),
        Resource::Scorer {
            experiment_id: ExperimentId::parse("5").expect("id"),
            name: opaque("missing-scorer"),
        },
        Resource::GatewaySecret(opaque("missing-secret")),
        Resource::GatewayEndpoint(opaque("missing-endpoint")),
        Resource::GatewayModelDefinition(opaque("missing-definition")),
        Resource::McpServer(opaque("team/missing")),
    ]
}

/// The tracking server's side of the grant API: it holds every resource except the
/// absent ones, and answers nothing when down.
struct Tracking {
    absent: Mutex<HashSet<Resource>>,
    down: std::sync::atomic::AtomicBool,
}

impl Tracking {
    fn new() -> Self {
        Self {
            absent: Mutex::new(missing_samples().into_iter().collect()),
            down: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Somebody created `resource` in MLflow.
    fn create(&self, resource: &Resource) {
        self.absent.lock().expect("lock").remove(resource);
    }

    fn go_down(&self) {
        self.down.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Only the grant API's existence check may ask; anything else is a test bug.
fn unexpected<T>() -> Result<T, LookupError> {
    Err(LookupError::Unavailable(
        "not asked in these tests".to_owned(),
    ))
}

struct TrackingPort(Arc<Tracking>);

impl TrackingLookup for TrackingPort {
    fn resource_exists<'a>(
        &'a self,
        resource: &'a Resource,
    ) -> BoxFuture<'a, Result<bool, LookupError>> {
        Box::pin(async move {
            if self.0.down.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(LookupError::Unavailable("connection refused".to_owned()));
            }
            Ok(!self.0.absent.lock().expect("lock").contains(resource))
        })
    }
    fn experiment_of_run<'a>(
        &'a self,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<ExperimentId>, LookupError>> {
        Box::pin(async { unexpected() })
    }
    fn experiment_of_logged_model<'a>(
        &'a self,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<ExperimentId>, LookupError>> {
        Box::pin(async { unexpected() })
    }
    fn experiment_of_trace<'a>(
        &'a self,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<ExperimentId>, LookupError>> {
        Box::pin(async { unexpected() })
    }
    fn experiment_by_name<'a>(
        &'a self,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<ExperimentId>, LookupError>> {
        Box::pin(async { unexpected() })
    }
    fn experiments_of_dataset<'a>(
        &'a self,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<ExperimentId>>, LookupError>> {
        Box::pin(async { unexpected() })
    }
    fn gateway_endpoint_by_name<'a>(
        &'a self,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<OpaqueId>, LookupError>> {
        Box::pin(async { unexpected() })
    }
    fn registered_model_exists<'a>(
        &'a self,
        _: &'a str,
    ) -> BoxFuture<'a, Result<bool, LookupError>> {
        Box::pin(async { unexpected() })
    }
    /// The grant API asks what a registered model is: no model here is a prompt.
    fn registered_model_kind<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<ModelKind>, LookupError>> {
        Box::pin(async move {
            let model = Resource::RegisteredModel(ModelName::parse(name).expect("name"));
            Ok(self
                .resource_exists(&model)
                .await?
                .then_some(ModelKind::Model))
        })
    }
    fn model_version_source<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, LookupError>> {
        Box::pin(async { unexpected() })
    }
    fn trace_files<'a>(
        &'a self,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<TraceFiles>, LookupError>> {
        Box::pin(async { unexpected() })
    }
    fn experiment_artifact_root<'a>(
        &'a self,
        _: &'a ExperimentId,
    ) -> BoxFuture<'a, Result<Option<String>, LookupError>> {
        Box::pin(async { unexpected() })
    }
    fn model_versions_from<'a>(
        &'a self,
        _: VersionOrigin<'a>,
    ) -> BoxFuture<'a, Result<Vec<VersionFiles>, LookupError>> {
        Box::pin(async { unexpected() })
    }
}

/// Nothing here is forwarded; MLflow's "no such endpoint" if something is.
struct NotFoundUpstream;

impl NotFoundUpstream {
    /// Answers one forwarded request.
    fn forward(
        &self,
        _request: Request<Body>,
    ) -> BoxFuture<'static, Result<axum::response::Response<Body>, ForwardError>> {
        Box::pin(async {
            Ok(axum::response::Response::builder()
                .status(StatusCode::NOT_FOUND)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))
                .expect("response"))
        })
    }
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
    raw: String,
}

fn app_with_default(default: Permission) -> TestApp {
    let (store, dir) = support::store_with_users(&[(ADMIN, true), (ALICE, false), (BOB, false)]);
    let tracking = Arc::new(Tracking::new());
    let gateway = Gateway::new(
        tower::service_fn({
            let upstream = Arc::new(NotFoundUpstream);
            move |request| upstream.forward(request)
        }),
        Arc::new(TrackingPort(Arc::clone(&tracking))),
        None,
        1 << 20,
    );
    let state = AppState::new(Arc::new(store), default);
    let lookup = gateway.lookup();
    let service = mlguard_gateway::service(GatewayState::new(gateway, state.grants()));
    TestApp {
        router: mlguard_api::app(state.with_gateway(service, None, lookup)),
        tracking,
        _dir: dir,
    }
}

/// mlguard as a library, with no tracking server at all.
fn app_without_tracking_server() -> TestApp {
    let (store, dir) = support::store_with_users(&[(ADMIN, true), (ALICE, false), (BOB, false)]);
    TestApp {
        router: mlguard_api::app(AppState::new(Arc::new(store), Permission::Read)),
        tracking: Arc::new(Tracking::new()),
        _dir: dir,
    }
}

fn app() -> TestApp {
    app_with_default(Permission::Read)
}

fn basic((user, password): (&str, &str)) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

impl TestApp {
    async fn send(&self, request: Request<Body>) -> Reply {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let raw = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            raw,
        }
    }

    async fn call(
        &self,
        as_user: Option<(&str, &str)>,
        method: Method,
        uri: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(user) = as_user {
            builder = builder.header(header::AUTHORIZATION, basic(user));
        }
        let body = match body {
            Some(json) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.send(builder.body(body).expect("request")).await
    }
}

fn assert_error(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "body: {}", reply.raw);
    assert_eq!(reply.body["error_code"], code, "body: {}", reply.raw);
    assert!(reply.body["message"].is_string(), "body: {}", reply.raw);
    for leak in ["SELECT", "INSERT", "$argon2", "panicked", "diesel"] {
        assert!(!reply.raw.contains(leak), "leaks {leak}: {}", reply.raw);
    }
}

#[tokio::test]
async fn anonymous_and_bad_credentials_get_401_with_challenge() {
    // Without a tracking server, so that unknown routes are mlguard's own answer.
    let app = app_without_tracking_server();
    let cases = [
        None,
        Some((ADMIN.0, "wrong-password-123")),
        Some(("nobody", "whatever-password")),
    ];
    for creds in cases {
        let reply = app
            .call(
                creds,
                Method::GET,
                "/api/2.0/mlflow/users/get?username=admin",
                None,
            )
            .await;
        assert_error(&reply, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
        assert_eq!(
            reply.headers[header::WWW_AUTHENTICATE],
            "Basic realm=\"mlflow\""
        );
    }
    // Unknown routes too: anonymous callers learn nothing about what exists.
    let reply = app
        .call(None, Method::GET, "/api/2.0/mlflow/nope", None)
        .await;
    assert_error(&reply, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
    let reply = app
        .call(Some(ADMIN), Method::GET, "/api/2.0/mlflow/nope", None)
        .await;
    assert_error(&reply, StatusCode::NOT_FOUND, "ENDPOINT_NOT_FOUND");
}

#[tokio::test]
async fn health_is_open_and_ready_checks_the_store() {
    let app = app();
    let reply = app.call(None, Method::GET, "/health", None).await;
    assert_eq!((reply.status, reply.raw.as_str()), (StatusCode::OK, "OK"));
    let reply = app.call(None, Method::GET, "/ready", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn user_lifecycle_through_the_api() {
    let app = app();
    let created = app
        .call(
            Some(ADMIN),
            Method::POST,
            "/api/2.0/mlflow/users/create",
            Some(json!({"username": "carol", "password": "carol-password-1"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.raw);
    let user = &created.body["user"];
    assert_eq!(user["username"], "carol");
    assert_eq!(user["is_admin"], false);
    assert_eq!(user["experiment_permissions"], json!([]));
    assert!(!created.raw.contains("password"));

    let dup = app
        .call(
            Some(ADMIN),
            Method::POST,
            "/api/2.0/mlflow/users/create",
            Some(json!({"username": "carol", "password": "carol-password-1"})),
        )
        .await;
    assert_error(&dup, StatusCode::BAD_REQUEST, "RESOURCE_ALREADY_EXISTS");

    let carol = ("carol", "carol-password-1");
    let own = app
        .call(
            Some(carol),
            Method::GET,
            "/api/2.0/mlflow/users/get?username=carol",
            None,
        )
        .await;
    assert_eq!(own.status, StatusCode::OK);

    let changed = app
        .call(
            Some(carol),
            Method::PATCH,
            "/api/2.0/mlflow/users/update-password",
            Some(json!({"username": "carol", "password": "carol-new-password"})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.raw);
    assert_eq!(changed.body, json!({}));
    let old = app
        .call(
            Some(carol),
            Method::GET,
            "/api/2.0/mlflow/users/get?username=carol",
            None,
        )
        .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let carol = ("carol", "carol-new-password");

    let promoted = app
        .call(
            Some(ADMIN),
            Method::PATCH,
            "/api/2.0/mlflow/users/update-admin",
            Some(json!({"username": "carol", "is_admin": true})),
        )
        .await;
    assert_eq!(promoted.status, StatusCode::OK);
    let listed = app
        .call(
            Some(carol),
            Method::GET,
            "/ajax-api/2.0/mlflow/users/list",
            None,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    let names: Vec<&str> = listed.body["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["username"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["admin", "alice", "bob", "carol"]);
    assert!(listed.body["users"][0].get("is_admin").is_none());

    let deleted = app
        .call(
            Some(ADMIN),
            Method::DELETE,
            "/api/2.0/mlflow/users/delete?username=carol",
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.raw);
    let gone = app
        .call(
            Some(ADMIN),
            Method::GET,
            "/api/2.0/mlflow/users/get?username=carol",
            None,
        )
        .await;
    assert_error(&gone, StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(gone.body["message"], "User with username=carol not found");
    let login = app
        .call(
            Some(carol),
            Method::GET,
            "/api/2.0/mlflow/users/get?username=carol",
            None,
        )
        .await;
    assert_eq!(login.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn non_admins_are_limited_to_their_own_account() {
    let app = app();
    let attempts = [
        (
            Method::POST,
            "/api/2.0/mlflow/users/create",
            Some(json!({"username": "x", "password": "x-password-123"})),
        ),
        (Method::GET, "/api/2.0/mlflow/users/get?username=bob", None),
        (
            Method::GET,
            "/api/2.0/mlflow/users/get?username=nobody",
            None,
        ),
        (Method::GET, "/api/2.0/mlflow/users/list", None),
        (
            Method::PATCH,
            "/api/2.0/mlflow/users/update-password",
            Some(json!({"username": "bob", "password": "hijacked-password"})),
        ),
        (
            Method::PATCH,
            "/api/2.0/mlflow/users/update-admin",
            Some(json!({"username": "alice", "is_admin": true})),
        ),
        (
            Method::DELETE,
            "/api/2.0/mlflow/users/delete",
            Some(json!({"username": "bob"})),
        ),
    ];
    // The UI's spellings are the same routes (MLflow 3.17 serves both).
    for (method, uri, body) in attempts {
        for uri in [uri.to_owned(), uri.replacen("/api/", "/ajax-api/", 1)] {
            let reply = app
                .call(Some(ALICE), method.clone(), &uri, body.clone())
                .await;
            assert_error(&reply, StatusCode::FORBIDDEN, "PERMISSION_DENIED");
        }
    }
    // Bob's password is untouched and alice is still no admin.
    let bob = app
        .call(
            Some(BOB),
            Method::GET,
            "/api/2.0/mlflow/users/get?username=bob",
            None,
        )
        .await;
    assert_eq!(bob.status, StatusCode::OK);
    let alice = app
        .call(
            Some(ALICE),
            Method::GET,
            "/api/2.0/mlflow/users/get?username=alice",
            None,
        )
        .await;
    assert_eq!(alice.body["user"]["is_admin"], false);
}

/// MLflow 3.17's UI reads the caller's own account on every page, under both
/// spellings; it tells nothing about anyone else.
#[tokio::test]
async fn every_user_reads_their_own_account_as_the_current_user() {
    let app = app();
    for uri in [
        "/api/2.0/mlflow/users/current",
        "/ajax-api/2.0/mlflow/users/current",
    ] {
        let alice = app.call(Some(ALICE), Method::GET, uri, None).await;
        assert_eq!(alice.status, StatusCode::OK, "{}", alice.raw);
        assert_eq!(alice.body["is_basic_auth"], true);
        assert_eq!(alice.body["user"]["username"], ALICE.0);
        assert_eq!(alice.body["user"]["is_admin"], false);
        assert!(alice.body["user"]["id"].is_i64(), "{}", alice.raw);
        // The 3.17 shape: no permission arrays, no other field.
        assert_eq!(
            alice.body["user"].as_object().map(|user| user.len()),
            Some(3)
        );
        let admin = app.call(Some(ADMIN), Method::GET, uri, None).await;
        assert_eq!(admin.body["user"]["username"], ADMIN.0);
        assert_eq!(admin.body["user"]["is_admin"], true);
        assert_ne!(admin.body["user"]["id"], alice.body["user"]["id"]);
        let anonymous = app.call(None, Method::GET, uri, None).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn admin_only_endpoints_refuse_non_admins_before_reading_the_request() {
    let app = app();
    let attempts = [
        (Method::POST, "/api/2.0/mlflow/users/create", json!({})),
        (
            Method::POST,
            "/api/2.0/mlflow/users/create",
            json!({"username": 5, "password": null}),
        ),
        (
            Method::PATCH,
            "/api/2.0/mlflow/users/update-admin",
            json!({}),
        ),
        (
            Method::PATCH,
            "/api/2.0/mlflow/users/update-admin",
            json!({"username": "bob", "is_admin": "yes"}),
        ),
        (Method::DELETE, "/api/2.0/mlflow/users/delete", json!({})),
    ];
    for (method, uri, body) in attempts {
        let reply = app.call(Some(ALICE), method, uri, Some(body)).await;
        assert_error(&reply, StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    }
}

#[tokio::test]
async fn bad_input_gets_mlflow_errors() {
    let app = app();
    let cases = [
        (
            json!({"username": "dave"}),
            "Missing value for required parameter 'password'",
        ),
        (
            json!({"username": "dave", "password": "short"}),
            "Password must be a string longer than 12 characters.",
        ),
        (
            json!({"username": "", "password": "long-enough-pass"}),
            "Username and password cannot be empty.",
        ),
        (
            json!({"username": "da:ve", "password": "long-enough-pass"}),
            "Username must not contain",
        ),
        (
            json!({"username": 5, "password": "long-enough-pass"}),
            "expected a string",
        ),
    ];
    for (body, message) in cases {
        let reply = app
            .call(
                Some(ADMIN),
                Method::POST,
                "/api/2.0/mlflow/users/create",
                Some(body),
            )
            .await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE");
        assert!(
            reply.body["message"]
                .as_str()
                .expect("message")
                .contains(message),
            "{}",
            reply.raw
        );
    }
    let not_bool = app
        .call(
            Some(ADMIN),
            Method::PATCH,
            "/api/2.0/mlflow/users/update-admin",
            Some(json!({"username": "bob", "is_admin": "false"})),
        )
        .await;
    assert_error(
        &not_bool,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
    );

    let text = app
        .send(
            Request::post("/api/2.0/mlflow/users/create")
                .header(header::AUTHORIZATION, basic(ADMIN))
                .header(header::CONTENT_TYPE, "text/plain")
                .body(Body::from("username=x"))
                .expect("request"),
        )
        .await;
    assert_error(&text, StatusCode::UNSUPPORTED_MEDIA_TYPE, "BAD_REQUEST");

    let malformed = app
        .send(
            Request::post("/api/2.0/mlflow/users/create")
                .header(header::AUTHORIZATION, basic(ADMIN))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{\"username\": "))
                .expect("request"),
        )
        .await;
    assert_error(&malformed, StatusCode::BAD_REQUEST, "BAD_REQUEST");

    let wrong_method = app
        .call(
            Some(ADMIN),
            Method::POST,
            "/api/2.0/mlflow/users/list",
            Some(json!({})),
        )
        .await;
    assert_error(&wrong_method, StatusCode::METHOD_NOT_ALLOWED, "BAD_REQUEST");
}

#[tokio::test]
async fn experiment_permission_crud_needs_manage() {
    let app = app();
    let base = "/api/2.0/mlflow/experiments/permissions";
    // Alice has only the default READ: she may not manage experiment 7.
    let denied = app
        .call(
            Some(ALICE),
            Method::POST,
            &format!("{base}/create"),
            Some(json!({"experiment_id": "7", "username": "bob", "permission": "READ"})),
        )
        .await;
    assert_error(&denied, StatusCode::FORBIDDEN, "PERMISSION_DENIED");

    let granted = app
        .call(
            Some(ADMIN),
            Method::POST,
            &format!("{base}/create"),
            Some(json!({"experiment_id": "7", "username": "alice", "permission": "MANAGE"})),
        )
        .await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.raw);
    let perm = &granted.body["experiment_permission"];
    assert_eq!(perm["experiment_id"], "7");
    assert_eq!(perm["permission"], "MANAGE");
    assert!(perm["user_id"].is_i64());

    // Now alice manages experiment 7, and only 7.
    let by_alice = app
        .call(
            Some(ALICE),
            Method::POST,
            &format!("{base}/create"),
            Some(json!({"experiment_id": "7", "username": "bob", "permission": "NO_PERMISSIONS"})),
        )
        .await;
    assert_eq!(by_alice.status, StatusCode::OK, "{}", by_alice.raw);
    assert_eq!(
        by_alice.body["experiment_permission"]["permission"],
        "NO_PERMISSIONS"
    );
    let other = app
        .call(
            Some(ALICE),
            Method::POST,
            &format!("{base}/create"),
            Some(json!({"experiment_id": "8", "username": "bob", "permission": "READ"})),
        )
        .await;
    assert_error(&other, StatusCode::FORBIDDEN, "PERMISSION_DENIED");

    let dup = app
        .call(
            Some(ALICE),
            Method::POST,
            &format!("{base}/create"),
            Some(json!({"experiment_id": "7", "username": "bob", "permission": "READ"})),
        )
        .await;
    assert_error(&dup, StatusCode::BAD_REQUEST, "RESOURCE_ALREADY_EXISTS");

    let updated = app
        .call(
            Some(ALICE),
            Method::PATCH,
            &format!("{base}/update"),
            Some(json!({"experiment_id": "7", "username": "bob", "permission": "EDIT"})),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK);
    let fetched = app
        .call(
            Some(ALICE),
            Method::GET,
            &format!("{base}/get?experiment_id=7&username=bob"),
            None,
        )
        .await;
    assert_eq!(fetched.body["experiment_permission"]["permission"], "EDIT");
    // HEAD answers like GET, without a body.
    let head = app
        .call(
            Some(ALICE),
            Method::HEAD,
            &format!("{base}/get?experiment_id=7&username=bob"),
            None,
        )
        .await;
    assert_eq!((head.status, head.raw.as_str()), (StatusCode::OK, ""));

    let removed = app
        .call(
            Some(ALICE),
            Method::DELETE,
            &format!("{base}/delete"),
            Some(json!({"experiment_id": "7", "username": "bob"})),
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK);
    let missing = app
        .call(
            Some(ALICE),
            Method::GET,
            &format!("{base}/get?experiment_id=7&username=bob"),
            None,
        )
        .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(
        missing.body["message"],
        "Experiment permission with experiment_id=7 and username=bob not found"
    );

    let invalid = app
        .call(
            Some(ADMIN),
            Method::POST,
            &format!("{base}/create"),
            Some(json!({"experiment_id": "7", "username": "bob", "permission": "WRITE"})),
        )
        .await;
    assert_error(&invalid, StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE");
    let no_user = app
        .call(
            Some(ADMIN),
            Method::POST,
            &format!("{base}/create"),
            Some(json!({"experiment_id": "7", "username": "nobody", "permission": "READ"})),
        )
        .await;
    assert_error(&no_user, StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST");
}

#[tokio::test]
async fn experiment_ids_must_be_canonical() {
    let app = app();
    for id in [
        json!("01"),
        json!(" 1"),
        json!("1.0"),
        json!("-1"),
        json!(1),
        json!(""),
    ] {
        let reply = app
            .call(
                Some(ADMIN),
                Method::POST,
                "/api/2.0/mlflow/experiments/permissions/create",
                Some(json!({"experiment_id": id, "username": "bob", "permission": "READ"})),
            )
            .await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE");
    }
    for query in [
        "experiment_id=%2B1&username=bob",
        "experiment_id=1&experiment_id=2&username=bob",
    ] {
        let reply = app
            .call(
                Some(ADMIN),
                Method::GET,
                &format!("/api/2.0/mlflow/experiments/permissions/get?{query}"),
                None,
            )
            .await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE");
    }
}

#[tokio::test]
async fn explicit_no_permissions_beats_a_manage_default() {
    let app = app_with_default(Permission::Manage);
    let base = "/api/2.0/mlflow/registered-models/permissions";
    // With default MANAGE, alice manages any model without a grant...
    let ok = app
        .call(
            Some(ALICE),
            Method::POST,
            &format!("{base}/create"),
            Some(json!({"name": "m1", "username": "alice", "permission": "NO_PERMISSIONS"})),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.raw);
    let perm = &ok.body["registered_model_permission"];
    assert_eq!(
        (perm["name"].as_str(), perm["workspace"].as_str()),
        (Some("m1"), Some("default"))
    );
    // ...but her explicit NO_PERMISSIONS on m1 now denies her.
    let denied = app
        .call(
            Some(ALICE),
            Method::GET,
            &format!("{base}/get?name=m1&username=alice"),
            None,
        )
        .await;
    assert_error(&denied, StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    let other = app
        .call(
            Some(ALICE),
            Method::GET,
            &format!("{base}/get?name=m2&username=alice"),
            None,
        )
        .await;
    assert_error(&other, StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(
        other.body["message"],
        "Registered model permission with workspace=default, name=m2 and username=alice not found"
    );
}

#[tokio::test]
async fn get_user_lists_grants_and_deleting_a_user_drops_them() {
    let app = app();
    for (uri, body) in [
        (
            "/api/2.0/mlflow/experiments/permissions/create",
            json!({"experiment_id": "3", "username": "bob", "permission": "EDIT"}),
        ),
        (
            "/api/2.0/mlflow/registered-models/permissions/create",
            json!({"name": "churn", "username": "bob", "permission": "READ"}),
        ),
    ] {
        let reply = app.call(Some(ADMIN), Method::POST, uri, Some(body)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.raw);
    }
    let bob = app
        .call(
            Some(BOB),
            Method::GET,
            "/api/2.0/mlflow/users/get?username=bob",
            None,
        )
        .await;
    let user = &bob.body["user"];
    assert_eq!(user["experiment_permissions"][0]["experiment_id"], "3");
    assert_eq!(user["experiment_permissions"][0]["permission"], "EDIT");
    assert_eq!(user["registered_model_permissions"][0]["name"], "churn");

    app.call(
        Some(ADMIN),
        Method::DELETE,
        "/api/2.0/mlflow/users/delete",
        Some(json!({"username": "bob"})),
    )
    .await;
    let recreated = app
        .call(
            Some(ADMIN),
            Method::POST,
            "/api/2.0/mlflow/users/create",
            Some(json!({"username": "bob", "password": "bob-password-again"})),
        )
        .await;
    assert_eq!(recreated.status, StatusCode::OK);
    let fresh = app
        .call(
            Some(ADMIN),
            Method::GET,
            "/api/2.0/mlflow/users/get?username=bob",
            None,
        )
        .await;
    assert_eq!(fresh.body["user"]["experiment_permissions"], json!([]));
    assert_eq!(
        fresh.body["user"]["registered_model_permissions"],
        json!([])
    );
}

#[tokio::test]
async fn scorer_grants_need_manage_on_the_scorer_not_the_experiment() {
    let app = app();
    let base = "/api/3.0/mlflow/scorers/permissions";
    // MANAGE on experiment 5 does not let alice manage its scorers.
    let exp = app
        .call(
            Some(ADMIN),
            Method::POST,
            "/api/2.0/mlflow/experiments/permissions/create",
            Some(json!({"experiment_id": "5", "username": "alice", "permission": "MANAGE"})),
        )
        .await;
    assert_eq!(exp.status, StatusCode::OK);
    let body =
        json!({"experiment_id": "5", "scorer_name": "s1", "username": "bob", "permission": "READ"});
    let denied = app
        .call(
            Some(ALICE),
            Method::POST,
            &format!("{base}/create"),
            Some(body.clone()),
        )
        .await;
    assert_error(&denied, StatusCode::FORBIDDEN, "PERMISSION_DENIED");

    let granted = app
        .call(
            Some(ADMIN),
            Method::POST,
            &format!("{base}/create"),
            Some(json!({"experiment_id": "5", "scorer_name": "s1", "username": "alice", "permission": "MANAGE"})),
        )
        .await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.raw);
    assert_eq!(
        granted.body["scorer_permission"],
        json!({"experiment_id": "5", "scorer_name": "s1", "permission": "MANAGE",
               "user_id": granted.body["scorer_permission"]["user_id"]})
    );
    let by_alice = app
        .call(
            Some(ALICE),
            Method::POST,
            &format!("{base}/create"),
            Some(body),
        )
        .await;
    assert_eq!(by_alice.status, StatusCode::OK, "{}", by_alice.raw);
    let listed = app
        .call(
            Some(BOB),
            Method::GET,
            "/api/2.0/mlflow/users/get?username=bob",
            None,
        )
        .await;
    assert_eq!(
        listed.body["user"]["scorer_permissions"][0]["scorer_name"],
        "s1"
    );
    let missing = app
        .call(
            Some(ADMIN),
            Method::GET,
            &format!("{base}/get?experiment_id=5&scorer_name=s2&username=bob"),
            None,
        )
        .await;
    assert_eq!(
        missing.body["message"],
        "Scorer permission with experiment_id=5, scorer_name=s2, and username=bob not found"
    );
}

#[tokio::test]
async fn gateway_permission_endpoints_use_mlflow_shapes() {
    let app = app();
    let kinds = [
        (
            "secrets",
            "secret_id",
            "gateway_secret_permission",
            "Gateway secret",
        ),
        (
            "endpoints",
            "endpoint_id",
            "gateway_endpoint_permission",
            "Gateway endpoint",
        ),
        (
            "model-definitions",
            "model_definition_id",
            "gateway_model_definition_permission",
            "Gateway model definition",
        ),
    ];
    for (path, field, key, noun) in kinds {
        let base = format!("/api/3.0/mlflow/gateway/{path}/permissions");
        let denied = app
            .call(
                Some(ALICE),
                Method::POST,
                &format!("{base}/create"),
                Some(json!({field: "x-1", "username": "bob", "permission": "USE"})),
            )
            .await;
        assert_error(&denied, StatusCode::FORBIDDEN, "PERMISSION_DENIED");
        let created = app
            .call(
                Some(ADMIN),
                Method::POST,
                &format!("{base}/create"),
                Some(json!({field: "x-1", "username": "bob", "permission": "USE"})),
            )
            .await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.raw);
        assert_eq!(created.body[key][field], "x-1");
        assert_eq!(created.body[key]["permission"], "USE");
        let deleted = app
            .call(
                Some(ADMIN),
                Method::DELETE,
                &format!("{base}/delete?{field}=x-1&username=bob"),
                None,
            )
            .await;
        assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.raw);
        let missing = app
            .call(
                Some(ADMIN),
                Method::GET,
                &format!("{base}/get?{field}=x-1&username=bob"),
                None,
            )
            .await;
        assert_error(&missing, StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST");
        assert_eq!(
            missing.body["message"],
            format!("{noun} permission with {field}=x-1 and username=bob not found")
        );
    }
}

/// Each grantable kind: its create and get paths, and the request naming the
/// missing sample of that kind for `username`.
fn missing_grant_requests(username: &str) -> Vec<(&'static str, &'static str, Value)> {
    let with = |mut fields: Value| {
        fields["username"] = json!(username);
        fields["permission"] = json!("READ");
        fields
    };
    vec![
        (
            "/api/2.0/mlflow/experiments/permissions/create",
            "/api/2.0/mlflow/experiments/permissions/get",
            with(json!({"experiment_id": "404"})),
        ),
        (
            "/api/2.0/mlflow/registered-models/permissions/create",
            "/api/2.0/mlflow/registered-models/permissions/get",
            with(json!({"name": "missing-model"})),
        ),
        (
            "/api/3.0/mlflow/scorers/permissions/create",
            "/api/3.0/mlflow/scorers/permissions/get",
            with(json!({"experiment_id": "5", "scorer_name": "missing-scorer"})),
        ),
        (
            "/api/3.0/mlflow/gateway/secrets/permissions/create",
            "/api/3.0/mlflow/gateway/secrets/permissions/get",
            with(json!({"secret_id": "missing-secret"})),
        ),
        (
            "/api/3.0/mlflow/gateway/endpoints/permissions/create",
            "/api/3.0/mlflow/gateway/endpoints/permissions/get",
            with(json!({"endpoint_id": "missing-endpoint"})),
        ),
        (
            "/api/3.0/mlflow/gateway/model-definitions/permissions/create",
            "/api/3.0/mlflow/gateway/model-definitions/permissions/get",
            with(json!({"model_definition_id": "missing-definition"})),
        ),
    ]
}

/// The query naming the same grant as a create body.
fn grant_query(body: &Value) -> String {
    body.as_object()
        .expect("object")
        .iter()
        .filter(|(field, _)| *field != "permission")
        .map(|(field, value)| format!("{field}={}", value.as_str().expect("string")))
        .collect::<Vec<_>>()
        .join("&")
}

#[tokio::test]
async fn grants_on_missing_resources_are_refused_and_nothing_is_created() {
    // An admin, and alice managing everything by default: both may grant, neither
    // may grant on what the tracking server does not hold.
    for (default, caller) in [(Permission::Read, ADMIN), (Permission::Manage, ALICE)] {
        let app = app_with_default(default);
        for (create, get, body) in missing_grant_requests("bob") {
            let refused = app
                .call(Some(caller), Method::POST, create, Some(body.clone()))
                .await;
            assert_error(&refused, StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST");
            assert!(
                refused.body["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("missing") || m.contains("404")),
                "{create}: {}",
                refused.raw
            );
            let nothing = app
                .call(
                    Some(ADMIN),
                    Method::GET,
                    &format!("{get}?{}", grant_query(&body)),
                    None,
                )
                .await;
            assert_error(&nothing, StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST");
            assert!(
                nothing.body["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("permission")),
                "{get}: {}",
                nothing.raw
            );
        }
    }
}

#[tokio::test]
async fn a_caller_without_manage_cannot_tell_missing_from_existing() {
    let app = app();
    for (create, _, body) in missing_grant_requests("alice") {
        let missing = app
            .call(Some(ALICE), Method::POST, create, Some(body))
            .await;
        assert_error(&missing, StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    }
    let existing = app
        .call(
            Some(ALICE),
            Method::POST,
            "/api/2.0/mlflow/experiments/permissions/create",
            Some(json!({"experiment_id": "7", "username": "alice", "permission": "MANAGE"})),
        )
        .await;
    assert_error(&existing, StatusCode::FORBIDDEN, "PERMISSION_DENIED");
}

#[tokio::test]
async fn a_grant_named_ahead_of_its_resource_cannot_lock_out_its_creator() {
    let app = app_with_default(Permission::Manage);
    let model = Resource::RegisteredModel(ModelName::parse("missing-model").expect("name"));
    let base = "/api/2.0/mlflow/registered-models/permissions";
    // Alice tries to claim the model before it exists and to shut bob out of it.
    for (username, permission) in [("alice", "MANAGE"), ("bob", "NO_PERMISSIONS")] {
        let claim = app
            .call(
                Some(ALICE),
                Method::POST,
                &format!("{base}/create"),
                Some(json!({"name": "missing-model", "username": username,
                    "permission": permission})),
            )
            .await;
        assert_error(&claim, StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST");
    }
    // Bob creates it; nothing of alice's stands between him and his model.
    app.tracking.create(&model);
    let own = app
        .call(
            Some(BOB),
            Method::POST,
            &format!("{base}/create"),
            Some(json!({"name": "missing-model", "username": "bob", "permission": "MANAGE"})),
        )
        .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.raw);
    let still_manages = app
        .call(
            Some(BOB),
            Method::GET,
            &format!("{base}/get?name=missing-model&username=bob"),
            None,
        )
        .await;
    assert_eq!(
        still_manages.status,
        StatusCode::OK,
        "{}",
        still_manages.raw
    );
    assert_eq!(
        still_manages.body["registered_model_permission"]["permission"],
        "MANAGE"
    );
}

#[tokio::test]
async fn grants_on_deleted_resources_can_still_be_read_changed_and_revoked() {
    let app = app();
    let base = "/api/2.0/mlflow/experiments/permissions";
    let granted = app
        .call(
            Some(ADMIN),
            Method::POST,
            &format!("{base}/create"),
            Some(json!({"experiment_id": "7", "username": "bob", "permission": "READ"})),
        )
        .await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.raw);
    // Experiment 7 is deleted in MLflow.
    app.tracking
        .absent
        .lock()
        .expect("lock")
        .insert(Resource::Experiment(ExperimentId::parse("7").expect("id")));
    let read = app
        .call(
            Some(ADMIN),
            Method::GET,
            &format!("{base}/get?experiment_id=7&username=bob"),
            None,
        )
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.raw);
    let changed = app
        .call(
            Some(ADMIN),
            Method::PATCH,
            &format!("{base}/update"),
            Some(json!({"experiment_id": "7", "username": "bob", "permission": "EDIT"})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.raw);
    let revoked = app
        .call(
            Some(ADMIN),
            Method::DELETE,
            &format!("{base}/delete"),
            Some(json!({"experiment_id": "7", "username": "bob"})),
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.raw);
}

#[tokio::test]
async fn no_grant_is_created_when_existence_cannot_be_checked() {
    let body = json!({"experiment_id": "7", "username": "bob", "permission": "READ"});
    let create = "/api/2.0/mlflow/experiments/permissions/create";
    let get = "/api/2.0/mlflow/experiments/permissions/get?experiment_id=7&username=bob";

    let down = app();
    down.tracking.go_down();
    let refused = down
        .call(Some(ADMIN), Method::POST, create, Some(body.clone()))
        .await;
    assert_error(&refused, StatusCode::BAD_GATEWAY, "TEMPORARILY_UNAVAILABLE");
    let nothing = down.call(Some(ADMIN), Method::GET, get, None).await;
    assert_error(&nothing, StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST");

    let alone = app_without_tracking_server();
    let refused = alone
        .call(Some(ADMIN), Method::POST, create, Some(body))
        .await;
    assert_error(&refused, StatusCode::NOT_IMPLEMENTED, "FEATURE_DISABLED");
    let nothing = alone.call(Some(ADMIN), Method::GET, get, None).await;
    assert_error(&nothing, StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST");
}
