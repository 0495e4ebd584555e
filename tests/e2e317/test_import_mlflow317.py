"""`mlguard import-mlflow` from a basic-auth database written by a real MLflow 3.17.2
server (its role tables) through its stock `AuthServiceClient`. The import runs with
the real binary; what arrived is read back through mlguard's 3.17 and 3.10 APIs, and
every user logs in with their MLflow password.
"""

from __future__ import annotations

import contextlib
import sqlite3

import pytest
import requests

from conftest import e2e, load_e2e

support = load_e2e("import_support")
MlflowAuthServer = support.MlflowAuthServer
as_user, auth_client, imported = support.as_user, support.auth_client, support.imported


def summary(stdout: str) -> dict[str, dict[str, int]]:
    return support.summary(stdout, required=("roles", "per-user grants"))


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """An MLflow 3.17.2 auth database: named roles (one outside `default`) with
    wildcard, DENY and wildcard-only rows, assignments, and per-user grants on
    experiment, registered_model, prompt and scorer ids, DENY among them."""
    workdir = tmp_path_factory.mktemp("mlflow317-auth")
    db = workdir / "basic_auth.db"
    server = MlflowAuthServer(workdir, f"sqlite:///{db}", default_permission="NO_PERMISSIONS").start()
    passwords = {"admin": server.admin_password}
    try:
        with as_user("admin", server.admin_password):
            auth = auth_client(server.base_url)
            names = {n: e2e.unique(n) for n in ("alice", "bob", "carol")}
            for name in names.values():
                passwords[name] = e2e.new_password()
                auth.create_user(name, passwords[name])
            alice, bob, carol = names["alice"], names["bob"], names["carol"]
            readers = auth.create_role("default", "readers", description="read every experiment")
            auth.add_role_permission(readers.id, "experiment", "*", "READ")
            auth.add_role_permission(readers.id, "run", "*", "EDIT")
            auth.add_role_permission(readers.id, "experiment", "7", "DENY")
            auth.add_role_permission(readers.id, "prompt", "*", "USE")
            team = auth.create_role("team-a", "team-role")
            auth.add_role_permission(team.id, "registered_model", "m1", "MANAGE")
            auth.assign_role(alice, readers.id)
            auth.assign_role(bob, readers.id)
            auth.assign_role(carol, team.id)
            auth.grant_user_permission(alice, "experiment", "3", "MANAGE")
            auth.grant_user_permission(alice, "registered_model", "alice-model", "EDIT")
            auth.grant_user_permission(bob, "prompt", "bob-prompt", "READ")
            auth.grant_user_permission(bob, "scorer", "3/my%20scorer", "USE")
            auth.grant_user_permission(carol, "experiment", "5", "DENY")
            mlflow_ids = {u: auth.get_user(u).id for u in names.values()}
    finally:
        server.stop()
    with contextlib.closing(sqlite3.connect(db)) as conn:
        revision = conn.execute("SELECT version_num FROM alembic_version_auth").fetchone()[0]
        synthetic = [r[0] for r in conn.execute("SELECT name FROM roles WHERE name LIKE '\\_\\_user\\_%' ESCAPE '\\'")]
    assert revision == "f1a2b3c4d5e6", revision
    assert sorted(synthetic) == sorted(f"__user_{i}__" for i in mlflow_ids.values()), synthetic
    return {"url": f"sqlite://{db}", "passwords": passwords, "names": names, "mlflow_ids": mlflow_ids}


@pytest.fixture(scope="module")
def mlguard(tmp_path_factory, source):
    """mlguard on a database where two accounts exist before the import, so that
    its user ids differ from MLflow's."""
    workdir = tmp_path_factory.mktemp("mlguard-import317")
    database_url = f"sqlite://{workdir / 'mlguard.db'}"
    server = e2e.Mlguard(workdir, database_url=database_url, admin_password=source["passwords"]["admin"])
    server.start()
    for name in ("zed", "yan"):
        server.create_user(e2e.unique(name))
    server.stop()
    first = imported(source["url"], database_url, "--dry-run")
    assert "Dry run: nothing was written" in first, first
    server.import_output = imported(source["url"], database_url)
    server.second_output = imported(source["url"], database_url)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def api(server, name: str, password: str, path: str, **params) -> dict:
    answer = requests.get(server.base_url + path, params=params, auth=(name, password), timeout=30)
    assert answer.status_code == 200, (path, answer.status_code, answer.text)
    return answer.json()


