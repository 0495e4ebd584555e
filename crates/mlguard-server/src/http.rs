//! The listener: one acceptor handing connections to worker threads (a runtime
//! each), hyper with explicit limits, and a guard on every connection that reads
//! each HTTP/1 request head before hyper does.
//!
//! The guard refuses what hyper would accept but a proxy must not: `Content-Length`
//! next to `Transfer-Encoding` (hyper drops the length and reads chunks; MLflow's
//! server behind us might frame it otherwise), more than one `Content-Length`, more
//! than one `Transfer-Encoding`, or one that is not exactly `chunked`. hyper gets
//! such a head cut short by bytes it cannot parse, so it never reaches the app, let
//! alone MLflow. hyper answers what it cannot parse (and too many or too large headers) with
//! an empty 4xx body and closes the connection; the guard replaces that answer with
//! MLflow's JSON error shape. Every answer of the app carries `x-request-id`, hyper's
//! own ones do not, which is how the guard tells them apart.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::body::{Body as _, Frame, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

/// Header lines in one request head; more is a 431. hyper's own default: setting
/// it explicitly would make hyper fill two 100-slot arrays per request head
/// instead of using uninitialized inline ones.
pub const MAX_HEADERS: usize = 100;
/// Bytes of one request head (request line and headers); more is a 431.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// hyper's read buffer; bounds how much of an unterminated head it keeps.
const MAX_BUF_BYTES: usize = 2 * MAX_HEAD_BYTES;
/// One chunk-size line or trailer line of a chunked body.
const MAX_LINE_BYTES: usize = 4096;

/// Serves one app per worker thread, each on a runtime of its own, until
/// `shutdown` resolves, then lets open connections finish. The calling runtime
/// accepts on `listener` and hands each connection to the worker serving the
/// fewest: a request is then served on one thread from its first byte to its
/// answer, with no task moved between threads, and each worker keeps its own pool
/// of upstream connections.
pub async fn serve_on_workers(
    listener: TcpListener,
    apps: Vec<Router>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let drained = Arc::new(tokio::sync::Barrier::new(apps.len()));
    let mut workers = Vec::with_capacity(apps.len());
    let mut threads = Vec::with_capacity(apps.len());
    for (index, app) in apps.into_iter().enumerate() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (handoff, connections) = tokio::sync::mpsc::unbounded_channel();
        let open = Arc::new(AtomicUsize::new(0));
        let drained = Arc::clone(&drained);
        threads.push(
            std::thread::Builder::new()
                .name(format!("mlguard-worker-{index}"))
                .spawn(move || runtime.block_on(run_worker(app, connections, drained)))?,
        );
        workers.push(Worker { handoff, open });
    }
    let mut shutdown = std::pin::pin!(shutdown);
    while let Some((stream, peer)) = accept(&listener, &mut shutdown).await {
        let Some(worker) = workers
            .iter()
            .min_by_key(|worker| worker.open.load(Ordering::Relaxed))
        else {
            break;
        };
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(error) => {
                tracing::debug!(%error, client = %peer, "accepted connection lost");
                continue;
            }
        };
        worker.open.fetch_add(1, Ordering::Relaxed);
        let handed = Handoff {
            stream,
            peer,
            open: OpenConnection(Arc::clone(&worker.open)),
        };
        if worker.handoff.send(handed).is_err() {
            tracing::error!("a worker thread ended early; no longer accepting");
            break;
        }
    }
    // Without a sender left, each worker drains its connections and ends.
    drop(workers);
    tokio::task::spawn_blocking(move || {
        for thread in threads {
            if thread.join().is_err() {
                tracing::error!("a worker thread panicked");
            }
        }
    })
    .await
    .map_err(io::Error::other)
}

/// A worker as the acceptor sees it.
struct Worker {
    handoff: tokio::sync::mpsc::UnboundedSender<Handoff>,
    /// Connections handed to it and not yet closed.
    open: Arc<AtomicUsize>,
}

