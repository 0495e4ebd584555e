//! Fast authentication from the caller's side: the verified-credential cache never
//! outlives a credential change, bearer tokens follow their account, and repeated
//! failures are throttled without touching anyone else.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http_body_util::BodyExt;
use mlguard_api::{AppState, AuthSettings, ThrottleSettings};
use mlguard_domain::{Permission, TokenCodec};
use mlguard_tokens::{JwtCodec, KeySource};
use serde_json::{Value, json};
use tower::ServiceExt;

const ADMIN: (&str, &str) = ("admin", "admin-password-123");
const ALICE: (&str, &str) = ("alice", "alice-password-123");
const BOB: (&str, &str) = ("bob", "bob-password-12345");

struct TestApp {
    router: Router,
    state: AppState,
    _dir: tempfile::TempDir,
}

fn app_with(throttle: ThrottleSettings) -> TestApp {
    let (store, dir) = support::store_with_users(&[(ADMIN, true), (ALICE, false), (BOB, false)]);
    let codec: Arc<dyn TokenCodec> = Arc::new(
        JwtCodec::new(
            KeySource::Stored {
                store: Arc::new(store.clone()),
                grace: Duration::from_secs(60),
            },
            || vec![7u8; 32],
        )
        .expect("codec"),
    );
    let settings = AuthSettings {
        throttle,
        ..AuthSettings::default()
    };
    let state = AppState::new(Arc::new(store), Permission::Read).with_auth(
        &settings,
        Some(codec),
        Duration::from_secs(3600),
    );
    TestApp {
        router: mlguard_api::app(state.clone()),
        state,
        _dir: dir,
    }
}

fn app() -> TestApp {
    app_with(ThrottleSettings::default())
}

enum As<'a> {
    Basic((&'a str, &'a str)),
    Bearer(&'a str),
}

