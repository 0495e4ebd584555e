//! In-process tests of the secrets API: the real router, the real SQLite store
//! and the real envelope cipher, one database per test.
//!
//! The operation matrix is checked cell by cell: every operation, for a caller
//! with no grant, with each level, and as an admin, under default READ and
//! default NO_PERMISSIONS. Fixtures are set up through the ports (fast); the
//! operation under test always goes through HTTP.

mod support;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http_body_util::BodyExt;
use mlguard_api::AppState;
use mlguard_crypto::{Envelope, LocalKeyring};
use mlguard_domain::secrets::{
    BindingKey, Label, NewSecret, SecretCipher, SecretId, SecretName, SecretStore, SecretValue,
};
use mlguard_domain::{Permission, UserStore, Username};
use mlguard_storage::Store;
use serde_json::{Value, json};
use tower::ServiceExt;

const ADMIN: (&str, &str) = ("admin", "admin-password-123");
const ALICE: (&str, &str) = ("alice", "alice-password-123");
const BOB: (&str, &str) = ("bob", "bob-password-12345");
const CAROL: (&str, &str) = ("carol", "carol-password-123");
const DAVE: (&str, &str) = ("dave", "dave-password-1234");

/// A test key-encryption key (base64 of 32 bytes).
const KEK: &str = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=";

/// A value no response may ever contain.
const CANARY: &str = "sk-canary-never-shown-7c1e";

struct TestApp {
    router: Router,
    store: Store,
    cipher: Arc<Envelope<LocalKeyring>>,
    /// Every response body seen, for the plaintext search.
    bodies: std::sync::Mutex<Vec<String>>,
    _dir: tempfile::TempDir,
}

struct Reply {
    status: StatusCode,
    body: Value,
    raw: String,
}

fn seeded_store() -> (Store, tempfile::TempDir) {
    let (store, dir) = support::store_with_users(&[
        (ADMIN, true),
        (ALICE, false),
        (BOB, false),
        (CAROL, false),
        (DAVE, false),
    ]);
    (store, dir)
}

fn app_with_default(default: Permission) -> TestApp {
    let (store, dir) = seeded_store();
    let cipher = Arc::new(Envelope::new(
        LocalKeyring::from_base64(KEK, &[]).expect("test KEK"),
    ));
    let state = AppState::new(Arc::new(store.clone()), default)
        .with_secrets(Arc::new(store.clone()), cipher.clone());
    TestApp {
        router: mlguard_api::app(state),
        store,
        cipher,
        bodies: std::sync::Mutex::new(Vec::new()),
        _dir: dir,
    }
}

fn basic((user, password): (&str, &str)) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

fn name(raw: &str) -> Username {
    Username::parse(raw).expect("valid name")
}

impl TestApp {
    async fn call(
        &self,
        as_user: (&str, &str),
        method: Method,
        uri: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, basic(as_user));
        let body = match body {
            Some(json) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        let response = self
            .router
            .clone()
            .oneshot(builder.body(body).expect("request"))
            .await
            .expect("infallible");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let raw = String::from_utf8_lossy(&bytes).into_owned();
        self.bodies.lock().expect("lock").push(raw.clone());
        Reply {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            raw,
        }
    }

    async fn get(&self, as_user: (&str, &str), uri: &str) -> Reply {
        self.call(as_user, Method::GET, uri, None).await
    }

    async fn post(&self, as_user: (&str, &str), uri: &str, body: Value) -> Reply {
        self.call(as_user, Method::POST, uri, Some(body)).await
    }

    async fn delete(&self, as_user: (&str, &str), uri: &str, body: Value) -> Reply {
        self.call(as_user, Method::DELETE, uri, Some(body)).await
    }

    /// A secret owned by alice (MANAGE), bound at (`scorer_job`, `resource`,
    /// `api_key`), made through the ports.
    fn secret(&self, resource: &str, value: &str) -> SecretId {
        let id = SecretId::from_random(rand::random());
        let sealed = self
            .cipher
            .seal(&id, &SecretValue::new(value).expect("value"))
            .expect("seal");
        let alice = name("alice");
        self.store
            .create_secret(
                &NewSecret {
                    id: id.clone(),
                    name: SecretName::parse("provider key").expect("name"),
                    provider: Some(Label::provider("openai").expect("provider")),
                    description: None,
                    created_by: alice.clone(),
                },
                &sealed,
                &binding_key(resource),
                Some((&alice, Permission::Manage)),
            )
            .expect("create secret");
        id
    }

    fn grant(&self, id: &SecretId, user: &str, level: Permission) {
        self.store
            .create_secret_grant(id, &name(user), level)
            .expect("grant");
    }

    fn value_of(&self, id: &SecretId) -> String {
        let sealed = self.store.sealed_value(id).expect("sealed");
        self.cipher
            .open(id, &sealed)
            .expect("opens")
            .expose()
            .to_owned()
    }

