"""Several mlguard replicas on one PostgreSQL database with `auth.consistency =
strict`: what one replica changes, the others enforce at their next request; racing
writes end with one winner; many concurrent grant changes end exactly as if applied
one at a time. (The default, `snapshot`, converges within a measured bound instead:
tests/e2e/test_consistency.py.)"""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import new_password, unique
from test_postgres import postgres_url  # noqa: F401  (fixture)

PERMS = "/api/2.0/mlflow/experiments/permissions"


@pytest.fixture
def replicas(mlguard_factory, postgres_url, mlflow_upstream):  # noqa: F811
    # In front of one real MLflow: grants name resources the tracking server holds.
    admin_password = new_password()
    servers = [
        mlguard_factory(f"replica{i}", database_url=postgres_url,
                        admin_password=admin_password,
                        extra_env={"MLGUARD_UPSTREAM__URL": mlflow_upstream.url,
                                   "MLGUARD_AUTH__CONSISTENCY": "strict"}).start()
        for i in range(3)
    ]
    return servers


def call(server, auth, method, path, **kwargs):
    return requests.request(method, server.base_url + path, auth=auth, timeout=30, **kwargs)


def test_changes_on_one_replica_take_effect_on_the_others(replicas, mlflow_upstream):
    a, b, c = replicas
    exp = mlflow_upstream.create_experiment()
    admin = a.admin_auth()
    user = a.create_user(unique("alice"))
    for server in replicas:
        server.secrets.add(user[1])
    # The user gets MANAGE on experiment 7 through replica a...
    r = call(a, admin, "POST", f"{PERMS}/create",
             json={"experiment_id": exp, "username": user[0], "permission": "MANAGE"})
    assert r.status_code == 200, r.text
    grant_for_b = {"experiment_id": exp, "username": "admin", "permission": "READ"}
    # ...and may use it on replica b at once (and b now caches her password).
    r = call(b, user, "POST", f"{PERMS}/create", json=grant_for_b)
    assert r.status_code == 200, r.text
    # Revoked on a: refused on b and c at their next request.
    r = call(a, admin, "DELETE", f"{PERMS}/delete", json={"experiment_id": exp, "username": user[0]})
    assert r.status_code == 200
    for server in (b, c):
        r = call(server, user, "GET", f"{PERMS}/get", params={"experiment_id": exp, "username": "admin"})
        assert r.status_code == 403, (server.workdir.name, r.text)

    # A token from c works on b; revoked on a, refused on b.
    token = call(c, user, "POST", "/api/2.0/mlguard/tokens/create").json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    me = f"/api/2.0/mlflow/users/get?username={user[0]}"
    assert requests.get(b.base_url + me, headers=bearer, timeout=30).status_code == 200
    r = call(a, user, "POST", "/api/2.0/mlguard/tokens/revoke", json={"token": token})
    assert r.status_code == 200
    assert requests.get(b.base_url + me, headers=bearer, timeout=30).status_code == 401

    # Promoted on a: admin on b; demoted on a: not any more on b.
    call(a, admin, "PATCH", "/api/2.0/mlflow/users/update-admin", json={"username": user[0], "is_admin": True})
    assert call(b, user, "GET", "/api/2.0/mlflow/users/list").status_code == 200
    call(a, admin, "PATCH", "/api/2.0/mlflow/users/update-admin", json={"username": user[0], "is_admin": False})
    assert call(b, user, "GET", "/api/2.0/mlflow/users/list").status_code == 403

    # Password changed on a: the old one (cached on b) is refused there.
    new_pw = new_password()
    for server in replicas:
        server.secrets.add(new_pw)
    r = call(a, admin, "PATCH", "/api/2.0/mlflow/users/update-password",
             json={"username": user[0], "password": new_pw})
    assert r.status_code == 200
    assert call(b, user, "GET", me).status_code == 401
    assert call(b, (user[0], new_pw), "GET", me).status_code == 200

    # Deleted on a: gone on c.
    assert call(a, admin, "DELETE", "/api/2.0/mlflow/users/delete", json={"username": user[0]}).status_code == 200
    assert call(c, (user[0], new_pw), "GET", me).status_code == 401


def test_racing_creates_have_exactly_one_winner(replicas, mlflow_upstream):
    admin = replicas[0].admin_auth()
    exp = mlflow_upstream.create_experiment()
    name = unique("racer")
    barrier = threading.Barrier(12)

    def create_user(i):
        barrier.wait()
        return call(replicas[i % 3], admin, "POST", "/api/2.0/mlflow/users/create",
                    json={"username": name, "password": "racer-password-123"})

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(create_user, range(12)))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] + [400] * 11, statuses
    assert all(r.json()["error_code"] == "RESOURCE_ALREADY_EXISTS" for r in results if r.status_code == 400)

    barrier = threading.Barrier(12)

    def create_grant(i):
        barrier.wait()
        return call(replicas[i % 3], admin, "POST", f"{PERMS}/create",
                    json={"experiment_id": exp, "username": name, "permission": "EDIT"})

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(create_grant, range(12)))
    assert sorted(r.status_code for r in results) == [200] + [400] * 11


def test_a_thousand_concurrent_grant_changes_match_serial_application(replicas, mlflow_upstream):
    """100 (user, experiment) pairs, each with its own ordered chain of 10 operations;
    the chains run concurrently across the three replicas. The final state must be
    what applying each chain in order gives, and nothing may be lost."""
    admin = replicas[0].admin_auth()
    users = [replicas[0].create_user(unique("u"))[0] for _ in range(10)]
    rng = random.Random(1234)
    levels = ["READ", "USE", "EDIT", "MANAGE", "NO_PERMISSIONS"]
    experiments = [mlflow_upstream.create_experiment() for _ in range(10)]
    chains = {}
    for user in users:
        for experiment in experiments:
            ops = []
            for _ in range(10):
                ops.append((rng.choice(["set", "set", "revoke"]), rng.choice(levels)))
            chains[(user, experiment)] = ops

    def expected(ops):
        state = None
        for op, level in ops:
            state = level if op == "set" else None
        return state

    def run_chain(item):
        (user, experiment), ops = item
        state = None
        for op, level in ops:
            server = replicas[rng.randrange(3)]
            if op == "set":
                method, path = ("POST", f"{PERMS}/create") if state is None else ("PATCH", f"{PERMS}/update")
                r = call(server, admin, method, path,
                         json={"experiment_id": experiment, "username": user, "permission": level})
                assert r.status_code == 200, r.text
                state = level
            elif state is not None:
                r = call(server, admin, "DELETE", f"{PERMS}/delete",
                         json={"experiment_id": experiment, "username": user})
                assert r.status_code == 200, r.text
                state = None
        return len(ops)

    with ThreadPoolExecutor(16) as pool:
        done = sum(pool.map(run_chain, chains.items()))
    assert done == 1000

    for user in users:
        r = call(replicas[2], admin, "GET", "/api/2.0/mlflow/users/get", params={"username": user})
        held = {p["experiment_id"]: p["permission"] for p in r.json()["user"]["experiment_permissions"]}
        want = {exp: expected(ops) for (u, exp), ops in chains.items() if u == user and expected(ops)}
        assert held == want, user
