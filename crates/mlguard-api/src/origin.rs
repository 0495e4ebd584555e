//! Where a request comes from, checked before anything else: the `Host` it was sent
//! to (a DNS-rebinding page reaches mlguard under its own name) and, for requests that
//! change state, the `Origin` a browser puts on them (a foreign page can send a
//! `text/plain` POST without any CORS preflight). MLflow's own guards
//! (`--allowed-hosts`, `--cors-allowed-origins`) never see the caller's `Host`, so
//! mlguard applies them.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mlguard_http::{ApiError, ErrorCode};

use crate::AppState;

/// Names a loopback client uses; always accepted (a rebinding page never sends them).
const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// The accepted `Host` values and foreign origins.
#[derive(Debug, Clone, Default)]
pub struct RequestOrigins {
    /// `None`: every `Host` is accepted.
    hosts: Option<Vec<HostPattern>>,
    /// Full origins (`scheme://host[:port]`, lower case), or `*` for any.
    origins: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    /// `*.example.com`: any name under the domain (stored as `.example.com`).
    Suffix(String),
    /// A name, with any port unless one is given.
    Exact(String, Option<u16>),
}

impl RequestOrigins {
    /// `hosts`: accepted `Host` values (`name`, `name:port`, `*.domain`, `*`), the
    /// loopback names being always accepted. `origins`: foreign origins whose browser
    /// requests may change state.
    pub fn new<H: AsRef<str>, O: AsRef<str>>(
        hosts: impl IntoIterator<Item = H>,
        origins: impl IntoIterator<Item = O>,
    ) -> Result<Self, String> {
        let mut patterns = Vec::new();
        for host in LOOPBACK_HOSTS
            .iter()
            .map(|h| (*h).to_owned())
            .chain(hosts.into_iter().map(|h| h.as_ref().trim().to_owned()))
        {
            if host.is_empty() {
                continue;
            }
            let host = host.to_ascii_lowercase();
            let pattern = if host == "*" {
                HostPattern::Any
            } else if let Some(domain) = host.strip_prefix("*.") {
                HostPattern::Suffix(format!(".{}", domain.trim_end_matches('.')))
            } else {
                let (name, port) =
                    split_authority(&host).ok_or_else(|| format!("not a host: {host:?}"))?;
                HostPattern::Exact(name.to_owned(), port)
            };
            patterns.push(pattern);
        }
        let mut allowed = Vec::new();
        for origin in origins {
            let origin = origin
                .as_ref()
                .trim()
                .trim_end_matches('/')
                .to_ascii_lowercase();
            if origin.is_empty() {
                continue;
            }
            if origin != "*" && parse_origin(&origin).is_none() {
                return Err(format!("not an origin (scheme://host[:port]): {origin:?}"));
            }
            allowed.push(origin);
        }
        Ok(Self {
            hosts: Some(patterns),
            origins: allowed,
        })
    }

    fn host_allowed(&self, host: &str) -> bool {
        let Some(patterns) = &self.hosts else {
            return true;
        };
        let host = host.to_ascii_lowercase();
        let Some((name, port)) = split_authority(&host) else {
            return false;
        };
        patterns.iter().any(|pattern| match pattern {
            HostPattern::Any => true,
            HostPattern::Suffix(domain) => name.ends_with(domain.as_str()),
            HostPattern::Exact(allowed, allowed_port) => {
                allowed == name && allowed_port.is_none_or(|p| Some(p) == port)
            }
        })
    }

    /// Whether a browser request from `origin` may change state on mlguard reached
    /// as `host`: it is mlguard's own origin, or a configured one.
    fn origin_allowed(&self, origin: &str, host: Option<&str>) -> bool {
        let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
        if self.origins.iter().any(|o| o == "*" || *o == origin) {
            return true;
        }
        let (Some((scheme, authority)), Some(host)) = (parse_origin(&origin), host) else {
            return false;
        };
        let default_port = if scheme == "https" { ":443" } else { ":80" };
        let own = host.to_ascii_lowercase();
        let strip = |a: &str| a.strip_suffix(default_port).unwrap_or(a).to_owned();
        strip(authority) == strip(&own)
    }

    /// Whether a state change the session cookie authenticates comes from mlguard's
    /// own pages (or a listed origin; `*` does not count here): its `Origin`, or
    /// without one its `Referer`. A request naming neither is refused, since the
    /// cookie alone says nothing of which page sent it.
    pub(crate) fn comes_from_own_pages(
        &self,
        headers: &HeaderMap,
        authority: Option<&str>,
    ) -> bool {
        let host = match headers.get(header::HOST) {
            Some(value) => value.to_str().ok(),
            None => authority,
        };
        let origin = match headers.get(header::ORIGIN) {
            Some(origin) => origin.to_str().ok().map(str::to_owned),
            None => headers
                .get(header::REFERER)
                .and_then(|r| r.to_str().ok())
                .and_then(|referer| {
                    let (scheme, rest) = referer.split_once("://")?;
                    let authority = rest.split(['/', '?', '#']).next()?;
                    Some(format!("{scheme}://{authority}"))
                }),
        };
        let Some(origin) = origin else {
            return false;
        };
        let lowered = origin.trim().trim_end_matches('/').to_ascii_lowercase();
        if self.origins.contains(&lowered) {
            return true;
        }
        let own = Self {
            hosts: None,
            origins: Vec::new(),
        };
        own.origin_allowed(&origin, host)
    }

