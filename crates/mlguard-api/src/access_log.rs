//! The access log: one line per request, written when its answer's head is ready,
//! and the `request` span that every other line logged while serving it is in.
//!
//! The span carries only what correlates those lines with the access line (the
//! request id, and the caller once known); method, path, status and latency are
//! fields of the access line itself, which is logged outside the span. A span
//! field costs a formatting pass per request, the access line one event.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Request, Response};
use mlguard_domain::Username;
use tower::{Layer, Service};
use tracing::Instrument;

pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A response extension: who the request was authenticated as, for the access line.
#[derive(Debug, Clone)]
pub(crate) struct AuthenticatedAs(pub(crate) Username);

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
        let span = tracing::info_span!(
            "request",
            request_id = request_id.to_str().unwrap_or_default(),
            user.name = tracing::field::Empty,
        );
        let answer = span.in_scope(|| self.inner.call(request));
        Box::pin(async move {
            let Ok(mut response) = answer.instrument(span).await;
            let user = response.extensions_mut().remove::<AuthenticatedAs>();
            tracing::info!(
                parent: None,
                http.method = method.as_str(),
                http.path = uri.path(),
                http.status = response.status().as_u16(),
                latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
                request_id = request_id.to_str().unwrap_or_default(),
                user.name = user.as_ref().map(|user| user.0.as_str()),
                "request"
            );
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
