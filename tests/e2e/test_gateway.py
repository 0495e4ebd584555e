"""The gateway end to end: the real mlflow 3.10.1 client, through the real mlguard
binary, in front of a real MLflow 3.10.1 tracking server (no auth, --serve-artifacts).

Users: alice creates things (and so manages them), bob holds explicit grants, carol
holds none. Every module-level scenario runs with default_permission READ and
NO_PERMISSIONS.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
import os

import pytest
import requests

from conftest import Mlguard, free_port, unique
from mlflow_upstream import MlflowServer


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    server = MlflowServer(tmp_path_factory.mktemp("mlflow")).start()
    yield server
    server.stop()


class World:
    """An mlguard in front of the shared MLflow, with three users."""

    def __init__(self, guard: Mlguard, default: str):
        self.guard = guard
        self.default = default
        self.url = guard.base_url
        self.users = {name: guard.create_user(unique(name)) for name in ("alice", "bob", "carol")}

    def auth(self, who: str):
        if who == "admin":
            return self.guard.admin_auth()
        return self.users[who]

    def http(self, who: str, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, self.url + path, auth=self.auth(who), timeout=60, **kwargs)

    def grant(self, kind: str, key: str, who: str, permission: str) -> None:
        field = {"experiments": "experiment_id", "registered-models": "name"}[kind]
        r = self.http("admin", "POST", f"/api/2.0/mlflow/{kind}/permissions/create",
                      json={field: key, "username": self.users[who][0], "permission": permission})
        assert r.status_code == 200, r.text


@pytest.fixture(scope="module", params=["READ", "NO_PERMISSIONS"])
def world(request, upstream, tmp_path_factory):
    guard = Mlguard(
        tmp_path_factory.mktemp(f"guard-{request.param.lower()}"),
        default_permission=request.param,
        extra_env={"MLGUARD_UPSTREAM__URL": upstream.url},
    ).start()
    try:
        yield World(guard, request.param)
    finally:
        guard.stop()
        guard.assert_no_secret_in_logs()


@pytest.fixture
def as_user(world, monkeypatch):
    """Switches the mlflow client's identity; returns a client for that user."""
    import mlflow
    from mlflow import MlflowClient

    def use(who: str) -> MlflowClient:
        username, password = world.auth(who)
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", username)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
        mlflow.set_tracking_uri(world.url)
        return MlflowClient(tracking_uri=world.url)

    yield use
    mlflow.set_tracking_uri(None)


def denied(excinfo) -> bool:
    text = str(excinfo.value)
    return "PERMISSION_DENIED" in text or "403" in text


@pytest.fixture
def alice_run(world, as_user, tmp_path):
    """alice's experiment with a finished run: params, a metric, an artifact and a
    logged sklearn model."""
    import mlflow
    from sklearn.linear_model import LogisticRegression

    as_user("alice")
    experiment_id = mlflow.create_experiment(unique("alice-exp"))
    artifact = tmp_path / "notes.txt"
    artifact.write_text("hello from alice")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_param("alpha", "0.5")
        mlflow.log_metric("accuracy", 0.9)
        mlflow.log_artifact(str(artifact))
        model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
        info = mlflow.sklearn.log_model(model, name="model")
    return {"experiment_id": experiment_id, "run_id": run.info.run_id, "model": info}


def test_creator_gets_manage_and_can_do_everything(world, as_user, alice_run):
    client = as_user("alice")
    r = world.http("admin", "GET", "/api/2.0/mlflow/experiments/permissions/get",
                   params={"experiment_id": alice_run["experiment_id"],
                           "username": world.users["alice"][0]})
    assert r.status_code == 200, r.text
    assert r.json()["experiment_permission"]["permission"] == "MANAGE"
    run = client.get_run(alice_run["run_id"])
    assert run.data.params == {"alpha": "0.5"}
    assert run.data.metrics["accuracy"] == 0.9
    names = {a.path for a in client.list_artifacts(alice_run["run_id"])}
    assert "notes.txt" in names
    logged = client.get_logged_model(alice_run["model"].model_id)
    assert logged.experiment_id == alice_run["experiment_id"]
    client.set_experiment_tag(alice_run["experiment_id"], "owner", "alice")


