//! The route policy against MLflow 3.10.1's route catalogue
//! (vendored as `catalogue/routes-3.10.1.tsv`): every route has exactly one explicit
//! decision, every prefix gets the same one, and a small reference model written
//! apart from the table agrees with it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use mlguard_domain::Capability::{self, Delete, Manage, Read, Update, Use};
use mlguard_domain::ExperimentChild;
use mlguard_policy::{
    Access, AfterHook, Check, CreatedKind, ListKind, Quantifier, RULES, RouteRule, Source,
    SubmittedJobs, Target, canonical_route_path, match_route, table_conflicts,
};

/// The route catalogues of every MLflow release mlguard supports, vendored as facts.
const CATALOGUES: [(&str, &str, usize); 3] = [
    (
        "3.10.1",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/catalogue/routes-3.10.1.tsv"
        )),
        389,
    ),
    (
        "3.17.2",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/catalogue/routes-3.17.2.tsv"
        )),
        547,
    ),
    (
        "3.18.0",
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/catalogue/routes-3.18.0.tsv"
        )),
        612,
    ),
];

/// The catalogue's row for FastAPI's mount of the Flask app. It has no rule on
/// purpose: the "no rule, admin only" fallback of `match_route` is its decision.
const FALLBACK_MOUNT: (&str, &str) = ("*", "/*");

struct Row {
    method: &'static str,
    /// The path in matchit syntax (see [`to_matchit`]).
    path: String,
}

/// One release's routes.
fn catalogue(version: &str) -> Vec<Row> {
    let (_, text, expected) = CATALOGUES
        .iter()
        .find(|(name, _, _)| *name == version)
        .expect("a vendored catalogue");
    let mut lines = text.lines();
    assert_eq!(
        lines
            .next()
            .map(|header| header.split('\t').take(2).collect::<Vec<_>>()),
        Some(vec!["method", "path"]),
        "the {version} catalogue's columns changed"
    );
    let rows: Vec<Row> = lines
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let mut columns = line.split('\t');
            let method = columns.next().expect("method column");
            let path = columns.next().expect("path column");
            Row {
                method,
                path: to_matchit(path),
            }
        })
        .collect();
    // Guards against reading a truncated or wrong file.
    assert_eq!(
        rows.len(),
        *expected,
        "MLflow {version} lists {expected} routes"
    );
    rows
}

/// Every release's routes, each once.
fn all_catalogues() -> Vec<Row> {
    let mut seen = BTreeSet::new();
    CATALOGUES
        .iter()
        .flat_map(|(version, _, _)| catalogue(version))
        .filter(|row| seen.insert((row.method, row.path.clone())))
        .collect()
}

