//! The ceiling of mlguard's HTTP stack: hyper's server and hyper's pooled client
//! with nothing between them. No authentication, no policy, no logging, no header
//! rewriting; each request goes to the upstream as it came. `bench/run.sh` runs it
//! beside nginx and mlguard, so the table shows how much of the gap to nginx is the
//! stack itself and how much is mlguard's work on top of it.
//!
//! One single-threaded runtime per core, each with its own `SO_REUSEPORT` listener
//! and its own client pool: the fastest arrangement hyper allows, with no task ever
//! moved between threads.
//!
//! Benchmark use only; it listens on loopback and nowhere else.
//!
//! `cargo run --release -p mlguard-server --example bare_proxy -- 127.0.0.1:5002 http://127.0.0.1:5001`

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode, Uri};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

// The allocator mlguard runs with, so that the two differ only in the work done.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(upstream)) = (args.next(), args.next()) else {
        eprintln!("usage: bare_proxy LISTEN_ADDRESS UPSTREAM_URL");
        std::process::exit(2);
    };
    let listen: SocketAddr = listen.parse().map_err(std::io::Error::other)?;
    // Loopback only: this proxy forwards anyone's request unchecked.
    if !listen.ip().is_loopback() {
        eprintln!("bare_proxy listens on loopback only");
        std::process::exit(2);
    }
    let upstream: Uri = upstream.parse().map_err(std::io::Error::other)?;
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let workers: Vec<_> = (0..threads)
        .map(|index| {
            let upstream = upstream.clone();
            std::thread::Builder::new()
                .name(format!("bare-proxy-{index}"))
                .spawn(move || serve(listen, upstream))
        })
        .collect::<std::io::Result<_>>()?;
    for worker in workers {
        worker
            .join()
            .map_err(|_| std::io::Error::other("a worker panicked"))??;
    }
    Ok(())
}

/// One worker: its own runtime, listener and client pool.
fn serve(listen: SocketAddr, upstream: Uri) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.set_reuseport(true)?;
        socket.bind(listen)?;
        let listener = socket.listen(1024)?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client: Client<HttpConnector, Incoming> =
            Client::builder(TokioExecutor::new()).build(connector);
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            let client = client.clone();
            let upstream = upstream.clone();
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                forward(client.clone(), upstream.clone(), request)
            });
            tokio::spawn(async move {
                // A client that goes away mid-request is no concern of a benchmark.
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

async fn forward(
    client: Client<HttpConnector, Incoming>,
    upstream: Uri,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let (mut parts, body) = request.into_parts();
    let mut target = upstream.into_parts();
    target.path_and_query = parts.uri.path_and_query().cloned();
    parts.uri = match Uri::from_parts(target) {
        Ok(uri) => uri,
        Err(_) => return Ok(status(StatusCode::BAD_REQUEST)),
    };
    Ok(
        match client.request(Request::from_parts(parts, body)).await {
            Ok(response) => response.map(Body::new),
            Err(_) => status(StatusCode::BAD_GATEWAY),
        },
    )
}

fn status(code: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = code;
    response
}
