//! The gateway's forwarding port, implemented by the upstream client: a tower
//! service from the gateway's request to MLflow's answer.

use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{Request, Response};
use mlguard_domain::BoxFuture;
use mlguard_gateway::{BufferedBody, ClientAddr, ForwardError};
use tower::Service;

use crate::{UpstreamClient, UpstreamError};

impl From<UpstreamError> for ForwardError {
    fn from(error: UpstreamError) -> Self {
        match error {
            UpstreamError::TimedOut(_) => ForwardError::TimedOut,
            other => ForwardError::Unreachable(other.to_string()),
        }
    }
}

impl Service<Request<Body>> for UpstreamClient {
    type Response = Response<Body>;
    type Error = ForwardError;
    type Future = BoxFuture<'static, Result<Response<Body>, ForwardError>>;

    /// The pool takes any number of requests; each waits for its own connection.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), ForwardError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let upstream = self.clone();
        Box::pin(async move {
            let client = request
                .extensions_mut()
                .remove::<ClientAddr>()
                .map(|ClientAddr(ip)| ip);
            // A body the gateway already read can be sent again after a dropped
            // connection.
            let forwarded = match request.extensions_mut().remove::<BufferedBody>() {
                Some(BufferedBody(bytes)) => {
                    upstream
                        .forward_buffered(request.map(|_| bytes), client)
                        .await
                }
                None => upstream.forward(request, client).await,
            };
            Ok(forwarded?)
        })
    }
}