/// An accepted connection on its way to a worker.
struct Handoff {
    stream: std::net::TcpStream,
    peer: SocketAddr,
    open: OpenConnection,
}

/// Counts a connection as open until it is dropped.
struct OpenConnection(Arc<AtomicUsize>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn run_worker(
    app: Router,
    mut connections: tokio::sync::mpsc::UnboundedReceiver<Handoff>,
    drained: Arc<tokio::sync::Barrier>,
) {
    let builder = connection_builder();
    let graceful = GracefulShutdown::new();
    while let Some(Handoff { stream, peer, open }) = connections.recv().await {
        match tokio::net::TcpStream::from_std(stream) {
            Ok(stream) => serve_connection(&builder, &graceful, stream, peer, app.clone(), open),
            Err(error) => tracing::debug!(%error, client = %peer, "connection not registered"),
        }
    }
    graceful.shutdown().await;
    // Connections a shared client keeps (lookups, the provider) may live on this
    // runtime while another worker still uses them: every runtime runs until all
    // are drained.
    drained.wait().await;
}

/// hyper with this module's limits.
fn connection_builder() -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().max_buf_size(MAX_BUF_BYTES);
    builder
}

/// The next connection, or `None` once `shutdown` resolved.
async fn accept(
    listener: &TcpListener,
    shutdown: &mut Pin<&mut impl Future<Output = ()>>,
) -> Option<(TcpStream, SocketAddr)> {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.as_mut() => return None,
        };
        match accepted {
            Ok((stream, peer)) => {
                // An answer streamed from MLflow leaves in several writes: without
                // this, each after the first waits for the client's delayed ACK
                // (40 ms).
                if let Err(error) = stream.set_nodelay(true) {
                    tracing::debug!(%error, "TCP_NODELAY not set");
                }
                return Some((stream, peer));
            }
            Err(error) => {
                // Out of file descriptors, say: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

/// Serves one connection on the current runtime; `guard` is dropped when it ends.
fn serve_connection(
    builder: &Builder<TokioExecutor>,
    graceful: &GracefulShutdown,
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    guard: impl Send + 'static,
) {
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let read = Arc::new(AtomicBool::new(request.body().is_end_stream()));
        let request = request.map(|inner| {
            Body::new(WatchedBody {
                inner,
                read: Arc::clone(&read),
            })
        });
        let app = app.clone();
        async move {
            let mut response = app.oneshot(request).await?;
            close_unless_read(&mut response, &read);
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let connection = builder
        .serve_connection_with_upgrades(TokioIo::new(Guarded::new(stream)), service)
        .into_owned();
    let connection = graceful.watch(connection);
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, client = %peer, "connection ended with an error");
        }
        drop(guard);
    });
}

/// A request body that tells whether it was read to its end.
struct WatchedBody {
    inner: Incoming,
    read: Arc<AtomicBool>,
}

impl WatchedBody {
    fn note_end(&self) -> bool {
        let end = self.inner.is_end_stream();
        if end {
            self.read.store(true, Ordering::Release);
        }
        end
    }
}

impl hyper::body::Body for WatchedBody {
    type Data = axum::body::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) {
            self.read.store(true, Ordering::Release);
        } else {
            self.note_end();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.note_end()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// An answer given before the request's body was read to its end (a refusal, say)
/// leaves the rest of the body on the connection, so hyper will not reuse it. The
/// answer says so: a client that reused the connection would see it closed under
/// its next request.
fn close_unless_read(response: &mut axum::response::Response, read: &AtomicBool) {
    if !read.load(Ordering::Acquire) {
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
}

/// Where the guard is in the byte stream of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Track {
    /// Collecting a request head.
    Head,
    /// Inside a body of known length: bytes left.
    Body(u64),
    /// Collecting a chunk-size line.
    ChunkSize,
    /// Inside a chunk: bytes left.
    ChunkData(u64),
    /// The line break after a chunk's data.
    ChunkEnd,
    /// Trailer lines after the last chunk, up to the empty line.
    Trailers,
    /// No longer reading: a refused head (the connection is closing), HTTP/2, an
    /// upgraded connection (101), or bytes hyper will refuse itself.
    Off,
}

/// Why a request was refused: status and message of the JSON answer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Refusal {
    status: u16,
    message: &'static str,
}

