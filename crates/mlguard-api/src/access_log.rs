//! The access log: one line per request, written when its answer's head is ready.
//! Every other line logged while serving the request names its id (see
//! `mlguard_http::request_id`), which correlates it with the access line; method,
//! path, status, latency and caller are fields of the access line alone.
//!
//! The binary may take the access line over ([`set_access_sink`]) and write it
//! itself, in the same shape: a tracing event's field visiting and formatting
//! cost more than the rest of a proxied request's logging together. The line is
//! still written only where the `tracing` filter lets this module's info lines
//! through.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Request, Response};
use mlguard_domain::Username;
use tower::{Layer, Service};

pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A response extension: who the request was authenticated as, for the access line.
#[derive(Debug, Clone)]
pub(crate) struct AuthenticatedAs(pub(crate) Username);

/// One answered request, as its access line states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessEntry<'a> {
    pub method: &'a str,
    /// As the caller sent it; the writer makes it line-safe.
    pub path: &'a str,
    pub status: u16,
    pub latency_us: u64,
    pub request_id: &'a str,
    /// Who the request was authenticated as; `None` before authentication.
    pub user: Option<&'a str>,
}

/// Where access lines go instead of a `tracing` event.
pub trait AccessSink: Send + Sync + 'static {
    fn write(&self, entry: &AccessEntry<'_>);
}

static SINK: OnceLock<Box<dyn AccessSink>> = OnceLock::new();

/// Sends access lines to `sink` from now on; `false` if one was set already.
pub fn set_access_sink(sink: Box<dyn AccessSink>) -> bool {
    SINK.set(sink).is_ok()
}

/// The access line as a `tracing` event: where no sink is set, and the shape a
/// sink's line must have.
pub fn log_as_event(entry: &AccessEntry<'_>) {
    // This module's path is the line's target, as the filter sees it.
    tracing::info!(
        parent: None,
        http.method = entry.method,
        http.path = entry.path,
        http.status = entry.status,
        latency_us = entry.latency_us,
        request_id = entry.request_id,
        user.name = entry.user,
        "request"
    );
}

fn log_access(entry: &AccessEntry<'_>) {
    if !tracing::enabled!(target: "mlguard_api::access_log", tracing::Level::INFO) {
        return;
    }
    match SINK.get() {
        Some(sink) => sink.write(entry),
        None => log_as_event(entry),
    }
}

/// Gives every request an `x-request-id` (the caller's, else a new UUID), echoes it
/// on the answer, and logs the request.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AccessLogLayer;

impl<S> Layer<S> for AccessLogLayer {
    type Service = AccessLog<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AccessLog { inner }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct AccessLog<S> {
    inner: S,
}

impl<S> Service<Request<Body>> for AccessLog<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let started = Instant::now();
        let request_id = match request.headers().get(&REQUEST_ID) {
            Some(id) => id.clone(),
            None => {
                let id = new_request_id();
                request.headers_mut().insert(REQUEST_ID, id.clone());
                id
            }
        };
        let method = request.method().clone();
        let uri = request.uri().clone();
        let answer =
            mlguard_http::request_id::scope(request_id.clone(), || self.inner.call(request));
        Box::pin(async move {
            let Ok(mut response) = answer.await;
            let user = response.extensions_mut().remove::<AuthenticatedAs>();
            log_access(&AccessEntry {
                method: method.as_str(),
                path: uri.path(),
                status: response.status().as_u16(),
                latency_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
                request_id: request_id.to_str().unwrap_or_default(),
                user: user.as_ref().map(|user| user.0.as_str()),
            });
            response.headers_mut().insert(REQUEST_ID, request_id);
            Ok(response)
        })
    }
}

fn new_request_id() -> HeaderValue {
    let mut text = uuid::Uuid::encode_buffer();
    let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
    HeaderValue::from_str(text).expect("a UUID is a valid header value")
}
