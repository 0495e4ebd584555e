"""MLflow 3.17's label schemas and issues, named by their own ids, through the stock
3.17.2 client (and, for issues, MLflow's REST shape) and the real mlguard binary in
front of a real MLflow 3.17.2 (`default_permission` NO_PERMISSIONS). Each is decided
as its experiment: the experiment's readers read it, its managers change a label
schema, its editors change an issue, and a stranger reaches neither.
"""

from __future__ import annotations

import pytest
import requests
from mlflow.exceptions import MlflowException
from mlflow.server import get_app_client

from conftest import ADMIN_USERNAME, e2e, grant


def refused(call) -> None:
    with pytest.raises(MlflowException) as caught:
        call()
    assert "PERMISSION_DENIED" in str(caught.value), caught.value


def test_label_schemas_by_id_follow_their_experiment(server, login):
    import mlflow
    from mlflow.genai import label_schemas
    from mlflow.genai.label_schemas import InputCategorical

    mlflow.set_tracking_uri(server.base_url)
    alice, alice_password = server.create_user(e2e.unique("alice"))
    bob, bob_password = server.create_user(e2e.unique("bob"))
    carol, carol_password = server.create_user(e2e.unique("carol"))

    # Alice's own experiment: creating it made her its manager.
    login(alice, alice_password)
    experiment = mlflow.create_experiment(e2e.unique("labels"))
    schema = label_schemas.create_label_schema(
        "tone", type="feedback", input=InputCategorical(options=["calm", "rude"]),
        experiment_id=experiment)
    assert label_schemas.get_label_schema(schema_id=schema.schema_id).name == "tone"
    renamed = label_schemas.update_label_schema(schema.schema_id, instruction="Judge the tone")
    assert renamed.instruction == "Judge the tone"

    login(ADMIN_USERNAME, server.admin_password)
    get_app_client("basic-auth", tracking_uri=server.base_url).grant_user_permission(
        bob, "experiment", experiment, "EDIT")

    # Bob may read and edit the experiment, which reads a schema but changes none.
    login(bob, bob_password)
    assert label_schemas.get_label_schema(schema_id=schema.schema_id).instruction == \
        "Judge the tone"
    refused(lambda: label_schemas.update_label_schema(schema.schema_id, instruction="mine"))
    refused(lambda: label_schemas.delete_label_schema(schema_id=schema.schema_id))

    # Carol holds nothing: no schema of the experiment, by id or by name.
    login(carol, carol_password)
    refused(lambda: label_schemas.get_label_schema(schema_id=schema.schema_id))
    refused(lambda: label_schemas.get_label_schema("tone", experiment_id=experiment))
    refused(lambda: label_schemas.delete_label_schema(schema_id=schema.schema_id))

    login(alice, alice_password)
    label_schemas.delete_label_schema(schema_id=schema.schema_id)
    assert "tone" not in [s.name for s in label_schemas.list_label_schemas(experiment_id=experiment)]


def test_issues_by_id_follow_their_experiment(server):
    alice, alice_password = server.create_user(e2e.unique("alice"))
    bob, bob_password = server.create_user(e2e.unique("bob"))
    carol, carol_password = server.create_user(e2e.unique("carol"))

    def call(who, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, f"{server.base_url}/api/3.0/mlflow{path}",
                                auth=who, timeout=30, **kwargs)

    as_alice, as_bob, as_carol = (alice, alice_password), (bob, bob_password), \
        (carol, carol_password)
    made = requests.post(f"{server.base_url}/api/2.0/mlflow/experiments/create", auth=as_alice,
                         json={"name": e2e.unique("issues")}, timeout=30)
    assert made.status_code == 200, made.text
    experiment = made.json()["experiment_id"]
    created = call(as_alice, "POST", "/issues", json={
        "experiment_id": experiment, "name": "slow answers", "description": "p99 is 9 s"})
    assert created.status_code == 200, created.text
    issue = created.json()["issue"]["issue_id"]

    grant(server, bob, "experiment", experiment, "READ")

    got = call(as_bob, "GET", f"/issues/{issue}")
    assert got.status_code == 200, got.text
    assert got.json()["issue"]["name"] == "slow answers"
    for who in (as_bob, as_carol):
        # MLflow updates the path's issue and only requires the body to name one.
        changed = call(who, "PATCH", f"/issues/{issue}",
                       json={"issue_id": issue, "name": "fine now"})
        assert changed.status_code == 403, changed.text
    assert call(as_carol, "GET", f"/issues/{issue}").status_code == 403
    # An id that names no issue is refused, not looked through to MLflow's 404.
    assert call(as_bob, "GET", "/issues/no-such-issue").status_code == 403

    changed = call(as_alice, "PATCH", f"/issues/{issue}",
                   json={"issue_id": issue, "name": "slow answers, fixed"})
    assert changed.status_code == 200, changed.text
    assert call(as_bob, "GET", f"/issues/{issue}").json()["issue"]["name"] == \
        "slow answers, fixed"
