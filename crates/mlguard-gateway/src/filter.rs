//! List filtering with full pages: search results are cut down to what the caller
//! may read, and further upstream pages are fetched until `max_results` is met or
//! the upstream has no more. The page token returned is the upstream's own for the
//! last page read; since each upstream page asks only for what is still missing,
//! every item of it is used and the token continues exactly where we stopped.

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Method, Request, Response, header};
use http_body_util::BodyExt;
use mlguard_domain::{Principal, Resource};
use mlguard_http::ApiError;
use mlguard_policy::{ListKind, ListShape, PageLookups, item_resources};
use serde_json::Value;

use crate::GatewayState;

use super::Gateway;

/// Upper bound on upstream pages per request; beyond it the page is returned short,
/// with a token that continues correctly.
const MAX_PAGES: usize = 50;
/// Largest page body mlguard reads to filter.
const MAX_PAGE_BYTES: usize = 64 * 1024 * 1024;

/// Where a search carries its paging fields.
enum Paging {
    Query(Vec<(String, String)>),
    Body(serde_json::Map<String, Value>),
}

fn filtering_failed(cause: &dyn std::fmt::Display) -> ApiError {
    // Never the unfiltered list.
    ApiError::internal(cause)
}

/// RFC 3986 unreserved characters stay; everything else is escaped.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn encode_query(pairs: &[(String, String)]) -> String {
    let encode = |s: &str| percent_encoding::utf8_percent_encode(s, QUERY_VALUE).to_string();
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl Paging {
    fn max_results(&self) -> Result<Option<u64>, ApiError> {
        let raw = match self {
            Paging::Query(pairs) => pairs
                .iter()
                .find(|(k, _)| k == "max_results")
                .map(|(_, v)| Value::String(v.clone())),
            Paging::Body(body) => body.get("max_results").cloned(),
        };
        match raw {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(bad_max),
            Some(Value::String(s)) => s.parse::<u64>().map(Some).map_err(|_| bad_max()),
            Some(_) => Err(bad_max()),
        }
    }

    fn set(&mut self, max_results: u64, page_token: Option<&str>) {
        match self {
            Paging::Query(pairs) => {
                pairs.retain(|(k, _)| k != "max_results" && k != "page_token");
                pairs.push(("max_results".to_owned(), max_results.to_string()));
                if let Some(token) = page_token {
                    pairs.push(("page_token".to_owned(), token.to_owned()));
                }
            }
            Paging::Body(body) => {
                body.insert("max_results".to_owned(), Value::from(max_results));
                match page_token {
                    Some(token) => body.insert("page_token".to_owned(), Value::from(token)),
                    None => body.remove("page_token"),
                };
            }
        }
    }
}

fn bad_max() -> ApiError {
    ApiError::invalid_parameter("Invalid value for parameter 'max_results': expected an integer.")
}

/// The parts of the original request a re-fetch repeats.
pub(crate) struct SearchRequest {
    pub method: Method,
    pub path: String,
    pub headers: axum::http::HeaderMap,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
}

async fn read_json(response: Response<Body>) -> Result<Value, ApiError> {
    let bytes = http_body_util::Limited::new(response.into_body(), MAX_PAGE_BYTES)
        .collect()
        .await
        .map_err(|e| filtering_failed(&format!("reading a search page: {e}")))?
        .to_bytes();
    serde_json::from_slice(&bytes)
        .map_err(|e| filtering_failed(&format!("parsing a search page: {e}")))
}