    /// The whole observable state of a secret: metadata, value, bindings, grants.
    fn snapshot(&self, id: &SecretId) -> String {
        let info = self.store.secret_info(id).map(|i| format!("{i:?}"));
        let value = self.store.sealed_value(id).ok().map(|_| self.value_of(id));
        let bindings = self.store.bindings_of(id).map(|b| format!("{b:?}"));
        let grants: Vec<Option<Permission>> = [ALICE, BOB, CAROL, DAVE]
            .iter()
            .map(|(user, _)| {
                let user = self.store.get_user(&name(user)).expect("user");
                self.store
                    .secret_permission_of(user.id, id)
                    .expect("lookup")
            })
            .collect();
        format!("{info:?} {value:?} {bindings:?} {grants:?}")
    }

    /// Asserts that no response so far contained `needle`.
    fn assert_never_answered(&self, needle: &str) {
        let bodies = self.bodies.lock().expect("lock");
        assert!(!bodies.is_empty());
        for body in bodies.iter() {
            assert!(
                !body.contains(needle),
                "a response contains the value: {body}"
            );
        }
    }
}

fn binding_key(resource: &str) -> BindingKey {
    BindingKey::parse("scorer_job", resource, "api_key").expect("key")
}

fn assert_error(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "body: {}", reply.raw);
    assert_eq!(reply.body["error_code"], code, "body: {}", reply.raw);
    assert!(reply.body["message"].is_string(), "body: {}", reply.raw);
    let fields: Vec<&String> = reply.body.as_object().expect("object").keys().collect();
    // `Value` sorts its keys; the raw body keeps MLflow 3.17's order.
    assert_eq!(
        fields,
        ["error_class", "error_code", "message", "sqlstate"],
        "body: {}",
        reply.raw
    );
    let at = |key: &str| reply.raw.find(&format!("\"{key}\":"));
    assert!(
        at("error_code") < at("message")
            && at("message") < at("sqlstate")
            && at("sqlstate") < at("error_class"),
        "body: {}",
        reply.raw
    );
    for leak in ["SELECT", "INSERT", "$argon2", "panicked", "diesel", CANARY] {
        assert!(!reply.raw.contains(leak), "leaks {leak}: {}", reply.raw);
    }
}

fn assert_ok(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::OK, "body: {}", reply.raw);
}

// ---------------------------------------------------------------------------
// The operation matrix

/// Who calls: a user with no grant, with an explicit level, or an admin.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Caller {
    NoGrant,
    Level(Permission),
    Admin,
}

const CALLERS: [Caller; 7] = [
    Caller::NoGrant,
    Caller::Level(Permission::NoPermissions),
    Caller::Level(Permission::Read),
    Caller::Level(Permission::Use),
    Caller::Level(Permission::Edit),
    Caller::Level(Permission::Manage),
    Caller::Admin,
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Create,
    ViewInfo,
    ListBindings,
    List,
    Bind,
    Unbind,
    CreateRoute,
    UpdateValue,
    Delete,
    Grant,
    ViewGrant,
    ChangeGrant,
    Revoke,
}

const OPS: [Op; 13] = [
    Op::Create,
    Op::ViewInfo,
    Op::ListBindings,
    Op::List,
    Op::Bind,
    Op::Unbind,
    Op::CreateRoute,
    Op::UpdateValue,
    Op::Delete,
    Op::Grant,
    Op::ViewGrant,
    Op::ChangeGrant,
    Op::Revoke,
];

/// The issue's matrix, written out independently of the code under test: the
/// lowest level each operation needs (`None`: any authenticated user).
fn needed(op: Op) -> Option<Permission> {
    match op {
        Op::Create => None,
        Op::ViewInfo | Op::ListBindings | Op::List => Some(Permission::Read),
        Op::Bind | Op::Unbind | Op::CreateRoute => Some(Permission::Edit),
        Op::UpdateValue | Op::Delete | Op::Grant | Op::ViewGrant | Op::ChangeGrant | Op::Revoke => {
            Some(Permission::Manage)
        }
    }
}

fn rank(level: Permission) -> u8 {
    match level {
        Permission::NoPermissions | Permission::Deny => 0,
        Permission::Read => 1,
        Permission::Use => 2,
        Permission::Edit => 3,
        Permission::Manage => 4,
    }
}

fn expected_allowed(caller: Caller, default: Permission, op: Op) -> bool {
    let Some(needed) = needed(op) else {
        return true;
    };
    let held = match caller {
        Caller::Admin => return true,
        Caller::NoGrant => default,
        Caller::Level(level) => level,
    };
    rank(held) >= rank(needed)
}

