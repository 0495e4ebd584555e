//! The gateway: every request that is not one of mlguard's own endpoints is
//! matched against the MLflow route policy, authorized, forwarded to MLflow with
//! its body streaming, and post-processed.
//!
//! Fail-closed rules: a route without a rule is admin-only; an id that is missing or
//! names nothing denies a non-admin; a lookup that fails denies; a list that cannot
//! be filtered is a 500, never the unfiltered list.

mod decode;
mod filter;
mod graphql;
mod hooks;
mod json_errors;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use axum::response::IntoResponse;
use mlguard_domain::{GrantKey, KeyChain, OpaqueId, Principal, Resource, TrackingLookup};
use mlguard_http::{ApiError, Grants};
use mlguard_policy::{
    Absent, Access, AfterHook, BodyNeed, Check, InputError, Quantifier, RequestView, Resolved,
    RouteMatch, Source, Target, WITHHELD_FROM_PROVIDERS, match_route, narrowable_fields, resolve,
};
use serde_json::Value;
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt};

/// Why a forward failed.
#[derive(Debug)]
pub enum ForwardError {
    /// No connection, or the connection broke.
    Unreachable(String),
    /// No response headers within the configured time.
    TimedOut,
}

/// A request extension: the request's body, already read into memory, so the
/// forwarder may send it again (after a dropped connection).
#[derive(Debug, Clone)]
pub struct BufferedBody(pub Bytes);

/// A request extension: the address of the client the request came from, for
/// `X-Forwarded-For`.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

/// A request extension: the request goes on to an LLM provider, so the forwarder
/// adds no `X-Forwarded-*` headers of its own.
#[derive(Debug, Clone, Copy)]
pub struct ProviderBound;

/// The port to the tracking server: a tower service that forwards one request,
/// streaming, and gives back MLflow's answer. The request may carry [`ClientAddr`]
/// and, when its body was read, [`BufferedBody`].
pub type ForwardService = BoxCloneSyncService<Request<Body>, Response<Body>, ForwardError>;

/// The gateway's ports and settings, and the request it is serving.
#[derive(Clone)]
pub struct Gateway {
    settings: Arc<Settings>,
    /// The `x-request-id` of the request served, for the lookups it makes.
    request_id: Option<HeaderValue>,
    /// The lookup that carries it, once a step asked for one.
    request_lookup: OnceLock<Arc<dyn TrackingLookup>>,
}

/// What every request's [`Gateway`] shares.
#[derive(Clone)]
struct Settings {
    forward: ForwardService,
    lookup: Arc<dyn TrackingLookup>,
    /// MLflow's `--static-prefix`, e.g. `/mlflow`; stripped before matching.
    static_prefix: Option<String>,
    /// Largest request body read to find ids (JSON API bodies).
    max_body_bytes: usize,
    graphql_limits: GraphQlLimits,
}

/// Bounds on a non-admin's GraphQL request, checked before any field is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphQlLimits {
    pub max_root_fields: usize,
    /// Nesting of selection sets, fragments followed.
    pub max_depth: usize,
    pub max_query_bytes: usize,
}

