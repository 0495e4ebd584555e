//! A pooled connection MLflow has closed: idempotent requests are sent again on a
//! fresh connection, POSTs and streaming bodies are not, and nobody else sees the
//! failure. The upstream is a raw keep-alive HTTP/1.1 server on loopback which, when
//! told, drops its idle connection the moment the next request arrives, unread, as
//! gunicorn or uvicorn do when their keep-alive ends just then (the kernel resets
//! the connection; the request is never processed).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use mlguard_upstream::{UpstreamClient, UpstreamError, UpstreamOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

struct Upstream {
    addr: SocketAddr,
    /// `METHOD /path body` of every request read whole.
    seen: Arc<Mutex<Vec<String>>>,
    /// Tells idle connections to drop on their next request.
    drop_idle: Arc<Notify>,
    listener: tokio::task::JoinHandle<()>,
}

impl Upstream {
    async fn start(addr: SocketAddr) -> Self {
        let listener = TcpListener::bind(addr).await.expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let drop_idle = Arc::new(Notify::new());
        let (log, notify) = (Arc::clone(&seen), Arc::clone(&drop_idle));
        let listener = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_connection(
                    stream,
                    Arc::clone(&log),
                    Arc::clone(&notify),
                ));
            }
        });
        Self {
            addr,
            seen,
            drop_idle,
            listener,
        }
    }

    /// Kept-alive connections break when next used.
    async fn drop_idle_connections(&self) {
        // Let the finished exchange put its connection back into the pool first.
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.drop_idle.notify_waiters();
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().expect("log").clone()
    }

    /// The process dies: no more listener, and its connections break when used.
    async fn kill(mut self) -> SocketAddr {
        self.listener.abort();
        let _ = (&mut self.listener).await;
        self.drop_idle_connections().await;
        self.addr
    }
}

async fn serve_connection(
    mut stream: TcpStream,
    seen: Arc<Mutex<Vec<String>>>,
    drop_idle: Arc<Notify>,
) {
    let mut buffer = Vec::new();
    loop {
        if let Some(request) = take_request(&mut buffer) {
            seen.lock().expect("log").push(request);
            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nkeep-alive: timeout=5\r\n\r\nok";
            if stream.write_all(answer).await.is_err() {
                return;
            }
            continue;
        }
        let mut chunk = [0u8; 4096];
        tokio::select! {
            biased;
            () = drop_idle.notified(), if buffer.is_empty() => {
                // Closed with the request unread: the kernel answers it with a reset.
                let _ = stream.readable().await;
                return;
            }
            read = stream.read(&mut chunk) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            },
        }
    }
}

/// The first request in `buffer` once it is all there, as `METHOD /path body`.
fn take_request(buffer: &mut Vec<u8>) -> Option<String> {
    let head_end = buffer.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map_or(0, |value| value.trim().parse().expect("length"));
    if buffer.len() < head_end + length {
        return None;
    }
    let request: Vec<u8> = buffer.drain(..head_end + length).collect();
    let line = String::from_utf8_lossy(&request[..head_end]);
    let mut words = line.split(' ');
    let (method, path) = (words.next()?, words.next()?);
    let body = String::from_utf8_lossy(&request[head_end..]);
    Some(format!("{method} {path} {body}").trim_end().to_owned())
}

fn client(addr: SocketAddr) -> UpstreamClient {
    UpstreamClient::new(&UpstreamOptions {
        base_url: format!("http://{addr}"),
        connect_timeout: Duration::from_secs(2),
        response_timeout: Duration::from_secs(5),
        max_idle_per_host: 4,
        pool_idle_timeout: Duration::from_secs(30),
    })
    .expect("client")
}

async fn status_of(
    upstream: &UpstreamClient,
    request: Request<Body>,
) -> Result<StatusCode, UpstreamError> {
    let response = upstream.forward(request, None).await?;
    let status = response.status();
    response.into_body().collect().await.expect("body");
    Ok(status)
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("request")
}

#[tokio::test]
async fn a_get_on_a_connection_the_upstream_closed_is_sent_again_on_a_fresh_one() {
    let server = Upstream::start("127.0.0.1:0".parse().expect("addr")).await;
    let upstream = client(server.addr);
    assert_eq!(status_of(&upstream, get("/a")).await.expect("first"), 200);
    server.drop_idle_connections().await;
    assert_eq!(status_of(&upstream, get("/b")).await.expect("retried"), 200);
    // Lookups are GETs too.
    server.drop_idle_connections().await;
    let (status, _) = upstream.get_json("/c").await.expect("lookup retried");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(server.seen(), ["GET /a", "GET /b", "GET /c"]);
}

