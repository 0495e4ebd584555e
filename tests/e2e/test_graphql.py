"""GraphQL through mlguard, in front of a real MLflow 3.10.1 tracking server.

Every root field is decided on its own: a field the caller may not read comes back
as null with an error, the rest is answered by MLflow. Model versions of registered
models the caller may not read are removed from every list.

Users (default_permission = NO_PERMISSIONS): alice owns an experiment with a run;
bob holds READ on it; carol owns her own experiment and run and holds no grant on
alice's. A model version nobody but the admin may read is linked to carol's run.
"""

from __future__ import annotations

import time

import pytest
import requests

from conftest import Mlguard, unique
from mlflow_upstream import MlflowServer

ALICE_PARAM_VALUE = "alice-secret-" + unique("value")

RUN_FIELDS = "run { info { runId experimentId } data { params { key value } } }"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-graphql")).start()
    yield server
    server.stop()


class Scene:
    def __init__(self, guard: Mlguard):
        self.guard = guard
        self.url = guard.base_url
        self.users = {name: guard.create_user(unique(name)) for name in ("alice", "bob", "carol")}

    def auth(self, who: str):
        return self.guard.admin_auth() if who == "admin" else self.users[who]

    def http(self, who: str, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, self.url + path, auth=self.auth(who), timeout=60, **kwargs)

    def rest(self, who: str, path: str, body: dict) -> dict:
        r = self.http(who, "POST", "/api/2.0/mlflow/" + path, json=body)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()

    def graphql(self, who: str, query: str, variables: dict | None = None,
                operation_name: str | None = None, method: str = "POST") -> requests.Response:
        body = {"query": query}
        if variables is not None:
            body["variables"] = variables
        if operation_name is not None:
            body["operationName"] = operation_name
        return self.http(who, method, "/graphql", json=body)

    def experiment_with_run(self, who: str) -> tuple[str, str]:
        experiment_id = self.rest(who, "experiments/create", {"name": unique(f"{who}-exp")})["experiment_id"]
        run_id = self.rest(who, "runs/create", {"experiment_id": experiment_id})["run"]["info"]["run_id"]
        return experiment_id, run_id

    def model_version(self, who: str, run_id: str) -> str:
        name = unique(f"{who}-model")
        self.rest(who, "registered-models/create", {"name": name})
        self.rest(who, "model-versions/create",
                  {"name": name, "source": f"runs:/{run_id}/model", "run_id": run_id})
        return name


@pytest.fixture(scope="module")
def scene(upstream, tmp_path_factory):
    guard = Mlguard(
        tmp_path_factory.mktemp("guard-graphql"),
        default_permission="NO_PERMISSIONS",
        extra_env={"MLGUARD_UPSTREAM__URL": upstream.url},
    ).start()
    try:
        s = Scene(guard)
        s.alice_exp, s.alice_run = s.experiment_with_run("alice")
        s.rest("alice", "runs/log-parameter",
               {"run_id": s.alice_run, "key": "alpha", "value": ALICE_PARAM_VALUE})
        s.rest("alice", "runs/log-metric", {"run_id": s.alice_run, "key": "accuracy",
                                            "value": 0.9, "timestamp": int(time.time() * 1000),
                                            "step": 0})
        s.carol_exp, s.carol_run = s.experiment_with_run("carol")
        s.rest("carol", "runs/log-parameter", {"run_id": s.carol_run, "key": "beta", "value": "1"})
        s.alice_model = s.model_version("alice", s.alice_run)
        s.carol_model = s.model_version("carol", s.carol_run)
        # Linked to carol's run, readable by nobody but the admin.
        s.hidden_model = s.model_version("admin", s.carol_run)
        r = s.http("admin", "POST", "/api/2.0/mlflow/experiments/permissions/create",
                   json={"experiment_id": s.alice_exp, "username": s.users["bob"][0],
                         "permission": "READ"})
        assert r.status_code == 200, r.text
        yield s
    finally:
        guard.stop()
        guard.assert_no_secret_in_logs()