impl Default for GraphQlLimits {
    fn default() -> Self {
        Self {
            max_root_fields: 50,
            max_depth: 20,
            max_query_bytes: 64 * 1024,
        }
    }
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("static_prefix", &self.settings.static_prefix)
            .field("max_body_bytes", &self.settings.max_body_bytes)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    pub fn new<S>(
        forward: S,
        lookup: Arc<dyn TrackingLookup>,
        static_prefix: Option<String>,
        max_body_bytes: usize,
    ) -> Self
    where
        S: Service<Request<Body>, Response = Response<Body>, Error = ForwardError>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        let static_prefix = static_prefix
            .map(|p| format!("/{}", p.trim_matches('/')))
            .filter(|p| p != "/");
        Self {
            settings: Arc::new(Settings {
                forward: BoxCloneSyncService::new(forward),
                lookup,
                static_prefix,
                max_body_bytes,
                graphql_limits: GraphQlLimits::default(),
            }),
            request_id: None,
            request_lookup: OnceLock::new(),
        }
    }

    /// Replaces the default GraphQL bounds.
    pub fn with_graphql_limits(mut self, limits: GraphQlLimits) -> Self {
        Arc::make_mut(&mut self.settings).graphql_limits = limits;
        self
    }

    /// The tracking-server port the gateway resolves ids through, for the native
    /// API's own questions (does a resource exist before it is granted on).
    pub fn lookup(&self) -> Arc<dyn TrackingLookup> {
        Arc::clone(&self.settings.lookup)
    }

    /// This gateway for one request: its lookups carry `request_id`.
    fn for_request(&self, request_id: Option<&HeaderValue>) -> Self {
        Self {
            settings: Arc::clone(&self.settings),
            request_id: request_id.cloned(),
            request_lookup: OnceLock::new(),
        }
    }

    /// The tracking server as this request asks it: its lookups carry the request's
    /// id. Built once per request, at the first step that may resolve an id.
    fn request_lookup(&self) -> Arc<dyn TrackingLookup> {
        let lookup = self.request_lookup.get_or_init(|| {
            self.request_id
                .as_ref()
                .and_then(|id| id.to_str().ok())
                .and_then(|id| self.settings.lookup.for_request(id))
                .unwrap_or_else(|| Arc::clone(&self.settings.lookup))
        });
        Arc::clone(lookup)
    }

    fn max_body_bytes(&self) -> usize {
        self.settings.max_body_bytes
    }

    fn graphql_limits(&self) -> GraphQlLimits {
        self.settings.graphql_limits
    }

    /// MLflow's `--static-prefix`, normalized (`/mlflow`), if configured.
    pub fn static_prefix(&self) -> Option<&str> {
        self.settings.static_prefix.as_deref()
    }

    /// The path the policy sees: the static prefix, if configured, removed. MLflow
    /// prefixes only some routes (UI, `/ajax-api`, `/graphql`, ...) and keeps `/api`
    /// bare, so an unprefixed path is matched as it is; a prefixed and a bare
    /// spelling of one route get the same decision either way.
    fn route_path<'a>(&self, decoded: &'a str) -> &'a str {
        let Some(prefix) = &self.settings.static_prefix else {
            return decoded;
        };
        match decoded.strip_prefix(prefix.as_str()) {
            Some("") => "/",
            Some(rest) if rest.starts_with('/') => rest,
            _ => decoded,
        }
    }

    async fn send(
        &self,
        mut request: Request<Body>,
        client: Option<IpAddr>,
    ) -> Result<Response<Body>, ApiError> {
        if let Some(client) = client {
            request.extensions_mut().insert(ClientAddr(client));
        }
        self.settings
            .forward
            .clone()
            .oneshot(request)
            .await
            .map_err(|error| match error {
                ForwardError::Unreachable(cause) => {
                    tracing::error!(error.cause = %cause, "tracking server unreachable");
                    ApiError::new(
                        StatusCode::BAD_GATEWAY,
                        mlguard_http::ErrorCode::TemporarilyUnavailable,
                        "The tracking server is unavailable.",
                    )
                }
                ForwardError::TimedOut => {
                    tracing::error!("tracking server timed out");
                    ApiError::new(
                        StatusCode::GATEWAY_TIMEOUT,
                        mlguard_http::ErrorCode::DeadlineExceeded,
                        "The tracking server did not answer in time.",
                    )
                }
            })
    }
}

/// What the gateway's handler holds: the proxy and the grants it decides by.
#[derive(Debug, Clone)]
pub struct GatewayState {
    gateway: Gateway,
    grants: Grants,
}

impl GatewayState {
    pub fn new(gateway: Gateway, grants: Grants) -> Self {
        Self { gateway, grants }
    }
}

/// The gateway as a service that answers every path: mount it as the fallback of
/// mlguard's own routes, behind authentication (it reads the caller's
/// [`Principal`] from the request).
pub fn service(state: GatewayState) -> GatewayService {
    GatewayService {
        state: Arc::new(state),
    }
}

/// Everything that is not one of mlguard's own routes. A plain service rather than
/// a router of one fallback: it runs on every proxied request, so it routes nothing
/// twice.
#[derive(Debug, Clone)]
pub struct GatewayService {
    state: Arc<GatewayState>,
}

