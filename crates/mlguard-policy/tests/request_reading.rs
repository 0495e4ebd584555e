//! Reading ids from a request view, and the policy's other readers: each test
//! states where MLflow's handler reads a value, so a reader that reads elsewhere
//! (and would let MLflow act on an id mlguard did not check) fails here.

use mlguard_domain::{ExperimentId, Resource};
use mlguard_policy::{
    AfterHook, BodyNeed, CreatedKind, FieldNeed, GraphQlRoot, Headers, InputError, RequestView,
    Requirement, Source, graphql_field, match_route, run_id_or_uuid,
};
use serde_json::{Value, json};

struct NoHeaders;

impl Headers for NoHeaders {
    fn values(&self, _name: &str) -> Vec<Option<&str>> {
        Vec::new()
    }
}

struct OneHeader(&'static str, Option<&'static str>, usize);

impl Headers for OneHeader {
    fn values(&self, name: &str) -> Vec<Option<&str>> {
        if name.eq_ignore_ascii_case(self.0) {
            vec![self.1; self.2]
        } else {
            Vec::new()
        }
    }
}

fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn view<'a>(
    headers: &'a dyn Headers,
    method: &'a str,
    route: &'a mlguard_policy::RouteMatch,
    query: &'a [(String, String)],
    body: Option<&'a Value>,
) -> RequestView<'a> {
    RequestView {
        method,
        headers,
        query,
        body,
        otlp_traces: None,
        route,
    }
}

/// Reads `source` from a request to `path` with this method, query and body.
fn read(
    method: &str,
    path: &str,
    pairs: &[(&str, &str)],
    body: Option<Value>,
    source: Source,
) -> Result<Option<String>, InputError> {
    let route = match_route(method, path).expect("a routed path");
    let query = query(pairs);
    view(&NoHeaders, method, &route, &query, body.as_ref()).one(source)
}

#[test]
fn a_param_is_read_from_the_query_on_get_and_from_the_body_otherwise() {
    let name = Source::Param("experiment_id");
    let get = "/api/2.0/mlflow/experiments/get";
    assert_eq!(
        read("GET", get, &[("experiment_id", "7")], None, name).expect("read"),
        Some("7".to_owned())
    );
    // A GET's body is not where MLflow looks.
    assert_eq!(
        read("GET", get, &[], Some(json!({"experiment_id": "7"})), name).expect("read"),
        None
    );
    let update = "/api/2.0/mlflow/experiments/update";
    assert_eq!(
        read(
            "POST",
            update,
            &[],
            Some(json!({"experimentId": "8"})),
            name
        )
        .expect("camel"),
        Some("8".to_owned())
    );
    // The query must not say something else than the body it sits beside.
    assert!(
        read(
            "POST",
            update,
            &[("experiment_id", "9")],
            Some(json!({"experiment_id": "8"})),
            name
        )
        .is_err()
    );
}

#[test]
fn a_delete_reads_its_body_when_it_has_one_and_its_query_otherwise() {
    let route = match_route("DELETE", "/api/3.0/mlflow/scorers/delete").expect("routed");
    let name = Source::Param("experiment_id");
    let from_query = query(&[("experiment_id", "3")]);
    let body = json!({"experiment_id": "4"});
    let view = |body| view(&NoHeaders, "DELETE", &route, &from_query, body);
    assert_eq!(view(None).one(name).expect("query"), Some("3".to_owned()));
    assert!(
        view(Some(&body)).one(name).is_err(),
        "a body saying 4 beside a query saying 3 is a conflict"
    );
}

#[test]
fn the_run_is_run_id_or_else_run_uuid_and_two_runs_are_refused() {
    assert_eq!(
        run_id_or_uuid(Some(String::new()), Some("r9".into())).expect("falls through"),
        Some("r9".to_owned())
    );
    assert_eq!(
        run_id_or_uuid(Some("r1".into()), Some("r1".into())).expect("same run"),
        Some("r1".to_owned())
    );
    assert!(run_id_or_uuid(Some("r1".into()), Some("r9".into())).is_err());
    assert_eq!(
        run_id_or_uuid(None, Some(String::new())).expect("none"),
        None
    );

    let get = "/api/2.0/mlflow/runs/get";
    assert!(
        read(
            "GET",
            get,
            &[("run_id", "r1"), ("run_uuid", "r9")],
            None,
            Source::RunId
        )
        .is_err()
    );
    let log = "/api/2.0/mlflow/runs/log-metric";
    assert_eq!(
        read(
            "POST",
            log,
            &[],
            Some(json!({"run_id": "", "run_uuid": "r9"})),
            Source::RunId
        )
        .expect("read"),
        Some("r9".to_owned())
    );
    assert!(
        read(
            "POST",
            log,
            &[],
            Some(json!({"run_id": "r1", "run_uuid": "r9"})),
            Source::RunId
        )
        .is_err()
    );
}

