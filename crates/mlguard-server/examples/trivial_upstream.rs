//! A stand-in for MLflow that answers at once, so that `bench/run.sh` can measure
//! mlguard's own ceiling (and nginx's, in front of the same server) without MLflow
//! being the bottleneck. It answers:
//!
//! - `GET experiments/get?experiment_id=N`: experiment N, whatever N is;
//! - `POST experiments/search`: a page of experiments "1".."max_results" (default
//!   100, at most 1000) and no `next_page_token`, so the page is the last;
//! - `POST /graphql`: `mlflowSearchRuns`, whatever the query, with `maxResults` runs
//!   (default 100, at most 1000) spread over the `experimentIds` of the first
//!   variable that has them (mlguard sends a narrowed search as such a variable).
//!
//! Benchmark use only; it listens on loopback and nowhere else.
//!
//! `cargo run --release -p mlguard-server --example trivial_upstream -- 127.0.0.1:5001`

use std::fmt::Write as _;
use std::sync::LazyLock;

use axum::Router;
use axum::body::Bytes;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;

const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;
const CREATED_MS: u64 = 1_700_000_000_000;

fn json(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// MLflow's error shape.
fn invalid(message: &str) -> Response {
    let body = serde_json::json!({"error_code": "INVALID_PARAMETER_VALUE", "message": message});
    (StatusCode::BAD_REQUEST, json(body.to_string())).into_response()
}

/// Only canonical ids, so they need no escaping in the JSON written around them.
fn is_experiment_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 19 && id.bytes().all(|b| b.is_ascii_digit())
}

/// The shape MLflow 3.10.1 gives one experiment.
fn write_experiment(out: &mut String, id: &str) {
    let _ = write!(
        out,
        r#"{{"experiment_id":"{id}","name":"bench-{id}","artifact_location":"mlflow-artifacts:/{id}","lifecycle_stage":"active","last_update_time":{CREATED_MS},"creation_time":{CREATED_MS},"tags":[]}}"#
    );
}

async fn get_experiment(uri: Uri) -> Response {
    let id = uri.query().and_then(|query| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("experiment_id="))
    });
    match id {
        Some(id) if is_experiment_id(id) => {
            let mut body = String::with_capacity(256);
            body.push_str(r#"{"experiment":"#);
            write_experiment(&mut body, id);
            body.push('}');
            json(body)
        }
        _ => invalid("Missing or malformed value for parameter 'experiment_id'"),
    }
}

/// Experiments "1".."MAX_PAGE", comma-joined, rendered once: a page is a prefix.
struct ExperimentPages {
    items: String,
    /// `ends[n]`: where the first `n` experiments end in `items`.
    ends: Vec<usize>,
}

static EXPERIMENT_PAGES: LazyLock<ExperimentPages> = LazyLock::new(|| {
    let mut items = String::new();
    let mut ends = vec![0];
    for id in 1..=MAX_PAGE {
        if id > 1 {
            items.push(',');
        }
        write_experiment(&mut items, &id.to_string());
        ends.push(items.len());
    }
    ExperimentPages { items, ends }
});

/// A page size as MLflow's JSON reads it: a number, or a number in a string.
fn page_size(value: Option<&Value>) -> Option<usize> {
    let size = match value {
        None | Some(Value::Null) => DEFAULT_PAGE,
        Some(Value::Number(n)) => usize::try_from(n.as_u64()?).ok()?,
        Some(Value::String(s)) => s.parse().ok()?,
        Some(_) => return None,
    };
    Some(size.min(MAX_PAGE))
}

/// The request body as a JSON object; an empty body is an empty object.
fn body_object(body: &Bytes) -> Option<serde_json::Map<String, Value>> {
    if body.is_empty() {
        return Some(serde_json::Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Some(object),
        _ => None,
    }
}

async fn search_experiments(body: Bytes) -> Response {
    let Some(request) = body_object(&body) else {
        return invalid("The request body is not a JSON object");
    };
    let Some(size) = page_size(request.get("max_results")) else {
        return invalid("Invalid value for parameter 'max_results'");
    };
    let pages = &*EXPERIMENT_PAGES;
    let items = &pages.items[..pages.ends[size]];
    let mut out = String::with_capacity(items.len() + 20);
    out.push_str(r#"{"experiments":["#);
    out.push_str(items);
    out.push_str("]}");
    json(out)
}

/// The first variable that is a search input (`experimentIds` or `maxResults`).
fn search_input(
    request: &serde_json::Map<String, Value>,
) -> Option<&serde_json::Map<String, Value>> {
    request
        .get("variables")?
        .as_object()?
        .values()
        .filter_map(Value::as_object)
        .find(|input| input.contains_key("experimentIds") || input.contains_key("maxResults"))
}

async fn graphql(body: Bytes) -> Response {
    let Some(request) = body_object(&body) else {
        return invalid("A GraphQL request must be a JSON object");
    };
    let input = search_input(&request);
    let Some(size) = page_size(input.and_then(|input| input.get("maxResults"))) else {
        return invalid("Invalid value for 'maxResults'");
    };
    let mut experiments: Vec<&str> = input
        .and_then(|input| input.get("experimentIds"))
        .and_then(Value::as_array)
        .map(|ids| {
            ids.iter()
                .filter_map(Value::as_str)
                .filter(|id| is_experiment_id(id))
                .collect()
        })
        .unwrap_or_default();
    if experiments.is_empty() {
        experiments.push("0");
    }
    let mut out = String::with_capacity(64 + size * 560);
    out.push_str(r#"{"data":{"mlflowSearchRuns":{"runs":["#);
    for n in 0..size {
        if n > 0 {
            out.push(',');
        }
        let experiment = experiments[n % experiments.len()];
        let run = n + 1;
        let ended = CREATED_MS + 60_000;
        let _ = write!(
            out,
            r#"{{"info":{{"runId":"{run:032x}","runUuid":"{run:032x}","runName":"bench-run-{n}","experimentId":"{experiment}","userId":"bench","status":"FINISHED","startTime":"{CREATED_MS}","endTime":"{ended}","artifactUri":"mlflow-artifacts:/{experiment}/{run:032x}/artifacts","lifecycleStage":"active"}},"data":{{"metrics":[{{"key":"loss","value":0.25,"timestamp":"{ended}","step":"1"}}],"params":[{{"key":"learning_rate","value":"0.01"}}],"tags":[{{"key":"mlflow.runName","value":"bench-run-{n}"}}]}}}}"#
        );
    }
    out.push_str(r#"],"nextPageToken":null}},"errors":null}"#);
    json(out)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:5001".to_owned());
    let address: std::net::SocketAddr = listen
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    // Loopback only: this server answers anyone without authentication.
    if !address.ip().is_loopback() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{address} is not a loopback address"),
        ));
    }
    LazyLock::force(&EXPERIMENT_PAGES);
    let app = Router::new()
        .route("/api/2.0/mlflow/experiments/get", get(get_experiment))
        .route(
            "/api/2.0/mlflow/experiments/search",
            post(search_experiments),
        )
        .route("/graphql", post(graphql))
        .route("/health", get(|| async { "OK" }));
    let listener = tokio::net::TcpListener::bind(address).await?;
    axum::serve(listener, app).await
}
