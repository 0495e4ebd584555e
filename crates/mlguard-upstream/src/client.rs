use std::net::IpAddr;
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::uri::{Authority, Scheme};
use axum::http::{Method, Request, Response, StatusCode, Uri, request};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use mlguard_gateway::ProviderBound;

/// How to reach the tracking server.
#[derive(Debug, Clone)]
pub struct UpstreamOptions {
    /// `http://host:port`, optionally with a path prefix.
    pub base_url: String,
    pub connect_timeout: Duration,
    /// Time allowed until the response headers arrive. Bodies then stream untimed,
    /// so a long download is not cut off.
    pub response_timeout: Duration,
    pub max_idle_per_host: usize,
    /// Idle pooled connections are closed after this. Below MLflow's keep-alive
    /// (gunicorn 2 s, uvicorn 5 s), mlguard rarely reuses one MLflow is closing.
    pub pool_idle_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("invalid upstream URL: {0}")]
    InvalidUrl(String),
    #[error("cannot reach the tracking server: {0}")]
    Unreachable(String),
    #[error("the tracking server did not answer within {0:?}")]
    TimedOut(Duration),
    #[error("the tracking server's answer could not be read: {0}")]
    Unreadable(String),
}

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1).
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Largest JSON answer a lookup reads.
const MAX_LOOKUP_BYTES: usize = 8 * 1024 * 1024;

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none: one pass over their few names instead of a lookup
    // per hop-by-hop name.
    if !headers.keys().any(|name| HOP_BY_HOP.contains(name)) {
        return;
    }
    if headers.contains_key(header::CONNECTION) {
        let listed: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
            .collect();
        for name in &listed {
            headers.remove(name);
        }
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

/// A pooled HTTP/1.1 client for the tracking server. Cloned per request (and per
/// request's lookups), so everything but the request id is shared.
#[derive(Debug, Clone)]
pub struct UpstreamClient {
    shared: std::sync::Arc<Shared>,
    /// Sent as `X-Request-Id` with lookups made for one request.
    request_id: Option<HeaderValue>,
}

#[derive(Debug)]
struct Shared {
    client: Client<HttpConnector, Body>,
    /// Keeps no connection: a retry must not get another stale pooled one.
    fresh: Client<HttpConnector, Body>,
    /// `http://host:port/prefix` without a trailing slash.
    base: Box<str>,
    /// `host:port` of `base`, and whether `base` has a path: without one, a
    /// request's path and query are reused as they are (no copy, no parse).
    authority: Authority,
    /// `Host` for MLflow: the upstream's authority, as hyper would otherwise
    /// format it anew for every request.
    host: HeaderValue,
    bare: bool,
    response_timeout: Duration,
}

impl UpstreamClient {
    pub fn new(options: &UpstreamOptions) -> Result<Self, UpstreamError> {
        let uri: Uri = options
            .base_url
            .parse()
            .map_err(|e| UpstreamError::InvalidUrl(format!("{}: {e}", options.base_url)))?;
        if uri.scheme_str() != Some("http") || uri.authority().is_none() {
            return Err(UpstreamError::InvalidUrl(format!(
                "{}: mlguard reaches MLflow over plain http://host:port on a private network",
                options.base_url
            )));
        }
        if uri.query().is_some() {
            return Err(UpstreamError::InvalidUrl(format!(
                "{}: no query string allowed",
                options.base_url
            )));
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(options.connect_timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(options.max_idle_per_host)
            .pool_idle_timeout(options.pool_idle_timeout)
            .pool_timer(TokioTimer::new())
            .build(connector.clone());
        let fresh = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build(connector);
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| UpstreamError::InvalidUrl(options.base_url.clone()))?;
        // As hyper writes it: without the scheme's default port.
        let host = match authority.port_u16() {
            Some(80) => authority.host(),
            _ => authority.as_str(),
        };
        let host = HeaderValue::from_str(host)
            .map_err(|e| UpstreamError::InvalidUrl(format!("{}: {e}", options.base_url)))?;
        Ok(Self {
            shared: std::sync::Arc::new(Shared {
                client,
                fresh,
                host,
                bare: uri.path().trim_end_matches('/').is_empty(),
                authority,
                base: options.base_url.trim_end_matches('/').into(),
                response_timeout: options.response_timeout,
            }),
            request_id: None,
        })
    }

    /// Where a forwarded request goes: its path and query under `base`.
    fn forward_target(&self, original: &Uri) -> Result<Uri, UpstreamError> {
        match original.path_and_query() {
            Some(path_and_query) if self.shared.bare => {
                let mut parts = axum::http::uri::Parts::default();
                parts.scheme = Some(Scheme::HTTP);
                parts.authority = Some(self.shared.authority.clone());
                parts.path_and_query = Some(path_and_query.clone());
                Uri::from_parts(parts).map_err(|e| UpstreamError::InvalidUrl(e.to_string()))
            }
            Some(path_and_query) => self.target(path_and_query.as_str()),
            None => self.target("/"),
        }
    }

    fn target(&self, path_and_query: &str) -> Result<Uri, UpstreamError> {
        format!("{}{path_and_query}", self.shared.base)
            .parse()
            .map_err(|e| UpstreamError::InvalidUrl(format!("{path_and_query}: {e}")))
    }

    /// Sends one request. When the connection broke before MLflow answered, an
    /// idempotent request whose body is at hand (`replay`) is sent once more on a
    /// fresh connection; anything else fails as it is.
    async fn send(
        &self,
        parts: request::Parts,
        body: Body,
        replay: Option<Bytes>,
    ) -> Result<Response<Body>, UpstreamError> {
        // RFC 9110 §9.2.2: only an idempotent request may reach MLflow twice; MLflow's
        // POSTs create things.
        let idempotent = matches!(
            parts.method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
        );
        let retry = replay
            .filter(|_| idempotent)
            .map(|bytes| (parts.clone(), bytes));
        let exchange = async {
            match self
                .shared
                .client
                .request(Request::from_parts(parts, body))
                .await
            {
                Err(error) if connection_dropped(&error) => match retry {
                    Some((parts, bytes)) => {
                        tracing::debug!(error = %error_chain(&error), "upstream connection dropped; retrying once");
                        self.shared
                            .fresh
                            .request(Request::from_parts(parts, Body::from(bytes)))
                            .await
                    }
                    None => Err(error),
                },
                other => other,
            }
        };
        let response = tokio::time::timeout(self.shared.response_timeout, exchange)
            .await
            .map_err(|_| UpstreamError::TimedOut(self.shared.response_timeout))?
            .map_err(|e| UpstreamError::Unreachable(error_chain(&e)))?;
        Ok(response.map(Body::new))
    }

    /// Forwards a request: same method, path, query, headers and streaming body,
    /// minus hop-by-hop headers and the caller's credentials, plus `X-Forwarded-*`.
    /// A streaming body cannot be sent twice, so only a request without one is
    /// retried after a dropped connection.
    pub async fn forward(
        &self,
        request: Request<Body>,
        client_addr: Option<IpAddr>,
    ) -> Result<Response<Body>, UpstreamError> {
        let (parts, body) = request.into_parts();
        let replay = body.is_end_stream().then(Bytes::new);
        self.forward_parts(parts, body, replay, client_addr).await
    }

    /// [`Self::forward`] for a body already in memory: an idempotent request is
    /// retried once after a dropped connection.
    pub async fn forward_buffered(
        &self,
        request: Request<Bytes>,
        client_addr: Option<IpAddr>,
    ) -> Result<Response<Body>, UpstreamError> {
        let (parts, bytes) = request.into_parts();
        let body = Body::from(bytes.clone());
        self.forward_parts(parts, body, Some(bytes), client_addr)
            .await
    }

    async fn forward_parts(
        &self,
        mut parts: request::Parts,
        body: Body,
        replay: Option<Bytes>,
        client_addr: Option<IpAddr>,
    ) -> Result<Response<Body>, UpstreamError> {
        parts.uri = self.forward_target(&parts.uri)?;
        let provider_bound = parts.extensions.get::<ProviderBound>().is_some();
        // What mlguard attached (the caller, the connection) stays here; dropping it
        // also spares the copy a retry would make.
        parts.extensions.clear();
        let headers = &mut parts.headers;
        strip_hop_by_hop(headers);
        // MLflow runs without auth behind mlguard; the caller's secret stays here.
        headers.remove(header::AUTHORIZATION);
        headers.remove(header::COOKIE);
        let host = headers.insert(header::HOST, self.shared.host.clone());
        // Bound for an LLM provider (MLflow passes the headers on): no word about
        // the client or this hop.
        if !provider_bound {
            if let Some(host) = host {
                headers.insert(X_FORWARDED_HOST, host);
            }
            if let Some(addr) = client_addr {
                let forwarded_for =
                    match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
                        Some(previous) => format!("{previous}, {addr}"),
                        None => address_text(addr),
                    };
                if let Ok(value) = HeaderValue::from_str(&forwarded_for) {
                    headers.insert(X_FORWARDED_FOR, value);
                }
            }
            headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
        }
        parts.version = axum::http::Version::HTTP_11;

        let mut response = self.send(parts, body, replay).await?;
        strip_hop_by_hop(response.headers_mut());
        Ok(response)
    }

    /// The same client (and pool), its lookups sent with `X-Request-Id: request_id`.
    /// An id that is not a valid header value is left out.
    pub fn with_request_id(&self, request_id: &str) -> Self {
        Self {
            shared: std::sync::Arc::clone(&self.shared),
            request_id: HeaderValue::from_str(request_id).ok(),
        }
    }

    /// A GET whose JSON answer mlguard itself reads (id lookups).
    pub async fn get_json(
        &self,
        path_and_query: &str,
    ) -> Result<(StatusCode, serde_json::Value), UpstreamError> {
        let (mut parts, ()) = Request::builder()
            .method(Method::GET)
            .uri(self.target(path_and_query)?)
            .header(header::ACCEPT, "application/json")
            .body(())
            .map_err(|e| UpstreamError::InvalidUrl(e.to_string()))?
            .into_parts();
        if let Some(id) = &self.request_id {
            parts.headers.insert(X_REQUEST_ID, id.clone());
        }
        let response = self.send(parts, Body::empty(), Some(Bytes::new())).await?;
        let status = response.status();
        let bytes = http_body_util::Limited::new(response.into_body(), MAX_LOOKUP_BYTES)
            .collect()
            .await
            .map_err(|e| UpstreamError::Unreadable(e.to_string()))?
            .to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Ok((status, json))
    }
}

/// `addr` as `Display` writes it; an IPv4 address without the formatting
/// machinery, as it is written once per forwarded request.
fn address_text(addr: IpAddr) -> String {
    let IpAddr::V4(v4) = addr else {
        return addr.to_string();
    };
    let mut text = String::with_capacity(15);
    for (index, octet) in v4.octets().into_iter().enumerate() {
        if index > 0 {
            text.push('.');
        }
        if octet >= 100 {
            text.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            text.push(char::from(b'0' + octet / 10 % 10));
        }
        text.push(char::from(b'0' + octet % 10));
    }
    text
}

/// Whether the connection broke before MLflow answered (closed or reset, typically
/// a pooled one MLflow was closing as it was reused), not that it is unreachable.
fn connection_dropped(error: &hyper_util::client::legacy::Error) -> bool {
    use std::error::Error as _;
    use std::io::ErrorKind;
    if error.is_connect() {
        return false;
    }
    let Some(cause) = error
        .source()
        .and_then(|e| e.downcast_ref::<hyper::Error>())
    else {
        return false;
    };
    cause.is_incomplete_message()
        || cause.is_canceled()
        || cause.is_closed()
        || cause
            .source()
            .and_then(|e| e.downcast_ref::<std::io::Error>())
            .is_some_and(|io| {
                matches!(
                    io.kind(),
                    ErrorKind::ConnectionReset
                        | ErrorKind::ConnectionAborted
                        | ErrorKind::BrokenPipe
                )
            })
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for text in [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.30.40",
            "255.255.255.255",
            "1.100.9.199",
            "::1",
            "fe80::1:2",
        ] {
            let addr: IpAddr = text.parse().expect("an address");
            assert_eq!(address_text(addr), addr.to_string());
            assert_eq!(address_text(addr), text);
        }
    }

    #[test]
    fn strips_hop_by_hop_and_connection_listed_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("close, x-secret-hop"),
        );
        headers.insert("x-secret-hop", HeaderValue::from_static("1"));
        headers.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key(header::CONTENT_TYPE));
    }

    #[test]
    fn refuses_urls_it_cannot_serve() {
        for bad in [
            "https://mlflow:5000",
            "mlflow:5000",
            "http://mlflow:5000/?x=1",
            "not a url",
        ] {
            let options = UpstreamOptions {
                base_url: bad.to_owned(),
                connect_timeout: Duration::from_secs(1),
                response_timeout: Duration::from_secs(1),
                max_idle_per_host: 1,
                pool_idle_timeout: Duration::from_secs(1),
            };
            assert!(UpstreamClient::new(&options).is_err(), "accepted {bad}");
        }
    }
}