def test_seed_case_load_model_with_an_explicit_grant(world, as_user, alice_run, tmp_path):
    """A user holding READ on the experiment loads its logged model, also when the
    default is NO_PERMISSIONS: the artifact list call carries the experiment in
    `?path=`."""
    import mlflow

    world.grant("experiments", alice_run["experiment_id"], "bob", "READ")
    as_user("bob")
    model = mlflow.sklearn.load_model(alice_run["model"].model_uri)
    assert list(model.predict([[0.0], [3.0]])) == [0, 1]
    local = mlflow.artifacts.download_artifacts(
        run_id=alice_run["run_id"], artifact_path="notes.txt", dst_path=str(tmp_path))
    assert open(local).read() == "hello from alice"


def test_no_grant_follows_the_default(world, as_user, alice_run):
    import mlflow

    client = as_user("carol")
    if world.default == "READ":
        assert client.get_run(alice_run["run_id"]).info.run_id == alice_run["run_id"]
        model = mlflow.sklearn.load_model(alice_run["model"].model_uri)
        assert model is not None
    else:
        with pytest.raises(Exception) as e:
            client.get_run(alice_run["run_id"])
        assert denied(e)
        with pytest.raises(Exception) as e:
            mlflow.sklearn.load_model(alice_run["model"].model_uri)
        assert denied(e)
    # Writing needs more than READ, whatever the default.
    with pytest.raises(Exception) as e:
        client.log_metric(alice_run["run_id"], "accuracy", 0.1)
    assert denied(e)
    with pytest.raises(Exception) as e:
        client.delete_experiment(alice_run["experiment_id"])
    assert denied(e)


def test_read_grant_denies_every_write(world, as_user, alice_run):
    world.grant("experiments", alice_run["experiment_id"], "bob", "READ")
    client = as_user("bob")
    writes = [
        lambda: client.log_param(alice_run["run_id"], "beta", "1"),
        lambda: client.set_tag(alice_run["run_id"], "t", "v"),
        lambda: client.create_run(alice_run["experiment_id"]),
        lambda: client.set_experiment_tag(alice_run["experiment_id"], "t", "v"),
        lambda: client.delete_run(alice_run["run_id"]),
        lambda: client.rename_experiment(alice_run["experiment_id"], unique("x")),
    ]
    for write in writes:
        with pytest.raises(Exception) as e:
            write()
        assert denied(e)
    # ...and EDIT allows updates but not deletes.
    r = world.http("admin", "PATCH", "/api/2.0/mlflow/experiments/permissions/update",
                   json={"experiment_id": alice_run["experiment_id"],
                         "username": world.users["bob"][0], "permission": "EDIT"})
    assert r.status_code == 200
    client.log_param(alice_run["run_id"], "beta", "1")
    with pytest.raises(Exception) as e:
        client.delete_run(alice_run["run_id"])
    assert denied(e)


def test_search_experiments_returns_filtered_full_pages(world, as_user):
    client = as_user("alice")
    prefix = unique("page")
    ids = [client.create_experiment(f"{prefix}-{i}") for i in range(6)]
    readable = {ids[1], ids[4]}
    for experiment_id in readable:
        world.grant("experiments", experiment_id, "bob", "READ")
    for experiment_id in set(ids) - readable:
        world.grant("experiments", experiment_id, "bob", "NO_PERMISSIONS")
    bob = as_user("bob")
    seen, token = [], None
    while True:
        page = bob.search_experiments(filter_string=f"name LIKE '{prefix}%'",
                                      max_results=1, page_token=token)
        # Full pages: every page but the last holds exactly max_results items.
        assert len(page) == 1 or not page.token
        seen += [e.experiment_id for e in page]
        token = page.token
        if not token:
            break
    assert sorted(seen) == sorted(readable)