def assert_nothing_of_alice(scene: Scene, r: requests.Response) -> None:
    for secret in (scene.alice_run, ALICE_PARAM_VALUE, scene.alice_model):
        assert secret not in r.text, (secret, r.text)


def test_aliased_fields_are_decided_one_by_one(scene):
    r = scene.graphql("carol", f"""{{
        mine: mlflowGetRun(input: {{runId: "{scene.carol_run}"}}) {{ {RUN_FIELDS} }}
        theirs: mlflowGetRun(input: {{runId: "{scene.alice_run}"}}) {{ {RUN_FIELDS} }}
    }}""")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"]["mine"]["run"]["info"]["runId"] == scene.carol_run
    assert body["data"]["mine"]["run"]["data"]["params"] == [{"key": "beta", "value": "1"}]
    assert body["data"]["theirs"] is None
    assert body["errors"] == ["Permission denied for field 'theirs'."]
    assert_nothing_of_alice(scene, r)


def test_a_reader_gets_the_run_and_the_owner_everything(scene):
    for who in ("bob", "alice"):
        r = scene.graphql(who, f"""{{
            mlflowGetRun(input: {{runUuid: "{scene.alice_run}"}}) {{ {RUN_FIELDS} }}
            mlflowGetExperiment(input: {{experimentId: "{scene.alice_exp}"}}) {{ experiment {{ experimentId }} }}
            history: mlflowGetMetricHistoryBulkInterval(input: {{runIds: ["{scene.alice_run}"], metricKey: "accuracy"}}) {{ metrics {{ value }} }}
            files: mlflowListArtifacts(input: {{runId: "{scene.alice_run}"}}) {{ files {{ path }} }}
        }}""")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["errors"] is None, (who, body)
        assert body["data"]["mlflowGetRun"]["run"]["data"]["params"] == [
            {"key": "alpha", "value": ALICE_PARAM_VALUE}]
        assert body["data"]["mlflowGetExperiment"]["experiment"]["experimentId"] == scene.alice_exp
        assert body["data"]["history"]["metrics"] == [{"value": 0.9}]


def test_every_field_on_alices_things_is_null_for_carol(scene):
    r = scene.graphql("carol", f"""{{
        mlflowGetExperiment(input: {{experimentId: "{scene.alice_exp}"}}) {{ experiment {{ name }} }}
        history: mlflowGetMetricHistoryBulkInterval(input: {{runIds: ["{scene.carol_run}", "{scene.alice_run}"], metricKey: "accuracy"}}) {{ metrics {{ runId value }} }}
        files: mlflowListArtifacts(input: {{runId: "{scene.alice_run}"}}) {{ rootUri files {{ path }} }}
        __typename
    }}""")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"] == {"__typename": "Query", "mlflowGetExperiment": None,
                            "history": None, "files": None}
    assert sorted(body["errors"]) == sorted(
        f"Permission denied for field '{key}'." for key in ("mlflowGetExperiment", "history", "files"))
    assert_nothing_of_alice(scene, r)


def test_variables_are_authorized_as_their_values(scene):
    query = f"""query Runs($mine: MlflowGetRunInput!, $theirs: String, $unset: String) {{
        a: mlflowGetRun(input: $mine) {{ {RUN_FIELDS} }}
        b: mlflowGetRun(input: {{runId: $theirs}}) {{ {RUN_FIELDS} }}
        c: mlflowGetRun(input: {{runId: $unset}}) {{ {RUN_FIELDS} }}
    }}"""
    r = scene.graphql("carol", query, variables={
        "mine": {"runId": scene.carol_run}, "theirs": scene.alice_run})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"]["a"]["run"]["info"]["runId"] == scene.carol_run
    assert body["data"]["b"] is None and body["data"]["c"] is None
    assert sorted(body["errors"]) == ["Permission denied for field 'b'.",
                                      "Permission denied for field 'c'."]
    assert_nothing_of_alice(scene, r)
    # bob may read alice's run, so the same query answers it.
    r = scene.graphql("bob", query, variables={
        "mine": {"runId": scene.alice_run}, "theirs": scene.alice_run, "unset": None})
    body = r.json()
    assert body["data"]["a"]["run"]["info"]["runId"] == scene.alice_run
    assert body["data"]["b"]["run"]["info"]["runId"] == scene.alice_run
    assert body["data"]["c"] is None