impl tower::Service<Request> for GatewayService {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = mlguard_domain::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let state = Arc::clone(&self.state);
        Box::pin(async move {
            // Authentication put it there; without it, nothing is forwarded.
            let Some(caller) = request.extensions_mut().remove::<Principal>() else {
                return Ok(ApiError::unauthenticated().into_response());
            };
            Ok(match handle(&state, &caller, request).await {
                Ok(response) => response,
                Err(error) => error.into_response(),
            })
        })
    }
}

fn denied() -> ApiError {
    ApiError::permission_denied()
}

/// A request the policy could not read, as the caller sees it.
fn refused(error: InputError) -> ApiError {
    match error {
        InputError::Invalid(message) => ApiError::invalid_parameter(message),
        InputError::Lookup(error) => ApiError::lookup_failed(error),
    }
}

/// The request's headers, as the policy reads them.
struct HttpHeaders<'a>(&'a HeaderMap);

impl mlguard_policy::Headers for HttpHeaders<'_> {
    fn values(&self, name: &str) -> Vec<Option<&str>> {
        self.0
            .get_all(name)
            .iter()
            .map(|v| v.to_str().ok())
            .collect()
    }
}

/// Whether the policy applies to this caller, decided once per request. An admin
/// reaches every route MLflow serves with nothing checked, narrowed, filtered or
/// redacted; the store still follows what they create, delete and rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Enforcement {
    AdminBypass,
    Policy,
}

impl Enforcement {
    fn of(caller: &Principal) -> Self {
        if caller.is_admin {
            Enforcement::AdminBypass
        } else {
            Enforcement::Policy
        }
    }
}

/// What the request line names, decoded once before any decision.
struct Decoded {
    path: String,
    query: Vec<(String, String)>,
    client: Option<IpAddr>,
}

/// Step 1: decode. Anything MLflow could read differently is refused here.
fn decode(request: &Request) -> Result<Decoded, ApiError> {
    Ok(Decoded {
        path: decode::canonical_path(request.uri().path())?,
        query: mlguard_http::query_pairs(request.uri().query())?,
        client: request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip()),
    })
}

/// OPTIONS reads no data; it is answered with what the policy allows.
fn options_answer(route_path: &str) -> axum::response::Response {
    let allow = mlguard_policy::allowed_methods(route_path).join(", ");
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(value) = HeaderValue::from_str(&allow) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

/// A path without a rule: only an admin may reach whatever it is.
async fn unmatched(
    gateway: &Gateway,
    enforcement: Enforcement,
    request: Request,
    decoded: &Decoded,
    route_path: &str,
) -> Result<axum::response::Response, ApiError> {
    if enforcement == Enforcement::Policy {
        tracing::info!(http.path = %decoded.path, "denied: no policy rule");
        return Err(denied());
    }
    let response = gateway.send(request, decoded.client).await?;
    Ok(json_errors::upstream_error(response, route_path).await)
}

/// What the route's access says before any id is read.
enum Admission {
    Proceed,
    Answer(axum::response::Response),
    Refuse(ApiError),
    /// Each requested field is authorized on its own.
    GraphQl,
}

/// Step 2: the route's access, for this caller.
fn admit(access: Access, enforcement: Enforcement) -> Admission {
    match (access, enforcement) {
        // Served natively at exact paths; never forwarded under another prefix.
        (Access::Native, _) => Admission::Refuse(ApiError::endpoint_not_found()),
        (_, Enforcement::AdminBypass) => Admission::Proceed,
        (Access::Admin, Enforcement::Policy) => Admission::Refuse(denied()),
        (Access::AdminElseAnswer(answer), Enforcement::Policy) => {
            Admission::Answer(json_ok(answer))
        }
        (Access::GraphQl, Enforcement::Policy) => Admission::GraphQl,
        (Access::Authenticated | Access::Checks(_) | Access::OwnJob(_), Enforcement::Policy) => {
            Admission::Proceed
        }
    }
}

/// The request once its body was read, if the route reads it.
struct Buffered {
    parts: axum::http::request::Parts,
    /// The body stream, when it was not read.
    stream: Body,
    /// The body, when it was read.
    bytes: Option<Bytes>,
    json: Option<Value>,
    otlp_traces: Option<Vec<String>>,
}

impl Buffered {
    /// What the policy reads from this request.
    fn view<'a>(
        &'a self,
        decoded: &'a Decoded,
        route: &'a RouteMatch,
        headers: &'a HttpHeaders<'a>,
    ) -> RequestView<'a> {
        RequestView {
            method: self.parts.method.as_str(),
            headers,
            query: &decoded.query,
            body: self.json.as_ref(),
            otlp_traces: self.otlp_traces.as_deref(),
            route,
        }
    }
}

