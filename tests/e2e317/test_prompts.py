"""Prompts as MLflow 3.17's own resource type, through the stock 3.17.2 client and the
real mlguard binary in front of a real MLflow 3.17.2 (`default_permission` is
NO_PERMISSIONS): a plain user registers a prompt and manages it; the admin shares it
with a `prompt` grant, which reads the prompt and nothing else; the 3.10 API shows
the prompt row and makes one; a role's `prompt` DENY outvotes a user's READ.
"""

from __future__ import annotations

import pytest
import requests
from mlflow.exceptions import MlflowException
from mlflow.server import get_app_client

from conftest import ADMIN_USERNAME, e2e


def refused(call) -> None:
    with pytest.raises(MlflowException) as caught:
        call()
    assert "PERMISSION_DENIED" in str(caught.value) or "403" in str(caught.value), caught.value


def rest(server, method: str, path: str, **kwargs):
    return requests.request(method, f"{server.base_url}{path}",
                            auth=(ADMIN_USERNAME, server.admin_password), timeout=30, **kwargs)


def test_a_prompt_grant_reads_the_prompt_and_nothing_else(server, login, tmp_path, monkeypatch):
    import mlflow

    mlflow.set_tracking_uri(server.base_url)
    alice, alice_password = server.create_user(e2e.unique("alice"))
    bob, bob_password = server.create_user(e2e.unique("bob"))
    prompt, model = e2e.unique("greeting"), e2e.unique("classifier")

    # Alice, with no grant at all, registers a prompt and a model of her own.
    login(alice, alice_password)
    mlflow.genai.register_prompt(name=prompt, template="Hello, {{name}}!", commit_message="v1")
    mlflow.genai.register_prompt(name=prompt, template="Hi, {{name}}!", commit_message="v2")
    mlflow.MlflowClient().create_registered_model(model)

    # Creating made her prompt's manager under the prompt's own type.
    login(ADMIN_USERNAME, server.admin_password)
    auth = get_app_client("basic-auth", tracking_uri=server.base_url)
    [synthetic] = auth.list_user_roles(alice)
    rows = {(p.resource_type, p.resource_pattern, p.permission) for p in synthetic.permissions}
    assert ("prompt", prompt, "MANAGE") in rows, rows
    assert ("registered_model", model, "MANAGE") in rows, rows
    assert ("registered_model", prompt, "MANAGE") not in rows, rows

    # Bob sees neither, until the admin grants him READ on the prompt.
    login(bob, bob_password)
    refused(lambda: mlflow.genai.load_prompt(f"prompts:/{prompt}/1"))
    assert list(mlflow.genai.search_prompts(filter_string=f"name = '{prompt}'")) == []
    login(ADMIN_USERNAME, server.admin_password)
    auth.grant_user_permission(bob, "prompt", prompt, "READ")
    # ... and a prompt row on the model's name, which must decide nothing for it.
    auth.grant_user_permission(bob, "prompt", model, "MANAGE")

    login(bob, bob_password)
    assert mlflow.genai.load_prompt(f"prompts:/{prompt}/2").format(name="Bo") == "Hi, Bo!"
    assert [p.name for p in mlflow.genai.search_prompts(filter_string=f"name = '{prompt}'")] \
        == [prompt]
    refused(lambda: mlflow.genai.register_prompt(name=prompt, template="Bob's {{x}}"))
    refused(lambda: mlflow.MlflowClient().get_registered_model(model))
    refused(lambda: mlflow.MlflowClient().update_registered_model(model, description="mine"))
    assert [m.name for m in mlflow.MlflowClient().search_registered_models(
        filter_string=f"name = '{model}'")] == []

    # The 3.10 API calls the prompt a registered model and shows the prompt row.
    shown = rest(server, "GET", "/api/2.0/mlflow/registered-models/permissions/get",
                 params={"name": prompt, "username": bob})
    assert shown.status_code == 200, shown.text
    assert shown.json()["registered_model_permission"]["permission"] == "READ"
    # A grant made through the 3.10 API on a prompt is a prompt row for the 3.17 API.
    carol, carol_password = server.create_user(e2e.unique("carol"))
    made = rest(server, "POST", "/api/2.0/mlflow/registered-models/permissions/create",
                json={"name": prompt, "username": carol, "permission": "EDIT"})
    assert made.status_code == 200, made.text
    login(ADMIN_USERNAME, server.admin_password)
    carol_rows = {(p.resource_type, p.resource_pattern, p.permission)
                  for r in auth.list_user_roles(carol) for p in r.permissions}
    assert carol_rows == {("prompt", prompt, "EDIT")}
    login(carol, carol_password)
    mlflow.genai.register_prompt(name=prompt, template="Carol's {{name}}", commit_message="v3")
    assert mlflow.genai.load_prompt(f"prompts:/{prompt}/3").template == "Carol's {{name}}"

    # DENY on the prompt, from a role, is absolute: bob's own READ row is outvoted.
    login(ADMIN_USERNAME, server.admin_password)
    blocked = auth.create_role("default", e2e.unique("no-greeting"))
    auth.add_role_permission(blocked.id, "prompt", prompt, "DENY")
    auth.assign_role(bob, blocked.id)
    login(bob, bob_password)
    refused(lambda: mlflow.genai.load_prompt(f"prompts:/{prompt}/1"))
    assert list(mlflow.genai.search_prompts(filter_string=f"name = '{prompt}'")) == []

    # Deleting the prompt drops its creator's grant with it.
    login(alice, alice_password)
    client = mlflow.MlflowClient()
    for version in ("3", "2", "1"):
        client.delete_prompt_version(prompt, version)
    client.delete_prompt(prompt)
    login(ADMIN_USERNAME, server.admin_password)
    [synthetic] = auth.list_user_roles(alice)
    assert not any(p.resource_pattern == prompt for p in synthetic.permissions)