const MALFORMED: Refusal = Refusal {
    status: 400,
    message: "Malformed HTTP request",
};

/// A connection with its request framing checked; see the module documentation.
pub struct Guarded<T> {
    inner: T,
    track: Track,
    /// The head or line being collected.
    pending: Vec<u8>,
    /// Set once a head was refused or could not be parsed.
    refusal: Option<Refusal>,
    /// hyper's automatic answers are rewritten (not on HTTP/2 or upgraded streams).
    rewrite: bool,
    /// Bytes hyper reads next instead of the connection's.
    inject: Vec<u8>,
    /// The JSON answer still to be written, from `written` on.
    out: Vec<u8>,
    written: usize,
}

impl<T> Guarded<T> {
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            track: Track::Head,
            pending: Vec::new(),
            refusal: None,
            rewrite: true,
            inject: Vec::new(),
            out: Vec::new(),
            written: 0,
        }
    }

    /// Follows the request stream through `data` (bytes just read, not yet seen by
    /// hyper). When a head is refused: how many of these bytes hyper may still see
    /// (those before the head); what follows them is then `self.inject`.
    fn inspect(&mut self, data: &[u8]) -> Option<usize> {
        let mut at = 0;
        while at < data.len() {
            match self.track {
                Track::Off => return None,
                Track::Body(left) | Track::ChunkData(left) => {
                    let take = left.min((data.len() - at) as u64);
                    at += take as usize; // take <= data.len() - at
                    let left = left - take;
                    self.track = match (self.track, left) {
                        (Track::Body(_), 0) => Track::Head,
                        (Track::Body(_), _) => Track::Body(left),
                        (_, 0) => Track::ChunkEnd,
                        (_, _) => Track::ChunkData(left),
                    };
                }
                Track::Head => {
                    let before = self.pending.len();
                    self.pending.extend_from_slice(&data[at..]);
                    match inspect_head(&self.pending) {
                        Head::Partial => {
                            if self.pending.len() > MAX_HEAD_BYTES {
                                self.refuse(Refusal {
                                    status: 431,
                                    message: "Request headers too large",
                                });
                                return Some(at);
                            }
                            return None;
                        }
                        Head::Unparseable(refusal) => {
                            // hyper parses the same bytes with the same parser and
                            // refuses them itself.
                            self.refuse(refusal);
                            return None;
                        }
                        Head::Passthrough => {
                            self.track = Track::Off;
                            self.rewrite = false;
                            return None;
                        }
                        Head::Refused { refusal, .. } => {
                            self.refuse(refusal);
                            return Some(at);
                        }
                        Head::Complete { len, next } => {
                            at += len.saturating_sub(before).max(1);
                            self.pending.clear();
                            self.track = next;
                        }
                    }
                }
                Track::ChunkSize | Track::ChunkEnd | Track::Trailers => {
                    let rest = &data[at..];
                    let Some(newline) = rest.iter().position(|&b| b == b'\n') else {
                        self.pending.extend_from_slice(rest);
                        if self.pending.len() > MAX_LINE_BYTES {
                            // hyper refuses such a chunk itself.
                            self.track = Track::Off;
                        }
                        return None;
                    };
                    self.pending.extend_from_slice(&rest[..=newline]);
                    at += newline + 1;
                    let line = std::mem::take(&mut self.pending);
                    self.track = match self.track {
                        Track::ChunkSize => match httparse::parse_chunk_size(&line) {
                            Ok(httparse::Status::Complete((_, 0))) => Track::Trailers,
                            Ok(httparse::Status::Complete((_, size))) => Track::ChunkData(size),
                            // hyper fails the body and closes the connection.
                            _ => Track::Off,
                        },
                        Track::ChunkEnd if line == b"\r\n" => Track::ChunkSize,
                        Track::Trailers if line == b"\r\n" || line == b"\n" => Track::Head,
                        Track::Trailers => Track::Trailers,
                        _ => Track::Off,
                    };
                }
            }
        }
        None
    }

    fn refuse(&mut self, refusal: Refusal) {
        tracing::info!(
            status = refusal.status,
            reason = refusal.message,
            "refused a request head"
        );
        self.refusal = Some(refusal);
        self.track = Track::Off;
        self.pending = Vec::new();
        // Whatever hyper holds of the head so far, a NUL makes it unparseable (it is
        // invalid anywhere in a head), and the blank line after it makes hyper parse
        // now instead of waiting for the end of the head.
        self.inject = b"\0\n\n".to_vec();
    }

    /// After a 101 answer the connection carries another protocol: stop reading it.
    fn watch_answer(&mut self, buf: &[u8]) {
        if buf.starts_with(b"HTTP/1.1 101") {
            self.track = Track::Off;
            self.rewrite = false;
        }
    }

    /// Replaces hyper's automatic answer, if `buf` is one, with the JSON one. Only
    /// once a head was refused: before, a response body that looks like such an
    /// answer (an artifact, say) must go out unchanged.
    fn replace(&mut self, buf: &[u8]) -> bool {
        if !self.rewrite || !self.out.is_empty() {
            return false;
        }
        let Some(refusal) = &self.refusal else {
            return false;
        };
        if automatic_answer(buf).is_none() {
            return false;
        }
        self.out = json_answer(refusal);
        self.written = 0;
        true
    }
}