def test_get_with_a_json_body_is_authorized_like_post(scene):
    """MLflow 3.10.1 reads GraphQL only from the JSON body, also on GET."""
    query = f"""{{
        mine: mlflowGetRun(input: {{runId: "{scene.carol_run}"}}) {{ {RUN_FIELDS} }}
        theirs: mlflowGetRun(input: {{runId: "{scene.alice_run}"}}) {{ {RUN_FIELDS} }}
    }}"""
    r = scene.graphql("carol", query, method="GET")
    assert r.status_code == 200, r.text
    assert r.json()["data"]["mine"]["run"]["info"]["runId"] == scene.carol_run
    assert r.json()["data"]["theirs"] is None
    assert_nothing_of_alice(scene, r)


def test_a_query_in_the_url_is_refused(scene):
    """MLflow ignores `?query=` (and answers 500); mlguard says why instead."""
    query = f'{{ mlflowGetRun(input: {{runId: "{scene.alice_run}"}}) {{ {RUN_FIELDS} }} }}'
    r = scene.http("carol", "GET", "/graphql", params={"query": query})
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == "BAD_REQUEST"
    assert ALICE_PARAM_VALUE not in r.text


def test_search_runs_is_narrowed_to_readable_experiments(scene):
    """As MLflow narrows it: an unreadable experiment among the requested ones is
    dropped, not an error, and a search over only unreadable ones finds nothing."""
    query = """query Search($ids: [String]) {
        mlflowSearchRuns(input: {experimentIds: $ids}) { runs { info { runId experimentId } } }
    }"""
    r = scene.graphql("carol", query, variables={"ids": [scene.carol_exp, scene.alice_exp]})
    assert r.status_code == 200, r.text
    runs = r.json()["data"]["mlflowSearchRuns"]["runs"]
    assert [run["info"]["runId"] for run in runs] == [scene.carol_run]
    assert r.json()["errors"] is None
    assert_nothing_of_alice(scene, r)
    # A literal list, in the shorthand query form, with an alias, narrowed alike.
    r = scene.graphql("carol", f"""{{
        mine: mlflowSearchRuns(input: {{experimentIds: ["{scene.alice_exp}", "{scene.carol_exp}"], maxResults: 5}}) {{
            runs {{ info {{ runId }} }} }} }}""")
    assert [run["info"]["runId"] for run in r.json()["data"]["mine"]["runs"]] == [scene.carol_run], r.text
    r = scene.graphql("carol", query, variables={"ids": [scene.carol_exp]})
    runs = r.json()["data"]["mlflowSearchRuns"]["runs"]
    assert [run["info"]["runId"] for run in runs] == [scene.carol_run]
    # The mutation root has the same search; the dataset search still needs every id.
    r = scene.graphql("carol", f"""mutation {{
        mlflowSearchRuns(input: {{experimentIds: ["{scene.alice_exp}"]}}) {{ runs {{ info {{ runId }} }} nextPageToken }}
        mlflowSearchDatasets(input: {{experimentIds: ["{scene.alice_exp}"]}}) {{ datasetSummaries {{ name }} }}
        own: mlflowSearchDatasets(input: {{experimentIds: ["{scene.carol_exp}"]}}) {{ datasetSummaries {{ name }} }}
    }}""")
    body = r.json()
    assert body["data"]["mlflowSearchRuns"] == {"runs": [], "nextPageToken": None}, body
    assert body["data"]["mlflowSearchDatasets"] is None
    assert body["data"]["own"] == {"datasetSummaries": []}
    assert body["errors"] == ["Permission denied for field 'mlflowSearchDatasets'."]
    assert_nothing_of_alice(scene, r)