def test_registry_lifecycle_moves_and_drops_grants(world, as_user, alice_run):
    client = as_user("alice")
    name = unique("model")
    client.create_registered_model(name)
    version = client.create_model_version(name, alice_run["model"].model_uri,
                                          run_id=alice_run["run_id"])
    client.set_registered_model_alias(name, "champion", version.version)
    assert client.get_model_version_by_alias(name, "champion").version == version.version

    perm = world.http("admin", "GET", "/api/2.0/mlflow/registered-models/permissions/get",
                      params={"name": name, "username": world.users["alice"][0]})
    assert perm.json()["registered_model_permission"]["permission"] == "MANAGE"

    bob = as_user("bob")
    with pytest.raises(Exception) as e:
        bob.update_registered_model(name, description="hijacked")
    assert denied(e)

    client = as_user("alice")
    new_name = unique("renamed")
    client.rename_registered_model(name, new_name)
    moved = world.http("admin", "GET", "/api/2.0/mlflow/registered-models/permissions/get",
                       params={"name": new_name, "username": world.users["alice"][0]})
    assert moved.status_code == 200 and moved.json()["registered_model_permission"]["permission"] == "MANAGE"
    old = world.http("admin", "GET", "/api/2.0/mlflow/registered-models/permissions/get",
                     params={"name": name, "username": world.users["alice"][0]})
    assert old.status_code == 404

    client.delete_registered_model(new_name)
    gone = world.http("admin", "GET", "/api/2.0/mlflow/registered-models/permissions/get",
                      params={"name": new_name, "username": world.users["alice"][0]})
    assert gone.status_code == 404
    # A new model under the old name inherits nothing from the deleted one.
    as_user("bob").create_registered_model(new_name)
    alice_on_new = world.http("admin", "GET", "/api/2.0/mlflow/registered-models/permissions/get",
                              params={"name": new_name, "username": world.users["alice"][0]})
    assert alice_on_new.status_code == 404


def test_search_registered_models_is_filtered(world, as_user):
    prefix = unique("rm")
    alice = as_user("alice")
    names = [f"{prefix}-{i}" for i in range(4)]
    for name in names:
        alice.create_registered_model(name)
    world.grant("registered-models", names[2], "carol", "READ")
    for name in (names[0], names[1], names[3]):
        world.grant("registered-models", name, "carol", "NO_PERMISSIONS")
    carol = as_user("carol")
    found = carol.search_registered_models(filter_string=f"name LIKE '{prefix}%'", max_results=2)
    assert [m.name for m in found] == [names[2]]


# --- attacker's side, raw HTTP ------------------------------------------------------

def test_head_and_every_prefix_get_the_same_decision(world, alice_run):
    """MLflow serves experiments/get under 2.0 only; under 3.0 it answers 404 itself.
    What matters is that mlguard decides the same everywhere: a denied caller gets
    403 under every prefix, an allowed one reaches MLflow."""
    exp = alice_run["experiment_id"]
    for prefix in ("/api/2.0", "/api/3.0", "/ajax-api/2.0", "/ajax-api/3.0"):
        served = "2.0" in prefix
        for method in ("GET", "HEAD"):
            carol = world.http("carol", method, f"{prefix}/mlflow/experiments/get",
                               params={"experiment_id": exp})
            alice = world.http("alice", method, f"{prefix}/mlflow/experiments/get",
                               params={"experiment_id": exp})
            if world.default == "READ":
                assert carol.status_code == (200 if served else 404), (prefix, method, carol.status_code)
            else:
                assert carol.status_code == 403, (prefix, method, carol.status_code)
            assert alice.status_code == (200 if served else 404), (prefix, method, alice.text)
            if method == "HEAD":
                assert carol.content == b"" and alice.content == b""


def test_missing_or_nonexistent_ids_are_denied(world, alice_run):
    cases = [
        ("GET", "/api/2.0/mlflow/experiments/get", {}),
        ("GET", "/api/2.0/mlflow/runs/get", {}),
        ("GET", "/api/2.0/mlflow/runs/get", {"params": {"run_id": "0" * 32}}),
        ("GET", "/api/2.0/mlflow-artifacts/artifacts", {"params": {"path": "."}}),
        ("GET", "/api/2.0/mlflow-artifacts/artifacts", {}),
        ("GET", "/api/2.0/mlflow/logged-models/m-doesnotexist", {}),
    ]
    for method, path, kwargs in cases:
        r = world.http("carol", method, path, **kwargs)
        assert r.status_code == 403, (path, kwargs, r.status_code, r.text)
        assert r.json()["error_code"] == "PERMISSION_DENIED"