    /// Why the request must not go on, if it must not.
    fn refusal(
        &self,
        method: &Method,
        headers: &HeaderMap,
        authority: Option<&str>,
    ) -> Option<ApiError> {
        let host = match headers.get(header::HOST) {
            Some(value) => Some(value.to_str().ok()?),
            None => authority,
        };
        if self.hosts.is_some() && !host.is_some_and(|h| self.host_allowed(h)) {
            return Some(ApiError::bad_request(
                "Invalid Host header: this server does not answer to that name \
                 (see server.allowed_hosts)",
            ));
        }
        let changes_state = matches!(
            *method,
            Method::POST | Method::PUT | Method::PATCH | Method::DELETE
        );
        if !changes_state {
            return None;
        }
        let cross_site = match headers.get(header::ORIGIN) {
            Some(origin) => !origin
                .to_str()
                .is_ok_and(|origin| self.origin_allowed(origin, host)),
            // A browser that sends no Origin still says where the request comes from.
            None => headers
                .get("sec-fetch-site")
                .is_some_and(|site| site.as_bytes().eq_ignore_ascii_case(b"cross-site")),
        };
        cross_site.then(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::PermissionDenied,
                "Cross-origin request refused (see server.cors_allowed_origins)",
            )
        })
    }
}

/// `name[:port]` or `[v6][:port]`; the name without a trailing dot.
fn split_authority(authority: &str) -> Option<(&str, Option<u16>)> {
    let (name, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (name, rest) = authority.split_at(end + 1);
        match rest {
            "" => (name, None),
            _ => (name, Some(rest.strip_prefix(':')?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (authority, None),
        }
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._[]:".contains(&b));
    if !valid {
        return None;
    }
    let port = match port {
        None => None,
        Some(port) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            Some(port.parse().ok()?)
        }
        Some(_) => return None,
    };
    Some((name, port))
}

/// `(scheme, authority)` of `http(s)://authority`.
fn parse_origin(origin: &str) -> Option<(&str, &str)> {
    let (scheme, authority) = origin.split_once("://")?;
    ((scheme == "http" || scheme == "https") && split_authority(authority).is_some())
        .then_some((scheme, authority))
}

/// The middleware: refuses a request to a foreign `Host` (400) or a browser request
/// from a foreign origin that would change state (403).
pub(crate) async fn check(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let authority = request.uri().authority().map(|a| a.as_str().to_owned());
    if let Some(refusal) =
        state
            .origins
            .refusal(request.method(), request.headers(), authority.as_deref())
    {
        tracing::info!(
            reason = refusal.message(),
            "refused a request by its Host or Origin"
        );
        return refusal.into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins(hosts: &[&str], allowed: &[&str]) -> RequestOrigins {
        RequestOrigins::new(hosts, allowed).expect("valid")
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().expect("header"));
        }
        map
    }

    #[test]
    fn hosts_match_by_name_port_and_domain() {
        let o = origins(&["mlflow.example.com", "gw:8080", "*.corp.example"], &[]);
        for good in [
            "mlflow.example.com",
            "MLflow.Example.com:443",
            "gw:8080",
            "a.b.corp.example:1",
            "localhost:5",
            "127.0.0.1:8080",
            "[::1]:80",
            "localhost.",
        ] {
            assert!(o.host_allowed(good), "{good}");
        }
        for bad in [
            "evil.example",
            "gw:8081",
            "gw",
            "corp.example",
            "mlflow.example.com.evil",
            "",
            "127.0.0.1:x",
            "a b",
        ] {
            assert!(!o.host_allowed(bad), "{bad}");
        }
        assert!(RequestOrigins::new(["bad host"], [""; 0]).is_err());
        assert!(RequestOrigins::new([""; 0], ["ftp://x"]).is_err());
    }

    #[test]
    fn state_changes_need_an_own_or_allowed_origin() {
        let o = origins(&["gw"], &["https://ui.example.com"]);
        let post = Method::POST;
        let host = |h: &'static str| ("host", h);
        assert!(o.refusal(&post, &headers(&[host("gw")]), None).is_none());
        assert!(
            o.refusal(
                &Method::GET,
                &headers(&[host("gw"), ("origin", "https://evil")]),
                None
            )
            .is_none()
        );
        for (origin, refused) in [
            ("http://gw", false),
            ("https://gw:443", false),
            ("https://ui.example.com/", false),
            ("https://evil.example", true),
            ("http://gw:81", true),
            ("null", true),
        ] {
            let got = o.refusal(&post, &headers(&[host("gw"), ("origin", origin)]), None);
            assert_eq!(got.is_some(), refused, "{origin}");
            if let Some(error) = got {
                assert_eq!(error.status(), StatusCode::FORBIDDEN);
            }
        }
        let cross = headers(&[host("gw"), ("sec-fetch-site", "cross-site")]);
        assert!(o.refusal(&Method::DELETE, &cross, None).is_some());
        let same = headers(&[host("gw"), ("sec-fetch-site", "same-origin")]);
        assert!(o.refusal(&Method::DELETE, &same, None).is_none());
        let foreign = o
            .refusal(&Method::GET, &headers(&[host("evil")]), None)
            .expect("refused");
        assert_eq!(foreign.status(), StatusCode::BAD_REQUEST);
        assert!(o.refusal(&Method::GET, &HeaderMap::new(), None).is_some());
        assert!(
            o.refusal(&Method::GET, &HeaderMap::new(), Some("gw"))
                .is_none()
        );
    }

    #[test]
    fn without_configuration_every_host_is_accepted() {
        let o = RequestOrigins::default();
        assert!(
            o.refusal(&Method::GET, &headers(&[("host", "anything")]), None)
                .is_none()
        );
        // The own origin still passes, a foreign one still does not.
        assert!(
            o.refusal(
                &Method::POST,
                &headers(&[("host", "x:1"), ("origin", "http://x:1")]),
                None
            )
            .is_none()
        );
        assert!(
            o.refusal(
                &Method::POST,
                &headers(&[("host", "x:1"), ("origin", "http://y")]),
                None
            )
            .is_some()
        );
    }
}
