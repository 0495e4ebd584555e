//! The cost of authentication once a credential has been verified.
//!
//! - `credential_cache/fingerprint_and_get`: the in-memory part of the Basic fast
//!   path, `CredentialCache::fingerprint` + `get` on a warm, full cache. Target
//!   (issue 5): a cached credential check under 5 µs.
//! - `full_authenticated_request_in_process/*`: what that check leaves out, measured
//!   too: one whole `GET experiments/get` through `mlguard_api::app` (Basic from the
//!   cache, or a bearer token), which also reads the account's credential version
//!   and the caller's grant from a SQLite store, decides, and forwards to a stub
//!   upstream that answers at once. No network: it is mlguard's own work per request.
//! - `sqlite_store/*`: the two store reads inside that request, alone.
//!
//! Run with `cargo bench -p mlguard-api --bench credential_cache`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Method, Request, Response, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt;
use mlguard_api::{AppState, AuthSettings, CredentialCache};
use mlguard_domain::{
    BoxFuture, ExperimentId, GrantStore, LookupError, OpaqueId, Password, Permission, Resource,
    TokenCodec, TokenStore, TraceFiles, TrackingLookup, UserStore, Username, VersionFiles,
    VersionOrigin,
};
use mlguard_gateway::{ForwardError, Gateway, GatewayState};
use mlguard_storage::{PoolOptions, Store};
use mlguard_tokens::{JwtCodec, KeySource};
use tower::ServiceExt;

const ALICE: (&str, &str) = ("alice", "alice-password-123");
const EXPERIMENT_ID: &str = "1";
/// What MLflow answers to `experiments/get`, so the response path is realistic.
const EXPERIMENT_JSON: &str = r#"{"experiment":{"experiment_id":"1","name":"bench","artifact_location":"mlflow-artifacts:/1","lifecycle_stage":"active","last_update_time":1700000000000,"creation_time":1700000000000,"tags":[]}}"#;

fn cached_credential_check(c: &mut Criterion) {
    let cache = CredentialCache::new(10_000, Duration::from_secs(900));
    // Warm and full: the looked-up entry sits among as many others as the default
    // capacity allows.
    for i in 0..9_999 {
        cache.insert(cache.fingerprint(&format!("user-{i}"), ALICE.1), i, 1);
    }
    cache.insert(cache.fingerprint(ALICE.0, ALICE.1), 10_000, 1);
    assert!(cache.get(&cache.fingerprint(ALICE.0, ALICE.1)).is_some());

    let mut group = c.benchmark_group("credential_cache");
    group.bench_function("fingerprint_and_get", |b| {
        b.iter(|| {
            let fingerprint = cache.fingerprint(black_box(ALICE.0), black_box(ALICE.1));
            cache.get(black_box(&fingerprint))
        })
    });
    group.finish();
}

/// The upstream: MLflow's answer, at once.
struct InstantUpstream;

impl InstantUpstream {
    /// Answers one forwarded request.
    fn forward(
        &self,
        _request: Request<Body>,
    ) -> BoxFuture<'static, Result<Response<Body>, ForwardError>> {
        Box::pin(async {
            Ok(Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(EXPERIMENT_JSON))
                .expect("static response"))
        })
    }
}

/// `experiments/get` names its experiment directly, so nothing is looked up; a call
/// here would mean the bench measures something else, so it fails loudly.
struct NoLookups;

fn unexpected_lookup<T>() -> Result<T, LookupError> {
    Err(LookupError::Unavailable(
        "the benchmarked route needs no lookup".to_owned(),
    ))
}

impl TrackingLookup for NoLookups {
    fn experiment_of_run<'a>(
        &'a self,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<ExperimentId>, LookupError>> {
        Box::pin(async { unexpected_lookup() })
    }
    fn experiment_of_logged_model<'a>(
        &'a self,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<ExperimentId>, LookupError>> {
        Box::pin(async { unexpected_lookup() })
    }
    fn experiment_of_trace<'a>(
        &'a self,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<ExperimentId>, LookupError>> {
        Box::pin(async { unexpected_lookup() })
    }
    fn experiment_by_name<'a>(
        &'a self,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<ExperimentId>, LookupError>> {
        Box::pin(async { unexpected_lookup() })
    }
    fn experiments_of_dataset<'a>(
        &'a self,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<ExperimentId>>, LookupError>> {
        Box::pin(async { unexpected_lookup() })
    }
    fn gateway_endpoint_by_name<'a>(
        &'a self,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<OpaqueId>, LookupError>> {
        Box::pin(async { unexpected_lookup() })
    }
    fn trace_files<'a>(
        &'a self,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<TraceFiles>, LookupError>> {
        Box::pin(async { unexpected_lookup() })
    }
    fn experiment_artifact_root<'a>(
        &'a self,
        _: &'a ExperimentId,
    ) -> BoxFuture<'a, Result<Option<String>, LookupError>> {
        Box::pin(async { unexpected_lookup() })
    }
    fn registered_model_exists<'a>(
        &'a self,
        _: &'a str,
    ) -> BoxFuture<'a, Result<bool, LookupError>> {
        Box::pin(async { unexpected_lookup() })
    }
    fn resource_exists<'a>(&'a self, _: &'a Resource) -> BoxFuture<'a, Result<bool, LookupError>> {
        Box::pin(async { unexpected_lookup() })
    }
    fn model_version_source<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, LookupError>> {
        Box::pin(async { unexpected_lookup() })
    }
    fn model_versions_from<'a>(
        &'a self,
        _: VersionOrigin<'a>,
    ) -> BoxFuture<'a, Result<Vec<VersionFiles>, LookupError>> {
        Box::pin(async { unexpected_lookup() })
    }
}