def test_odd_encodings_and_conflicting_ids_are_refused(world, alice_run):
    exp = alice_run["experiment_id"]
    run_id = alice_run["run_id"]
    r = world.http("carol", "GET", "/api/2.0/mlflow/experiments/get",
                   params={"experiment_id": "0" + exp})
    assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    r = world.http("carol", "GET", f"/api/2.0/mlflow/experiments/get?experiment_id={exp}&experiment_id=0")
    assert r.status_code == 400
    for path in (f"/api/2.0/mlflow-artifacts/artifacts/{exp}%2F..%2F0/x",
                 f"/api/2.0/mlflow-artifacts/artifacts/{exp}/../0/x",
                 "/api/2.0/mlflow-artifacts/artifacts/%FF"):
        raw = requests.Request("GET", world.url + path, auth=world.auth("carol")).prepare()
        raw.url = world.url + path  # keep the encoding exactly as written
        r = requests.Session().send(raw, timeout=30)
        assert r.status_code == 400, (path, r.status_code, r.text)
    # The run id in the query says one thing and the body another.
    r = world.http("alice", "POST", f"/api/2.0/mlflow/runs/log-metric?run_id={'f' * 32}",
                   json={"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1, "step": 0})
    assert r.status_code == 400, r.text
    # A wrong type for an id is refused, never coerced.
    r = world.http("alice", "POST", "/api/2.0/mlflow/runs/log-metric",
                   json={"run_id": 12345, "key": "m", "value": 1.0, "timestamp": 1, "step": 0})
    assert r.status_code == 400, r.text


def test_unknown_routes_are_admin_only(world):
    r = world.http("carol", "GET", "/api/2.0/mlflow/not-a-route")
    assert r.status_code == 403 and r.json()["error_code"] == "PERMISSION_DENIED"
    # MLflow answers an unknown path with Flask's HTML page; clients get its JSON shape.
    for path in ("/api/2.0/mlflow/not-a-route", "/ajax-api/3.0/mlflow/not-a-route"):
        r = world.http("admin", "GET", path)
        assert r.status_code == 404, r.text
        assert r.headers["Content-Type"].startswith("application/json"), r.headers
        assert r.json()["error_code"] == "ENDPOINT_NOT_FOUND" and "<" not in r.text
    r = requests.get(world.url + "/api/2.0/mlflow/experiments/search", timeout=10)
    assert r.status_code == 401


def test_upstream_down_is_a_json_502(tmp_path):
    guard = Mlguard(tmp_path / "down",
                    extra_env={"MLGUARD_UPSTREAM__URL": f"http://127.0.0.1:{free_port()}"}).start()
    try:
        r = requests.get(guard.base_url + "/api/2.0/mlflow/experiments/search",
                         auth=guard.admin_auth(), timeout=30)
        assert r.status_code == 502, r.text
        assert r.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
    finally:
        guard.stop()


def test_after_mlflow_restarts_other_users_do_not_see_the_failure(tmp_path):
    """MLflow dies with mlguard's pooled connections open and comes back on its
    port: one user's request in between fails (502), every request afterwards,
    from another user, succeeds, lookups included."""
    server = MlflowServer(tmp_path / "mlflow").start()
    guard = Mlguard(tmp_path / "guard", extra_env={
        "MLGUARD_UPSTREAM__URL": server.url,
        # Keep pooled connections long enough to outlive the restart.
        "MLGUARD_UPSTREAM__POOL_IDLE_TIMEOUT_MS": "60000",
    }).start()
    try:
        alice, bob = guard.create_user(unique("alice")), guard.create_user(unique("bob"))
        url = guard.base_url + "/api/2.0/mlflow"
        experiment = requests.post(url + "/experiments/create", auth=alice, timeout=30,
                                   json={"name": unique("restart")}).json()["experiment_id"]
        run = requests.post(url + "/runs/create", auth=alice, timeout=30,
                            json={"experiment_id": experiment}).json()["run"]["info"]["run_id"]
        r = requests.post(url + "/experiments/permissions/create", auth=guard.admin_auth(),
                          timeout=30, json={"experiment_id": experiment, "username": bob[0],
                                "permission": "READ"})
        assert r.status_code == 200, r.text
        # Several connections in the pool.
        with ThreadPoolExecutor(4) as pool:
            warm = list(pool.map(lambda _: requests.get(
                url + "/runs/get", params={"run_id": run}, auth=alice, timeout=30), range(8)))
        assert all(r.status_code == 200 for r in warm)

        server.stop()
        r = requests.get(url + "/experiments/get", params={"experiment_id": experiment},
                         auth=alice, timeout=30)
        assert r.status_code == 502 and r.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
        server.start()

        for _ in range(10):
            r = requests.get(url + "/runs/get", params={"run_id": run}, auth=bob, timeout=30)
            assert r.status_code == 200, r.text
            r = requests.get(url + "/experiments/get", params={"experiment_id": experiment},
                             auth=bob, timeout=30)
            assert r.status_code == 200, r.text
    finally:
        guard.stop()
        server.stop()


def test_static_prefix_routes_get_the_same_decisions(tmp_path):
    """Behind MLflow's --static-prefix, the UI's routes (`/ajax-api`, `/graphql`,
    `/get-artifact`...) live under the prefix while `/api` stays bare. Each spelling
    gets the same decision as the plain route."""
    upstream = MlflowServer(tmp_path / "mlflow-prefixed", static_prefix="/mlflow").start()
    guard = Mlguard(tmp_path / "guard-prefixed", default_permission="NO_PERMISSIONS",
                    extra_env={"MLGUARD_UPSTREAM__URL": upstream.url,
                               "MLGUARD_SERVER__STATIC_PREFIX": "/mlflow"}).start()
    try:
        dave = guard.create_user(unique("dave"))
        eve = guard.create_user(unique("eve"))
        r = requests.post(guard.base_url + "/api/2.0/mlflow/experiments/create",
                          json={"name": unique("prefixed")}, auth=dave, timeout=30)
        assert r.status_code == 200, r.text
        experiment_id = r.json()["experiment_id"]
        for path in ("/mlflow/ajax-api/2.0/mlflow/experiments/get",
                     "/api/2.0/mlflow/experiments/get"):
            ok = requests.get(guard.base_url + path, params={"experiment_id": experiment_id},
                              auth=dave, timeout=30)
            assert ok.status_code == 200, (path, ok.text)
            assert ok.json()["experiment"]["experiment_id"] == experiment_id
            no = requests.get(guard.base_url + path, params={"experiment_id": experiment_id},
                              auth=eve, timeout=30)
            assert no.status_code == 403, (path, no.text)
        # The native user API answers under the prefix too.
        r = requests.get(guard.base_url + "/mlflow/api/2.0/mlflow/users/get",
                         params={"username": dave[0]}, auth=dave, timeout=30)
        assert r.status_code == 200 and r.json()["user"]["username"] == dave[0]
    finally:
        guard.stop()
        upstream.stop()


def test_run_search_and_traces_follow_experiment_grants(world, as_user, alice_run):
    import mlflow

    as_user("alice")
    mlflow.set_experiment(experiment_id=alice_run["experiment_id"])

    @mlflow.trace
    def answer(question: str) -> str:
        return question.upper()

    answer("secret question")
    trace_id = mlflow.get_last_active_trace_id()
    assert trace_id

    carol = as_user("carol")
    if world.default == "NO_PERMISSIONS":
        # As MLflow does, a search over an unreadable experiment is narrowed to nothing.
        assert list(carol.search_runs([alice_run["experiment_id"]])) == []
        with pytest.raises(Exception) as e:
            carol.get_trace(trace_id)
        assert denied(e)
        r = world.http("carol", "POST", "/api/3.0/mlflow/traces/search",
                       json={"locations": [{"type": "MLFLOW_EXPERIMENT",
                                            "mlflow_experiment": {"experiment_id": alice_run["experiment_id"]}}],
                             "max_results": 10})
        assert r.status_code in (200, 403), r.text
        assert "SECRET QUESTION" not in r.text and trace_id not in r.text
    else:
        runs = carol.search_runs([alice_run["experiment_id"]])
        assert alice_run["run_id"] in {run.info.run_id for run in runs}
        assert carol.get_trace(trace_id).info.trace_id == trace_id
    # Nobody without update may tag alice's trace.
    with pytest.raises(Exception) as e:
        carol.set_trace_tag(trace_id, "k", "v")
    assert denied(e)
    alice = as_user("alice")
    alice.set_trace_tag(trace_id, "k", "v")
    assert alice.get_trace(trace_id).info.tags["k"] == "v"


def test_large_artifacts_stream_through_the_gateway(world, as_user, alice_run, tmp_path):
    """A 64 MiB artifact goes up and comes back byte for byte through mlguard."""
    import hashlib

    import mlflow

    client = as_user("alice")
    big = tmp_path / "big.bin"
    block = os.urandom(1 << 20)
    with open(big, "wb") as f:
        for _ in range(64):
            f.write(block)
    digest = hashlib.sha256(big.read_bytes()).hexdigest()
    client.log_artifact(alice_run["run_id"], str(big), artifact_path="blobs")
    out = mlflow.artifacts.download_artifacts(run_id=alice_run["run_id"],
                                              artifact_path="blobs/big.bin",
                                              dst_path=str(tmp_path / "down"))
    assert hashlib.sha256(open(out, "rb").read()).hexdigest() == digest


def test_the_stock_client_works_with_mlflow_tracking_token(world, alice_run, monkeypatch):
    """`MLFLOW_TRACKING_TOKEN` makes the client send `Authorization: Bearer`."""
    from mlflow import MlflowClient

    r = world.http("alice", "POST", "/api/2.0/mlguard/tokens/create")
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    client = MlflowClient(tracking_uri=world.url)
    assert client.get_run(alice_run["run_id"]).info.run_id == alice_run["run_id"]
    client.log_metric(alice_run["run_id"], "via_token", 1.0)
    # Revoked: the same client is refused at once.
    r = world.http("alice", "POST", "/api/2.0/mlguard/tokens/revoke", json={"token": token})
    assert r.status_code == 200
    with pytest.raises(Exception) as e:
        client.get_run(alice_run["run_id"])
    assert "401" in str(e.value) or "UNAUTHENTICATED" in str(e.value)


def test_trace_files_and_experiment_files_stay_where_mlflow_put_them(world, as_user, alice_run):
    """A user may not point their own trace's `mlflow.artifactLocation` tag, nor a new
    experiment's `artifact_location`, at someone else's files; a trace whose tag was
    moved anyway (by an admin, or before mlguard) serves nothing to non-admins."""
    import mlflow

    as_user("alice")
    mlflow.set_experiment(experiment_id=alice_run["experiment_id"])
    with mlflow.start_span("alice-secret") as span:
        span.set_inputs({"q": "alice's secret input"})
    alice_trace = span.trace_id
    got = world.http("alice", "GET", "/ajax-api/3.0/mlflow/get-trace-artifact",
                     params={"request_id": alice_trace})
    assert got.status_code == 200 and "alice's secret input" in got.text, got.text
    alice_location = world.http("admin", "GET", f"/api/3.0/mlflow/traces/{alice_trace}").json()[
        "trace"]["trace_info"]["tags"]["mlflow.artifactLocation"]

    # bob's own experiment and trace.
    bob = as_user("bob")
    bob_experiment = bob.create_experiment(unique("bob-traces"))
    mlflow.set_experiment(experiment_id=bob_experiment)
    with mlflow.start_span("bob") as span:
        span.set_inputs({"q": "bob"})
    bob_trace = span.trace_id
    for prefix in ("/api/2.0", "/ajax-api/2.0", "/api/3.0", "/ajax-api/3.0"):
        r = world.http("bob", "PATCH", f"{prefix}/mlflow/traces/{bob_trace}/tags",
                       json={"key": "mlflow.artifactLocation", "value": alice_location})
        assert r.status_code == 403, (prefix, r.text)
        r = world.http("bob", "DELETE", f"{prefix}/mlflow/traces/{bob_trace}/tags",
                       params={"key": "mlflow.artifactLocation"})
        assert r.status_code == 403, (prefix, r.text)
    # An ordinary tag is fine.
    r = world.http("bob", "PATCH", f"/api/3.0/mlflow/traces/{bob_trace}/tags",
                   json={"key": "note", "value": "mine"})
    assert r.status_code == 200, r.text

    # A tag moved by someone who may (the admin): bob's trace now serves nothing.
    r = world.http("admin", "PATCH", f"/api/3.0/mlflow/traces/{bob_trace}/tags",
                   json={"key": "mlflow.artifactLocation", "value": alice_location})
    assert r.status_code == 200, r.text
    for method in ("GET", "HEAD"):
        r = world.http("bob", method, "/ajax-api/3.0/mlflow/get-trace-artifact",
                       params={"request_id": bob_trace})
        assert r.status_code == 403, (method, r.text)
        assert "alice's secret input" not in r.text

    # A new experiment's files go where the server says.
    for location in (f"mlflow-artifacts:/{alice_run['experiment_id']}", "file:///etc"):
        for field in ("artifact_location", "artifactLocation"):
            r = world.http("bob", "POST", "/api/2.0/mlflow/experiments/create",
                           json={"name": unique("moved"), field: location})
            assert r.status_code == 403, (field, location, r.text)
    r = world.http("bob", "POST", "/api/2.0/mlflow/experiments/create",
                   json={"name": unique("plain"), "artifact_location": ""})
    assert r.status_code == 200, r.text


def test_the_kek_state_is_an_admins_business(world):
    """Whether MLflow's gateway secrets use the default KEK passphrase is shown to
    admins only; everyone keeps the 'secrets available' flag the UI needs."""
    path = "/ajax-api/3.0/mlflow/gateway/secrets/config"
    admin = world.http("admin", "GET", path)
    assert admin.status_code == 200 and "using_default_passphrase" in admin.json(), admin.text
    for method in ("GET", "HEAD"):
        r = world.http("carol", method, path)
        assert r.status_code == 200, r.text
        if method == "GET":
            assert "using_default_passphrase" not in r.json(), r.text
            assert r.json()["secrets_available"] == admin.json()["secrets_available"]
        else:
            assert int(r.headers["Content-Length"]) == len(world.http("carol", "GET", path).content)


def test_scorer_lists_leave_out_scorers_the_caller_is_denied(world, alice_run):
    """An explicit NO_PERMISSIONS grant on one scorer hides it from the list, though
    the experiment stays readable; its siblings, without grants, still show (as in
    MLflow, listing needs read on the experiment only)."""
    experiment_id = alice_run["experiment_id"]
    serialized = json.dumps({"name": "s", "builtin_scorer_class": None, "call_source": "x"})
    for name in ("visible", "secret"):
        r = world.http("alice", "POST", "/api/3.0/mlflow/scorers/register",
                       json={"experiment_id": experiment_id, "name": name,
                             "serialized_scorer": serialized})
        assert r.status_code == 200, r.text
    world.grant("experiments", experiment_id, "bob", "READ")
    r = world.http("admin", "POST", "/api/3.0/mlflow/scorers/permissions/create",
                   json={"experiment_id": experiment_id, "scorer_name": "secret",
                         "username": world.users["bob"][0], "permission": "NO_PERMISSIONS"})
    assert r.status_code == 200, r.text

    def names(who: str, prefix: str) -> list[str]:
        r = world.http(who, "GET", f"{prefix}/3.0/mlflow/scorers/list",
                       params={"experiment_id": experiment_id})
        assert r.status_code == 200, r.text
        return sorted(s["scorer_name"] for s in r.json().get("scorers", []))

    for prefix in ("/api", "/ajax-api"):
        assert names("alice", prefix) == ["secret", "visible"]
        assert names("bob", prefix) == ["visible"]
        head = world.http("bob", "HEAD", f"{prefix}/3.0/mlflow/scorers/list",
                          params={"experiment_id": experiment_id})
        get = world.http("bob", "GET", f"{prefix}/3.0/mlflow/scorers/list",
                         params={"experiment_id": experiment_id})
        assert head.status_code == 200
        assert int(head.headers["Content-Length"]) == len(get.content)
        r = world.http("bob", "GET", f"{prefix}/3.0/mlflow/scorers/get",
                       params={"experiment_id": experiment_id, "name": "secret"})
        assert r.status_code == 403, r.text
    # carol reads alice's experiment only under the READ default.
    r = world.http("carol", "GET", "/api/3.0/mlflow/scorers/list",
                   params={"experiment_id": experiment_id})
    if world.default == "READ":
        assert sorted(s["scorer_name"] for s in r.json()["scorers"]) == ["secret", "visible"]
    else:
        assert r.status_code == 403, r.text