/// Runs `op` as `who` on `id` (bound at `resource`); true if it was allowed.
async fn perform(app: &TestApp, who: (&str, &str), op: Op, id: &SecretId, resource: &str) -> bool {
    let id = id.as_str();
    let reply = match op {
        Op::Create => {
            app.post(
                who,
                "/api/3.0/mlflow/secrets/create-and-bind",
                json!({"name": "mine", "value": CANARY, "resource_type": "scorer_job",
                       "resource_id": format!("{resource}-new"), "field_name": "api_key"}),
            )
            .await
        }
        Op::ViewInfo => {
            app.get(
                who,
                &format!("/api/3.0/mlflow/secrets/get-info?secret_id={id}"),
            )
            .await
        }
        Op::ListBindings => {
            app.get(
                who,
                &format!("/api/3.0/mlflow/secrets/list-bindings?secret_id={id}"),
            )
            .await
        }
        Op::List => {
            let reply = app
                .get(who, "/api/3.0/mlflow/secrets/list?max_results=1000")
                .await;
            assert_ok(&reply);
            let listed = reply.body["secrets"]
                .as_array()
                .expect("secrets")
                .iter()
                .any(|s| s["secret_id"] == id);
            return listed;
        }
        Op::Bind => {
            app.post(
                who,
                "/api/3.0/mlflow/secrets/bind",
                json!({"secret_id": id, "resource_type": "judge", "resource_id": resource,
                       "field_name": "api_key"}),
            )
            .await
        }
        Op::Unbind => {
            app.post(
                who,
                "/api/3.0/mlflow/secrets/unbind",
                json!({"resource_type": "scorer_job", "resource_id": resource,
                       "field_name": "api_key"}),
            )
            .await
        }
        Op::CreateRoute => {
            app.post(
                who,
                "/api/3.0/mlflow/secrets/create-route-and-bind",
                json!({"secret_id": id,
                       "route": {"name": "chat", "provider": "openai", "model_name": "gpt-4o"}}),
            )
            .await
        }
        Op::UpdateValue => {
            app.post(
                who,
                "/api/3.0/mlflow/secrets/update",
                json!({"secret_id": id, "value": "rotated-value"}),
            )
            .await
        }
        Op::Delete => {
            app.delete(
                who,
                "/api/3.0/mlflow/secrets/delete",
                json!({"secret_id": id}),
            )
            .await
        }
        Op::Grant => {
            app.post(
                who,
                "/api/2.0/mlflow/secrets/permissions/create",
                json!({"secret_id": id, "username": "dave", "permission": "READ"}),
            )
            .await
        }
        Op::ViewGrant => {
            app.get(
                who,
                &format!("/api/2.0/mlflow/secrets/permissions/get?secret_id={id}&username=carol"),
            )
            .await
        }
        Op::ChangeGrant => {
            app.post(
                who,
                "/api/2.0/mlflow/secrets/permissions/update",
                json!({"secret_id": id, "username": "carol", "permission": "EDIT"}),
            )
            .await
        }
        Op::Revoke => {
            app.delete(
                who,
                "/api/2.0/mlflow/secrets/permissions/delete",
                json!({"secret_id": id, "username": "carol"}),
            )
            .await
        }
    };
    if reply.status == StatusCode::OK {
        return true;
    }
    assert_error(&reply, StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    false
}

async fn check_matrix(default: Permission) {
    let app = app_with_default(default);
    let mut cell = 0;
    for caller in CALLERS {
        for op in OPS {
            cell += 1;
            let resource = format!("job-{cell}");
            let id = app.secret(&resource, CANARY);
            // Carol holds a grant for the view/change/revoke operations to act on.
            app.grant(&id, "carol", Permission::Read);
            let who = match caller {
                Caller::Admin => ADMIN,
                Caller::NoGrant => BOB,
                Caller::Level(level) => {
                    app.grant(&id, "bob", level);
                    BOB
                }
            };
            let before = app.snapshot(&id);
            let allowed = perform(&app, who, op, &id, &resource).await;
            assert_eq!(
                allowed,
                expected_allowed(caller, default, op),
                "{caller:?} {op:?} with default {default}"
            );
            if !allowed {
                // Permission checks happen before any write.
                assert_eq!(app.snapshot(&id), before, "{caller:?} {op:?} changed state");
            }
        }
    }
    app.assert_never_answered(CANARY);
}

#[tokio::test]
async fn operation_matrix_with_default_no_permissions() {
    check_matrix(Permission::NoPermissions).await;
}

#[tokio::test]
async fn operation_matrix_with_default_read() {
    check_matrix(Permission::Read).await;
}

// ---------------------------------------------------------------------------
// Shapes and rules

#[tokio::test]
async fn create_and_bind_returns_metadata_only_and_grants_the_creator_manage() {
    let app = app_with_default(Permission::NoPermissions);
    let created = app
        .post(
            ALICE,
            "/api/3.0/mlflow/secrets/create-and-bind",
            json!({"name": "OpenAI key", "value": CANARY, "provider": "openai",
                   "description": "team key", "resource_type": "scorer_job",
                   "resource_id": "42", "field_name": "api_key"}),
        )
        .await;
    assert_ok(&created);
    let secret = &created.body["secret"];
    let mut keys: Vec<&String> = secret.as_object().expect("secret").keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "created_at",
            "created_by",
            "description",
            "name",
            "provider",
            "secret_id",
            "updated_at"
        ]
    );
    assert_eq!(secret["name"], "OpenAI key");
    assert_eq!(secret["provider"], "openai");
    assert_eq!(secret["created_by"], "alice");
    assert!(secret["created_at"].as_i64().expect("millis") > 1_600_000_000_000);
    let id = secret["secret_id"].as_str().expect("id").to_owned();
    assert_eq!(
        created.body["binding"],
        json!({"secret_id": id, "resource_type": "scorer_job", "resource_id": "42",
               "field_name": "api_key", "created_by": "alice",
               "created_at": secret["created_at"]})
    );
    assert_eq!(
        app.value_of(&SecretId::parse(&id).expect("id")),
        CANARY,
        "the value is stored"
    );

    let grant = app
        .get(
            ADMIN,
            &format!("/api/2.0/mlflow/secrets/permissions/get?secret_id={id}&username=alice"),
        )
        .await;
    assert_ok(&grant);
    let alice_id = app.store.get_user(&name("alice")).expect("alice").id;
    assert_eq!(
        grant.body,
        json!({"secret_permission": {"secret_id": id, "user_id": alice_id,
                                      "username": "alice", "permission": "MANAGE"}})
    );

    // Optional fields may be absent (or empty); an admin creator gets no grant.
    let by_admin = app
        .post(
            ADMIN,
            "/api/3.0/mlflow/secrets/create-and-bind",
            json!({"name": "k", "value": CANARY, "provider": "", "resource_type": "scorer_job",
                   "resource_id": "43", "field_name": "api_key"}),
        )
        .await;
    assert_ok(&by_admin);
    assert_eq!(by_admin.body["secret"]["provider"], Value::Null);
    assert_eq!(by_admin.body["secret"]["description"], Value::Null);
    let admin_id = by_admin.body["secret"]["secret_id"].as_str().expect("id");
    let none = app
        .get(
            ADMIN,
            &format!("/api/2.0/mlflow/secrets/permissions/get?secret_id={admin_id}&username=admin"),
        )
        .await;
    assert_error(&none, StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST");
    app.assert_never_answered(CANARY);
}

