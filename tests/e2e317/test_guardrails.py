"""MLflow 3.17's gateway guardrails, as the gateway page uses them, through the real
mlguard binary in front of a real MLflow 3.17.2 (`default_permission`
NO_PERMISSIONS). An admin makes the guardrails; an endpoint's editor attaches and
reorders one only when they may read its scorer, and the endpoint's list shows each
guardrail's scorer only to who may read that scorer.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import requests

from conftest import ADMIN_USERNAME, e2e, grant


def test_guardrails_are_attached_by_endpoint_editors_who_read_their_scorer(server):
    upstream = server.upstream
    admin = (ADMIN_USERNAME, server.admin_password)
    alice = server.create_user(e2e.unique("alice"))
    bob = server.create_user(e2e.unique("bob"))
    carol = server.create_user(e2e.unique("carol"))

    def call(who, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, f"{server.base_url}/ajax-api/3.0/mlflow/gateway{path}",
                                auth=who, timeout=30, **kwargs)

    # What an admin sets up: an endpoint, and two guardrails over judges registered
    # in an experiment nobody else holds.
    endpoint = upstream.create_gateway_endpoint(
        upstream.create_gateway_model_definition(upstream.create_gateway_secret()))
    experiment = upstream.create_experiment()

    def guardrail(judge: str) -> str:
        scorer = requests.post(f"{upstream.url}/api/3.0/mlflow/scorers/register", timeout=30, json={
            "experiment_id": experiment, "name": judge,
            "serialized_scorer": json.dumps({
                "name": judge, "builtin_scorer_class": "Guidelines",
                "builtin_scorer_pydantic_data": {"name": judge, "guidelines": ["Be polite."]},
                "mlflow_version": "3.17.2", "serialization_version": 1})})
        assert scorer.status_code == 200, scorer.text
        made = call(admin, "POST", "/guardrails/create", json={
            "name": e2e.unique("guard"), "scorer_id": scorer.json()["scorer_id"],
            "scorer_version": scorer.json()["version"], "stage": "BEFORE",
            "action": "VALIDATION"})
        assert made.status_code == 200, made.text
        return made.json()["guardrail"]["guardrail_id"]

    polite, strict = guardrail(e2e.unique("polite")), guardrail(e2e.unique("strict"))
    scorer_of = {
        g: call(admin, "GET", f"/guardrails/get?guardrail_id={g}").json()["guardrail"]["scorer"]
        for g in (polite, strict)
    }
    polite_id = f"{experiment}/{quote(scorer_of[polite]['scorer_name'], safe='')}"
    strict_id = f"{experiment}/{quote(scorer_of[strict]['scorer_name'], safe='')}"

    grant(server, alice[0], "gateway_endpoint", endpoint, "EDIT")
    grant(server, alice[0], "scorer", polite_id, "READ")
    grant(server, bob[0], "gateway_endpoint", endpoint, "READ")

    def attach(who, guardrail_id: str) -> requests.Response:
        return call(who, "POST", "/guardrails/add-to-endpoint",
                    json={"endpoint_id": endpoint, "guardrail_id": guardrail_id})

    # Guardrails themselves are the admins'.
    assert call(alice, "GET", f"/guardrails/get?guardrail_id={polite}").status_code == 403
    assert call(alice, "GET", "/guardrails/list").status_code == 403

    # Alice edits the endpoint and reads the polite judge, not the strict one.
    attached = attach(alice, polite)
    assert attached.status_code == 200, attached.text
    assert attached.json()["config"]["guardrail"]["scorer"]["scorer_name"] == \
        scorer_of[polite]["scorer_name"]
    assert attach(alice, strict).status_code == 403
    assert attach(alice, "no-such-guardrail").status_code == 403
    # Bob only reads the endpoint; Carol holds nothing.
    assert attach(bob, polite).status_code == 403
    assert attach(carol, polite).status_code == 403
    reordered = call(alice, "PATCH", "/guardrails/update-config", json={
        "endpoint_id": endpoint, "guardrail_id": polite, "execution_order": 2})
    assert reordered.status_code == 200, reordered.text

    # The admin attaches the strict one too: now the list names both.
    assert attach(admin, strict).status_code == 200
    assert call(alice, "PATCH", "/guardrails/update-config", json={
        "endpoint_id": endpoint, "guardrail_id": strict, "execution_order": 3}).status_code == 403

    def listed(who) -> dict[str, bool]:
        """Each attached guardrail, and whether its scorer is shown."""
        r = call(who, "GET", f"/guardrails/list-for-endpoint?endpoint_id={endpoint}")
        assert r.status_code == 200, r.text
        return {c["guardrail_id"]: "scorer" in c.get("guardrail", {})
                for c in r.json().get("configs", [])}

    assert listed(admin) == {polite: True, strict: True}
    assert listed(alice) == {polite: True, strict: False}
    assert listed(bob) == {polite: False, strict: False}
    refused = call(carol, "GET", f"/guardrails/list-for-endpoint?endpoint_id={endpoint}")
    assert refused.status_code == 403, refused.text

    # A denial on the judge hides it from Alice again, whatever else she holds.
    grant(server, alice[0], "experiment", experiment, "READ")
    assert listed(alice) == {polite: True, strict: False}
    requests.post(f"{server.base_url}/api/3.0/mlflow/users/permissions/revoke", auth=admin,
                  timeout=30, json={"username": alice[0], "resource_type": "scorer",
                                    "resource_id": polite_id}).raise_for_status()
    grant(server, alice[0], "scorer", polite_id, "DENY")
    assert listed(alice) == {polite: False, strict: False}
    assert call(alice, "PATCH", "/guardrails/update-config", json={
        "endpoint_id": endpoint, "guardrail_id": polite, "execution_order": 4}).status_code == 403

    # Detaching needs only the endpoint.
    detached = call(alice, "DELETE", "/guardrails/remove-from-endpoint",
                    json={"endpoint_id": endpoint, "guardrail_id": polite})
    assert detached.status_code == 200, detached.text
    assert listed(admin) == {strict: True}
