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
mod inputs;
mod json_errors;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, Response, StatusCode, header};
use axum::response::IntoResponse;
use mlguard_domain::Resource;
use mlguard_domain::{BoxFuture, Principal, TrackingLookup};
use mlguard_extract::{ApiError, Caller, Grants};
use mlguard_policy::{Absent, Access, AfterHook, Check, Quantifier, Target, match_route};
use serde_json::Value;

use inputs::{RequestInputs, Resolved};

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

/// The port to the tracking server: forward one HTTP request, streaming.
pub trait Forward: Send + Sync {
    fn forward(
        &self,
        request: Request<Body>,
        client: Option<IpAddr>,
    ) -> BoxFuture<'static, Result<Response<Body>, ForwardError>>;
}

/// The gateway's ports and settings.
#[derive(Clone)]
pub struct Gateway {
    forward: Arc<dyn Forward>,
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
            .field("static_prefix", &self.static_prefix)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    pub fn new(
        forward: Arc<dyn Forward>,
        lookup: Arc<dyn TrackingLookup>,
        static_prefix: Option<String>,
        max_body_bytes: usize,
    ) -> Self {
        let static_prefix = static_prefix
            .map(|p| format!("/{}", p.trim_matches('/')))
            .filter(|p| p != "/");
        Self {
            forward,
            lookup,
            static_prefix,
            max_body_bytes,
            graphql_limits: GraphQlLimits::default(),
        }
    }

    /// Replaces the default GraphQL bounds.
    pub fn with_graphql_limits(mut self, limits: GraphQlLimits) -> Self {
        self.graphql_limits = limits;
        self
    }

    /// The tracking-server port the gateway resolves ids through, for the native
    /// API's own questions (does a resource exist before it is granted on).
    pub fn lookup(&self) -> Arc<dyn TrackingLookup> {
        Arc::clone(&self.lookup)
    }

    /// This gateway for one request: its lookups carry `request_id`.
    fn for_request(&self, request_id: Option<&str>) -> Self {
        let lookup = request_id.and_then(|id| self.lookup.for_request(id));
        match lookup {
            Some(lookup) => Self {
                lookup,
                ..self.clone()
            },
            None => self.clone(),
        }
    }

    /// MLflow's `--static-prefix`, normalized (`/mlflow`), if configured.
    pub fn static_prefix(&self) -> Option<&str> {
        self.static_prefix.as_deref()
    }