#[test]
fn a_header_is_read_once_and_only_as_text() {
    let route = match_route("POST", "/v1/traces").expect("routed");
    let source = Source::Header("x-mlflow-experiment-id");
    let read = |headers: OneHeader| view(&headers, "POST", &route, &[], None).one(source);
    let header = |value, times| OneHeader("x-mlflow-experiment-id", value, times);
    assert_eq!(
        read(header(Some("5"), 1)).expect("one"),
        Some("5".to_owned())
    );
    assert!(
        read(header(Some("5"), 2)).is_err(),
        "two values, two readings"
    );
    assert!(read(header(None, 1)).is_err(), "not text");
    assert_eq!(read(header(Some("5"), 0)).expect("none"), None);
}

#[test]
fn the_body_is_read_only_where_a_row_needs_it() {
    let need = |method: &str, path: &str| {
        // What the gateway reads: the match's need, worked out when the table is
        // indexed, agrees with the row's.
        let found = match_route(method, path).expect("routed");
        assert_eq!(found.body_need, found.rule.needs_body(), "{method} {path}");
        found.body_need
    };
    assert_eq!(need("GET", "/api/2.0/mlflow/runs/get"), BodyNeed::Nothing);
    assert_eq!(need("HEAD", "/api/2.0/mlflow/runs/get"), BodyNeed::Nothing);
    assert_eq!(
        need("POST", "/api/2.0/mlflow/runs/log-metric"),
        BodyNeed::Json
    );
    assert_eq!(need("POST", "/v1/traces"), BodyNeed::OtlpExport);
    assert_eq!(need("POST", "/graphql"), BodyNeed::Json);
    // A list filter re-sends the search body page after page.
    assert_eq!(
        need("POST", "/api/2.0/mlflow/experiments/search"),
        BodyNeed::Json
    );
    assert!(AfterHook::GrantCreator(CreatedKind::Scorer).reads_body());
    assert!(!AfterHook::GrantCreator(CreatedKind::Experiment).reads_body());
}

#[test]
fn a_creation_answer_names_what_was_created() {
    let answer = json!({"experiment_id": "12"});
    assert_eq!(
        CreatedKind::Experiment.created(&answer),
        Some(Resource::Experiment(ExperimentId::parse("12").expect("id")))
    );
    assert_eq!(
        CreatedKind::Experiment.created(&json!({"experiment_id": "012"})),
        None
    );
    assert_eq!(CreatedKind::RegisteredModel.created(&answer), None);
    assert_eq!(CreatedKind::Scorer.response_pointer(), None);
}

#[test]
fn graphql_fields_are_decided_by_their_row() {
    assert!(graphql_field(GraphQlRoot::Query, "mlflowDeleteEverything").is_none());
    assert!(graphql_field(GraphQlRoot::Mutation, "mlflowGetRun").is_none());
    assert!(graphql_field(GraphQlRoot::Mutation, "mlflowSearchRuns").is_some());
    let run = graphql_field(GraphQlRoot::Query, "mlflowGetRun")
        .expect("row")
        .need;
    assert_eq!(run, FieldNeed::ReadRun);
    let input = |value: Value| value.as_object().cloned().expect("object");
    assert_eq!(
        run.requirement(&input(json!({"runId": "", "runUuid": "r2"}))),
        Requirement::ReadRuns(vec!["r2".to_owned()])
    );
    assert!(matches!(
        run.requirement(&input(json!({"runId": "r1", "runUuid": "r2"}))),
        Requirement::Refused(_)
    ));
    let search = graphql_field(GraphQlRoot::Query, "mlflowSearchRuns")
        .expect("row")
        .need;
    assert_eq!(
        search.requirement(&input(json!({"experimentIds": "3"}))),
        Requirement::NarrowExperiments(vec!["3".to_owned()])
    );
    assert!(matches!(
        search.requirement(&input(json!({"experimentIds": []}))),
        Requirement::Refused(_)
    ));
}
