//! The forwarder against a real HTTP server on loopback: what MLflow receives,
//! what the caller gets back, and how failures surface.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use http_body_util::BodyExt;
use mlguard_upstream::{UpstreamClient, UpstreamError, UpstreamOptions};
use serde_json::{Value, json};

/// Answers with what it received: method, path, query, headers and body size.
async fn echo(request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let size = axum::body::to_bytes(body, usize::MAX)
        .await
        .expect("test body")
        .len();
    let headers: serde_json::Map<String, Value> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or("<bytes>"))))
        .collect();
    let mut response = axum::Json(json!({
        "method": parts.method.as_str(),
        "path_and_query": parts.uri.path_and_query().map(|p| p.as_str()),
        "headers": headers,
        "body_bytes": size,
    }))
    .into_response();
    response
        .headers_mut()
        .insert("keep-alive", HeaderValue::from_static("timeout=5"));
    response
}

/// `count` copies of one chunk, as a body of unknown length.
struct Repeat {
    chunk: Bytes,
    left: usize,
}

impl axum::body::HttpBody for Repeat {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        if self.left == 0 {
            return std::task::Poll::Ready(None);
        }
        self.left -= 1;
        std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(self.chunk.clone()))))
    }
}

fn repeat(megabytes: usize) -> Body {
    Body::new(Repeat {
        chunk: Bytes::from(vec![b'x'; 1 << 20]),
        left: megabytes,
    })
}

/// A 64 MiB download, produced chunk by chunk.
async fn big() -> Response {
    Response::new(repeat(64))
}

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

fn client(addr: SocketAddr, timeout: Duration) -> UpstreamClient {
    client_at(&format!("http://{addr}"), timeout)
}

fn client_at(base_url: &str, timeout: Duration) -> UpstreamClient {
    UpstreamClient::new(&UpstreamOptions {
        base_url: base_url.to_owned(),
        connect_timeout: Duration::from_secs(2),
        response_timeout: timeout,
        max_idle_per_host: 4,
        pool_idle_timeout: Duration::from_secs(1),
    })
    .expect("client")
}

async fn json_of(response: Response) -> Value {
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    serde_json::from_slice(&bytes).expect("json")
}

#[tokio::test]
async fn forwards_path_query_and_body_but_not_credentials_or_hop_headers() {
    let addr = serve(Router::new().fallback(any(echo))).await;
    let upstream = client(addr, Duration::from_secs(5));
    let request = Request::builder()
        .method("POST")
        .uri("/api/2.0/mlflow/runs/log-metric?x=a%20b")
        .header(header::HOST, "mlguard.example")
        .header(header::AUTHORIZATION, "Basic YWxpY2U6c2VjcmV0")
        .header(header::COOKIE, "session=abc")
        .header(header::CONNECTION, "x-hop")
        .header("x-hop", "1")
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-request-id", "req-1")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"run_id\":\"r\"}"))
        .expect("request");
    let response = upstream
        .forward(request, Some(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3))))
        .await
        .expect("forwarded");
    assert_eq!(response.status(), StatusCode::OK);
    // The upstream's own hop-by-hop headers do not reach the caller.
    assert!(response.headers().get("keep-alive").is_none());
    let seen = json_of(response).await;
    assert_eq!(seen["method"], "POST");
    assert_eq!(
        seen["path_and_query"],
        "/api/2.0/mlflow/runs/log-metric?x=a%20b"
    );
    assert_eq!(seen["body_bytes"], 14);
    let headers = &seen["headers"];
    assert!(headers.get("authorization").is_none(), "{headers}");
    assert!(headers.get("cookie").is_none());
    assert!(headers.get("x-hop").is_none());
    assert_eq!(headers["x-forwarded-for"], "203.0.113.9, 10.1.2.3");
    assert_eq!(headers["x-forwarded-host"], "mlguard.example");
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert_eq!(headers["x-request-id"], "req-1");
    assert_eq!(headers["host"], addr.to_string());
}

/// MLflow sees the path and query mlguard decided on, byte for byte, under the
/// configured base path; a request line in absolute form names no other server.
#[tokio::test]
async fn the_forwarded_target_is_the_base_plus_the_exact_path_and_query() {
    let addr = serve(Router::new().fallback(any(echo))).await;
    let cases = [
        (
            format!("http://{addr}/tracking"),
            "/api/2.0/mlflow/experiments/get?experiment_id=1%2F2",
            "/tracking/api/2.0/mlflow/experiments/get?experiment_id=1%2F2",
        ),
        (
            format!("http://{addr}/tracking/"),
            "/graphql",
            "/tracking/graphql",
        ),
        (
            format!("http://{addr}/"),
            "http://evil.example:9/api/2.0/mlflow/runs/get?run_id=a+b%20c",
            "/api/2.0/mlflow/runs/get?run_id=a+b%20c",
        ),
        (
            format!("http://{addr}"),
            "/a//b/%2e%2e/c?x=%00&x=%ZZ",
            "/a//b/%2e%2e/c?x=%00&x=%ZZ",
        ),
    ];
    for (base, uri, expected) in cases {
        let request = Request::builder()
            .method("GET")
            .uri(uri)
            .body(Body::empty())
            .expect("request");
        let response = client_at(&base, Duration::from_secs(5))
            .forward(request, None)
            .await
            .expect("forwarded");
        let seen = json_of(response).await;
        assert_eq!(seen["path_and_query"], expected, "{base} + {uri}");
        assert_eq!(seen["headers"]["host"], addr.to_string(), "{base} + {uri}");
    }
}

#[tokio::test]
async fn large_bodies_stream_through() {
    let addr = serve(Router::new().route("/big", any(big)).fallback(any(echo))).await;
    let upstream = client(addr, Duration::from_secs(5));
    // 64 MiB down, chunk by chunk.
    let response = upstream
        .forward(
            Request::get("/big").body(Body::empty()).expect("request"),
            None,
        )
        .await
        .expect("forwarded");
    let mut total = 0usize;
    let mut body = response.into_body();
    while let Some(frame) = body.frame().await {
        total += frame
            .expect("frame")
            .into_data()
            .map(|d| d.len())
            .unwrap_or(0);
    }
    assert_eq!(total, 64 << 20);
    // 32 MiB up, as a stream with no length.
    let upload = repeat(32);
    let response = upstream
        .forward(
            Request::put("/api/2.0/mlflow-artifacts/artifacts/1/x")
                .body(upload)
                .expect("request"),
            None,
        )
        .await
        .expect("forwarded");
    assert_eq!(json_of(response).await["body_bytes"], 32 << 20);
}

#[tokio::test]
async fn a_closed_port_is_unreachable_and_a_silent_server_times_out() {
    // Bind, then drop: nothing listens there any more.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let error = client(closed, Duration::from_secs(5))
        .forward(
            Request::get("/").body(Body::empty()).expect("request"),
            None,
        )
        .await
        .expect_err("nothing listens");
    assert!(matches!(error, UpstreamError::Unreachable(_)), "{error:?}");

    // Accepts connections (the kernel backlog does) but never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let error = client(
        silent.local_addr().expect("addr"),
        Duration::from_millis(300),
    )
    .forward(
        Request::get("/").body(Body::empty()).expect("request"),
        None,
    )
    .await
    .expect_err("no answer");
    assert!(matches!(error, UpstreamError::TimedOut(_)), "{error:?}");
    drop(silent);
}