    /// The path the policy sees: the static prefix, if configured, removed. MLflow
    /// prefixes only some routes (UI, `/ajax-api`, `/graphql`, ...) and keeps `/api`
    /// bare, so an unprefixed path is matched as it is; a prefixed and a bare
    /// spelling of one route get the same decision either way.
    fn route_path<'a>(&self, decoded: &'a str) -> &'a str {
        let Some(prefix) = &self.static_prefix else {
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
        request: Request<Body>,
        client: Option<IpAddr>,
    ) -> Result<Response<Body>, ApiError> {
        self.forward
            .forward(request, client)
            .await
            .map_err(|error| match error {
                ForwardError::Unreachable(cause) => {
                    tracing::error!(error.cause = %cause, "tracking server unreachable");
                    ApiError::new(
                        StatusCode::BAD_GATEWAY,
                        mlguard_extract::ErrorCode::TemporarilyUnavailable,
                        "The tracking server is unavailable.",
                    )
                }
                ForwardError::TimedOut => {
                    tracing::error!("tracking server timed out");
                    ApiError::new(
                        StatusCode::GATEWAY_TIMEOUT,
                        mlguard_extract::ErrorCode::DeadlineExceeded,
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

/// The gateway as a router that answers every path: mount it as the fallback of
/// mlguard's own routes, behind authentication (it reads the [`Caller`]).
pub fn router(state: GatewayState) -> axum::Router {
    axum::Router::new().fallback(gateway).with_state(state)
}

/// The fallback handler: everything that is not one of mlguard's own routes.
async fn gateway(
    State(state): State<GatewayState>,
    Caller(caller): Caller,
    request: Request,
) -> axum::response::Response {
    match handle(&state, &caller, request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

fn denied() -> ApiError {
    ApiError::permission_denied()
}

/// What a route reads from the request body to find its ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyUse {
    Nothing,
    Json,
    /// An OTLP `ExportTraceServiceRequest` (protobuf or JSON, maybe compressed).
    OtlpExport,
}

/// How a route's checks and hook read the request body.
fn body_use(rule_access: &Access, after: &AfterHook, method: &Method) -> BodyUse {
    use mlguard_policy::{Source, Target};
    if matches!(*method, Method::GET | Method::HEAD) {
        return BodyUse::Nothing;
    }
    let sources = |target: &Target| target.sources();
    let checks: Vec<Source> = match rule_access {
        Access::Checks(checks) => checks.iter().flat_map(|c| sources(&c.target)).collect(),
        Access::GraphQl => return BodyUse::Json,
        Access::Authenticated | Access::Admin | Access::Native | Access::AdminElseAnswer(_) => {
            Vec::new()
        }
    };
    if checks.contains(&Source::OtlpSpanTraces) {
        return BodyUse::OtlpExport;
    }
    // Path, query and header sources never need the body.
    let reads_json =
        |source: &Source| matches!(source, Source::Body(_) | Source::Param(_) | Source::RunId);
    let hook = match after {
        AfterHook::DeleteGrants(target) => sources(target).iter().any(reads_json),
        AfterHook::RenameRegisteredModel | AfterHook::FilterList(_) => true,
        AfterHook::GrantCreator(kind) => {
            matches!(kind, mlguard_policy::CreatedKind::Scorer)
        }
        AfterHook::None | AfterHook::RedactForNonAdmins(_) => false,
    };
    if hook || checks.iter().any(reads_json) {
        BodyUse::Json
    } else {
        BodyUse::Nothing
    }
}

async fn handle(
    state: &GatewayState,
    caller: &Principal,
    request: Request,
) -> Result<axum::response::Response, ApiError> {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|id| id.to_str().ok());
    let gateway = state.gateway.for_request(request_id);
    let decoded = decode::canonical_path(request.uri().path())?;
    let query = decode::query_pairs(request.uri().query())?;
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    let route_path = gateway.route_path(&decoded);
    let method = request.method().clone();

    // OPTIONS reads no data; answer it here with what the policy allows.
    if method == Method::OPTIONS {
        let allow = mlguard_policy::allowed_methods(route_path).join(", ");
        let mut response = StatusCode::NO_CONTENT.into_response();
        if let Ok(value) = HeaderValue::from_str(&allow) {
            response.headers_mut().insert(header::ALLOW, value);
        }
        return Ok(response);
    }

    let Some(route) = match_route(method.as_str(), route_path) else {
        // No rule: only an admin may reach whatever this is.
        if caller.is_admin {
            let response = gateway.send(request, client).await?;
            return Ok(json_errors::upstream_error(response, route_path)
                .await
                .into_response());
        }
        tracing::info!(http.path = %decoded, "denied: no policy rule");
        return Err(denied());
    };
    let rule = route.rule;
    match rule.access {
        // Served natively at exact paths; never forwarded under another prefix.
        Access::Native => return Err(ApiError::endpoint_not_found()),
        Access::Admin if !caller.is_admin => return Err(denied()),
        Access::AdminElseAnswer(answer) if !caller.is_admin => return Ok(json_ok(answer)),
        // Each requested field is authorized on its own; admins pass untouched.
        Access::GraphQl if !caller.is_admin => {
            return Ok(
                graphql::authorize_and_forward(state, &gateway, caller, request, client)
                    .await?
                    .into_response(),
            );
        }
        _ => {}
    }

    // MLflow reads a GET's body when it has no query; mlguard reads only the query,
    // so a GET or HEAD that carries a body is refused rather than read differently.
    if matches!(method, Method::GET | Method::HEAD) && !caller.is_admin && has_body(&request) {
        return Err(ApiError::bad_request(
            "A GET request must not carry a body.",
        ));
    }

    // Buffer the body only when an id must be read from it.
    let (parts, body) = request.into_parts();
    let body_use = body_use(&rule.access, &rule.after, &method);
    let mut otlp_traces = None;
    let (body, body_bytes, body_json) = if body_use != BodyUse::Nothing {
        let bytes = axum::body::to_bytes(body, gateway.max_body_bytes)
            .await
            .map_err(|_| ApiError::payload_too_large())?;
        let json = if body_use == BodyUse::OtlpExport {
            if !caller.is_admin {
                // One value each, or MLflow and mlguard could read different ones.
                let single = |name: header::HeaderName| {
                    let mut values = parts.headers.get_all(&name).iter();
                    match (values.next(), values.next()) {
                        (_, Some(_)) => Err(ApiError::bad_request(format!(
                            "The request has more than one {name} header."
                        ))),
                        (value, None) => Ok(value.and_then(|v| v.to_str().ok())),
                    }
                };
                otlp_traces = Some(mlguard_extract::otlp::export_trace_ids(
                    single(header::CONTENT_TYPE)?,
                    single(header::CONTENT_ENCODING)?,
                    &bytes,
                    gateway.max_body_bytes,
                )?);
            }
            None
        } else if bytes.is_empty() {
            None
        } else {
            match serde_json::from_slice::<Value>(&bytes) {
                // Older clients double-encode the body as a JSON string; MLflow
                // unwraps it, so the ids must be read from the inner object.
                Ok(Value::String(inner)) => match serde_json::from_str::<Value>(&inner) {
                    Ok(value) => Some(value),
                    Err(_) if caller.is_admin => None,
                    Err(_) => {
                        return Err(ApiError::bad_request("The request body is not valid JSON."));
                    }
                },
                Ok(value) => Some(value),
                // Admins pass through; the tracking server answers the bad body.
                Err(_) if caller.is_admin => None,
                Err(_) => return Err(ApiError::bad_request("The request body is not valid JSON.")),
            }
        };
        (Body::empty(), Some(bytes), json)
    } else {
        (body, None, None)
    };
    let inputs = RequestInputs {
        method: &method,
        headers: &parts.headers,
        query: &query,
        body: body_json.as_ref(),
        otlp_traces: otlp_traces.as_deref(),
        route: &route,
    };

    let mut authorized = Authorized::default();
    if let Access::Checks(checks) = rule.access
        && !caller.is_admin
    {
        authorized = authorize(state, &gateway, caller, checks, &inputs).await?;
    }
    // A narrowed search goes upstream with only the readable ids; none left is an
    // empty page (`{}`), as MLflow answers a search over nothing.
    let narrowed_json = if authorized.narrowed.is_empty() {
        None
    } else {
        if authorized.narrowed.iter().any(|(_, kept)| kept.is_empty()) {
            return Ok(json_ok("{}"));
        }
        let mut json = body_json.clone().unwrap_or(Value::Null);
        for (field, kept) in &authorized.narrowed {
            inputs::set_list(&mut json, field, kept)?;
        }
        Some(json)
    };
    let rewritten = narrowed_json.is_some();
    let (body_bytes, body_json) = match narrowed_json {
        Some(json) => {
            let bytes = serde_json::to_vec(&json).map_err(|e| ApiError::internal(&e))?;
            (Some(Bytes::from(bytes)), Some(json))
        }
        None => (body_bytes, body_json),
    };
    let inputs = RequestInputs {
        method: &method,
        headers: &parts.headers,
        query: &query,
        body: body_json.as_ref(),
        otlp_traces: otlp_traces.as_deref(),
        route: &route,
    };

    // Only a filtered search re-fetches pages; admins keep nothing. A HEAD is filtered
    // as its GET: its length must not tell what the filter removed.
    let filters = matches!(rule.after, AfterHook::FilterList(_)) && !caller.is_admin;
    let search = filters.then(|| filter::SearchRequest {
        method: if method == Method::HEAD {
            Method::GET
        } else {
            method.clone()
        },
        path: parts.uri.path().to_owned(),
        headers: parts.headers.clone(),
        query: query.clone(),
        body: body_json.clone(),
    });
    // Everything the after-hook needs, resolved before the request leaves.
    let hook = hooks::prepare(rule.after, &inputs, gateway.lookup.as_ref()).await?;
    let mut upstream_parts = parts;
    if let (true, Some(bytes)) = (rewritten, &body_bytes) {
        // The body sent is not the one received: its framing must say so.
        let headers = &mut upstream_parts.headers;
        headers.remove(header::TRANSFER_ENCODING);
        headers.remove(header::CONTENT_ENCODING);
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    if method == Method::HEAD {
        // MLflow's handlers parse HEAD like a POST and answer 400; ask for the GET it
        // was authorized as. The server drops the body of a HEAD answer.
        upstream_parts.method = Method::GET;
    }
    let request = match body_bytes {
        Some(bytes) => {
            upstream_parts
                .extensions
                .insert(BufferedBody(bytes.clone()));
            Request::from_parts(upstream_parts, Body::from(bytes))
        }
        None => Request::from_parts(upstream_parts, body),
    };
    let response = gateway.send(request, client).await?;
    if authorized.upstream_must_fail && response.status().is_success() {
        tracing::info!("denied: the resource appeared while the request was in flight");
        return Err(denied());
    }
    if !response.status().is_success() {
        return Ok(json_errors::upstream_error(response, route_path).await);
    }
    match (rule.after, search) {
        (AfterHook::FilterList(kind), Some(search)) => Ok(filter::filtered_search(
            state, &gateway, caller, kind, search, response,
        )
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

async fn authorize(
    state: &GatewayState,
    gateway: &Gateway,
    caller: &Principal,
    checks: &[Check],
    inputs: &RequestInputs<'_>,
) -> Result<Authorized, ApiError> {
    let mut authorized = Authorized::default();
    for check in checks {
        let mut current = check;
        loop {
            match evaluate(state, gateway, caller, current, inputs).await? {
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
    inputs: &RequestInputs<'_>,
) -> Result<Verdict, ApiError> {
    let lookup = gateway.lookup.as_ref();
    let resources = match inputs::resolve(check.target, inputs, lookup).await? {
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
    let allowed = state
        .grants
        .permitted(
            caller,
            resources.iter().cloned().map(Some).collect(),
            check.capability,
        )
        .await?;
    let all = allowed.iter().all(|ok| *ok);
    let verdict = match check.quantifier {
        Quantifier::All if all => Verdict::Allowed,
        Quantifier::Any if allowed.iter().any(|ok| *ok) => Verdict::Allowed,
        Quantifier::Narrow if all => Verdict::Allowed,
        Quantifier::Narrow => match inputs::narrowable_fields(check.target, inputs) {
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
        && let [Resource::RegisteredModel(name)] = resources.as_slice()
        && !lookup
            .registered_model_exists(name.as_str())
            .await
            .map_err(inputs::lookup_failed)?
    {
        return Ok(Verdict::Absent);
    }
    Ok(Verdict::Denied)
}

/// A response rebuilt around bytes that were read.
pub(crate) fn rebuilt(parts: axum::http::response::Parts, bytes: Bytes) -> Response<Body> {
    Response::from_parts(parts, Body::from(bytes))
}