def test_the_import_counts_roles_rows_and_assignments_and_a_second_changes_nothing(mlguard):
    rows = summary(mlguard.import_output)
    assert rows["roles"]["created"] == 2, mlguard.import_output
    assert rows["role grants"]["created"] == 5, mlguard.import_output
    assert rows["per-user grants"]["created"] == 5, mlguard.import_output
    assert rows["role assignments"]["created"] == 3, mlguard.import_output
    assert rows["all grants"]["skipped"] == 0, mlguard.import_output
    assert "Nothing to do" in mlguard.second_output, mlguard.second_output
    again = summary(mlguard.second_output)
    assert again["per-user grants"]["unchanged"] == 5


def test_roles_rows_and_descriptions_arrive(mlguard, source):
    admin_password = source["passwords"]["admin"]
    roles = api(mlguard, "admin", admin_password, "/api/3.0/mlflow/roles/list")["roles"]
    named = {(r["workspace"], r["name"]): r for r in roles if not r["name"].startswith("__user_")}
    assert set(named) == {("default", "readers"), ("team-a", "team-role")}
    assert named["default", "readers"]["description"] == "read every experiment"
    assert named["team-a", "team-role"]["description"] is None
    listed = api(
        mlguard, "admin", admin_password, "/api/3.0/mlflow/roles/permissions/list",
        role_id=named["default", "readers"]["id"],
    )["role_permissions"]
    assert sorted((r["resource_type"], r["resource_pattern"], r["permission"]) for r in listed) == [
        ("experiment", "*", "READ"),
        ("experiment", "7", "DENY"),
        ("prompt", "*", "USE"),
        ("run", "*", "EDIT"),
    ]


def test_per_user_grants_land_on_the_synthetic_role_of_the_mlguard_account(mlguard, source):
    expected = {
        "alice": {("experiment", "3", "MANAGE"), ("registered_model", "alice-model", "EDIT")},
        "bob": {("prompt", "bob-prompt", "READ"), ("scorer", "3/my%20scorer", "USE")},
        "carol": {("experiment", "5", "DENY")},
    }
    named_rows = {
        "alice": {("default", "readers")},
        "bob": {("default", "readers")},
        "carol": {("team-a", "team-role")},
    }
    for key, name in source["names"].items():
        password = source["passwords"][name]
        user = api(mlguard, name, password, "/api/2.0/mlflow/users/get", username=name)["user"]
        synthetic = f"__user_{user['id']}__"
        # mlguard numbers its own users: two accounts existed before the import.
        assert user["id"] != source["mlflow_ids"][name]
        listed = api(mlguard, name, password, "/api/3.0/mlflow/users/permissions/list", username=name)
        assert listed["is_admin"] is False
        rows = listed["permissions"]
        own = {(r["resource_type"], r["resource_pattern"], r["permission"]) for r in rows if r["role_name"] == synthetic}
        assert own == expected[key], rows
        assert {r["workspace"] for r in rows if r["role_name"] == synthetic} == {"default"}
        assert {(r["workspace"], r["role_name"]) for r in rows if r["role_name"] != synthetic} == named_rows[key]


def test_deny_and_role_grants_decide_as_in_mlflow(mlguard, source):
    carol, bob = source["names"]["carol"], source["names"]["bob"]
    with as_user("admin", source["passwords"]["admin"]):
        auth = auth_client(mlguard.base_url)
        denied = auth.get_user_permission(carol, "experiment", "5")
        assert (denied.allowed, denied.permission) == (False, "DENY")
        # The role's wildcard READ, vetoed by its DENY on 7.
        assert auth.get_user_permission(bob, "experiment", "1").permission == "READ"
        assert auth.get_user_permission(bob, "experiment", "7").permission == "DENY"


def test_every_user_logs_in_with_their_mlflow_password(mlguard, source):
    for name, password in source["passwords"].items():
        answer = requests.get(
            mlguard.base_url + "/api/2.0/mlflow/users/get", params={"username": name}, auth=(name, password), timeout=30
        )
        assert answer.status_code == 200, (name, answer.status_code, answer.text)
        wrong = requests.get(
            mlguard.base_url + "/api/2.0/mlflow/users/get", params={"username": name}, auth=(name, password + "x"), timeout=30
        )
        assert wrong.status_code == 401