impl TestApp {
    async fn call(
        &self,
        who: As<'_>,
        method: Method,
        uri: &str,
        body: Option<Value>,
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        let auth = match who {
            As::Basic((user, password)) => {
                format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
            }
            As::Bearer(token) => format!("Bearer {token}"),
        };
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, auth);
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
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (
            status,
            headers,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn status(&self, who: As<'_>, uri: &str) -> StatusCode {
        self.call(who, Method::GET, uri, None).await.0
    }

    async fn token(&self, who: (&str, &str)) -> String {
        let (status, _, body) = self
            .call(
                As::Basic(who),
                Method::POST,
                "/api/2.0/mlguard/tokens/create",
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().expect("token").to_owned()
    }
}

const ALICE_SELF: &str = "/api/2.0/mlflow/users/get?username=alice";
const LIST: &str = "/api/2.0/mlflow/users/list";

#[tokio::test]
async fn a_cached_password_stops_working_the_moment_it_changes() {
    let app = app();
    for _ in 0..3 {
        assert_eq!(
            app.status(As::Basic(ALICE), ALICE_SELF).await,
            StatusCode::OK
        );
    }
    let (status, _, _) = app
        .call(
            As::Basic(ADMIN),
            Method::PATCH,
            "/api/2.0/mlflow/users/update-password",
            Some(json!({"username": "alice", "password": "alice-new-password"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.status(As::Basic(ALICE), ALICE_SELF).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.status(As::Basic(("alice", "alice-new-password")), ALICE_SELF)
            .await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_cached_admin_is_demoted_and_a_cached_user_deleted_at_once() {
    let app = app();
    let (status, _, _) = app
        .call(
            As::Basic(ADMIN),
            Method::PATCH,
            "/api/2.0/mlflow/users/update-admin",
            Some(json!({"username": "bob", "is_admin": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.status(As::Basic(BOB), LIST).await, StatusCode::OK);
    app.call(
        As::Basic(ADMIN),
        Method::PATCH,
        "/api/2.0/mlflow/users/update-admin",
        Some(json!({"username": "bob", "is_admin": false})),
    )
    .await;
    assert_eq!(
        app.status(As::Basic(BOB), LIST).await,
        StatusCode::FORBIDDEN
    );
    app.call(
        As::Basic(ADMIN),
        Method::DELETE,
        "/api/2.0/mlflow/users/delete",
        Some(json!({"username": "bob"})),
    )
    .await;
    assert_eq!(
        app.status(As::Basic(BOB), "/api/2.0/mlflow/users/get?username=bob")
            .await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn bearer_tokens_work_wherever_basic_does() {
    let app = app();
    let (status, _, body) = app
        .call(
            As::Basic(ALICE),
            Method::POST,
            "/api/2.0/mlguard/tokens/create",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let expires_at = body["expires_at"].as_i64().expect("expires_at");
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("fits");
    assert!(
        (expires_at - now_ms - 3_600_000).abs() < 10_000,
        "{expires_at}"
    );
    let token = body["token"].as_str().expect("token");
    let (status, _, body) = app
        .call(As::Bearer(token), Method::GET, ALICE_SELF, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["user"]["username"], "alice");
    // A token is no admin pass: alice's token cannot list users.
    assert_eq!(
        app.status(As::Bearer(token), LIST).await,
        StatusCode::FORBIDDEN
    );
    for forged in ["x.y.z", "", &format!("{token}x")] {
        assert_eq!(
            app.status(As::Bearer(forged), ALICE_SELF).await,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn revoking_one_token_leaves_the_others() {
    let app = app();
    let first = app.token(ALICE).await;
    let second = app.token(ALICE).await;
    // Bob may not revoke alice's token; alice may.
    let (status, _, _) = app
        .call(
            As::Basic(BOB),
            Method::POST,
            "/api/2.0/mlguard/tokens/revoke",
            Some(json!({"token": first})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.status(As::Bearer(&first), ALICE_SELF).await,
        StatusCode::OK
    );
    let (status, _, _) = app
        .call(
            As::Basic(ALICE),
            Method::POST,
            "/api/2.0/mlguard/tokens/revoke",
            Some(json!({"token": first})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.status(As::Bearer(&first), ALICE_SELF).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.status(As::Bearer(&second), ALICE_SELF).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn revoke_all_password_change_and_demotion_end_every_token() {
    let app = app();
    let token = app.token(ALICE).await;
    let (status, _, _) = app
        .call(
            As::Basic(ALICE),
            Method::POST,
            "/api/2.0/mlguard/tokens/revoke-all",
            Some(json!({"username": "alice"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.status(As::Bearer(&token), ALICE_SELF).await,
        StatusCode::UNAUTHORIZED
    );
    // Her password still works after revoke-all.
    assert_eq!(
        app.status(As::Basic(ALICE), ALICE_SELF).await,
        StatusCode::OK
    );

    let token = app.token(ALICE).await;
    app.call(
        As::Basic(ADMIN),
        Method::PATCH,
        "/api/2.0/mlflow/users/update-password",
        Some(json!({"username": "alice", "password": "alice-new-password"})),
    )
    .await;
    assert_eq!(
        app.status(As::Bearer(&token), ALICE_SELF).await,
        StatusCode::UNAUTHORIZED
    );

    let admin_token = app.token(ADMIN).await;
    assert_eq!(
        app.status(As::Bearer(&admin_token), LIST).await,
        StatusCode::OK
    );
    app.call(
        As::Basic(ADMIN),
        Method::PATCH,
        "/api/2.0/mlflow/users/update-admin",
        Some(json!({"username": "admin", "is_admin": false})),
    )
    .await;
    assert_eq!(
        app.status(As::Bearer(&admin_token), LIST).await,
        StatusCode::UNAUTHORIZED
    );
    // Bob may not revoke alice's tokens.
    let (status, _, _) = app
        .call(
            As::Basic(BOB),
            Method::POST,
            "/api/2.0/mlguard/tokens/revoke-all",
            Some(json!({"username": "alice"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn repeated_failures_are_throttled_with_retry_after() {
    let app = app_with(ThrottleSettings {
        max_failures_per_user: 3,
        max_failures_per_address: 100,
        base_delay: Duration::from_secs(30),
        max_delay: Duration::from_secs(300),
        window: Duration::from_secs(60),
    });
    // A login alice already made stays cached and unaffected.
    assert_eq!(
        app.status(As::Basic(ALICE), ALICE_SELF).await,
        StatusCode::OK
    );
    for _ in 0..3 {
        assert_eq!(
            app.status(As::Basic(("alice", "wrong-password-1")), ALICE_SELF)
                .await,
            StatusCode::UNAUTHORIZED
        );
    }
    let (status, headers, body) = app
        .call(
            As::Basic(("alice", "wrong-password-1")),
            Method::GET,
            ALICE_SELF,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["error_code"], "REQUEST_LIMIT_EXCEEDED");
    let retry: u64 = headers[header::RETRY_AFTER]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=30).contains(&retry), "{retry}");
    // The cached correct password still works; other users are unaffected.
    assert_eq!(
        app.status(As::Basic(ALICE), ALICE_SELF).await,
        StatusCode::OK
    );
    assert_eq!(
        app.status(As::Basic(BOB), "/api/2.0/mlflow/users/get?username=bob")
            .await,
        StatusCode::OK
    );
}

/// A token is not the password: it can neither set a new password without proving
/// the current one, nor mint a successor that outlives it.
#[tokio::test]
async fn a_token_has_less_power_than_the_password() {
    let app = app();
    let (status, _, parent) = app
        .call(
            As::Basic(ALICE),
            Method::POST,
            "/api/2.0/mlguard/tokens/create",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{parent}");
    let token = parent["token"].as_str().expect("token").to_owned();
    // A second later, a successor minted with the token ends when its parent does.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _, child) = app
        .call(
            As::Bearer(&token),
            Method::POST,
            "/api/2.0/mlguard/tokens/create",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{child}");
    assert!(
        child["expires_at"].as_i64() <= parent["expires_at"].as_i64(),
        "child {child} outlives parent {parent}"
    );
    assert!(child["expires_at"].as_i64().is_some());

    let update = "/api/2.0/mlflow/users/update-password";
    let new_password = "alice-new-password-456";
    let attempts = [
        (
            json!({"username": "alice", "password": new_password}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"username": "alice", "password": new_password, "current_password": "wrong-password-999"}),
            StatusCode::FORBIDDEN,
        ),
    ];
    for (body, expected) in attempts {
        for uri in [update.to_owned(), update.replace("/api/", "/ajax-api/")] {
            let (status, _, answer) = app
                .call(As::Bearer(&token), Method::PATCH, &uri, Some(body.clone()))
                .await;
            if uri.starts_with("/ajax-api/") && status == StatusCode::NOT_FOUND {
                continue; // not served under /ajax-api at all
            }
            assert_eq!(status, expected, "{uri} {body}: {answer}");
        }
    }
    // The old password still works: nothing was changed.
    assert_eq!(
        app.status(As::Basic(ALICE), ALICE_SELF).await,
        StatusCode::OK
    );

    // With the current password, the token may change it.
    let (status, _, answer) = app
        .call(
            As::Bearer(&token),
            Method::PATCH,
            update,
            Some(
                json!({"username": "alice", "password": new_password, "current_password": ALICE.1}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        app.status(As::Basic(("alice", new_password)), ALICE_SELF)
            .await,
        StatusCode::OK
    );
    // Basic proves the password already: no current_password needed.
    let (status, _, answer) = app
        .call(
            As::Basic(BOB),
            Method::PATCH,
            update,
            Some(json!({"username": "bob", "password": "bob-new-password-789"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// Limits for the burst tests: the delay outlasts the test, so every answer after
/// the budget is spent is a 429, whatever order the requests run in.
fn burst_limits(per_user: u32, per_address: u32) -> ThrottleSettings {
    ThrottleSettings {
        max_failures_per_user: per_user,
        max_failures_per_address: per_address,
        base_delay: Duration::from_secs(60),
        max_delay: Duration::from_secs(300),
        window: Duration::from_secs(600),
    }
}

/// One Basic request to `uri`, optionally from a client address (as the listener
/// records it), answered with its status.
async fn basic_from(
    router: &Router,
    (user, password): (&str, &str),
    address: Option<std::net::SocketAddr>,
    uri: &str,
) -> StatusCode {
    let mut request = Request::builder()
        .uri(uri)
        .header(
            header::AUTHORIZATION,
            format!("Basic {}", STANDARD.encode(format!("{user}:{password}"))),
        )
        .body(Body::empty())
        .expect("request");
    if let Some(address) = address {
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(address));
    }
    router
        .clone()
        .oneshot(request)
        .await
        .expect("infallible")
        .status()
}

/// Fires all of `requests` at once on the multi-threaded runtime; their statuses.
async fn burst(
    router: &Router,
    requests: Vec<(String, String, Option<std::net::SocketAddr>)>,
) -> Vec<StatusCode> {
    let mut set = tokio::task::JoinSet::new();
    let start = Arc::new(tokio::sync::Barrier::new(requests.len()));
    for (user, password, address) in requests {
        let (router, start) = (router.clone(), Arc::clone(&start));
        set.spawn(async move {
            start.wait().await;
            basic_from(&router, (&user, &password), address, ALICE_SELF).await
        });
    }
    set.join_all().await
}

fn count(statuses: &[StatusCode], wanted: StatusCode) -> usize {
    statuses.iter().filter(|s| **s == wanted).count()
}

/// An attacker firing guesses in parallel gets no more of them checked than one
/// firing them in turn: the budget is taken before the hash, not after.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_parallel_guesses_gets_at_most_the_limit_checked() {
    let app = app_with(burst_limits(3, 1000));
    let bob_self = "/api/2.0/mlflow/users/get?username=bob";
    // Bob's login is verified (and cached) before the attack.
    assert_eq!(
        basic_from(&app.router, BOB, None, bob_self).await,
        StatusCode::OK
    );
    let guesses = (0..16)
        .map(|i| ("alice".to_owned(), format!("wrong-guess-{i:02}"), None))
        .collect();
    let statuses = burst(&app.router, guesses).await;
    assert_eq!(
        count(&statuses, StatusCode::UNAUTHORIZED),
        3,
        "verified guesses: {statuses:?}"
    );
    assert_eq!(
        count(&statuses, StatusCode::TOO_MANY_REQUESTS),
        13,
        "{statuses:?}"
    );
    // The right password does not get through while alice is throttled...
    assert_eq!(
        basic_from(&app.router, ALICE, None, ALICE_SELF).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // ...and nobody else is touched: bob's cached login, and a fresh one for admin.
    assert_eq!(
        basic_from(
            &app.router,
            BOB,
            None,
            "/api/2.0/mlflow/users/get?username=bob"
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        basic_from(&app.router, ADMIN, None, ALICE_SELF).await,
        StatusCode::OK
    );
}

/// One client address spraying many usernames at once is held to the per-address
/// limit; the same accounts from another address are unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_parallel_spray_from_one_address_gets_at_most_the_address_limit_checked() {
    let app = app_with(burst_limits(1000, 4));
    let attacker: std::net::SocketAddr = "198.51.100.7:40000".parse().expect("addr");
    let other: std::net::SocketAddr = "203.0.113.9:40000".parse().expect("addr");
    let spray = (0..16)
        .map(|i| {
            (
                format!("user{i:02}"),
                "wrong-password-1".to_owned(),
                Some(attacker),
            )
        })
        .collect();
    let statuses = burst(&app.router, spray).await;
    assert_eq!(
        count(&statuses, StatusCode::UNAUTHORIZED),
        4,
        "verified guesses: {statuses:?}"
    );
    assert_eq!(
        count(&statuses, StatusCode::TOO_MANY_REQUESTS),
        12,
        "{statuses:?}"
    );
    assert_eq!(
        basic_from(&app.router, ALICE, Some(attacker), ALICE_SELF).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        basic_from(&app.router, ALICE, Some(other), ALICE_SELF).await,
        StatusCode::OK
    );
}

/// `current_password` (a token changing the password) is a password check too: a
/// burst of wrong ones gets at most the limit checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_wrong_current_passwords_gets_at_most_the_limit_checked() {
    let app = app_with(burst_limits(3, 1000));
    let token = app.token(ALICE).await;
    let mut set = tokio::task::JoinSet::new();
    let start = Arc::new(tokio::sync::Barrier::new(16));
    for i in 0..16 {
        let (router, start, token) = (app.router.clone(), Arc::clone(&start), token.clone());
        set.spawn(async move {
            let body = json!({
                "username": "alice",
                "password": "alice-new-password-456",
                "current_password": format!("wrong-guess-{i:02}"),
            });
            let request = Request::builder()
                .method(Method::PATCH)
                .uri("/api/2.0/mlflow/users/update-password")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .expect("request");
            start.wait().await;
            router.oneshot(request).await.expect("infallible").status()
        });
    }
    let statuses = set.join_all().await;
    assert_eq!(
        count(&statuses, StatusCode::FORBIDDEN),
        3,
        "verified guesses: {statuses:?}"
    );
    assert_eq!(
        count(&statuses, StatusCode::TOO_MANY_REQUESTS),
        13,
        "{statuses:?}"
    );
}

/// A login name with a line break or other control characters can never be an
/// account's: it is refused like any wrong login, without a hash, and without
/// eating into the real user's budget.
#[tokio::test]
async fn a_login_name_with_control_characters_is_refused_without_a_check() {
    let app = app_with(burst_limits(1, 1000));
    for forged in [
        "alice\n2026-12-01T00:00:00Z INFO forged admin login",
        "alice\r\nforged",
        "alice\u{1b}[2K",
    ] {
        assert_eq!(
            basic_from(&app.router, (forged, ALICE.1), None, ALICE_SELF).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        basic_from(&app.router, ALICE, None, ALICE_SELF).await,
        StatusCode::OK
    );
}

/// The reservation does not turn away the real user: a client opening many
/// connections at once with the right password is not throttled.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_first_logins_with_the_right_password_all_get_through() {
    let app = app_with(burst_limits(3, 1000));
    let logins = (0..16)
        .map(|_| (ALICE.0.to_owned(), ALICE.1.to_owned(), None))
        .collect();
    let statuses = burst(&app.router, logins).await;
    assert_eq!(count(&statuses, StatusCode::OK), 16, "{statuses:?}");
}

/// A client opening many connections at once with the same password costs one
/// argon2 check: the others wait for it and find the login verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_first_logins_with_the_same_password_are_checked_once() {
    let app = app();
    let logins = (0..16)
        .map(|_| (ALICE.0.to_owned(), ALICE.1.to_owned(), None))
        .collect();
    let statuses = burst(&app.router, logins).await;
    assert_eq!(count(&statuses, StatusCode::OK), 16, "{statuses:?}");
    assert_eq!(app.state.password_checks_run(), 1);

    // Wrong passwords are each checked: the throttle counts every one.
    let guesses = (0..4)
        .map(|_| (BOB.0.to_owned(), "not-bobs-password".to_owned(), None))
        .collect();
    let statuses = burst(&app.router, guesses).await;
    assert_eq!(
        count(&statuses, StatusCode::UNAUTHORIZED),
        4,
        "{statuses:?}"
    );
    assert_eq!(app.state.password_checks_run(), 5);
}
