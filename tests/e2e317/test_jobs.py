"""MLflow 3.17's jobs, as the UI's "Run evaluation" uses them, through the real mlguard
binary in front of a real MLflow 3.17.2 (`default_permission` NO_PERMISSIONS) that
runs without auth and so records no job creator. A job is its submitter's: they poll
and cancel it under both job APIs and find it in the job search; an editor of the
same experiment, a stranger and a forged id reach nothing. Admins reach every job.
"""

from __future__ import annotations

import requests

from conftest import ADMIN_USERNAME, e2e, grant


def test_an_evaluation_job_is_its_submitters(server, login):
    import mlflow
    from mlflow.genai.scorers import Guidelines

    alice = server.create_user(e2e.unique("alice"))
    bob = server.create_user(e2e.unique("bob"))
    carol = server.create_user(e2e.unique("carol"))
    admin = (ADMIN_USERNAME, server.admin_password)

    def call(who, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, f"{server.base_url}/ajax-api/3.0{path}", auth=who,
                                timeout=30, **kwargs)

    # Alice makes an experiment (so she manages it) and logs a trace into it.
    mlflow.set_tracking_uri(server.base_url)
    login(*alice)
    experiment = mlflow.set_experiment(e2e.unique("jobs")).experiment_id
    with mlflow.start_span("answer") as span:
        span.set_inputs({"question": "hi"})
        span.set_outputs({"answer": "hello"})
    trace_id = span.trace_id
    mlflow.flush_trace_async_logging()
    grant(server, bob[0], "experiment", experiment, "EDIT")

    def evaluate(who) -> requests.Response:
        scorer = Guidelines(name="polite", guidelines="Be polite.").model_dump_json()
        return call(who, "POST", "/mlflow/genai/evaluate/invoke",
                    json={"experiment_id": experiment, "trace_ids": [trace_id],
                          "serialized_scorers": [scorer]})

    # The UI's "Run evaluation": a run and a job, which only Alice then follows.
    submitted = evaluate(alice)
    assert submitted.status_code == 200, submitted.text
    job = submitted.json()["job_id"]
    for path in (f"/mlflow/jobs/{job}", f"/jobs/{job}"):
        mine = call(alice, "GET", path)
        assert mine.status_code == 200, (path, mine.text)
        assert call(admin, "GET", path).status_code == 200
        for other in (bob, carol):
            refused = call(other, "GET", path)
            assert refused.status_code == 403, (path, other[0], refused.text)
            assert refused.json()["error_code"] == "PERMISSION_DENIED"
            assert call(other, "HEAD", path).status_code == 403

    # Bob may run his own evaluation on the experiment he edits; it is his alone.
    theirs = evaluate(bob)
    assert theirs.status_code == 200, theirs.text
    bobs_job = theirs.json()["job_id"]
    assert call(alice, "GET", f"/mlflow/jobs/{bobs_job}").status_code == 403
    assert call(bob, "GET", f"/mlflow/jobs/{bobs_job}").status_code == 200
    # Carol may not submit on an experiment she cannot touch.
    assert evaluate(carol).status_code == 403

    def searched(who) -> set[str]:
        r = call(who, "POST", "/jobs/search", json={})
        assert r.status_code == 200, r.text
        return {j["job_id"] for j in r.json().get("jobs", [])}

    assert searched(alice) == {job}
    assert searched(bob) == {bobs_job}
    assert searched(carol) == set()
    assert {job, bobs_job} <= searched(admin)

    # A job id mlguard never saw submitted is nobody's, even where MLflow has none.
    assert call(alice, "GET", "/mlflow/jobs/no-such-job").status_code == 403
    assert call(admin, "GET", "/mlflow/jobs/no-such-job").status_code == 404
    # Submitting by job name stays the admins'.
    by_name = call(alice, "POST", "/jobs/", json={"job_name": "invoke_scorer", "params": {}})
    assert by_name.status_code == 403, by_name.text

    # Cancelling: not Bob's to cancel, then Alice cancels her own.
    assert call(bob, "PATCH", f"/mlflow/jobs/cancel/{job}").status_code == 403
    assert call(carol, "PATCH", f"/jobs/cancel/{job}").status_code == 403
    cancelled = call(alice, "PATCH", f"/mlflow/jobs/cancel/{job}")
    assert cancelled.status_code == 200, cancelled.text
