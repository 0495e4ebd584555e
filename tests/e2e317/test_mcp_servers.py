"""MLflow 3.17's MCP servers as resources of their own, through the real mlguard binary
in front of a real MLflow 3.17.2 (`default_permission` NO_PERMISSIONS): a plain user
registers one and manages it, the search lists each caller only the servers they may
read, an `mcp_server` grant made through the 3.17 API reads it and changes nothing,
and deleting it drops its creator's grant.
"""

from __future__ import annotations

import requests
from mlflow.server import get_app_client

from conftest import ADMIN_USERNAME, e2e


def test_an_mcp_server_is_decided_by_its_own_grants(server, login):
    alice, alice_password = server.create_user(e2e.unique("alice"))
    bob, bob_password = server.create_user(e2e.unique("bob"))
    as_alice, as_bob = (alice, alice_password), (bob, bob_password)
    name = f"com.example/{e2e.unique('search')}"
    base = f"{server.base_url}/api/3.0/mlflow/mcp-servers"

    def call(who, method: str, path: str = "", **kwargs) -> requests.Response:
        return requests.request(method, f"{base}{path}", auth=who, timeout=30, **kwargs)

    def listed(who) -> set[str]:
        r = call(who, "GET", params={"max_results": 100})
        assert r.status_code == 200, r.text
        return {s["name"] for s in r.json()["mcp_servers"]}

    created = call(as_alice, "POST", json={"name": name, "description": "web search"})
    assert created.status_code == 200, created.text
    assert created.json()["name"] == name
    assert call(as_alice, "GET", f"/{name}").json()["description"] == "web search"
    changed = call(as_alice, "PATCH", f"/{name}", json={"description": "better search"})
    assert changed.status_code == 200, changed.text
    tagged = call(as_alice, "POST", f"/{name}/tags", json={"key": "team", "value": "ir"})
    assert tagged.status_code == 200, tagged.text
    assert name in listed(as_alice)

    # Creating it made alice its manager, under MLflow 3.17's own type.
    login(ADMIN_USERNAME, server.admin_password)
    auth = get_app_client("basic-auth", tracking_uri=server.base_url)
    rows = {(p.resource_type, p.resource_pattern, p.permission)
            for p in auth.list_user_roles(alice)[0].permissions}
    assert ("mcp_server", name, "MANAGE") in rows, rows

    # Bob holds nothing: not listed, not readable, not changeable.
    assert name not in listed(as_bob)
    for method, path, body in [("GET", f"/{name}", None),
                               ("PATCH", f"/{name}", {"description": "mine"}),
                               ("GET", f"/{name}/versions", None),
                               ("DELETE", f"/{name}/tags/team", None),
                               ("DELETE", f"/{name}", None)]:
        r = call(as_bob, method, path, json=body)
        assert r.status_code == 403, (method, path, r.text)

    # READ through the 3.17 API: bob reads it and changes nothing.
    auth.grant_user_permission(bob, "mcp_server", name, "READ")
    assert call(as_bob, "GET", f"/{name}").json()["description"] == "better search"
    assert name in listed(as_bob)
    assert call(as_bob, "PATCH", f"/{name}", json={"description": "mine"}).status_code == 403
    assert call(as_bob, "DELETE", f"/{name}").status_code == 403
    # HEAD is decided as the GET and tells no more than it.
    assert requests.head(f"{base}/{name}", auth=as_alice, timeout=30).status_code == 200
    assert requests.head(f"{base}/{name}", auth=(ADMIN_USERNAME, "wrong"),
                         timeout=30).status_code == 401

    deleted = call(as_alice, "DELETE", f"/{name}")
    assert deleted.status_code == 200, deleted.text
    rows = {(p.resource_type, p.resource_pattern)
            for p in auth.list_user_roles(alice)[0].permissions}
    assert ("mcp_server", name) not in rows, rows


def test_the_search_of_every_access_endpoint_lists_the_readable_servers_endpoints(server):
    alice, alice_password = server.create_user(e2e.unique("alice"))
    bob, bob_password = server.create_user(e2e.unique("bob"))
    as_alice, as_bob = (alice, alice_password), (bob, bob_password)
    as_admin = (ADMIN_USERNAME, server.admin_password)
    base = f"{server.base_url}/api/3.0/mlflow/mcp-servers"
    mine, theirs = (f"com.example/{e2e.unique(n)}" for n in ("search", "files"))

    for who, name in ((as_alice, mine), (as_bob, theirs)):
        made = requests.post(base, auth=who, timeout=30, json={"name": name})
        assert made.status_code == 200, made.text
        version = requests.post(f"{base}/{name}/versions", auth=who, timeout=30, json={
            "server_json": {"name": name, "version": "1.0.0"}, "status": "active"})
        assert version.status_code == 200, version.text
        for n in range(3):
            endpoint = requests.post(f"{base}/{name}/endpoints", auth=who, timeout=30,
                                     json={"url": f"https://mcp.example.com/{name}/{n}",
                                           "server_version": "1.0.0"})
            assert endpoint.status_code == 200, endpoint.text

    def listed(who, **params) -> list[str]:
        """Every page of the search, as the UI pages through it."""
        names, token = [], None
        while True:
            r = requests.get(f"{base}/endpoints", auth=who, timeout=30,
                             params={**params, **({"page_token": token} if token else {})})
            assert r.status_code == 200, r.text
            names += [e["server_name"] for e in r.json()["mcp_access_endpoints"]]
            token = r.json().get("next_page_token")
            if not token:
                return names

    # Each caller sees their own servers' endpoints, and full pages of them.
    assert sorted(listed(as_alice)) == [mine] * 3
    assert sorted(listed(as_bob)) == [theirs] * 3
    assert sorted(listed(as_alice, max_results=2)) == [mine] * 3
    first = requests.get(f"{base}/endpoints", auth=as_alice, timeout=30,
                         params={"max_results": 2})
    assert [e["server_name"] for e in first.json()["mcp_access_endpoints"]] == [mine] * 2
    assert {mine, theirs} <= set(listed(as_admin))
    # HEAD tells no more than the GET.
    head = requests.head(f"{base}/endpoints", auth=as_alice, timeout=30)
    assert head.status_code == 200