impl<T: AsyncWrite + Unpin> Guarded<T> {
    /// Writes what is left of the JSON answer.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.out.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.out[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Guarded<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.inject.is_empty() {
            let before = buf.filled().len();
            ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
            match this.inspect(&buf.filled()[before..]) {
                None => return Poll::Ready(Ok(())),
                Some(keep) => buf.set_filled(before + keep),
            }
        }
        let n = this.inject.len().min(buf.remaining());
        buf.put_slice(&this.inject[..n]);
        this.inject.drain(..n);
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Guarded<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        this.watch_answer(buf);
        if this.replace(buf) {
            // hyper's bytes count as written; ours go out instead.
            ready!(this.poll_drain(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        let first = bufs.iter().find(|b| !b.is_empty());
        if let Some(first) = first {
            this.watch_answer(first);
        }
        if first.is_some_and(|first| this.replace(first)) {
            ready!(this.poll_drain(cx))?;
            return Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()));
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// What one collected head means.
#[derive(Debug, PartialEq, Eq)]
enum Head {
    Partial,
    /// A request head of `len` bytes, followed by `next`.
    Complete {
        len: usize,
        next: Track,
    },
    /// A well-formed head whose framing is refused.
    Refused {
        len: usize,
        refusal: Refusal,
    },
    /// Not a head hyper will accept.
    Unparseable(Refusal),
    /// HTTP/2: no longer HTTP/1 framing.
    Passthrough,
}

fn inspect_head(bytes: &[u8]) -> Head {
    // Left uninitialized: the parser writes the slots it fills, and every head is
    // inspected, so 100 empty headers are not written out for each one.
    let mut headers =
        [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    let len = match request.parse_with_uninit_headers(bytes, &mut headers) {
        Ok(httparse::Status::Partial) => return Head::Partial,
        Ok(httparse::Status::Complete(len)) => len,
        Err(_) if bytes.starts_with(b"PRI * HTTP/2.0") => return Head::Passthrough,
        Err(httparse::Error::TooManyHeaders) => {
            return Head::Unparseable(Refusal {
                status: 431,
                message: "Too many request headers",
            });
        }
        Err(_) => return Head::Unparseable(MALFORMED),
    };
    // hyper's limit (u16::MAX - 1); it answers 414 itself.
    if request.path.map_or(0, str::len) >= usize::from(u16::MAX - 1) {
        return Head::Unparseable(Refusal {
            status: 414,
            message: "Request URI too long",
        });
    }
    if len > MAX_HEAD_BYTES {
        return Head::Refused {
            len,
            refusal: Refusal {
                status: 431,
                message: "Request headers too large",
            },
        };
    }
    let refused = |message| Head::Refused {
        len,
        refusal: Refusal {
            status: 400,
            message,
        },
    };
    let lengths = values(request.headers, "content-length");
    let encodings = values(request.headers, "transfer-encoding");
    let next = match (lengths.as_slice(), encodings.as_slice()) {
        ([], []) => Track::Head,
        (_, [_, ..]) if !lengths.is_empty() => {
            return refused("Content-Length and Transfer-Encoding must not both be present");
        }
        ([], [encoding]) => {
            if request.version != Some(1) {
                return refused("Transfer-Encoding is not allowed in HTTP/1.0");
            }
            if !encoding.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                return refused("Transfer-Encoding must be chunked");
            }
            Track::ChunkSize
        }
        ([], _) => return refused("Transfer-Encoding must appear once"),
        ([length], []) => {
            let digits = length.trim_ascii();
            let parsed = (!digits.is_empty() && digits.iter().all(u8::is_ascii_digit))
                .then(|| std::str::from_utf8(digits).ok()?.parse::<u64>().ok())
                .flatten();
            match parsed {
                Some(0) => Track::Head,
                Some(n) => Track::Body(n),
                None => return refused("Content-Length is not a number"),
            }
        }
        (_, _) => return refused("Content-Length must appear once"),
    };
    // mlguard is no forward proxy; a CONNECT would turn the connection into a tunnel.
    if request.method == Some("CONNECT") {
        return refused("CONNECT is not supported");
    }
    // An `Upgrade` request is read on as HTTP/1: only a 101 answer ends that
    // (`Guarded::watch_answer`), and the app never gives one.
    Head::Complete { len, next }
}

fn values<'h>(headers: &[httparse::Header<'h>], name: &str) -> Vec<&'h [u8]> {
    headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
        .collect()
}

