"""MLflow 3.18's Skill Registry, with skills as resources of their own, through the
real mlguard binary in front of a real MLflow 3.18.0 (`default_permission`
NO_PERMISSIONS): a plain user registers a skill with and without an organization and
manages both, the search lists each caller only the skills they may read, a `skill`
grant reads one and changes nothing, and deleting one drops its creator's grant.
"""

from __future__ import annotations

import requests

from conftest import ADMIN_USERNAME, e2e


def test_a_skill_is_decided_by_its_own_grants(server):
    alice, alice_password = server.create_user(e2e.unique("alice"))
    bob, bob_password = server.create_user(e2e.unique("bob"))
    as_alice, as_bob = (alice, alice_password), (bob, bob_password)
    as_admin = (ADMIN_USERNAME, server.admin_password)
    base = f"{server.base_url}/api/3.0/mlflow/skills"
    organization, name = e2e.unique("acme"), e2e.unique("lint")
    # The two ways MLflow addresses a skill, and its grant id for each.
    skills = {f"/@{organization}/{name}": f"{organization}/{name}", f"/{name}": name}

    def call(who, method: str, path: str = "", **kwargs) -> requests.Response:
        return requests.request(method, f"{base}{path}", auth=who, timeout=30, **kwargs)

    def listed(who) -> set[tuple[str, str]]:
        r = call(who, "GET", params={"max_results": 100})
        assert r.status_code == 200, r.text
        return {(s.get("organization") or "", s["name"]) for s in r.json()["skills"]}

    def rows_of(username: str) -> set[tuple[str, str, str]]:
        r = requests.get(f"{server.base_url}/api/3.0/mlflow/users/permissions/list",
                         params={"username": username}, auth=as_admin, timeout=30)
        assert r.status_code == 200, r.text
        return {(p["resource_type"], p["resource_pattern"], p["permission"])
                for p in r.json()["permissions"]}

    for body in ({"name": name, "organization": organization}, {"name": name}):
        created = call(as_alice, "POST", json={**body, "description": "lints code"})
        assert created.status_code == 200, created.text
    for path, grant_id in skills.items():
        assert call(as_alice, "GET", path).json()["description"] == "lints code"
        changed = call(as_alice, "PATCH", path, json={"description": "lints better"})
        assert changed.status_code == 200, changed.text
        assert ("skill", grant_id, "MANAGE") in rows_of(alice)
    assert {(organization, name), ("", name)} <= listed(as_alice)

    # Bob holds nothing: not listed, not readable, not changeable.
    assert not {(organization, name), ("", name)} & listed(as_bob)
    for path in skills:
        for method, suffix, body in [("GET", "", None), ("PATCH", "", {"description": "x"}),
                                     ("GET", "/versions", None), ("DELETE", "", None)]:
            r = call(as_bob, method, path + suffix, json=body)
            assert r.status_code == 403, (method, path + suffix, r.text)

    # READ on the organization's skill only: that one is read, the other is not.
    granted = requests.post(f"{server.base_url}/api/3.0/mlflow/users/permissions/grant",
                            auth=as_admin, timeout=30,
                            json={"username": bob, "resource_type": "skill",
                                  "resource_id": f"{organization}/{name}", "permission": "READ"})
    assert granted.status_code == 200, granted.text
    assert call(as_bob, "GET", f"/@{organization}/{name}").status_code == 200
    assert call(as_bob, "GET", f"/{name}").status_code == 403
    assert (organization, name) in listed(as_bob) and ("", name) not in listed(as_bob)
    assert call(as_bob, "PATCH", f"/@{organization}/{name}",
                json={"description": "x"}).status_code == 403

    for path, grant_id in skills.items():
        deleted = call(as_alice, "DELETE", path)
        assert deleted.status_code == 200, deleted.text
        assert not any(t == "skill" and p == grant_id for t, p, _ in rows_of(alice))


def test_bulk_registration_adds_versions_to_skills_the_caller_may_change(server):
    alice, alice_password = server.create_user(e2e.unique("alice"))
    bob, bob_password = server.create_user(e2e.unique("bob"))
    as_alice, as_bob = (alice, alice_password), (bob, bob_password)
    base = f"{server.base_url}/api/3.0/mlflow/skills"
    organization = e2e.unique("acme")
    lint, fmt = e2e.unique("lint"), e2e.unique("fmt")

    def register(who, names: list[str]) -> requests.Response:
        # One repository at one commit, a skill per subpath, as the client sends it.
        return requests.post(f"{base}/bulk-register", auth=who, timeout=30, json={
            "organization": organization, "skills": [
                {"name": name, "source_type": "git", "source": "https://github.com/acme/skills",
                 "ref": "0123456789abcdef0123456789abcdef01234567", "subpath": name,
                 "digest": "a" * 64} for name in names]})

    def versions(who, name: str) -> list[int]:
        r = requests.get(f"{base}/@{organization}/{name}/versions", auth=who, timeout=30)
        assert r.status_code == 200, r.text
        return [v["version"] for v in r.json()["skill_versions"]]

    # Alice creates both skills, which makes her their manager, then registers a
    # version of each in one batch.
    for name in (lint, fmt):
        made = requests.post(base, auth=as_alice, timeout=30,
                             json={"name": name, "organization": organization})
        assert made.status_code == 200, made.text
    registered = register(as_alice, [lint, fmt])
    assert registered.status_code == 200, registered.text
    assert [v["name"] for v in registered.json()["skill_versions"]] == [lint, fmt]
    assert versions(as_alice, lint) == [1]

    # Bob may change `lint` only: a batch that also names `fmt`, or a skill that
    # does not exist yet, is refused whole, and nothing is registered.
    granted = requests.post(f"{server.base_url}/api/3.0/mlflow/users/permissions/grant",
                            auth=(ADMIN_USERNAME, server.admin_password), timeout=30,
                            json={"username": bob, "resource_type": "skill",
                                  "resource_id": f"{organization}/{lint}", "permission": "EDIT"})
    assert granted.status_code == 200, granted.text
    for names in ([lint, fmt], [fmt], [lint, e2e.unique("new")]):
        refused = register(as_bob, names)
        assert refused.status_code == 403, (names, refused.text)
    assert versions(as_alice, fmt) == [1]
    # A batch of skills he may change goes through (MLflow reuses the identical
    # version), and a skill name that could smuggle another identity is refused.
    assert register(as_bob, [lint]).status_code == 200
    assert register(as_bob, [f"{lint}/../{fmt}"]).status_code == 400
    # A batch that names no skill, or names one in the wrong type, is not let through.
    for body in ({"organization": organization}, {"organization": organization, "skills": []},
                 {"organization": organization, "skills": [{"name": 7}]},
                 {"organization": ["x"], "skills": [{"name": lint}]}):
        r = requests.post(f"{base}/bulk-register", auth=as_bob, timeout=30, json=body)
        assert r.status_code in (400, 403), (body, r.status_code, r.text)