fn bad_json() -> ApiError {
    ApiError::bad_request("The request body is not valid JSON.")
}

/// A JSON body as MLflow reads it. Older clients double-encode it as a JSON
/// string; MLflow unwraps it, so the ids are read from the inner object. `None`:
/// not JSON, which an admin may still send (the tracking server answers it).
fn parse_json(bytes: &[u8], enforcement: Enforcement) -> Result<Option<Value>, ApiError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    let parsed = match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::String(inner)) => serde_json::from_str::<Value>(&inner),
        other => other,
    };
    match (parsed, enforcement) {
        (Ok(value), _) => Ok(Some(value)),
        (Err(_), Enforcement::AdminBypass) => Ok(None),
        (Err(_), Enforcement::Policy) => Err(bad_json()),
    }
}

/// One value of a header, or none; two would let MLflow and mlguard read different
/// ones.
fn single_header(headers: &HeaderMap, name: header::HeaderName) -> Result<Option<&str>, ApiError> {
    let mut values = headers.get_all(&name).iter();
    match (values.next(), values.next()) {
        (_, Some(_)) => Err(ApiError::bad_request(format!(
            "The request has more than one {name} header."
        ))),
        (value, None) => Ok(value.and_then(|v| v.to_str().ok())),
    }
}

/// Step 3: read the body into memory only when an id must be read from it.
async fn buffer(
    gateway: &Gateway,
    enforcement: Enforcement,
    need: BodyNeed,
    request: Request,
) -> Result<Buffered, ApiError> {
    // MLflow reads a GET's body when it has no query; mlguard reads only the query,
    // so a GET or HEAD that carries a body is refused rather than read differently.
    let is_get = matches!(*request.method(), Method::GET | Method::HEAD);
    if is_get && enforcement == Enforcement::Policy && has_body(&request) {
        return Err(ApiError::bad_request(
            "A GET request must not carry a body.",
        ));
    }
    let (parts, body) = request.into_parts();
    if need == BodyNeed::Nothing {
        return Ok(Buffered {
            parts,
            stream: body,
            bytes: None,
            json: None,
            otlp_traces: None,
        });
    }
    let bytes = axum::body::to_bytes(body, gateway.max_body_bytes())
        .await
        .map_err(|_| ApiError::payload_too_large())?;
    let (json, otlp_traces) = match (need, enforcement) {
        (BodyNeed::OtlpExport, Enforcement::Policy) => {
            let traces = mlguard_http::otlp::export_trace_ids(
                single_header(&parts.headers, header::CONTENT_TYPE)?,
                single_header(&parts.headers, header::CONTENT_ENCODING)?,
                &bytes,
                gateway.max_body_bytes(),
            )?;
            (None, Some(traces))
        }
        (BodyNeed::OtlpExport, Enforcement::AdminBypass) => (None, None),
        _ => (parse_json(&bytes, enforcement)?, None),
    };
    Ok(Buffered {
        parts,
        stream: Body::empty(),
        bytes: Some(bytes),
        json,
        otlp_traces,
    })
}

