"""MLflow 3.17's review queues, decided as their experiment, through the real mlguard
binary in front of a real MLflow 3.17.2 (`default_permission` NO_PERMISSIONS).
mlguard does not track a queue's members or creator, so it keeps what MLflow also
opens to them to the experiment's editors (reading, adding items) and managers
(changing or deleting the queue): a reader, a stranger and an editor each get their
part and no more.
"""

from __future__ import annotations

import requests

from conftest import e2e, grant


def test_review_queues_follow_their_experiment(server):
    alice, alice_password = server.create_user(e2e.unique("alice"))
    editor, editor_password = server.create_user(e2e.unique("editor"))
    reader, reader_password = server.create_user(e2e.unique("reader"))
    stranger, stranger_password = server.create_user(e2e.unique("stranger"))
    as_alice, as_editor = (alice, alice_password), (editor, editor_password)
    as_reader, as_stranger = (reader, reader_password), (stranger, stranger_password)
    api = f"{server.base_url}/api/3.0/mlflow/review-queues"

    made = requests.post(f"{server.base_url}/api/2.0/mlflow/experiments/create", auth=as_alice,
                         json={"name": e2e.unique("reviews")}, timeout=30)
    assert made.status_code == 200, made.text
    experiment = made.json()["experiment_id"]
    for who, level in [(editor, "EDIT"), (reader, "READ")]:
        grant(server, who, "experiment", experiment, level)

    created = requests.post(f"{api}/create", auth=as_alice, timeout=30, json={
        "experiment_id": experiment, "name": "tone check", "queue_type": "CUSTOM"})
    assert created.status_code == 200, created.text
    queue = created.json()["review_queue"]["queue_id"]

    def get(who, path: str, **params) -> requests.Response:
        return requests.get(f"{api}/{path}", params=params, auth=who, timeout=30)

    def post(who, path: str, body: dict) -> requests.Response:
        return requests.post(f"{api}/{path}", json=body, auth=who, timeout=30)

    # The editor reads the queue and the experiment's list, and adds items (MLflow
    # then checks the traces: a made-up one is its own "does not exist").
    assert get(as_editor, "get", queue_id=queue).json()["review_queue"]["name"] == "tone check"
    listed = get(as_editor, "list", experiment_id=experiment)
    assert listed.status_code == 200, listed.text
    assert queue in [q["queue_id"] for q in listed.json()["review_queues"]]
    added = post(as_editor, "items/add", {"queue_id": queue, "item_ids": ["tr-none"]})
    assert added.status_code != 403 and added.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST", \
        added.text
    # ... but does not change or delete it.
    for path, body in [("update", {"queue_id": queue, "name": "mine"}),
                       ("delete", {"queue_id": queue}),
                       ("items/remove", {"queue_id": queue, "item_ids": ["x"]})]:
        assert post(as_editor, path, body).status_code == 403, path

    # A reader and a stranger get none of it, by id or by experiment.
    for who in (as_reader, as_stranger):
        assert get(who, "get", queue_id=queue).status_code == 403
        assert get(who, "items/list", queue_id=queue).status_code == 403
        assert get(who, "list", experiment_id=experiment).status_code == 403
        assert post(who, "items/add", {"queue_id": queue, "item_ids": ["tr-none"]}).status_code == 403
        assert post(who, "create", {"experiment_id": experiment, "name": "x"}).status_code == 403
    # A queue id that names nothing is refused, not answered by MLflow.
    assert get(as_editor, "get", queue_id="rq-none").status_code == 403

    renamed = post(as_alice, "update", {"queue_id": queue, "name": "tone and style"})
    assert renamed.status_code == 200, renamed.text
    deleted = post(as_alice, "delete", {"queue_id": queue})
    assert deleted.status_code == 200, deleted.text
