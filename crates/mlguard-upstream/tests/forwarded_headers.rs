//! What the forwarder adds about the client: `X-Forwarded-*` for MLflow, and
//! nothing on a request bound for an LLM provider (MLflow's AI gateway passes the
//! headers on). The upstream is a raw HTTP/1.1 listener on loopback that keeps the
//! request head it was sent.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use mlguard_gateway::{ClientAddr, ProviderBound};
use mlguard_upstream::{UpstreamClient, UpstreamOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tower::ServiceExt;

/// Answers one request with 200 and gives back its head, lower-cased.
async fn one_request_head() -> (SocketAddr, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    let head = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 4096];
        while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
            let read = stream.read(&mut chunk).await.expect("read");
            assert!(read > 0, "connection closed before the head ended");
            buffer.extend_from_slice(&chunk[..read]);
        }
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .await
            .expect("write");
        String::from_utf8_lossy(&buffer).to_lowercase()
    });
    (addr, head)
}

fn client(addr: SocketAddr) -> UpstreamClient {
    UpstreamClient::new(&UpstreamOptions {
        base_url: format!("http://{addr}"),
        connect_timeout: Duration::from_secs(2),
        response_timeout: Duration::from_secs(5),
        max_idle_per_host: 1,
        pool_idle_timeout: Duration::from_secs(30),
    })
    .expect("client")
}

async fn head_of(provider_bound: bool) -> String {
    let (addr, head) = one_request_head().await;
    let mut request = Request::post("/gateway/proxy/ep/v1/chat")
        .header("host", "mlguard.example")
        .header("authorization", "Basic c2VjcmV0")
        .body(Body::empty())
        .expect("request");
    request
        .extensions_mut()
        .insert(ClientAddr("10.1.2.3".parse().expect("ip")));
    if provider_bound {
        request.extensions_mut().insert(ProviderBound);
    }
    let response = client(addr).oneshot(request).await.expect("forwarded");
    assert_eq!(response.status(), 200);
    head.await.expect("head")
}

#[tokio::test]
async fn mlflow_hears_of_the_client_but_a_provider_bound_request_names_nobody() {
    let to_mlflow = head_of(false).await;
    assert!(
        to_mlflow.contains("x-forwarded-for: 10.1.2.3"),
        "{to_mlflow}"
    );
    assert!(
        to_mlflow.contains("x-forwarded-host: mlguard.example"),
        "{to_mlflow}"
    );
    assert!(to_mlflow.contains("x-forwarded-proto: http"), "{to_mlflow}");
    assert!(!to_mlflow.contains("authorization"), "{to_mlflow}");

    let to_provider = head_of(true).await;
    for name in [
        "x-forwarded-",
        "mlguard.example",
        "10.1.2.3",
        "authorization",
    ] {
        assert!(!to_provider.contains(name), "{name} in {to_provider}");
    }
}
