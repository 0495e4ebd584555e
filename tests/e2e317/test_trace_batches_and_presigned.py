"""MLflow 3.17 routes that hand out what other routes guard, through the real
mlguard binary in front of a real MLflow 3.17.2 (`default_permission`
NO_PERMISSIONS):

- `traces/batchGetInfos`, which the 3.17.2 client's `batch_get_traces` sends first:
  every trace of the batch must be readable, so one foreign trace refuses it all;
- presigned URLs, whose bytes never pass mlguard again: they need the grant of the
  download or upload they stand for. (This MLflow keeps artifacts on local disk, so
  a caller who is let through gets MLflow's own "not supported" answer: what counts is
  who reaches MLflow at all.);
- the list of every gateway endpoint binding, filtered to the readable endpoints'.
"""

from __future__ import annotations

import pytest
import requests
from mlflow.exceptions import MlflowException

from conftest import ADMIN_USERNAME, e2e, grant


def traced_call(experiment: str) -> str:
    import mlflow

    mlflow.set_experiment(experiment_id=experiment)

    @mlflow.trace
    def answer(question: str) -> str:
        return question.upper()

    answer("hi")
    trace_id = mlflow.get_last_active_trace_id()
    flush = getattr(mlflow, "flush_trace_async_logging", None)
    if flush is not None:
        flush(terminate=False)
    return trace_id


def test_a_trace_batch_is_read_only_when_every_trace_is_readable(server, login):
    import mlflow

    mlflow.set_tracking_uri(server.base_url)
    alice, alice_password = server.create_user(e2e.unique("alice"))
    bob, bob_password = server.create_user(e2e.unique("bob"))

    login(alice, alice_password)
    mine = mlflow.create_experiment(e2e.unique("mine"))
    first, second = traced_call(mine), traced_call(mine)
    login(ADMIN_USERNAME, server.admin_password)
    theirs = traced_call(mlflow.create_experiment(e2e.unique("theirs")))

    login(alice, alice_password)
    tracing = mlflow.MlflowClient()._tracing_client
    got = tracing.batch_get_traces([first, second])
    assert {t.info.trace_id for t in got} == {first, second}
    assert {t.data.spans[0].outputs for t in got} == {"HI"}
    with pytest.raises(MlflowException) as caught:
        tracing.batch_get_traces([first, theirs])
    assert "PERMISSION_DENIED" in str(caught.value), caught.value

    # A reader of the experiment reads the batch; a stranger reads none of it.
    grant(server, bob, "experiment", mine, "READ")
    login(bob, bob_password)
    assert len(mlflow.MlflowClient()._tracing_client.batch_get_traces([first, second])) == 2
    raw = requests.post(f"{server.base_url}/api/3.0/mlflow/traces/batchGetInfos",
                        auth=(bob, bob_password), json={"trace_ids": [theirs]}, timeout=30)
    assert raw.status_code == 403, raw.text


def test_presigned_urls_need_the_grant_of_the_transfer(server, login):
    import mlflow

    mlflow.set_tracking_uri(server.base_url)
    alice, alice_password = server.create_user(e2e.unique("alice"))
    reader, reader_password = server.create_user(e2e.unique("reader"))
    stranger, stranger_password = server.create_user(e2e.unique("stranger"))

    login(alice, alice_password)
    experiment = mlflow.create_experiment(e2e.unique("files"))
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_text("secret numbers", "notes.txt")
    grant(server, reader, "experiment", experiment, "READ")

    def post(who, path: str, body: dict) -> requests.Response:
        return requests.post(f"{server.base_url}/api/2.0/mlflow/artifacts/{path}", auth=who,
                             json=body, timeout=30)

    download = {"run_id": run.info.run_id, "path": "notes.txt"}
    upload = {"run_id": run.info.run_id, "path": "more.txt"}
    as_alice, as_reader, as_stranger = (alice, alice_password), (reader, reader_password), \
        (stranger, stranger_password)
    for who, route, body, let_through in [
        (as_alice, "presigned-download-url", download, True),
        (as_reader, "presigned-download-url", download, True),
        (as_stranger, "presigned-download-url", download, False),
        (as_alice, "presigned-upload-url", upload, True),
        (as_reader, "presigned-upload-url", upload, False),
        (as_stranger, "presigned-upload-url", upload, False),
    ]:
        r = post(who, route, body)
        if let_through:
            # MLflow's own answer: local artifact storage cannot presign.
            assert r.status_code != 403, (who[0], route, r.text)
            assert r.json()["error_code"] != "PERMISSION_DENIED", r.text
        else:
            assert r.status_code == 403, (who[0], route, r.text)
            assert r.json()["error_code"] == "PERMISSION_DENIED", r.text

    # The artifact server's presigned route is the download of that path.
    path = f"{experiment}/{run.info.run_id}/artifacts/notes.txt"
    url = f"{server.base_url}/api/2.0/mlflow-artifacts/presigned/{path}"
    assert requests.get(url, auth=as_stranger, timeout=30).status_code == 403
    assert requests.get(url, auth=as_reader, timeout=30).status_code != 403


def test_endpoint_bindings_are_listed_for_readable_endpoints_only(server):
    """`gateway/endpoints/bindings/list` without an endpoint (MLflow 3.17.2's gateway
    page asks for it) lists the bindings of the endpoints the caller may read."""
    upstream = server.upstream
    definition = upstream.create_gateway_model_definition(upstream.create_gateway_secret())
    shared, private = (upstream.create_gateway_endpoint(definition) for _ in range(2))
    for endpoint, scorer in [(shared, "1/judge-a"), (private, "1/judge-b")]:
        r = requests.post(f"{upstream.url}/api/3.0/mlflow/gateway/endpoints/bindings/create",
                          json={"endpoint_id": endpoint, "resource_type": "scorer",
                                "resource_id": scorer}, timeout=30)
        assert r.status_code == 200, r.text
    bob, bob_password = server.create_user(e2e.unique("bob"))
    grant(server, bob, "gateway_endpoint", shared, "READ")

    url = f"{server.base_url}/ajax-api/3.0/mlflow/gateway/endpoints/bindings/list"
    listed = requests.get(url, auth=(bob, bob_password), timeout=30)
    assert listed.status_code == 200, listed.text
    seen = {(b["endpoint_id"], b["resource_id"]) for b in listed.json().get("bindings", [])}
    assert (shared, "1/judge-a") in seen
    assert private not in {endpoint for endpoint, _ in seen}
    # The admin sees both; naming the private endpoint is refused.
    everything = requests.get(url, auth=(ADMIN_USERNAME, server.admin_password), timeout=30)
    assert {b["endpoint_id"] for b in everything.json()["bindings"]} >= {shared, private}
    named = requests.get(url, params={"endpoint_id": private}, auth=(bob, bob_password),
                         timeout=30)
    assert named.status_code == 403, named.text
    head = requests.head(url, auth=(bob, bob_password), timeout=30)
    assert head.status_code == 200
    assert int(head.headers.get("content-length", len(listed.content))) == len(listed.content)