def test_search_model_versions_keeps_only_readable_models(scene):
    r = scene.graphql("carol", f"""{{
        byRun: mlflowSearchModelVersions(input: {{filter: "run_id='{scene.carol_run}'"}}) {{ modelVersions {{ name version }} }}
        byName: mlflowSearchModelVersions(input: {{filter: "name='{scene.alice_model}'"}}) {{ modelVersions {{ version runId }} }}
        noName: mlflowSearchModelVersions(input: {{filter: "run_id='{scene.carol_run}'"}}) {{ modelVersions {{ version }} }}
    }}""")
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert [v["name"] for v in data["byRun"]["modelVersions"]] == [scene.carol_model]
    assert data["byName"]["modelVersions"] == []
    # Filtered even when the caller did not ask for the model's name.
    assert data["noName"]["modelVersions"] == [{"version": "1"}]
    assert "mlguardRegisteredModelName" not in r.text
    assert scene.hidden_model not in r.text
    assert_nothing_of_alice(scene, r)


def test_a_runs_model_versions_keep_only_readable_models(scene):
    query = f"""{{ mlflowGetRun(input: {{runId: "{scene.carol_run}"}}) {{
        run {{ ...Versions }} }} }}
        fragment Versions on MlflowRunExtension {{ modelVersions {{ name }} mv: modelVersions {{ version }} }}"""
    r = scene.graphql("carol", query)
    assert r.status_code == 200, r.text
    run = r.json()["data"]["mlflowGetRun"]["run"]
    assert run["modelVersions"] == [{"name": scene.carol_model}]
    assert run["mv"] == [{"version": "1"}]
    assert scene.hidden_model not in r.text
    # The admin is not filtered: both versions linked to the run.
    r = scene.graphql("admin", query)
    names = sorted(v["name"] for v in r.json()["data"]["mlflowGetRun"]["run"]["modelVersions"])
    assert names == sorted([scene.carol_model, scene.hidden_model])


def test_the_admin_is_forwarded_untouched(scene):
    r = scene.graphql("admin", f"""{{
        theirs: mlflowGetRun(input: {{runId: "{scene.alice_run}"}}) {{ {RUN_FIELDS} }}
        mlflowSearchModelVersions(input: {{filter: "run_id='{scene.carol_run}'"}}) {{ modelVersions {{ version }} }}
    }}""")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["errors"] is None
    assert body["data"]["theirs"]["run"]["info"]["runId"] == scene.alice_run
    assert len(body["data"]["mlflowSearchModelVersions"]["modelVersions"]) == 2


def test_what_cannot_be_decided_is_refused(scene):
    alice = scene.alice_run
    # A fragment at the root, an unknown root field, a field no one can decide.
    r = scene.graphql("carol", f"""query {{
        ...Root
        ... on Query {{ x: mlflowGetRun(input: {{runId: "{alice}"}}) {{ {RUN_FIELDS} }} }}
        mlflowDeleteRun(input: {{runId: "{alice}"}}) {{ apiError {{ code }} }}
        echo: test(inputString: "hi") {{ output }}
        __schema {{ queryType {{ name }} }}
    }}
    fragment Root on Query {{ mlflowGetRun(input: {{runId: "{alice}"}}) {{ {RUN_FIELDS} }} }}""")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"]["echo"] == {"output": "hi"}
    assert body["data"]["__schema"] == {"queryType": {"name": "Query"}}
    assert body["data"]["mlflowDeleteRun"] is None
    assert "mlflowGetRun" not in body["data"] and "x" not in body["data"]
    assert len(body["errors"]) == 3
    assert_nothing_of_alice(scene, r)

    # Only denied fields: MLflow is not asked, the answer is still GraphQL's shape.
    r = scene.graphql("carol", f'{{ t: mlflowGetRun(input: {{runId: "{alice}"}}) {{ {RUN_FIELDS} }} }}')
    assert r.json() == {"data": {"t": None}, "errors": ["Permission denied for field 't'."]}

    # Whole requests mlguard cannot read are 400s in MLflow's error shape.
    bad = [
        [{"query": f'{{ mlflowGetRun(input: {{runId: "{alice}"}}) {{ {RUN_FIELDS} }} }}'}],
        {"query": "{ mlflowGetRun(input: {runId: "},
        {"query": "query A { __typename } query B { __typename }"},
        {"query": "{ __typename }", "variables": ["x"]},
        {"variables": {}},
    ]
    for body in bad:
        r = scene.http("carol", "POST", "/graphql", json=body)
        assert r.status_code == 400, (body, r.status_code, r.text)
        assert r.json()["error_code"] == "BAD_REQUEST"
        assert_nothing_of_alice(scene, r)

    # Several operations are fine when one is named.
    r = scene.graphql("carol", "query A { __typename } query B { test(inputString: \"b\") { output } }",
                      operation_name="B")
    assert r.json() == {"data": {"test": {"output": "b"}}, "errors": None}