#[tokio::test]
async fn unknown_secrets_are_403_to_those_who_cannot_read_and_404_to_others() {
    let missing = SecretId::from_random([9; 16]);
    let uris = [
        format!("/api/3.0/mlflow/secrets/get-info?secret_id={missing}"),
        format!("/api/3.0/mlflow/secrets/list-bindings?secret_id={missing}"),
    ];
    let strict = app_with_default(Permission::NoPermissions);
    let open = app_with_default(Permission::Read);
    let existing = strict.secret("job-1", CANARY);
    for uri in &uris {
        // The same answer whether or not it exists.
        assert_error(
            &strict.get(BOB, uri).await,
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
        );
        let real = uri.replace(missing.as_str(), existing.as_str());
        assert_error(
            &strict.get(BOB, &real).await,
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
        );
        assert_error(
            &strict.get(ADMIN, uri).await,
            StatusCode::NOT_FOUND,
            "RESOURCE_DOES_NOT_EXIST",
        );
        assert_error(
            &open.get(BOB, uri).await,
            StatusCode::NOT_FOUND,
            "RESOURCE_DOES_NOT_EXIST",
        );
    }
    // Writes on an unknown secret: 403 without the level, 404 with it.
    let update = json!({"secret_id": missing.as_str(), "value": "v"});
    assert_error(
        &open
            .post(BOB, "/api/3.0/mlflow/secrets/update", update.clone())
            .await,
        StatusCode::FORBIDDEN,
        "PERMISSION_DENIED",
    );
    assert_error(
        &open
            .post(ADMIN, "/api/3.0/mlflow/secrets/update", update)
            .await,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
    );
    let bind = json!({"secret_id": missing.as_str(), "resource_type": "t", "resource_id": "1",
                      "field_name": "f"});
    assert_error(
        &open.post(ADMIN, "/api/3.0/mlflow/secrets/bind", bind).await,
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
    );
}

#[tokio::test]
async fn a_binding_key_holds_one_secret() {
    let app = app_with_default(Permission::NoPermissions);
    let first = app.secret("job-1", CANARY);
    let second = app.secret("job-2", CANARY);
    let bind = |id: &SecretId| {
        json!({"secret_id": id.as_str(), "resource_type": "scorer_job", "resource_id": "job-1",
               "field_name": "api_key"})
    };
    let taken = app
        .post(ALICE, "/api/3.0/mlflow/secrets/bind", bind(&second))
        .await;
    assert_error(&taken, StatusCode::BAD_REQUEST, "RESOURCE_ALREADY_EXISTS");
    assert!(
        taken.body["message"]
            .as_str()
            .expect("message")
            .contains("unbind it first")
    );
    let again = app
        .post(ALICE, "/api/3.0/mlflow/secrets/bind", bind(&first))
        .await;
    assert_error(&again, StatusCode::BAD_REQUEST, "RESOURCE_ALREADY_EXISTS");

    // create-and-bind on a taken key creates nothing.
    let create = app
        .post(
            ALICE,
            "/api/3.0/mlflow/secrets/create-and-bind",
            json!({"name": "n", "value": CANARY, "resource_type": "scorer_job",
                   "resource_id": "job-1", "field_name": "api_key"}),
        )
        .await;
    assert_error(&create, StatusCode::BAD_REQUEST, "RESOURCE_ALREADY_EXISTS");
    let listed = app.get(ADMIN, "/api/3.0/mlflow/secrets/list").await;
    assert_eq!(listed.body["secrets"].as_array().expect("secrets").len(), 2);

    // Unbind, then the other secret may take the key.
    let unbind =
        json!({"resource_type": "scorer_job", "resource_id": "job-1", "field_name": "api_key"});
    assert_ok(
        &app.post(ALICE, "/api/3.0/mlflow/secrets/unbind", unbind.clone())
            .await,
    );
    assert_ok(
        &app.post(ALICE, "/api/3.0/mlflow/secrets/bind", bind(&second))
            .await,
    );
    let bindings = app
        .get(
            ALICE,
            &format!("/api/3.0/mlflow/secrets/list-bindings?secret_id={second}"),
        )
        .await;
    assert_eq!(
        bindings.body["bindings"]
            .as_array()
            .expect("bindings")
            .len(),
        2
    );
    app.assert_never_answered(CANARY);
}

