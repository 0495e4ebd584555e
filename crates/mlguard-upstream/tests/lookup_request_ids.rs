//! Lookups made for a request carry its id to MLflow (`X-Request-Id`), so MLflow's
//! logs tie each lookup to the request that caused it; the answers stay shared.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::routing::get;
use mlguard_domain::TrackingLookup;
use mlguard_upstream::{TrackingLookups, UpstreamClient, UpstreamOptions};
use serde_json::json;

/// A tracking server whose `runs/get` records the request id each call carried.
async fn recording_server(seen: Arc<Mutex<Vec<Option<String>>>>) -> SocketAddr {
    let router = Router::new().route(
        "/api/2.0/mlflow/runs/get",
        get(move |request: Request| {
            let seen = Arc::clone(&seen);
            async move {
                let id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                seen.lock().expect("lock").push(id);
                axum::Json(json!({"run": {"info": {"experiment_id": "7"}}}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

#[tokio::test]
async fn a_requests_lookups_name_it_and_share_the_cache() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let addr = recording_server(Arc::clone(&seen)).await;
    let client = UpstreamClient::new(&UpstreamOptions {
        base_url: format!("http://{addr}"),
        connect_timeout: Duration::from_secs(2),
        response_timeout: Duration::from_secs(5),
        max_idle_per_host: 2,
        pool_idle_timeout: Duration::from_secs(1),
    })
    .expect("client");
    let lookups = TrackingLookups::new(client, 64);

    let for_request = lookups
        .for_request("req-42")
        .expect("an HTTP adapter names requests");
    let experiment = for_request.experiment_of_run("r1").await.expect("lookup");
    assert_eq!(experiment.map(|e| e.to_string()), Some("7".to_owned()));
    // Without a request, nothing is named.
    lookups.experiment_of_run("r2").await.expect("lookup");
    // r1's answer was cached by the request's view: the port itself asks no more.
    lookups.experiment_of_run("r1").await.expect("lookup");
    // An id that cannot be a header value is left out, not sent broken.
    let odd = lookups.for_request("bad\nid").expect("view");
    odd.experiment_of_run("r3").await.expect("lookup");

    assert_eq!(
        *seen.lock().expect("lock"),
        vec![Some("req-42".to_owned()), None, None]
    );
}