/// A catalogue path in matchit syntax. Flask's `<x>` is `{x}` and `<path:x>` is
/// `{*x}`; FastAPI's `{x:path}` at the end is `{*x}`. matchit allows a catch-all
/// only at the end, so the MCP server routes, whose `{name:path}` goes on, are
/// spelled as MLflow names the servers, `namespace/slug`, and their versions and
/// aliases as one segment; a path naming them otherwise matches no row.
fn to_matchit(path: &str) -> String {
    let path = path
        .replace("{name:path}", "{namespace}/{slug}")
        .replace("{version:path}", "{version}")
        .replace("{alias:path}", "{alias}");
    let mut out = String::new();
    let mut rest = path.as_str();
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('>').expect("unclosed <param>") + start;
        let inner = &rest[start + 1..end];
        match inner.strip_prefix("path:") {
            Some(name) => out.push_str(&format!("{{*{name}}}")),
            None => out.push_str(&format!("{{{inner}}}")),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    match out.rsplit_once('{') {
        Some((head, tail)) if tail.ends_with(":path}") => {
            format!("{head}{{*{}", tail.replacen(":path", "", 1))
        }
        _ => out,
    }
}

/// A path with parameter names erased: `{x}` as `{}`, `{*x}` as `{*}`. A segment
/// that goes on after its parameter (Gemini's `{endpoint_name}:generateContent`)
/// is one `{}`, as the table captures such a segment whole.
fn shape(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with("{*") {
                "{*}"
            } else if segment.starts_with('{') {
                "{}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A request path for a pattern: `{x}` becomes `123`, `{*x}` becomes `123/abc/def`,
/// and a segment's literal tail after its parameter is kept.
fn sample(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with("{*") {
                "123/abc/def".to_owned()
            } else if let Some(inner) = segment.strip_prefix('{') {
                let tail = inner.split_once('}').map_or("", |(_, tail)| tail);
                format!("123{tail}")
            } else {
                segment.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn method(name: &str) -> &str {
    name
}

fn decide(method_name: &str, path: &str) -> Option<&'static RouteRule> {
    match_route(method(method_name), path).map(|found| found.rule)
}

/// Every row with each of its spellings.
fn spelled() -> impl Iterator<Item = (&'static RouteRule, &'static str)> {
    RULES
        .iter()
        .flat_map(|rule| rule.paths.iter().map(move |path| (rule, *path)))
}

fn rows_with_rules(rows: &[Row]) -> impl Iterator<Item = &Row> {
    rows.iter()
        .filter(|row| (row.method, row.path.as_str()) != FALLBACK_MOUNT)
}

#[test]
fn every_catalogue_route_has_its_own_rule() {
    let rows = all_catalogues();
    let mut failures = Vec::new();
    for row in rows_with_rules(&rows) {
        let request = sample(&row.path);
        let mut methods = vec![row.method];
        // HEAD is authorized as GET.
        if row.method == "GET" {
            methods.push("HEAD");
        }
        for asked in methods {
            match match_route(method(asked), &request) {
                None => failures.push(format!("{asked} {} ({request}): no rule", row.path)),
                Some(found) => {
                    let rule = found.rule;
                    let same_route = rule.method == row.method
                        && shape(&rule.canonical_path()) == shape(&canonical_route_path(&row.path));
                    if !same_route {
                        failures.push(format!(
                            "{asked} {}: matched {} {}",
                            row.path, rule.method, rule.paths[0]
                        ));
                    }
                    // Every parameter the matched rule names was captured.
                    for name in param_names(rule.paths[0]) {
                        if found.param(&name).is_none() {
                            failures.push(format!("{asked} {}: no value for {name}", row.path));
                        }
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} route(s) without their rule:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_rule_is_a_catalogue_route_and_each_route_has_one_rule() {
    let rows = all_catalogues();
    let routes: BTreeSet<(String, String)> = rows_with_rules(&rows)
        .map(|row| (row.method.to_owned(), shape(&row.path)))
        .collect();
    let mut rules = BTreeMap::new();
    for (rule, path) in spelled() {
        let key = (rule.method.to_owned(), shape(path));
        let previous = rules.insert(key, path);
        assert!(previous.is_none(), "two rules for {} {}", rule.method, path);
    }
    let orphans: Vec<_> = rules.keys().filter(|key| !routes.contains(*key)).collect();
    assert!(
        orphans.is_empty(),
        "rules for no catalogue route: {orphans:?}"
    );
    let missing: Vec<_> = routes
        .iter()
        .filter(|key| !rules.contains_key(*key))
        .collect();
    assert!(
        missing.is_empty(),
        "catalogue routes with no rule: {missing:?}"
    );
}

#[test]
fn the_fallback_mount_is_decided_by_having_no_rule() {
    let rows = catalogue("3.10.1");
    assert!(
        rows.iter()
            .any(|row| (row.method, row.path.as_str()) == FALLBACK_MOUNT),
        "the catalogue no longer lists FastAPI's mount"
    );
    assert!(spelled().all(|(_, path)| path != "/*"));
    assert!(decide("GET", "/anything/else").is_none());
}

#[test]
fn each_route_is_one_row_with_spellings_of_one_canonical_path() {
    assert!(
        table_conflicts().is_empty(),
        "rows the matcher refused:\n{}",
        table_conflicts().join("\n")
    );
    let mut rows: HashMap<(&str, String), &RouteRule> = HashMap::new();
    for rule in RULES {
        assert!(!rule.paths.is_empty(), "{} row without a path", rule.method);
        for path in rule.paths {
            // Same names too, so the row's sources fit whichever spelling matched.
            assert_eq!(
                canonical_route_path(path),
                rule.canonical_path(),
                "{} {path} is not a spelling of {}",
                rule.method,
                rule.paths[0]
            );
        }
        let previous = rows.insert((rule.method, rule.canonical_path()), rule);
        assert!(
            previous.is_none(),
            "two rows for {} {}",
            rule.method,
            rule.paths[0]
        );
    }
}

#[test]
fn every_rule_path_is_accepted_by_the_matcher() {
    let mut routers: HashMap<&str, matchit::Router<()>> = HashMap::new();
    let mut inserted = BTreeSet::new();
    for (rule, path) in spelled() {
        let canonical = canonical_route_path(path);
        if !inserted.insert((rule.method, canonical.clone())) {
            continue;
        }
        let router = routers.entry(rule.method).or_default();
        if let Err(error) = router.insert(canonical, ()) {
            panic!("{} {} is not a valid route: {error}", rule.method, path);
        }
    }
    for (rule, path) in spelled() {
        let found = decide(rule.method, &sample(path))
            .unwrap_or_else(|| panic!("{} {} matches nothing", rule.method, path));
        assert!(std::ptr::eq(found, rule), "{} {path}", rule.method);
    }
}

#[test]
fn every_path_source_names_a_parameter_of_its_rule() {
    for (rule, path) in spelled() {
        let params = param_names(path);
        for source in sources(rule) {
            if let Source::Path(name) | Source::PathBeforeLastColon(name) = source {
                assert!(
                    params.iter().any(|param| param == name),
                    "{} {} reads path parameter {name}, which it does not have",
                    rule.method,
                    path
                );
            }
        }
    }
}

#[test]
fn every_api_prefix_gets_the_same_rule() {
    const PREFIXES: [&str; 4] = ["/api/2.0/", "/api/3.0/", "/ajax-api/2.0/", "/ajax-api/3.0/"];
    let mut compared = 0;
    for (rule, path) in spelled() {
        let Some(rest) = PREFIXES.iter().find_map(|prefix| path.strip_prefix(prefix)) else {
            continue;
        };
        let request = sample(rest);
        let expected = decide(rule.method, &format!("/api/2.0/{request}"))
            .expect("the rule matches under /api/2.0");
        for prefix in PREFIXES {
            let found = decide(rule.method, &format!("{prefix}{request}"))
                .unwrap_or_else(|| panic!("{} {prefix}{request}: no rule", rule.method));
            assert!(
                std::ptr::eq(found, expected),
                "{} {prefix}{request}: {} instead of {}",
                rule.method,
                found.paths[0],
                expected.paths[0]
            );
        }
        compared += 1;
    }
    assert!(compared > 300, "only {compared} API rules compared");
}

#[test]
fn unknown_routes_and_methods_have_no_rule() {
    for (method_name, path) in [
        ("GET", "/api/2.0/mlflow/nope"),
        ("PUT", "/api/2.0/mlflow/runs/get"),
        ("TRACE", "/"),
        ("OPTIONS", "/api/2.0/mlflow/runs/get"),
        ("CONNECT", "/api/2.0/mlflow/runs/get"),
        ("GET", "/api/4.0/mlflow/runs/get"),
        ("GET", "/api/~v/mlflow/runs/get"),
        ("GET", "/api/2.0/mlflow/runs/get/"),
        ("GET", "/API/2.0/mlflow/runs/get"),
        ("GET", "/api/2.0/mlflow-artifacts/artifacts/"),
        ("POST", "/api/2.0/mlflow/runs/get"),
        ("GET", "/gateway/gemini/v1beta/models/x:generateContent"),
        ("DELETE", "/"),
    ] {
        assert!(
            decide(method_name, path).is_none(),
            "{method_name} {path} should have no rule"
        );
    }
}

/// What the reference model expects of a route.
#[derive(Debug, PartialEq, Eq, Clone, Copy, PartialOrd, Ord)]
enum Expect {
    Authenticated,
    Admin,
    Native,
    GraphQl,
    AdminElseAnswer,
    /// Admins and the job's recorded submitter.
    OwnJob,
    /// A required check: target kind and capability.
    Needs(&'static str, Capability),
}

/// A reference model written apart from the table: representative requests and
/// the required checks (or access class) each should get, from reading MLflow's
/// handlers and mlguard's design, not the table.
#[rustfmt::skip]
fn reference_model() -> Vec<(&'static str, &'static str, Vec<Expect>)> {
    use Expect::{Admin, AdminElseAnswer, Authenticated, GraphQl, Native, Needs, OwnJob};
    vec![
        ("GET", "/api/2.0/mlflow/experiments/get", vec![Needs("experiment", Read)]),
        ("GET", "/api/2.0/mlflow/experiments/get-by-name", vec![Needs("experiment_by_name", Read)]),
        // Only an optional check: a chosen artifact location is refused.
        ("POST", "/api/2.0/mlflow/experiments/create", vec![]),
        ("POST", "/api/2.0/mlflow/experiments/update", vec![Needs("experiment", Update)]),
        ("POST", "/api/2.0/mlflow/experiments/delete", vec![Needs("experiment", Delete)]),
        ("POST", "/api/2.0/mlflow/experiments/restore", vec![Needs("experiment", Delete)]),
        ("POST", "/api/2.0/mlflow/runs/create", vec![Needs("experiment", Update)]),
        ("GET", "/api/2.0/mlflow/runs/get", vec![Needs("run", Read)]),
        ("POST", "/ajax-api/2.0/mlflow/runs/log-batch", vec![Needs("run", Update)]),
        ("POST", "/api/2.0/mlflow/runs/log-inputs", vec![Needs("run", Update)]),
        ("POST", "/api/2.0/mlflow/runs/delete", vec![Needs("run", Delete)]),
        ("POST", "/api/2.0/mlflow/runs/search", vec![Needs("experiments", Read)]),
        ("GET", "/api/2.0/mlflow/metrics/get-history-bulk-interval", vec![Needs("runs", Read)]),
        ("GET", "/ajax-api/2.0/mlflow/metrics/get-history-bulk", vec![Needs("runs", Read)]),
        ("POST", "/ajax-api/2.0/mlflow/upload-artifact", vec![Needs("run", Update)]),
        ("GET", "/get-artifact", vec![Needs("run", Read)]),
        ("GET", "/api/2.0/mlflow-artifacts/artifacts/7/r/artifacts/a.txt", vec![Needs("artifact_path", Read)]),
        ("PUT", "/api/2.0/mlflow-artifacts/artifacts/7/r/artifacts/a.txt", vec![Needs("artifact_path", Update)]),
        ("DELETE", "/api/2.0/mlflow-artifacts/artifacts/7/r/artifacts/a.txt", vec![Needs("artifact_path", Delete)]),
        ("GET", "/api/2.0/mlflow-artifacts/artifacts", vec![Needs("artifact_path", Read)]),
        ("POST", "/api/2.0/mlflow-artifacts/mpu/complete/7/r/a.bin", vec![Needs("artifact_path", Update)]),
        ("POST", "/api/2.0/mlflow/logged-models", vec![Needs("experiment", Update)]),
        ("GET", "/api/2.0/mlflow/logged-models/m-1", vec![Needs("logged_model", Read)]),
        ("PATCH", "/api/2.0/mlflow/logged-models/m-1", vec![Needs("logged_model", Update)]),
        ("DELETE", "/api/2.0/mlflow/logged-models/m-1", vec![Needs("logged_model", Delete)]),
        ("GET", "/ajax-api/2.0/mlflow/logged-models/m-1/artifacts/files", vec![Needs("logged_model", Read)]),
        ("POST", "/api/2.0/mlflow/logged-models/search", vec![Needs("experiments", Read)]),
        ("POST", "/api/3.0/mlflow/traces", vec![Needs("experiment", Update)]),
        ("GET", "/api/3.0/mlflow/traces/tr-1", vec![Needs("trace", Read)]),
        ("GET", "/api/2.0/mlflow/traces/tr-1/info", vec![Needs("trace", Read)]),
        ("PATCH", "/api/2.0/mlflow/traces/tr-1", vec![Needs("trace", Update)]),
        // Never the tag MLflow reads a trace's files from.
        ("DELETE", "/api/3.0/mlflow/traces/tr-1/tags", vec![Needs("trace", Update), Needs("without_tag", Update)]),
        ("PATCH", "/api/2.0/mlflow/traces/tr-1/tags", vec![Needs("trace", Update), Needs("without_tag", Update)]),
        ("GET", "/api/3.0/mlflow/traces/get", vec![Needs("trace", Read)]),
        ("GET", "/api/3.0/mlflow/traces/batchGet", vec![Needs("traces", Read)]),
        ("POST", "/api/3.0/mlflow/traces/search", vec![Authenticated]),
        ("GET", "/api/2.0/mlflow/traces", vec![Needs("experiments", Read)]),
        ("POST", "/api/2.0/mlflow/traces/delete-traces", vec![Needs("experiment", Delete)]),
        ("POST", "/api/2.0/mlflow/traces/link-to-run", vec![Needs("run", Update), Needs("traces", Update)]),
        ("GET", "/api/3.0/mlflow/traces/tr-1/assessments/a-1", vec![Needs("trace", Read)]),
        ("POST", "/api/3.0/mlflow/traces/tr-1/assessments", vec![Needs("trace", Update)]),
        ("DELETE", "/api/3.0/mlflow/traces/tr-1/assessments/a-1", vec![Needs("trace", Update)]),
        // The trace's files, only from the location MLflow assigned.
        ("GET", "/ajax-api/3.0/mlflow/get-trace-artifact", vec![Needs("trace_files", Read)]),
        // Spans may only join traces the caller may update.
        ("POST", "/v1/traces", vec![Needs("experiment", Update), Needs("traces_if_exist", Update)]),
        ("POST", "/api/3.0/mlflow/datasets/create", vec![Needs("experiments", Update)]),
        ("GET", "/api/3.0/mlflow/datasets/d-1", vec![Needs("dataset", Read)]),
        ("DELETE", "/api/3.0/mlflow/datasets/d-1", vec![Needs("dataset", Delete)]),
        ("POST", "/api/3.0/mlflow/datasets/d-1/records", vec![Needs("dataset", Update)]),
        ("POST", "/api/3.0/mlflow/datasets/d-1/add-experiments", vec![Needs("dataset", Update), Needs("experiments", Update)]),
        // Optional experiment ids; the list is filtered per dataset.
        ("POST", "/api/3.0/mlflow/datasets/search", vec![]),
        ("GET", "/api/3.0/mlflow/scorers/online-configs", vec![Authenticated]),
        ("POST", "/api/3.0/mlflow/prompt-optimization/jobs", vec![Needs("experiment", Update), Needs("prompt_uri", Read)]),
        ("POST", "/api/3.0/mlflow/scorers/register", vec![Needs("experiment", Update)]),
        ("GET", "/api/3.0/mlflow/scorers/list", vec![Needs("experiment", Read)]),
        ("GET", "/api/3.0/mlflow/scorers/get", vec![Needs("scorer", Read)]),
        ("DELETE", "/api/3.0/mlflow/scorers/delete", vec![Needs("scorer", Delete)]),
        ("POST", "/api/2.0/mlflow/registered-models/create", vec![Authenticated]),
        ("GET", "/api/2.0/mlflow/registered-models/get", vec![Needs("registered_model", Read)]),
        ("POST", "/api/2.0/mlflow/registered-models/rename", vec![Needs("registered_model", Update)]),
        ("DELETE", "/api/2.0/mlflow/registered-models/delete", vec![Needs("registered_model", Delete)]),
        ("DELETE", "/api/2.0/mlflow/registered-models/delete-tag", vec![Needs("registered_model", Update)]),
        ("POST", "/api/2.0/mlflow/model-versions/create", vec![Needs("registered_model", Update), Needs("version_source_uri", Read)]),
        ("GET", "/api/2.0/mlflow/model-versions/get-download-uri", vec![Needs("registered_model", Read), Needs("model_version_files", Read)]),
        ("GET", "/api/2.0/mlflow/registered-models/alias", vec![Needs("registered_model", Read)]),
        ("GET", "/model-versions/get-artifact", vec![Needs("model_version_files", Read)]),
        ("POST", "/api/3.0/mlflow/gateway/secrets/create", vec![Authenticated]),
        ("GET", "/api/3.0/mlflow/gateway/secrets/get", vec![Needs("gateway_secret", Read)]),
        ("DELETE", "/api/3.0/mlflow/gateway/secrets/delete", vec![Needs("gateway_secret", Delete)]),
        ("POST", "/api/3.0/mlflow/gateway/endpoints/create", vec![Needs("gateway_model_definitions", Use)]),
        // MLflow 3.17 and 3.18.
        ("GET", "/api/2.0/mlflow-artifacts/presigned/7/r/artifacts/a.bin", vec![Needs("artifact_path", Read)]),
        ("POST", "/api/2.0/mlflow/artifacts/presigned-download-url", vec![Needs("run", Read)]),
        ("POST", "/ajax-api/2.0/mlflow/artifacts/presigned-upload-url", vec![Needs("run", Update)]),
        ("POST", "/api/3.0/mlflow/traces/batchGetInfos", vec![Needs("traces", Read)]),
        ("POST", "/api/3.0/mlflow/label-schemas/create", vec![Needs("experiment", Manage)]),
        ("GET", "/api/3.0/mlflow/label-schemas/list", vec![Needs("experiment", Read)]),
        // Label schemas and issues by id, as their experiment decides.
        ("GET", "/api/3.0/mlflow/label-schemas/get", vec![Needs("label_schema", Read)]),
        ("PATCH", "/api/3.0/mlflow/label-schemas/update", vec![Needs("label_schema", Manage)]),
        ("DELETE", "/api/3.0/mlflow/label-schemas/delete", vec![Needs("label_schema", Manage)]),
        ("GET", "/api/3.0/mlflow/issues/i-1", vec![Needs("issue", Read)]),
        ("PATCH", "/api/3.0/mlflow/issues/i-1", vec![Needs("issue", Update)]),
        ("POST", "/api/3.0/mlflow/issues", vec![Needs("experiment", Update)]),
        ("POST", "/ajax-api/3.0/mlflow/issues/invoke", vec![Needs("experiment", Update)]),
        // Review queues by their experiment; reading them needs update (see the table).
        ("POST", "/api/3.0/mlflow/review-queues/create", vec![Needs("experiment", Update)]),
        ("GET", "/api/3.0/mlflow/review-queues/list", vec![Needs("experiment", Update)]),
        ("GET", "/api/3.0/mlflow/review-queues/get", vec![Needs("review_queue", Update)]),
        ("GET", "/api/3.0/mlflow/review-queues/items/list", vec![Needs("review_queue", Update)]),
        ("POST", "/api/3.0/mlflow/review-queues/items/add", vec![Needs("review_queue", Update)]),
        ("POST", "/api/3.0/mlflow/review-queues/delete", vec![Needs("review_queue", Manage)]),
        ("POST", "/api/3.0/mlflow/review-queues/items/set-status", vec![Needs("review_queue", Manage)]),
        ("GET", "/api/3.0/mlflow/gateway/budgets/list", vec![Admin]),
        ("DELETE", "/api/3.0/mlflow/gateway/guardrails/remove-from-endpoint", vec![Needs("gateway_endpoint", Update)]),
        ("POST", "/gateway/proxy/my-endpoint/v1/chat", vec![Needs("gateway_endpoint_by_name", Use)]),
        ("POST", "/gateway/typesafe/v1/systemone", vec![Needs("gateway_endpoint_by_name", Use)]),
        // MCP servers by their own grants, on `<namespace>/<slug>`.
        ("GET", "/api/3.0/mlflow/mcp-servers/team/search/versions", vec![Needs("mcp_server", Read)]),
        ("POST", "/api/3.0/mlflow/mcp-servers/team/search/versions", vec![Needs("mcp_server", Update)]),
        ("DELETE", "/api/3.0/mlflow/mcp-servers/team/search", vec![Needs("mcp_server", Delete)]),
        ("DELETE", "/ajax-api/3.0/mlflow/mcp-servers/team/search/tags/a/b", vec![Needs("mcp_server", Delete)]),
        ("GET", "/api/3.0/mlflow/mcp-servers", vec![Authenticated]),
        ("POST", "/api/3.0/mlflow/mcp-servers", vec![Authenticated]),
        // Skills by their own grants, with or without an organization.
        ("GET", "/api/3.0/mlflow/skills/@acme/lint", vec![Needs("skill", Read)]),
        ("PATCH", "/ajax-api/3.0/mlflow/skills/lint", vec![Needs("skill", Update)]),
        ("POST", "/api/3.0/mlflow/skills/lint/versions", vec![Needs("skill", Update)]),
        ("DELETE", "/api/3.0/mlflow/skills/@acme/lint", vec![Needs("skill", Delete)]),
        ("GET", "/api/3.0/mlflow/skills", vec![Authenticated]),
        ("POST", "/api/3.0/mlflow/gateway/endpoints/update", vec![Needs("gateway_endpoint", Update)]),
        ("POST", "/api/3.0/mlflow/gateway/endpoints/models/attach", vec![Needs("gateway_endpoint", Update), Needs("gateway_model_definition", Use)]),
        ("POST", "/api/3.0/mlflow/gateway/model-definitions/create", vec![Needs("gateway_secret", Use)]),
        ("POST", "/api/3.0/mlflow/gateway/model-definitions/update", vec![Needs("gateway_model_definition", Update)]),
        ("POST", "/gateway/my-endpoint/mlflow/invocations", vec![Needs("gateway_endpoint_by_name", Use)]),
        ("POST", "/gateway/openai/v1/chat/completions", vec![Needs("gateway_endpoint_by_name", Use)]),
        ("POST", "/gateway/gemini/v1beta/models/my-endpoint:streamGenerateContent", vec![Needs("gateway_endpoint_by_name", Use)]),
        ("POST", "/api/2.0/mlflow/users/create", vec![Native]),
        ("GET", "/ajax-api/2.0/mlflow/users/list", vec![Native]),
        ("PATCH", "/api/2.0/mlflow/experiments/permissions/update", vec![Native]),
        ("DELETE", "/api/3.0/mlflow/gateway/endpoints/permissions/delete", vec![Native]),
        ("POST", "/api/3.0/mlflow/workspaces/default/permissions", vec![Admin]),
        ("GET", "/signup", vec![Native]),
        ("GET", "/ajax-api/3.0/mlflow/assistant/config", vec![AdminElseAnswer]),
        ("PUT", "/ajax-api/3.0/mlflow/assistant/config", vec![Admin]),
        ("GET", "/ajax-api/2.0/mlflow/gateway-proxy", vec![Authenticated]),
        ("POST", "/ajax-api/2.0/mlflow/gateway-proxy", vec![Admin]),
        ("POST", "/api/2.0/mlflow/users/create-ui", vec![Native]),
        ("POST", "/api/2.0/mlflow/webhooks", vec![Admin]),
        ("GET", "/metrics", vec![Admin]),
        ("POST", "/ajax-api/3.0/jobs/", vec![Admin]),
        // A guardrail itself is the admins'; attaching one needs the endpoint and
        // the guardrail's scorer, and an endpoint's list is the endpoint's.
        ("GET", "/api/3.0/mlflow/gateway/guardrails/get", vec![Admin]),
        ("POST", "/api/3.0/mlflow/gateway/guardrails/create", vec![Admin]),
        ("POST", "/ajax-api/3.0/mlflow/gateway/guardrails/add-to-endpoint", vec![Needs("gateway_endpoint", Update), Needs("guardrail_scorer", Read)]),
        ("PATCH", "/api/3.0/mlflow/gateway/guardrails/update-config", vec![Needs("gateway_endpoint", Update), Needs("guardrail_scorer", Read)]),
        ("DELETE", "/api/3.0/mlflow/gateway/guardrails/remove-from-endpoint", vec![Needs("gateway_endpoint", Update)]),
        ("GET", "/api/3.0/mlflow/gateway/guardrails/list-for-endpoint", vec![Needs("gateway_endpoint", Read)]),
        // Bulk registration adds versions to every skill it names.
        ("POST", "/api/3.0/mlflow/skills/bulk-register", vec![Needs("skills_in", Update)]),
        ("GET", "/ajax-api/3.0/mlflow/mcp-servers/endpoints", vec![Authenticated]),
        // Jobs are their submitter's, under both job APIs; the search is filtered.
        ("GET", "/ajax-api/3.0/jobs/0b3c4e1a", vec![OwnJob]),
        ("PATCH", "/ajax-api/3.0/jobs/cancel/0b3c4e1a", vec![OwnJob]),
        ("GET", "/ajax-api/3.0/mlflow/jobs/0b3c4e1a", vec![OwnJob]),
        ("PATCH", "/ajax-api/3.0/mlflow/jobs/cancel/0b3c4e1a", vec![OwnJob]),
        ("POST", "/ajax-api/3.0/jobs/search", vec![Authenticated]),
        ("POST", "/ajax-api/3.0/mlflow/genai/evaluate/invoke", vec![Needs("experiment", Update)]),
        ("GET", "/", vec![Authenticated]),
        ("GET", "/static-files/static/js/main.js", vec![Authenticated]),
        ("GET", "/health", vec![Authenticated]),
        ("GET", "/api/3.0/mlflow/server-info", vec![Authenticated]),
        ("POST", "/graphql", vec![GraphQl]),
    ]
}

fn target_kind(target: &Target) -> &'static str {
    match target {
        Target::Experiment(_) => "experiment",
        Target::Experiments(_) => "experiments",
        Target::ExperimentByName(_) => "experiment_by_name",
        Target::Run(_) => "run",
        Target::Runs(_) => "runs",
        Target::LoggedModel(_) => "logged_model",
        Target::Trace(_) => "trace",
        Target::TraceIfExists(_) => "trace_if_exists",
        Target::SourceUri(_) => "source_uri",
        Target::VersionSourceUri { .. } => "version_source_uri",
        Target::ModelVersionFiles { .. } => "model_version_files",
        Target::PromptUri(_) => "prompt_uri",
        Target::RegisteredModelsServingArtifact(_) => "registered_models_serving_artifact",
        Target::Traces(_) => "traces",
        Target::TracesIfExist(_) => "traces_if_exist",
        Target::Dataset(_) => "dataset",
        Target::RegisteredModel(_) => "registered_model",
        Target::ArtifactPath(_) => "artifact_path",
        Target::Scorer { .. } => "scorer",
        Target::GatewaySecret(_) => "gateway_secret",
        Target::GatewayEndpoint(_) => "gateway_endpoint",
        Target::GatewayEndpointByName(_) => "gateway_endpoint_by_name",
        Target::GatewayModelDefinition(_) => "gateway_model_definition",
        Target::GatewayModelDefinitions(_) => "gateway_model_definitions",
        Target::LoggedModelsIn(_) => "logged_models_in",
        Target::TraceFiles(_) => "trace_files",
        Target::WithoutTag { .. } => "without_tag",
        Target::Unset(_) => "unset",
        Target::ChildOfExperiment(ExperimentChild::LabelSchema, _) => "label_schema",
        Target::ChildOfExperiment(ExperimentChild::Issue, _) => "issue",
        Target::ChildOfExperiment(ExperimentChild::ReviewQueue, _) => "review_queue",
        Target::McpServer { .. } => "mcp_server",
        Target::Skill { .. } => "skill",
        Target::GuardrailScorer(_) => "guardrail_scorer",
        Target::SkillsIn(_) => "skills_in",
    }
}

/// The table's decision in the reference model's terms; optional checks are left
/// out, as they only ever add to a required one.
fn as_expectations(access: &Access) -> Vec<Expect> {
    let mut expectations = match access {
        Access::Authenticated => vec![Expect::Authenticated],
        Access::Admin => vec![Expect::Admin],
        Access::Native => vec![Expect::Native],
        Access::GraphQl => vec![Expect::GraphQl],
        Access::AdminElseAnswer(_) => vec![Expect::AdminElseAnswer],
        Access::OwnJob(_) => vec![Expect::OwnJob],
        Access::Checks(checks) => checks
            .iter()
            .filter(|check| !check.optional)
            .map(|check| Expect::Needs(target_kind(&check.target), check.capability))
            .collect(),
    };
    expectations.sort();
    expectations.dedup();
    expectations
}

#[test]
fn the_table_agrees_with_the_reference_model() {
    let mut disagreements = Vec::new();
    for (method_name, path, mut expected) in reference_model() {
        expected.sort();
        expected.dedup();
        match decide(method_name, path) {
            None => disagreements.push(format!("{method_name} {path}: no rule")),
            Some(rule) => {
                let actual = as_expectations(&rule.access);
                if actual != expected {
                    disagreements.push(format!(
                        "{method_name} {path}: table {actual:?}, reference {expected:?}"
                    ));
                }
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "table and reference model disagree:\n{}",
        disagreements.join("\n")
    );
}

/// Reads never need more than read, and nothing proxied needs MANAGE (that is for
/// the grant APIs mlguard serves itself).
#[test]
fn get_routes_only_read_and_nothing_proxied_needs_manage_but_a_short_list() {
    // MLflow 3.17 keeps these to the experiment's managers.
    const MANAGERS_ONLY: &[&str] = &[
        "/label-schemas/create",
        "/label-schemas/update",
        "/label-schemas/delete",
        "/review-queues/update",
        "/review-queues/delete",
        "/review-queues/items/remove",
        "/review-queues/items/set-status",
    ];
    // MLflow 3.17 shows a review queue to its members, its creator and the
    // experiment's editors; mlguard tracks neither members nor creator, so reading
    // one needs update.
    const EDITORS_READ: &[&str] = &[
        "/review-queues/get",
        "/review-queues/get-by-name",
        "/review-queues/list",
        "/review-queues/items/list",
    ];
    for (rule, path) in spelled() {
        let Access::Checks(checks) = rule.access else {
            continue;
        };
        assert!(!checks.is_empty(), "{} {}: no checks", rule.method, path);
        for check in checks {
            if !MANAGERS_ONLY.iter().any(|suffix| path.ends_with(suffix)) {
                assert_ne!(check.capability, Capability::Manage, "{}", path);
            }
            if rule.method == "GET" && !EDITORS_READ.iter().any(|suffix| path.ends_with(suffix)) {
                assert_eq!(check.capability, Read, "GET {}", path);
            }
        }
    }
}

/// Writes need more than read, except these POSTs that only query.
#[test]
fn writes_need_a_write_capability() {
    const READ_ONLY_POSTS: &[&str] = &[
        "/search",
        "/get-latest-versions",
        "/calculate-filter-correlation",
        "/traces/metrics",
        "/search-datasets",
        "/traces/batchGetInfos",
        // Signs a download.
        "/presigned-download-url",
    ];
    for (rule, path) in spelled() {
        let Access::Checks(checks) = rule.access else {
            continue;
        };
        // Open to anyone (experiment creation): the checks only forbid fields.
        let forbids_only = checks
            .iter()
            .all(|check| matches!(check.target, Target::Unset(_) | Target::WithoutTag { .. }));
        if rule.method == "GET" || forbids_only {
            continue;
        }
        let queries_only =
            rule.method == "POST" && READ_ONLY_POSTS.iter().any(|suffix| path.ends_with(suffix));
        let writes = checks
            .iter()
            .any(|check| !check.optional && check.capability != Read);
        assert_eq!(
            writes, !queries_only,
            "{} {} writes={writes}",
            rule.method, path
        );
    }
}

/// Only these routes are open to every signed-in user without a check or a
/// response filter: the UI shell and read-only server information.
#[test]
fn open_routes_are_an_explicit_short_list() {
    const OPEN: &[&str] = &[
        "/",
        "/static-files/{*path}",
        "/build/{*filename}",
        "/health",
        "/version",
        "/api/3.0/mlflow/server-info",
        "/ajax-api/3.0/mlflow/server-info",
        "/ajax-api/3.0/mlflow/gateway/supported-providers",
        "/ajax-api/3.0/mlflow/gateway/supported-models",
        "/ajax-api/3.0/mlflow/gateway/provider-config",
        "/ajax-api/3.0/mlflow/gateway/secrets/config",
        "/ajax-api/3.0/mlflow/ui-telemetry",
        // GET only: the deployments server's endpoint list, nothing else.
        "/ajax-api/2.0/mlflow/gateway-proxy",
    ];
    for (rule, path) in spelled() {
        if rule.access != Access::Authenticated {
            continue;
        }
        match rule.after {
            AfterHook::GrantCreator(_) => assert_eq!(rule.method, "POST", "{}", path),
            AfterHook::FilterList(_)
            | AfterHook::RedactForNonAdmins(_)
            | AfterHook::KeepOwnJobs => {}
            AfterHook::None => assert!(
                OPEN.contains(&path),
                "{} {} is open to everyone",
                rule.method,
                path
            ),
            other => panic!("{} {}: open route with {other:?}", rule.method, path),
        }
    }
}

#[test]
fn grant_apis_are_served_natively_or_kept_for_admins() {
    for (rule, path) in spelled() {
        let is_grant_api = path.contains("/users/")
            || path.contains("/roles/")
            || path.contains("permissions")
            || path == "/signup";
        // mlguard serves no workspaces; every other user and grant API it serves.
        let workspace = path.contains("workspace");
        match (is_grant_api, workspace) {
            (true, true) => assert_eq!(rule.access, Access::Admin, "{}", path),
            (true, false) => assert_eq!(rule.access, Access::Native, "{}", path),
            (false, _) => assert_ne!(rule.access, Access::Native, "{}", path),
        }
    }
}

#[test]
fn creators_get_manage_and_deletions_drop_grants() {
    let expect_after = |method_name: &str, path: &str, after: AfterHook| {
        let rule = decide(method_name, path).expect("rule");
        assert_eq!(rule.after, after, "{method_name} {path}");
    };
    expect_after(
        "POST",
        "/api/2.0/mlflow/experiments/create",
        AfterHook::GrantCreator(CreatedKind::Experiment),
    );
    expect_after(
        "POST",
        "/ajax-api/2.0/mlflow/registered-models/create",
        AfterHook::GrantCreator(CreatedKind::RegisteredModel),
    );
    expect_after(
        "POST",
        "/api/3.0/mlflow/scorers/register",
        AfterHook::GrantCreator(CreatedKind::Scorer),
    );
    expect_after(
        "POST",
        "/api/3.0/mlflow/gateway/model-definitions/create",
        AfterHook::GrantCreator(CreatedKind::GatewayModelDefinition),
    );
    expect_after(
        "POST",
        "/api/3.0/mlflow/mcp-servers",
        AfterHook::GrantCreator(CreatedKind::McpServer),
    );
    expect_after(
        "DELETE",
        "/ajax-api/3.0/mlflow/mcp-servers/team/search",
        AfterHook::DeleteGrants(Target::McpServer {
            namespace: Source::Path("namespace"),
            slug: Source::Path("slug"),
        }),
    );
    expect_after(
        "DELETE",
        "/api/2.0/mlflow/registered-models/delete",
        AfterHook::DeleteGrants(Target::RegisteredModel(Source::Param("name"))),
    );
    expect_after(
        "POST",
        "/api/2.0/mlflow/registered-models/rename",
        AfterHook::RenameRegisteredModel,
    );
    expect_after(
        "DELETE",
        "/api/3.0/mlflow/gateway/endpoints/delete",
        AfterHook::DeleteGrants(Target::GatewayEndpoint(Source::Param("endpoint_id"))),
    );
    expect_after(
        "GET",
        "/api/2.0/mlflow/model-versions/search",
        AfterHook::FilterList(ListKind::ModelVersions),
    );
    // Every route that submits a job records its submitter, where its answer names
    // the job: alone, in a list, or inside the optimization job.
    for (method, path, at) in [
        ("POST", "/ajax-api/3.0/jobs/", SubmittedJobs::One("/job_id")),
        (
            "POST",
            "/ajax-api/3.0/mlflow/genai/evaluate/invoke",
            SubmittedJobs::One("/job_id"),
        ),
        (
            "POST",
            "/ajax-api/3.0/mlflow/issues/invoke",
            SubmittedJobs::One("/job_id"),
        ),
        (
            "POST",
            "/ajax-api/3.0/mlflow/scorer/invoke",
            SubmittedJobs::Each("/jobs"),
        ),
        (
            "POST",
            "/api/3.0/mlflow/prompt-optimization/jobs",
            SubmittedJobs::One("/job/job_id"),
        ),
    ] {
        expect_after(method, path, AfterHook::RecordJobOwner(at));
    }
    expect_after("POST", "/ajax-api/3.0/jobs/search", AfterHook::KeepOwnJobs);
    expect_after(
        "GET",
        "/api/3.0/mlflow/mcp-servers/endpoints",
        AfterHook::FilterList(ListKind::McpAccessEndpoints),
    );
    expect_after(
        "GET",
        "/ajax-api/3.0/mlflow/gateway/guardrails/list-for-endpoint",
        AfterHook::RedactGuardrailScorers,
    );
    // A deleted scorer's grants go with it, keyed like its check.
    let rule = decide("DELETE", "/api/3.0/mlflow/scorers/delete").expect("rule");
    assert_eq!(
        rule.after,
        AfterHook::DeleteGrants(single_check(rule).target)
    );
}

/// The seed case: the artifact list call carries its experiment in `?path=`, and
/// the download call in the URL path. Both go through the artifact path's first
/// segment, with read.
#[test]
fn both_artifact_forms_resolve_the_experiment_from_the_artifact_path() {
    for prefix in ["/api/2.0", "/ajax-api/2.0"] {
        for method_name in ["GET", "HEAD"] {
            let download =
                format!("{prefix}/mlflow-artifacts/artifacts/12/models/m-abc/artifacts/MLmodel");
            let found = match_route(method(method_name), &download).expect("download rule");
            let check = single_check(found.rule);
            assert_eq!(
                (check.target, check.capability),
                (Target::ArtifactPath(Source::Path("artifact_path")), Read)
            );
            // Else a reader of a registered model whose version holds these files.
            let alternative = check.otherwise.expect("registry readers' alternative");
            assert_eq!(
                (alternative.target, alternative.quantifier),
                (
                    Target::RegisteredModelsServingArtifact(Source::Path("artifact_path")),
                    Quantifier::Any
                )
            );
            assert_eq!(
                found.param("artifact_path"),
                Some("12/models/m-abc/artifacts/MLmodel")
            );

            let list = format!("{prefix}/mlflow-artifacts/artifacts");
            let found = match_route(method(method_name), &list).expect("list rule");
            let check = single_check(found.rule);
            assert_eq!(
                (check.target, check.capability),
                (Target::ArtifactPath(Source::Query("path")), Read)
            );
            assert_eq!(
                check.otherwise.map(|alternative| alternative.target),
                Some(Target::RegisteredModelsServingArtifact(Source::Query(
                    "path"
                )))
            );
        }
    }
}

fn single_check(rule: &RouteRule) -> Check {
    match rule.access {
        Access::Checks([check]) => *check,
        other => panic!(
            "{} {}: one check expected, got {other:?}",
            rule.method, rule.paths[0]
        ),
    }
}

#[test]
fn gemini_routes_capture_the_endpoint_with_its_verb() {
    for verb in ["generateContent", "streamGenerateContent"] {
        let path = format!("/gateway/gemini/v1beta/models/my-endpoint:{verb}");
        let found = match_route("POST", &path).expect("gemini rule");
        assert_eq!(
            found.param("endpoint_name_and_verb"),
            Some(format!("my-endpoint:{verb}").as_str())
        );
    }
    // A static gateway route does not shadow an endpoint that happens to share its name.
    let found = match_route("POST", "/gateway/openai/mlflow/invocations").expect("rule");
    assert_eq!(
        found.rule.paths,
        ["/gateway/{endpoint_name}/mlflow/invocations"]
    );
    assert_eq!(found.param("endpoint_name"), Some("openai"));
}

fn param_names(path: &str) -> Vec<String> {
    path.split('{')
        .skip(1)
        .filter_map(|part| part.split_once('}'))
        .map(|(name, _)| name.trim_start_matches('*').to_owned())
        .collect()
}

fn sources(rule: &RouteRule) -> Vec<Source> {
    let mut targets = Vec::new();
    if let Access::Checks(checks) = rule.access {
        targets.extend(checks.iter().map(|check| check.target));
    }
    if let AfterHook::DeleteGrants(target) = rule.after {
        targets.push(target);
    }
    targets
        .into_iter()
        .flat_map(|target| target.sources())
        .collect()
}