#[tokio::test]
async fn unbind_looks_up_the_binding_and_ignores_a_secret_id_in_the_body() {
    let app = app_with_default(Permission::NoPermissions);
    let bobs = app.secret("bobs-job", CANARY);
    let other = app.secret("other-job", CANARY);
    app.grant(&bobs, "bob", Permission::Edit);
    let key = |resource: &str| json!({"resource_type": "scorer_job", "resource_id": resource, "field_name": "api_key"});

    // No binding at the key: 404, even for a caller with no rights anywhere.
    let missing = app
        .post(CAROL, "/api/3.0/mlflow/secrets/unbind", key("nothing-here"))
        .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST");

    // Naming a secret bob can edit does not let him unbind another one.
    let mut body = key("other-job");
    body["secret_id"] = json!(bobs.as_str());
    let denied = app.post(BOB, "/api/3.0/mlflow/secrets/unbind", body).await;
    assert_error(&denied, StatusCode::FORBIDDEN, "PERMISSION_DENIED");
    assert!(app.store.binding(&binding_key("other-job")).is_ok());

    // Naming a secret he cannot touch does not stop him unbinding his own.
    let mut body = key("bobs-job");
    body["secret_id"] = json!(other.as_str());
    assert_ok(&app.post(BOB, "/api/3.0/mlflow/secrets/unbind", body).await);
    assert!(app.store.binding(&binding_key("bobs-job")).is_err());
}

#[tokio::test]
async fn routes_are_bound_under_the_route_resource_type() {
    let app = app_with_default(Permission::NoPermissions);
    let id = app.secret("job-1", CANARY);
    let created = app
        .post(
            ALICE,
            "/api/3.0/mlflow/secrets/create-route-and-bind",
            json!({"secret_id": id.as_str(),
                   "route": {"name": "chat", "provider": "openai", "model_name": "gpt-4o"}}),
        )
        .await;
    assert_ok(&created);
    let route = &created.body["route"];
    let route_id = route["route_id"].as_str().expect("route id");
    assert_eq!(
        (
            &route["name"],
            &route["provider"],
            &route["model_name"],
            &route["secret_id"],
            &route["created_by"]
        ),
        (
            &json!("chat"),
            &json!("openai"),
            &json!("gpt-4o"),
            &json!(id.as_str()),
            &json!("alice")
        )
    );
    let binding = &created.body["binding"];
    assert_eq!(
        (
            &binding["resource_type"],
            &binding["resource_id"],
            &binding["field_name"]
        ),
        (&json!("route"), &json!(route_id), &json!("api_key"))
    );
    let custom = app
        .post(
            ALICE,
            "/api/3.0/mlflow/secrets/create-route-and-bind",
            json!({"secret_id": id.as_str(), "field_name": "token",
                   "route": {"name": "embed", "provider": "openai", "model_name": "e-3"}}),
        )
        .await;
    assert_eq!(custom.body["binding"]["field_name"], "token");
    for bad_route in [
        json!(null),
        json!("chat"),
        json!({"name": "x", "provider": "p"}),
    ] {
        let reply = app
            .post(
                ALICE,
                "/api/3.0/mlflow/secrets/create-route-and-bind",
                json!({"secret_id": id.as_str(), "route": bad_route}),
            )
            .await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE");
    }
}

#[tokio::test]
async fn revoking_a_grant_falls_back_to_the_default_at_once_and_bindings_stay() {
    for (default, after) in [
        (Permission::NoPermissions, StatusCode::FORBIDDEN),
        (Permission::Read, StatusCode::OK),
    ] {
        let app = app_with_default(default);
        let id = app.secret("job-1", CANARY);
        app.grant(&id, "bob", Permission::Edit);
        let bind = json!({"secret_id": id.as_str(), "resource_type": "judge",
                          "resource_id": "bobs", "field_name": "api_key"});
        assert_ok(&app.post(BOB, "/api/3.0/mlflow/secrets/bind", bind).await);
        let revoke = app
            .delete(
                ALICE,
                "/api/2.0/mlflow/secrets/permissions/delete",
                json!({"secret_id": id.as_str(), "username": "bob"}),
            )
            .await;
        assert_ok(&revoke);
        assert_eq!(revoke.body, json!({}));
        let info = app
            .get(
                BOB,
                &format!("/api/3.0/mlflow/secrets/get-info?secret_id={id}"),
            )
            .await;
        assert_eq!(info.status, after, "default {default}: {}", info.raw);
        let bind_again = json!({"secret_id": id.as_str(), "resource_type": "judge",
                                "resource_id": "bobs-2", "field_name": "api_key"});
        let denied = app
            .post(BOB, "/api/3.0/mlflow/secrets/bind", bind_again)
            .await;
        assert_error(&denied, StatusCode::FORBIDDEN, "PERMISSION_DENIED");
        let kept = app
            .store
            .binding(&BindingKey::parse("judge", "bobs", "api_key").expect("key"));
        assert_eq!(kept.expect("bob's binding stays").created_by, name("bob"));
    }
}