/// The status of hyper's own answer to an unparseable request: a 4xx head with an
/// empty body and no request id.
fn automatic_answer(buf: &[u8]) -> Option<u16> {
    if !(buf.starts_with(b"HTTP/1.1 4") || buf.starts_with(b"HTTP/1.0 4")) {
        return None;
    }
    let head = &buf[..buf.len().min(1024)];
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = buf[..end].to_ascii_lowercase();
    let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    if has(b"\r\nx-request-id:") || !has(b"\r\ncontent-length: 0") {
        return None;
    }
    std::str::from_utf8(head.get(9..12)?).ok()?.parse().ok()
}

/// A complete HTTP/1.1 answer in MLflow's JSON error shape; the connection closes.
fn json_answer(refusal: &Refusal) -> Vec<u8> {
    /// A struct, not `json!`: the keys keep MLflow's order.
    #[derive(serde::Serialize)]
    struct Body<'a> {
        error_code: &'a str,
        message: &'a str,
        sqlstate: &'a str,
        error_class: &'a str,
    }
    let body = serde_json::to_string(&Body {
        error_code: "BAD_REQUEST",
        message: refusal.message,
        // MLflow 3.17's classification of BAD_REQUEST, as mlguard's other errors.
        sqlstate: "KAM00",
        error_class: "INVALID_PARAMETER_VALUE",
    })
    .unwrap_or_default();
    let reason = axum::http::StatusCode::from_u16(refusal.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Bad Request");
    let request_id: String = {
        use rand::Rng;
        rand::rng()
            .sample_iter(rand::distr::Alphanumeric)
            .take(24)
            .map(char::from)
            .collect()
    };
    format!(
        "HTTP/1.1 {} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\nx-request-id: {request_id}\r\n\r\n{body}",
        refusal.status,
        body.len(),
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(raw: &str) -> Head {
        inspect_head(raw.as_bytes())
    }

    #[test]
    fn framing_is_read_like_hyper_reads_it() {
        assert_eq!(
            head("GET / HTTP/1.1\r\nhost: x\r\n\r\n"),
            Head::Complete {
                len: 27,
                next: Track::Head
            }
        );
        assert!(matches!(
            head("POST / HTTP/1.1\r\ncontent-length: 5\r\n\r\nhello"),
            Head::Complete {
                next: Track::Body(5),
                ..
            }
        ));
        assert!(matches!(
            head("POST / HTTP/1.1\r\ntransfer-encoding: Chunked\r\n\r\n"),
            Head::Complete {
                next: Track::ChunkSize,
                ..
            }
        ));
        assert_eq!(head("POST / HTTP/1.1\r\nhost: x\r\n"), Head::Partial);
        assert_eq!(head("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Head::Passthrough);
    }

    #[test]
    fn ambiguous_framing_is_refused() {
        for raw in [
            "POST / HTTP/1.1\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 5\r\n\r\n",
            "POST / HTTP/1.1\r\ncontent-length: 5\r\ncontent-length: 5\r\n\r\n",
            "POST / HTTP/1.1\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n",
            "POST / HTTP/1.1\r\ncontent-length: 5, 5\r\n\r\n",
            "POST / HTTP/1.1\r\ncontent-length: +5\r\n\r\n",
            "POST / HTTP/1.1\r\ntransfer-encoding: gzip, chunked\r\n\r\n",
            "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n\r\n",
            "POST / HTTP/1.0\r\ntransfer-encoding: chunked\r\n\r\n",
            "CONNECT mlflow:5000 HTTP/1.1\r\nhost: mlflow:5000\r\n\r\n",
        ] {
            assert!(
                matches!(
                    head(raw),
                    Head::Refused {
                        refusal: Refusal { status: 400, .. },
                        ..
                    }
                ),
                "{raw:?}"
            );
        }
        assert!(matches!(
            head("GET / HTTP/1.1\r\nx: a\r\n folded\r\n\r\n"),
            Head::Unparseable(Refusal { status: 400, .. })
        ));
        let many: String = (0..=MAX_HEADERS).map(|i| format!("x-{i}: v\r\n")).collect();
        assert!(matches!(
            head(&format!("GET / HTTP/1.1\r\n{many}\r\n")),
            Head::Unparseable(Refusal { status: 431, .. })
        ));
    }

    #[test]
    fn bodies_are_skipped_and_the_next_head_is_checked() {
        let mut guard = Guarded::new(());
        let stream = b"POST / HTTP/1.1\r\ncontent-length: 4\r\n\r\nabcd\
            POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nt: v\r\n\r\n\
            GET / HTTP/1.1\r\ncontent-length: 1\r\ncontent-length: 1\r\n\r\n"
            .to_vec();
        // Byte by byte, as the worst network would deliver it.
        let len = stream.len();
        for i in 0..len {
            let keep = guard.inspect(&stream[i..=i]);
            assert_eq!(keep.is_some(), i == len - 1, "at {i}");
        }
        assert_eq!(guard.track, Track::Off);
        assert_eq!(guard.refusal.as_ref().map(|r| r.status), Some(400));
        assert_eq!(guard.inject, b"\0\n\n");
    }

    #[test]
    fn only_hypers_own_answers_are_replaced() {
        assert_eq!(
            automatic_answer(b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n"),
            Some(431)
        );
        assert_eq!(
            automatic_answer(
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nx-request-id: a\r\n\r\n"
            ),
            None
        );
        assert_eq!(
            automatic_answer(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"),
            None
        );
        let answer = String::from_utf8(json_answer(&MALFORMED)).expect("ascii");
        assert!(
            answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{answer}"
        );
        assert!(
            answer.ends_with(
                r#"{"error_code":"BAD_REQUEST","message":"Malformed HTTP request","sqlstate":"KAM00","error_class":"INVALID_PARAMETER_VALUE"}"#
            )
        );
    }

    /// The answer's head, for a request whose body is sent only after `pause`.
    async fn answer_head(path: &str, pause: std::time::Duration) -> String {
        use tokio::io::AsyncWriteExt;
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let address = listener.local_addr().expect("address");
        let app = Router::new()
            .route(
                "/refuse",
                axum::routing::post(|| async { axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE }),
            )
            .route(
                "/read",
                axum::routing::post(
                    |body: axum::body::Bytes| async move { body.len().to_string() },
                ),
            );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_on_workers(listener, vec![app], async {
            let _ = stopped.await;
        }));
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        let head = format!("POST {path} HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\n");
        stream.write_all(head.as_bytes()).await.expect("head");
        tokio::time::sleep(pause).await;
        let _ = stream.write_all(b"0123456789").await;
        let mut answer = Vec::new();
        let mut chunk = [0u8; 1024];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            let read = tokio::io::AsyncReadExt::read(&mut stream, &mut chunk)
                .await
                .expect("read");
            assert!(read > 0, "closed before an answer");
            answer.extend_from_slice(&chunk[..read]);
        }
        let _ = stop.send(());
        let _ = server.await;
        String::from_utf8_lossy(&answer).to_lowercase()
    }

    #[tokio::test]
    async fn an_answer_given_before_the_body_was_read_closes_the_connection_and_says_so() {
        let refused = answer_head("/refuse", std::time::Duration::from_millis(200)).await;
        assert!(refused.starts_with("http/1.1 415"), "{refused}");
        assert!(refused.contains("connection: close"), "{refused}");
        // A body read to its end leaves the connection reusable.
        let read = answer_head("/read", std::time::Duration::ZERO).await;
        assert!(read.starts_with("http/1.1 200"), "{read}");
        assert!(!read.contains("connection: close"), "{read}");
    }

    #[tokio::test]
    async fn connections_go_to_the_worker_serving_the_fewest() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let address = listener.local_addr().expect("address");
        // Each worker's app answers with its worker's number and thread name.
        let apps = (0..2)
            .map(|worker| {
                Router::new().route(
                    "/who",
                    axum::routing::get(move || async move {
                        let thread = std::thread::current().name().unwrap_or("").to_owned();
                        format!("{worker} {thread}")
                    }),
                )
            })
            .collect();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_on_workers(listener, apps, async {
            let _ = stopped.await;
        }));
        let mut answers = Vec::new();
        // Connections stay open, so each new one goes to the other worker.
        let mut open = Vec::new();
        for _ in 0..4 {
            let mut stream = tokio::net::TcpStream::connect(address)
                .await
                .expect("connect");
            stream
                .write_all(b"GET /who HTTP/1.1\r\nhost: x\r\n\r\n")
                .await
                .expect("request");
            let mut answer = vec![0u8; 1024];
            let read = stream.read(&mut answer).await.expect("answer");
            let answer = String::from_utf8_lossy(&answer[..read]).into_owned();
            let body = answer.rsplit("\r\n").next().unwrap_or_default().to_owned();
            answers.push(body);
            open.push(stream);
        }
        assert_eq!(
            answers,
            [
                "0 mlguard-worker-0",
                "1 mlguard-worker-1",
                "0 mlguard-worker-0",
                "1 mlguard-worker-1"
            ]
        );
        drop(open);
        let _ = stop.send(());
        server
            .await
            .expect("server task")
            .expect("workers ended cleanly");
    }
}