/// Runs a search for a non-admin: the first answer is `first`, already fetched.
pub(crate) async fn filtered_search(
    state: &GatewayState,
    gateway: &Gateway,
    caller: &Principal,
    kind: ListKind,
    search: SearchRequest,
    first: Response<Body>,
) -> Result<Response<Body>, ApiError> {
    let shape = kind.shape();
    let mut paging = match (&search.method, search.body) {
        (&Method::GET | &Method::HEAD, _) | (_, None) => Paging::Query(search.query.clone()),
        (_, Some(Value::Object(body))) => Paging::Body(body),
        (_, Some(_)) => return Err(filtering_failed(&"search body is not an object")),
    };
    let wanted = paging.max_results()?.unwrap_or(shape.default_max);
    let mut template = (first.status(), first.headers().clone());
    let mut page = read_json(first).await?;
    let mut kept: Vec<Value> = Vec::new();
    let mut pages = 0;
    loop {
        pages += 1;
        let items = match page.get_mut(shape.items) {
            Some(Value::Array(items)) => std::mem::take(items),
            None | Some(Value::Null) => Vec::new(),
            Some(_) => return Err(filtering_failed(&"search items are not a list")),
        };
        let allowed = readable_items(state, gateway, caller, &shape, &items).await?;
        kept.extend(
            items
                .into_iter()
                .zip(allowed)
                .filter_map(|(item, ok)| ok.then_some(item)),
        );
        let next = page
            .get("next_page_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        let missing = wanted.saturating_sub(kept.len() as u64);
        let Some(token) = next else {
            if let Some(obj) = page.as_object_mut() {
                obj.remove("next_page_token");
            }
            break;
        };
        if missing == 0 || pages >= MAX_PAGES {
            break;
        }
        paging.set(missing, Some(&token));
        let response = gateway
            .refetch(&search.method, &search.path, &search.headers, &paging)
            .await?;
        if !response.status().is_success() {
            return Err(filtering_failed(&format!(
                "a further search page answered {}",
                response.status()
            )));
        }
        template = (response.status(), response.headers().clone());
        page = read_json(response).await?;
    }
    if let Some(obj) = page.as_object_mut() {
        obj.insert(shape.items.to_owned(), Value::Array(kept));
    }
    let bytes = Bytes::from(serde_json::to_vec(&page).map_err(|e| filtering_failed(&e))?);
    let (status, mut headers) = template;
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::TRANSFER_ENCODING);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}

/// Whether the caller may read each item: every resource it is about must be
/// readable, in one store round trip for the page.
async fn readable_items(
    state: &GatewayState,
    gateway: &Gateway,
    caller: &Principal,
    shape: &ListShape,
    items: &[Value],
) -> Result<Vec<bool>, ApiError> {
    let mut per_item = Vec::with_capacity(items.len());
    let mut page = PageLookups::default();
    let lookup = gateway.request_lookup();
    for item in items {
        per_item.push(
            item_resources(shape, item, lookup.as_ref(), &mut page)
                .await
                .map_err(|e| filtering_failed(&e))?,
        );
    }
    let flat: Vec<Option<Resource>> = per_item.iter().flatten().cloned().map(Some).collect();
    let answers = if shape.listed_unless_denied {
        state.grants.not_denied_reading(caller, flat).await
    } else {
        state.grants.readable(caller, flat).await
    };
    let mut answers = answers
        .map_err(|e| filtering_failed(&e.message().to_owned()))?
        .into_iter();
    Ok(per_item
        .iter()
        .map(|resources| {
            // This item's answers, all of them taken before deciding.
            let verdicts: Vec<bool> = answers.by_ref().take(resources.len()).collect();
            !resources.is_empty() && verdicts.len() == resources.len() && !verdicts.contains(&false)
        })
        .collect())
}

impl Gateway {
    async fn refetch(
        &self,
        method: &Method,
        path: &str,
        headers: &axum::http::HeaderMap,
        paging: &Paging,
    ) -> Result<Response<Body>, ApiError> {
        let (uri, body) = match paging {
            Paging::Query(pairs) => (format!("{path}?{}", encode_query(pairs)), Body::empty()),
            Paging::Body(body) => (
                path.to_owned(),
                Body::from(serde_json::to_vec(body).map_err(|e| filtering_failed(&e))?),
            ),
        };
        let mut request = Request::builder()
            .method(method.clone())
            .uri(uri)
            .body(body)
            .map_err(|e| filtering_failed(&e))?;
        *request.headers_mut() = headers.clone();
        request.headers_mut().remove(header::CONTENT_LENGTH);
        self.send(request, None).await
    }
}