/// Step 5, for a narrowed search: the body goes upstream with only the readable
/// ids. `None`: a list was narrowed to nothing, which MLflow answers with an empty
/// page (`{}`).
fn narrow(
    mut buffered: Buffered,
    narrowed: &[(String, Vec<String>)],
) -> Result<Option<Buffered>, ApiError> {
    if narrowed.is_empty() {
        return Ok(Some(buffered));
    }
    if narrowed.iter().any(|(_, kept)| kept.is_empty()) {
        return Ok(None);
    }
    let mut json = buffered.json.take().unwrap_or(Value::Null);
    for (pointer, kept) in narrowed {
        let slot = json
            .pointer_mut(pointer)
            .ok_or_else(|| ApiError::internal(&"narrowed list vanished"))?;
        *slot = Value::Array(kept.iter().cloned().map(Value::String).collect());
    }
    let bytes = Bytes::from(serde_json::to_vec(&json).map_err(|e| ApiError::internal(&e))?);
    // The body sent is not the one received: its framing must say so.
    let headers = &mut buffered.parts.headers;
    headers.remove(header::TRANSFER_ENCODING);
    headers.remove(header::CONTENT_ENCODING);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    buffered.bytes = Some(bytes);
    buffered.json = Some(json);
    Ok(Some(buffered))
}

/// The after-hook this caller's request gets: filtering and redaction are for
/// the policy's callers only.
fn after_hook(after: AfterHook, enforcement: Enforcement) -> AfterHook {
    match (after, enforcement) {
        (
            AfterHook::FilterList(_)
            | AfterHook::RedactForNonAdmins(_)
            | AfterHook::KeepOwnJobs
            | AfterHook::RedactGuardrailScorers,
            Enforcement::AdminBypass,
        ) => AfterHook::None,
        (after, _) => after,
    }
}

/// The request MLflow gets; one bound for an LLM provider says nothing of the
/// caller.
fn upstream_request(buffered: Buffered, provider_bound: bool) -> Request<Body> {
    let Buffered {
        mut parts,
        stream,
        bytes,
        ..
    } = buffered;
    if provider_bound {
        for name in WITHHELD_FROM_PROVIDERS {
            parts.headers.remove(*name);
        }
        parts.extensions.insert(ProviderBound);
    }
    if parts.method == Method::HEAD {
        // MLflow's handlers parse HEAD like a POST and answer 400; ask for the GET it
        // was authorized as. The server drops the body of a HEAD answer.
        parts.method = Method::GET;
    }
    match bytes {
        Some(bytes) => {
            parts.extensions.insert(BufferedBody(bytes.clone()));
            Request::from_parts(parts, Body::from(bytes))
        }
        None => Request::from_parts(parts, stream),
    }
}

/// The pipeline: decode → route → admit → buffer → authorize → narrow → forward →
/// after-hooks. Each step is a function above or below.
async fn handle(
    state: &GatewayState,
    caller: &Principal,
    request: Request,
) -> Result<axum::response::Response, ApiError> {
    let gateway = state
        .gateway
        .for_request(request.headers().get("x-request-id"));
    let enforcement = Enforcement::of(caller);
    let decoded = decode(&request)?;
    let route_path = gateway.route_path(&decoded.path);

    if request.method() == Method::OPTIONS {
        return Ok(options_answer(route_path));
    }
    // The rarer and larger steps (no rule, GraphQL, a filtered search) are boxed:
    // inline, their state would grow this future, which every request moves whole.
    let Some(route) = match_route(request.method().as_str(), route_path) else {
        return Box::pin(unmatched(
            &gateway,
            enforcement,
            request,
            &decoded,
            route_path,
        ))
        .await;
    };
    let rule = route.rule;
    match admit(rule.access, enforcement) {
        Admission::Proceed => {}
        Admission::Answer(response) => return Ok(response),
        Admission::Refuse(error) => return Err(error),
        Admission::GraphQl => {
            return Ok(Box::pin(graphql::authorize_and_forward(
                state,
                &gateway,
                caller,
                request,
                decoded.client,
            ))
            .await?
            .into_response());
        }
    }

    let buffered = buffer(&gateway, enforcement, route.body_need, request).await?;
    let authorized = match (rule.access, enforcement) {
        (Access::Checks(checks), Enforcement::Policy) => {
            let headers = HttpHeaders(&buffered.parts.headers);
            let view = buffered.view(&decoded, &route, &headers);
            authorize(state, &gateway, caller, checks, &view).await?
        }
        (Access::OwnJob(source), Enforcement::Policy) => {
            let headers = HttpHeaders(&buffered.parts.headers);
            let view = buffered.view(&decoded, &route, &headers);
            require_own_job(state, caller, source, &view).await?;
            Authorized::default()
        }
        _ => Authorized::default(),
    };
    let Some(buffered) = narrow(buffered, &authorized.narrowed)? else {
        return Ok(json_ok("{}"));
    };

    let after = after_hook(rule.after, enforcement);
    // Everything the after-hook needs, read before the request leaves.
    let hook = {
        let headers = HttpHeaders(&buffered.parts.headers);
        let view = buffered.view(&decoded, &route, &headers);
        after
            .plan(&view, gateway.request_lookup().as_ref())
            .await
            .map_err(refused)?
    };
    // Only a filtered search re-fetches pages. A HEAD is filtered as its GET: its
    // length must not tell what the filter removed.
    let search = matches!(after, AfterHook::FilterList(_)).then(|| filter::SearchRequest {
        method: match buffered.parts.method {
            Method::HEAD => Method::GET,
            ref method => method.clone(),
        },
        path: buffered.parts.uri.path().to_owned(),
        headers: buffered.parts.headers.clone(),
        query: decoded.query.clone(),
        body: buffered.json.clone(),
    });

    // A provider-bound request names no client address.
    let provider_bound = rule.reaches_llm_providers();
    let client = decoded.client.filter(|_| !provider_bound);
    let response = gateway
        .send(upstream_request(buffered, provider_bound), client)
        .await?;
    if authorized.upstream_must_fail && response.status().is_success() {
        tracing::info!("denied: the resource appeared while the request was in flight");
        return Err(denied());
    }
    if !response.status().is_success() {
        return Ok(json_errors::upstream_error(response, route_path).await);
    }
    match (after, search) {
        (AfterHook::FilterList(kind), Some(search)) => Ok(Box::pin(filter::filtered_search(
            state, &gateway, caller, kind, search, response,
        ))
        .await?
        .into_response()),
        _ => Ok(hooks::run(state, caller, hook, response)
            .await?
            .into_response()),
    }
}