#[tokio::test]
async fn permission_endpoints_follow_mlflow_conventions() {
    let app = app_with_default(Permission::NoPermissions);
    let id = app.secret("job-1", CANARY);
    let create = |user: &str, level: &str| json!({"secret_id": id.as_str(), "username": user, "permission": level});
    let url = |verb: &str| format!("/api/2.0/mlflow/secrets/permissions/{verb}");
    let created = app.post(ALICE, &url("create"), create("bob", "EDIT")).await;
    assert_ok(&created);
    assert_eq!(created.body["secret_permission"]["permission"], "EDIT");
    assert_eq!(created.body["secret_permission"]["username"], "bob");
    let dup = app.post(ALICE, &url("create"), create("bob", "READ")).await;
    assert_error(&dup, StatusCode::BAD_REQUEST, "RESOURCE_ALREADY_EXISTS");
    let nobody = app
        .post(ALICE, &url("create"), create("nobody", "READ"))
        .await;
    assert_error(&nobody, StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST");
    let bad_level = app
        .post(ALICE, &url("create"), create("carol", "read"))
        .await;
    assert_error(
        &bad_level,
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
    );

    let updated = app
        .post(ALICE, &url("update"), create("bob", "NO_PERMISSIONS"))
        .await;
    assert_ok(&updated);
    assert_eq!(updated.body, json!({}));
    let got = app
        .get(
            ALICE,
            &format!("{}?secret_id={id}&username=bob", url("get")),
        )
        .await;
    assert_eq!(
        got.body["secret_permission"]["permission"],
        "NO_PERMISSIONS"
    );
    // DELETE also reads the query when there is no body.
    let revoke = app
        .call(
            ALICE,
            Method::DELETE,
            &format!("{}?secret_id={id}&username=bob", url("delete")),
            None,
        )
        .await;
    assert_ok(&revoke);
    let gone = app
        .get(
            ALICE,
            &format!("{}?secret_id={id}&username=bob", url("get")),
        )
        .await;
    assert_error(&gone, StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST");
}

#[tokio::test]
async fn missing_or_invalid_fields_are_400_invalid_parameter_value() {
    let app = app_with_default(Permission::Read);
    let id = app.secret("job-1", CANARY);
    let id = id.as_str();
    let long_value = format!("{CANARY}{}", "x".repeat(70_000));
    let cases: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::POST,
            "/api/3.0/mlflow/secrets/create-and-bind".into(),
            Some(
                json!({"value": CANARY, "resource_type": "t", "resource_id": "1", "field_name": "f"}),
            ),
        ),
        (
            Method::POST,
            "/api/3.0/mlflow/secrets/create-and-bind".into(),
            Some(json!({"name": "n", "resource_type": "t", "resource_id": "1", "field_name": "f"})),
        ),
        (
            Method::POST,
            "/api/3.0/mlflow/secrets/create-and-bind".into(),
            Some(
                json!({"name": "n", "value": "", "resource_type": "t", "resource_id": "1", "field_name": "f"}),
            ),
        ),
        (
            Method::POST,
            "/api/3.0/mlflow/secrets/create-and-bind".into(),
            Some(
                json!({"name": "n", "value": long_value, "resource_type": "t", "resource_id": "1", "field_name": "f"}),
            ),
        ),
        (
            Method::POST,
            "/api/3.0/mlflow/secrets/create-and-bind".into(),
            Some(
                json!({"name": "n", "value": 42, "resource_type": "t", "resource_id": "1", "field_name": "f"}),
            ),
        ),
        (
            Method::POST,
            "/api/3.0/mlflow/secrets/create-and-bind".into(),
            Some(
                json!({"name": "n", "value": CANARY, "resource_type": "a b", "resource_id": "1", "field_name": "f"}),
            ),
        ),
        (
            Method::POST,
            "/api/3.0/mlflow/secrets/create-and-bind".into(),
            Some(json!({"name": "n", "value": CANARY, "resource_type": "t", "field_name": "f"})),
        ),
        (
            Method::POST,
            "/api/3.0/mlflow/secrets/create-and-bind".into(),
            Some(
                json!({"name": "n\u{0}", "value": CANARY, "resource_type": "t", "resource_id": "1", "field_name": "f"}),
            ),
        ),
        (Method::GET, "/api/3.0/mlflow/secrets/get-info".into(), None),
        (
            Method::GET,
            "/api/3.0/mlflow/secrets/get-info?secret_id=a%2Fb".into(),
            None,
        ),
        (
            Method::GET,
            "/api/3.0/mlflow/secrets/list-bindings".into(),
            None,
        ),
        (
            Method::GET,
            "/api/3.0/mlflow/secrets/list?max_results=0".into(),
            None,
        ),
        (
            Method::GET,
            "/api/3.0/mlflow/secrets/list?max_results=1001".into(),
            None,
        ),
        (
            Method::GET,
            "/api/3.0/mlflow/secrets/list?max_results=ten".into(),
            None,
        ),
        (
            Method::GET,
            "/api/3.0/mlflow/secrets/list?page_token=%21%21".into(),
            None,
        ),
        (
            Method::GET,
            "/api/3.0/mlflow/secrets/list?page_token=bm9wZQ".into(),
            None,
        ),
        (
            Method::POST,
            "/api/3.0/mlflow/secrets/update".into(),
            Some(json!({"secret_id": id})),
        ),
        (
            Method::POST,
            "/api/3.0/mlflow/secrets/update".into(),
            Some(json!({"value": CANARY})),
        ),
        (
            Method::DELETE,
            "/api/3.0/mlflow/secrets/delete".into(),
            Some(json!({})),
        ),
        (
            Method::POST,
            "/api/3.0/mlflow/secrets/bind".into(),
            Some(json!({"secret_id": id, "resource_type": "t", "resource_id": "1"})),
        ),
        (
            Method::POST,
            "/api/3.0/mlflow/secrets/unbind".into(),
            Some(json!({"resource_type": "t", "field_name": "f"})),
        ),
        (
            Method::POST,
            "/api/3.0/mlflow/secrets/create-route-and-bind".into(),
            Some(json!({"secret_id": id})),
        ),
        (
            Method::POST,
            "/api/3.0/mlflow/secrets/create-route-and-bind".into(),
            Some(json!({"secret_id": id, "field_name": "bad\u{7}",
                     "route": {"name": "r", "provider": "p", "model_name": "m"}})),
        ),
        (
            Method::POST,
            "/api/2.0/mlflow/secrets/permissions/create".into(),
            Some(json!({"secret_id": id, "username": "bob"})),
        ),
        (
            Method::POST,
            "/api/2.0/mlflow/secrets/permissions/create".into(),
            Some(json!({"secret_id": id, "username": "a:b", "permission": "READ"})),
        ),
        (
            Method::GET,
            format!("/api/2.0/mlflow/secrets/permissions/get?secret_id={id}"),
            None,
        ),
        (
            Method::GET,
            "/api/2.0/mlguard/secrets/audit?max_results=-1".into(),
            None,
        ),
    ];
    for (method, uri, body) in cases {
        let reply = app.call(ADMIN, method.clone(), &uri, body).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE");
        assert!(
            !reply.raw.contains("xxxxxxxxxx"),
            "{method} {uri} echoes the value"
        );
    }
    app.assert_never_answered(CANARY);
}