#[tokio::test]
async fn a_post_or_a_streaming_body_on_a_dead_connection_is_not_sent_again() {
    let server = Upstream::start("127.0.0.1:0".parse().expect("addr")).await;
    let upstream = client(server.addr);
    assert_eq!(status_of(&upstream, get("/a")).await.expect("first"), 200);

    server.drop_idle_connections().await;
    let post = Request::post("/api/2.0/mlflow/runs/create")
        .body(Bytes::from_static(b"{}"))
        .expect("request");
    let error = upstream
        .forward_buffered(post, None)
        .await
        .expect_err("a POST is not retried");
    assert!(matches!(error, UpstreamError::Unreachable(_)), "{error:?}");

    // A PUT is idempotent, but a body that streams cannot be sent twice.
    assert_eq!(status_of(&upstream, get("/b")).await.expect("fresh"), 200);
    server.drop_idle_connections().await;
    let put = Request::put("/artifacts/x")
        .body(Body::from("stream"))
        .expect("request");
    let error = status_of(&upstream, put)
        .await
        .expect_err("a streaming body is not retried");
    assert!(matches!(error, UpstreamError::Unreachable(_)), "{error:?}");

    // The failure stays with that request: the broken connection is gone.
    assert_eq!(status_of(&upstream, get("/c")).await.expect("next"), 200);
    assert_eq!(server.seen(), ["GET /a", "GET /b", "GET /c"]);
}

#[tokio::test]
async fn a_buffered_delete_is_sent_again_and_reaches_the_upstream_once() {
    let server = Upstream::start("127.0.0.1:0".parse().expect("addr")).await;
    let upstream = client(server.addr);
    assert_eq!(status_of(&upstream, get("/a")).await.expect("first"), 200);
    server.drop_idle_connections().await;
    let delete = Request::delete("/api/2.0/mlflow/registered-models/delete")
        .body(Bytes::from_static(br#"{"name":"m"}"#))
        .expect("request");
    let response = upstream
        .forward_buffered(delete, None)
        .await
        .expect("retried");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        server.seen(),
        [
            "GET /a",
            r#"DELETE /api/2.0/mlflow/registered-models/delete {"name":"m"}"#
        ]
    );
}

#[tokio::test]
async fn after_the_upstream_restarts_on_its_port_another_callers_get_succeeds() {
    let server = Upstream::start("127.0.0.1:0".parse().expect("addr")).await;
    let upstream = client(server.addr);
    // One caller's request leaves a kept-alive connection in the pool.
    assert_eq!(status_of(&upstream, get("/a")).await.expect("first"), 200);

    let addr = server.kill().await;
    let restarted = Upstream::start(addr).await;
    let other_caller = upstream.clone();
    let status = tokio::spawn(async move { status_of(&other_caller, get("/b")).await })
        .await
        .expect("task")
        .expect("the other caller is not failed");
    assert_eq!(status, 200);
    assert_eq!(restarted.seen(), ["GET /b"]);
}

/// The gateway's port: a body the gateway read (`BufferedBody`) is what makes a
/// request safe to send again, so the service must take it from the request.
#[tokio::test]
async fn through_the_forwarding_port_a_buffered_delete_is_sent_again_and_a_stream_is_not() {
    use mlguard_gateway::{BufferedBody, ClientAddr, ForwardError};
    use tower::ServiceExt;

    let server = Upstream::start("127.0.0.1:0".parse().expect("addr")).await;
    let upstream = client(server.addr);
    assert_eq!(status_of(&upstream, get("/a")).await.expect("first"), 200);

    server.drop_idle_connections().await;
    let body = Bytes::from_static(br#"{"name":"m"}"#);
    let mut delete = Request::delete("/api/2.0/mlflow/registered-models/delete")
        .body(Body::from(body.clone()))
        .expect("request");
    delete.extensions_mut().insert(BufferedBody(body));
    delete
        .extensions_mut()
        .insert(ClientAddr("127.0.0.9".parse().expect("ip")));
    let response = upstream.clone().oneshot(delete).await.expect("retried");
    assert_eq!(response.status(), StatusCode::OK);

    // A pooled connection again, then it dies.
    assert_eq!(status_of(&upstream, get("/b")).await.expect("fresh"), 200);
    server.drop_idle_connections().await;
    let streamed = Request::delete("/api/2.0/mlflow/registered-models/delete")
        .body(Body::from(r#"{"name":"n"}"#))
        .expect("request");
    let error = upstream
        .clone()
        .oneshot(streamed)
        .await
        .expect_err("a body that streams is not sent twice");
    assert!(matches!(error, ForwardError::Unreachable(_)), "{error:?}");
    assert_eq!(
        server.seen(),
        [
            "GET /a",
            r#"DELETE /api/2.0/mlflow/registered-models/delete {"name":"m"}"#,
            "GET /b"
        ]
    );
}