/// A SQLite store holding a non-admin with READ on the experiment.
fn seeded_store(dir: &tempfile::TempDir) -> (Store, i64) {
    let url = format!("sqlite://{}", dir.path().join("mlguard.db").display());
    let store = Store::connect(&url, PoolOptions::default()).expect("store");
    store.run_migrations().expect("migrations");
    let alice = Username::parse(ALICE.0).expect("name");
    let user = store
        .create_user(&alice, &Password::new(ALICE.1).expect("password"), false)
        .expect("seed user");
    store
        .create_grant(&alice, &experiment(), Permission::Read)
        .expect("grant");
    (store, user.id)
}

fn experiment() -> Resource {
    Resource::Experiment(ExperimentId::parse(EXPERIMENT_ID).expect("id"))
}

/// The two store reads every cached Basic request makes, alone: the account's
/// credential version, then the caller's grant. Synchronous, as on the blocking pool.
fn store_reads(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, user_id) = seeded_store(&dir);
    let resource = experiment();
    let mut group = c.benchmark_group("sqlite_store");
    group.bench_function("credential_state", |b| {
        b.iter(|| {
            store
                .credential_state(black_box(user_id))
                .expect("read")
                .expect("the user exists")
        })
    });
    let keys = [resource.grant_key()];
    group.bench_function("resolve", |b| {
        b.iter(|| {
            store
                .resolve(black_box(user_id), black_box(&keys))
                .expect("read")
                .levels[0]
                .expect("the grant exists")
        })
    });
    group.finish();
}

/// The real router on a SQLite file: a non-admin holding READ on the experiment,
/// with nothing granted by default, so the grant is what lets the request through.
fn bench_app(dir: &tempfile::TempDir) -> Router {
    let (store, _) = seeded_store(dir);
    let codec: Arc<dyn TokenCodec> = Arc::new(
        JwtCodec::new(
            KeySource::Configured {
                current: vec![7u8; 32],
                previous: None,
            },
            || unreachable!("the key is configured"),
        )
        .expect("codec"),
    );
    let gateway = Gateway::new(
        tower::service_fn({
            let upstream = Arc::new(InstantUpstream);
            move |request| upstream.forward(request)
        }),
        Arc::new(NoLookups),
        None,
        64 * 1024 * 1024,
    );
    let state = AppState::new(Arc::new(store), Permission::NoPermissions).with_auth(
        &AuthSettings::default(),
        Some(codec),
        Duration::from_secs(3600),
    );
    let lookup = gateway.lookup();
    let service = mlguard_gateway::service(GatewayState::new(gateway, state.grants()));
    let state = state.with_gateway(service, None, lookup);
    mlguard_api::app(state)
}

/// Sends one request and reads the whole answer; anything but 200 aborts the bench,
/// so a refusal can never pass for a fast request.
async fn send(router: &Router, method: Method, uri: &str, authorization: &str) -> Bytes {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, authorization)
        .body(Body::empty())
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    body
}

fn full_authenticated_request(c: &mut Criterion) {
    // Multi-threaded, as in the server: store work runs on the blocking pool.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let router = bench_app(&dir);
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", ALICE.0, ALICE.1))
    );
    let uri = format!("/api/2.0/mlflow/experiments/get?experiment_id={EXPERIMENT_ID}");

    // The first Basic request pays the one argon2 check and fills the cache; the
    // token is issued over the API, as a client would get it.
    let bearer = runtime.block_on(async {
        send(&router, Method::GET, &uri, &basic).await;
        let issued = send(
            &router,
            Method::POST,
            "/api/2.0/mlguard/tokens/create",
            &basic,
        )
        .await;
        let issued: serde_json::Value = serde_json::from_slice(&issued).expect("token JSON");
        format!("Bearer {}", issued["token"].as_str().expect("token"))
    });

    let mut group = c.benchmark_group("full_authenticated_request_in_process");
    group.bench_function("basic_cached", |b| {
        b.iter(|| runtime.block_on(send(&router, Method::GET, &uri, &basic)))
    });
    group.bench_function("bearer", |b| {
        b.iter(|| runtime.block_on(send(&router, Method::GET, &uri, &bearer)))
    });
    group.finish();
}

criterion_group!(
    benches,
    cached_credential_check,
    store_reads,
    full_authenticated_request
);
criterion_main!(benches);