/// A 200 JSON answer mlguard gives itself: an empty search page (`{}`, as MLflow
/// omits empty lists) or a fixed answer for non-admins.
fn json_ok(body: &'static str) -> axum::response::Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// Whether the request carries a body, by its headers or (HTTP/2, no length) by the
/// body stream itself.
fn has_body(request: &Request) -> bool {
    use axum::body::HttpBody;
    let headers = request.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|len| len.as_bytes() != b"0")
        || !request.body().is_end_stream()
}

/// What the checks concluded, beyond "allowed".
#[derive(Debug, Default)]
struct Authorized {
    /// A resource the request names does not exist: the upstream answers, and only a
    /// failure of its may pass (a success means it appeared meanwhile).
    upstream_must_fail: bool,
    /// Lists to narrow in the body: (field pointer, the ids kept).
    narrowed: Vec<(String, Vec<String>)>,
}

/// One check's outcome.
enum Verdict {
    Allowed,
    Denied,
    Absent,
    /// Every spelling of the list in the body, and the ids kept.
    Narrowed(Vec<String>, Vec<String>),
}

/// Step 4: every check of the row, each with its `otherwise` alternatives.
async fn authorize(
    state: &GatewayState,
    gateway: &Gateway,
    caller: &Principal,
    checks: &[Check],
    request: &RequestView<'_>,
) -> Result<Authorized, ApiError> {
    let mut authorized = Authorized::default();
    for check in checks {
        let mut current = check;
        loop {
            match evaluate(state, gateway, caller, current, request).await? {
                Verdict::Allowed => break,
                Verdict::Absent => {
                    authorized.upstream_must_fail = true;
                    break;
                }
                Verdict::Narrowed(fields, kept) => {
                    authorized
                        .narrowed
                        .extend(fields.into_iter().map(|field| (field, kept.clone())));
                    break;
                }
                Verdict::Denied => match current.otherwise {
                    Some(alternative) => current = alternative,
                    None => {
                        tracing::info!(target = ?current.target, "denied");
                        return Err(denied());
                    }
                },
            }
        }
    }
    Ok(authorized)
}