def test_carol_never_sees_alices_run_in_any_shape(scene):
    alice, carol = scene.alice_run, scene.carol_run
    shapes = [
        (f'{{ a: mlflowGetRun(input: {{runId: "{alice}", runUuid: "{carol}"}}) {{ {RUN_FIELDS} }} }}', None),
        (f'{{ a: mlflowGetRun(input: {{runId: "{carol}", runUuid: "{alice}"}}) {{ {RUN_FIELDS} }} }}', None),
        (f'{{ a: mlflowGetRun(input: {{runId: "", runUuid: "{alice}"}}) {{ {RUN_FIELDS} }} }}', None),
        ('query Q($i: MlflowGetRunInput) { a: mlflowGetRun(input: $i) { ' + RUN_FIELDS + ' } }',
         {"i": {"runUuid": alice}}),
        ('query Q($i: String = "' + alice + '") { a: mlflowGetRun(input: {runId: $i}) { ' + RUN_FIELDS + ' } }',
         None),
        (f'{{ a: mlflowSearchRuns(input: {{experimentIds: "{scene.alice_exp}"}}) {{ runs {{ info {{ runId }} }} }} }}', None),
        (f'{{ a: mlflowSearchRuns(input: {{filter: "attributes.run_id = \'{alice}\'"}}) {{ runs {{ info {{ runId }} }} }} }}', None),
        (f'{{ a: mlflowSearchModelVersions(input: {{filter: "run_id=\'{alice}\'"}}) {{ modelVersions {{ runId source }} }} }}', None),
        (f'{{ a: mlflowGetRun(input: {{runId: "{carol}"}}) {{ run {{ info {{ runId }} }} }}'
         f' a: mlflowGetRun(input: {{runId: "{alice}"}}) {{ run {{ info {{ runId }} }} }} }}', None),
    ]
    for query, variables in shapes:
        r = scene.graphql("carol", query, variables=variables)
        assert r.status_code in (200, 400), (query, r.status_code, r.text)
        assert_nothing_of_alice(scene, r)


def test_floods_are_refused_before_any_decision(scene):
    """Thousands of aliased root fields, deep nesting or a huge query: 400 up front,
    never forwarded field by field."""
    flood = "{ " + " ".join(f'a{i}: mlflowGetRun(input: {{runId: "{scene.carol_run}"}}) '
                            '{ run { info { runId } } }' for i in range(2000)) + " }"
    deep = "{ __schema { " + "types { fields { type { " * 8 + "name" + " } } }" * 8 + " } }"
    huge = "{ __typename " + "# padding\n" * 10000 + "}"
    for query in (flood, deep, huge):
        r = scene.graphql("carol", query)
        assert r.status_code == 400, r.text[:300]
        assert r.json()["error_code"] == "BAD_REQUEST"
    # An ordinary query still works.
    r = scene.graphql("carol", f'{{ mlflowGetRun(input: {{runId: "{scene.carol_run}"}}) {{ run {{ info {{ runId }} }} }} }}')
    assert r.json()["data"]["mlflowGetRun"]["run"]["info"]["runId"] == scene.carol_run
