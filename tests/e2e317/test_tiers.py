"""MLflow 3.17's wildcard-only tiers, as an admin sets them with the 3.17 API and a
plain user then meets them through the stock 3.17.2 client, with the real mlguard
binary in front of a real MLflow 3.17.2 (`default_permission` NO_PERMISSIONS): a
`run` or `trace` row decides together with the experiment, so it can take away what
the experiment gives but never add to it.
"""

from __future__ import annotations

import pytest
from mlflow.exceptions import MlflowException

from conftest import ADMIN_USERNAME, e2e, grant


def refused(call) -> None:
    with pytest.raises(MlflowException) as caught:
        call()
    assert "PERMISSION_DENIED" in str(caught.value), caught.value


def test_tier_rows_narrow_what_the_experiment_gives(server, login):
    import mlflow
    from mlflow import MlflowClient
    from mlflow.server import get_app_client

    mlflow.set_tracking_uri(server.base_url)
    alice = server.create_user(e2e.unique("alice"))
    bob = server.create_user(e2e.unique("bob"))

    # Alice's own experiment, with a run and a trace in it.
    login(*alice)
    experiment = mlflow.set_experiment(e2e.unique("tiers")).experiment_id
    with mlflow.start_run() as run:
        mlflow.log_metric("loss", 0.5)
    with mlflow.start_span("answer") as span:
        span.set_outputs({"answer": "hello"})
    mlflow.flush_trace_async_logging()
    client = MlflowClient()
    assert client.get_trace(span.trace_id).info.trace_id == span.trace_id

    # A READ tier on runs: Alice still reads her runs but logs to none, though she
    # manages the experiment.
    grant(server, alice[0], "run", "*", "READ")
    assert client.get_run(run.info.run_id).data.metrics["loss"] == 0.5
    refused(lambda: client.log_metric(run.info.run_id, "loss", 0.4))
    assert client.get_experiment(experiment).name

    # A DENY tier on traces: no trace of hers, whatever the experiment gives.
    grant(server, alice[0], "trace", "*", "DENY")
    refused(lambda: client.get_trace(span.trace_id))

    # Bob reads the experiment; an EDIT tier on runs does not let him log.
    grant(server, bob[0], "experiment", experiment, "READ")
    grant(server, bob[0], "run", "*", "EDIT")
    login(*bob)
    assert client.get_run(run.info.run_id).info.run_id == run.info.run_id
    refused(lambda: client.log_metric(run.info.run_id, "loss", 0.3))

    # Revoked, the tiers no longer speak.
    login(ADMIN_USERNAME, server.admin_password)
    auth = get_app_client("basic-auth", tracking_uri=server.base_url)
    auth.revoke_user_permission(alice[0], "run", "*")
    auth.revoke_user_permission(alice[0], "trace", "*")
    login(*alice)
    client.log_metric(run.info.run_id, "loss", 0.4)
    assert client.get_trace(span.trace_id).info.trace_id == span.trace_id