async fn evaluate(
    state: &GatewayState,
    gateway: &Gateway,
    caller: &Principal,
    check: &Check,
    request: &RequestView<'_>,
) -> Result<Verdict, ApiError> {
    let lookup = gateway.request_lookup();
    let resources = match resolve(check.target, request, lookup.as_ref())
        .await
        .map_err(refused)?
    {
        Resolved::Resources(resources) => resources,
        Resolved::Missing if check.optional => return Ok(Verdict::Allowed),
        Resolved::Absent if check.absent == Absent::UpstreamAnswers => {
            return Ok(Verdict::Absent);
        }
        Resolved::Missing | Resolved::Nothing | Resolved::Absent => {
            tracing::info!(target = ?check.target, "id missing or names nothing");
            return Ok(Verdict::Denied);
        }
    };
    let allowed = permitted_in_tier(state, caller, check, &resources).await?;
    let all = allowed.iter().all(|ok| *ok);
    let verdict = match check.quantifier {
        Quantifier::All if all => Verdict::Allowed,
        Quantifier::Any if allowed.iter().any(|ok| *ok) => Verdict::Allowed,
        Quantifier::Narrow if all => Verdict::Allowed,
        Quantifier::Narrow => match narrowable_fields(check.target, request) {
            Some(fields) => Verdict::Narrowed(
                fields,
                resources
                    .iter()
                    .zip(&allowed)
                    .filter(|(_, ok)| **ok)
                    .map(|(resource, _)| resource.key().to_string())
                    .collect(),
            ),
            None => Verdict::Denied,
        },
        Quantifier::All | Quantifier::Any => Verdict::Denied,
    };
    if !matches!(verdict, Verdict::Denied) || check.absent != Absent::UpstreamAnswers {
        return Ok(verdict);
    }
    // Denied on a model that may not exist: a name that names nothing gets MLflow's
    // own "not found", as it would for anybody.
    if let Target::RegisteredModel(_) = check.target
        && let [Resource::RegisteredModel(name) | Resource::Prompt(name)] = resources.as_slice()
        && !lookup
            .registered_model_exists(name.as_str())
            .await
            .map_err(ApiError::lookup_failed)?
    {
        return Ok(Verdict::Absent);
    }
    Ok(Verdict::Denied)
}

/// Step 4 for a job: the caller submitted it. A missing or malformed id, or a job
/// mlguard holds no record of, is refused as MLflow 3.17 refuses a job without a
/// creator.
async fn require_own_job(
    state: &GatewayState,
    caller: &Principal,
    source: Source,
    request: &RequestView<'_>,
) -> Result<(), ApiError> {
    let job_id = request
        .one(source)
        .map_err(refused)?
        .and_then(|raw| OpaqueId::parse(&raw).ok());
    let Some(job_id) = job_id else {
        tracing::info!("denied: no job id");
        return Err(denied());
    };
    match state
        .grants
        .own_jobs(caller, vec![job_id])
        .await?
        .as_slice()
    {
        [true] => Ok(()),
        _ => {
            tracing::info!("denied: not the job's submitter");
            Err(denied())
        }
    }
}

/// Whether `caller` holds the check's capability on each resource and, where the
/// check has a tier, also by the tier's rows (falling back to the resource's own):
/// both are read in one store query.
async fn permitted_in_tier(
    state: &GatewayState,
    caller: &Principal,
    check: &Check,
    resources: &[Resource],
) -> Result<Vec<bool>, ApiError> {
    let own = resources
        .iter()
        .map(|resource| Some(KeyChain::from(resource)));
    let Some(tier) = check.tier else {
        return state
            .grants
            .permitted(caller, own.collect(), check.capability)
            .await;
    };
    let tiered = resources
        .iter()
        .map(|resource| Some(KeyChain::new(GrantKey::wildcard(tier)).then(resource.grant_key())));
    let both = state
        .grants
        .permitted(caller, own.chain(tiered).collect(), check.capability)
        .await?;
    let (own, tiered) = both.split_at(resources.len());
    Ok(own.iter().zip(tiered).map(|(a, b)| *a && *b).collect())
}

/// A response rebuilt around bytes that were read.
pub(crate) fn rebuilt(parts: axum::http::response::Parts, bytes: Bytes) -> Response<Body> {
    Response::from_parts(parts, Body::from(bytes))
}