#[tokio::test]
async fn list_pages_are_full_and_filtered_by_grant_and_default() {
    let app = app_with_default(Permission::NoPermissions);
    let mut readable = Vec::new();
    for i in 0..17 {
        let id = app.secret(&format!("job-{i}"), CANARY);
        match i % 3 {
            0 => {
                app.grant(&id, "carol", Permission::Read);
                readable.push(id.as_str().to_owned());
            }
            1 => app.grant(&id, "carol", Permission::NoPermissions),
            _ => {}
        }
    }
    let mut seen = Vec::new();
    let mut uri = "/api/3.0/mlflow/secrets/list?max_results=2".to_owned();
    loop {
        let page = app.get(CAROL, &uri).await;
        assert_ok(&page);
        let secrets = page.body["secrets"].as_array().expect("secrets");
        seen.extend(
            secrets
                .iter()
                .map(|s| s["secret_id"].as_str().expect("id").to_owned()),
        );
        match page.body["next_page_token"].as_str() {
            Some(token) => {
                assert_eq!(secrets.len(), 2, "a page before the last is full");
                uri = format!("/api/3.0/mlflow/secrets/list?max_results=2&page_token={token}");
            }
            None => {
                assert!(secrets.len() <= 2);
                break;
            }
        }
    }
    // Oldest first; secrets created in the same millisecond go by id.
    readable.sort_by_key(|id| {
        let info = app
            .store
            .secret_info(&SecretId::parse(id).expect("id"))
            .expect("info");
        (info.created_at, id.clone())
    });
    assert_eq!(seen, readable, "exactly the readable secrets, in order");
    // Nothing for dave, everything for an admin.
    let dave = app.get(DAVE, "/api/3.0/mlflow/secrets/list").await;
    assert_eq!(dave.body, json!({"secrets": []}));
    let admin = app.get(ADMIN, "/api/3.0/mlflow/secrets/list").await;
    assert_eq!(admin.body["secrets"].as_array().expect("secrets").len(), 17);
    app.assert_never_answered(CANARY);
}

#[tokio::test]
async fn admin_bypasses_are_audited_and_only_admins_read_the_trail() {
    let app = app_with_default(Permission::NoPermissions);
    let id = app.secret("job-1", CANARY);
    let audit = |query: &str| format!("/api/2.0/mlguard/secrets/audit{query}");

    // Owners acting on their own secret are not bypassing anything.
    assert_ok(
        &app.get(
            ALICE,
            &format!("/api/3.0/mlflow/secrets/get-info?secret_id={id}"),
        )
        .await,
    );
    let empty = app.get(ADMIN, &audit("")).await;
    assert_eq!(empty.body, json!({"entries": []}));

    assert_ok(
        &app.get(
            ADMIN,
            &format!("/api/3.0/mlflow/secrets/get-info?secret_id={id}"),
        )
        .await,
    );
    assert_ok(
        &app.post(
            ADMIN,
            "/api/3.0/mlflow/secrets/update",
            json!({"secret_id": id.as_str(), "value": "v2"}),
        )
        .await,
    );
    assert_ok(&app.get(ADMIN, "/api/3.0/mlflow/secrets/list").await);

    let trail = app.get(ADMIN, &audit("")).await;
    assert_ok(&trail);
    let entries = trail.body["entries"].as_array().expect("entries");
    let ops: Vec<&str> = entries
        .iter()
        .map(|e| e["operation"].as_str().expect("op"))
        .collect();
    assert_eq!(ops, ["list", "update", "get-info"], "newest first");
    for entry in entries {
        assert_eq!(entry["actor"], "admin");
        assert_eq!(entry["secret_id"], id.as_str());
        assert!(entry["at"].as_i64().expect("millis") > 1_600_000_000_000);
    }
    // Paged and filtered.
    let first = app.get(ADMIN, &audit("?max_results=2")).await;
    let token = first.body["next_page_token"].as_str().expect("more follow");
    let rest = app
        .get(ADMIN, &audit(&format!("?max_results=2&page_token={token}")))
        .await;
    assert_eq!(rest.body["entries"][0]["operation"], "get-info");
    assert!(rest.body.get("next_page_token").is_none());
    let other = app
        .get(
            ADMIN,
            &audit(&format!("?secret_id={}", SecretId::from_random([1; 16]))),
        )
        .await;
    assert_eq!(other.body, json!({"entries": []}));

    // An admin holding a grant, or covered by the default, bypasses nothing.
    let open = app_with_default(Permission::Read);
    let shared = open.secret("job-1", CANARY);
    assert_ok(
        &open
            .get(
                ADMIN,
                &format!("/api/3.0/mlflow/secrets/get-info?secret_id={shared}"),
            )
            .await,
    );
    assert_eq!(
        open.get(ADMIN, &audit("")).await.body,
        json!({"entries": []})
    );

    for user in [ALICE, BOB] {
        assert_error(
            &app.get(user, &audit("")).await,
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
        );
    }
}

#[tokio::test]
async fn disabled_secrets_answer_feature_disabled_everywhere() {
    let (store, dir) = seeded_store();
    // No `with_secrets`: the server runs with the secret store off.
    let app = TestApp {
        router: mlguard_api::app(AppState::new(Arc::new(store.clone()), Permission::Read)),
        store,
        cipher: Arc::new(Envelope::new(
            LocalKeyring::from_base64(KEK, &[]).expect("KEK"),
        )),
        bodies: std::sync::Mutex::new(Vec::new()),
        _dir: dir,
    };
    let spec = serde_json::to_value(mlguard_api::openapi()).expect("spec");
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            if op["tags"] != json!(["secrets"]) {
                continue;
            }
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let body = (method != Method::GET).then(|| json!({}));
            let reply = app.call(ALICE, method, path, body).await;
            assert_error(&reply, StatusCode::NOT_IMPLEMENTED, "FEATURE_DISABLED");
            checked += 1;
        }
    }
    assert_eq!(checked, 14, "every secrets endpoint");
}

#[tokio::test]
async fn the_spec_documents_every_secrets_endpoint_without_a_value_in_any_response() {
    let spec = serde_json::to_value(mlguard_api::openapi()).expect("spec");
    let expected = [
        ("/api/3.0/mlflow/secrets/create-and-bind", "post"),
        ("/api/3.0/mlflow/secrets/get-info", "get"),
        ("/api/3.0/mlflow/secrets/list", "get"),
        ("/api/3.0/mlflow/secrets/update", "post"),
        ("/api/3.0/mlflow/secrets/delete", "delete"),
        ("/api/3.0/mlflow/secrets/bind", "post"),
        ("/api/3.0/mlflow/secrets/create-route-and-bind", "post"),
        ("/api/3.0/mlflow/secrets/unbind", "post"),
        ("/api/3.0/mlflow/secrets/list-bindings", "get"),
        ("/api/2.0/mlflow/secrets/permissions/create", "post"),
        ("/api/2.0/mlflow/secrets/permissions/get", "get"),
        ("/api/2.0/mlflow/secrets/permissions/update", "post"),
        ("/api/2.0/mlflow/secrets/permissions/delete", "delete"),
        ("/api/2.0/mlguard/secrets/audit", "get"),
    ];
    for (path, method) in expected {
        let op = &spec["paths"][path][method];
        assert_eq!(op["tags"], json!(["secrets"]), "{method} {path}");
        assert_eq!(
            op["security"],
            json!([{"basic": []}, {"bearer": []}]),
            "{method} {path}"
        );
        assert!(op["responses"]["501"].is_object(), "{method} {path}");
    }
    let schemas = spec["components"]["schemas"].as_object().expect("schemas");
    for shape in [
        "SecretInfo",
        "SecretBinding",
        "SecretRoute",
        "SecretPermission",
    ] {
        let properties = schemas[shape]["properties"].as_object().expect(shape);
        assert!(
            !properties.contains_key("value"),
            "{shape} has a value field"
        );
    }
}
