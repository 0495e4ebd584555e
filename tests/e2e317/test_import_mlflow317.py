"""`mlguard import-mlflow` from a basic-auth database written by a real MLflow 3.17.2
server (its role tables) through its stock `AuthServiceClient`. The import runs with
the real binary; what arrived is read back through mlguard's 3.17 and 3.10 APIs, and
every user logs in with their MLflow password.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from conftest import e2e

MLFLOW_STARTUP_TIMEOUT_S = 120
IMPORT_TIMEOUT_S = 300


@contextlib.contextmanager
def as_user(username: str, password: str):
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")}
    os.environ["MLFLOW_TRACKING_USERNAME"] = username
    os.environ["MLFLOW_TRACKING_PASSWORD"] = password
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def auth_client(base_url: str):
    from mlflow.server import get_app_client

    return get_app_client("basic-auth", tracking_uri=base_url)


class MlflowAuthServer:
    """`mlflow server --app-name basic-auth` of this venv (3.17.2) on SQLite."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.db = workdir / "basic_auth.db"
        self.admin_password = e2e.new_password()
        self.ini = workdir / "basic_auth.ini"
        self.ini.write_text(
            "[mlflow]\n"
            "default_permission = NO_PERMISSIONS\n"
            f"database_uri = sqlite:///{self.db}\n"
            "admin_username = admin\n"
            f"admin_password = {self.admin_password}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        )
        self.port = e2e.free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "mlflow-server.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "MlflowAuthServer":
        env = dict(
            os.environ,
            MLFLOW_AUTH_CONFIG_PATH=str(self.ini),
            MLFLOW_FLASK_SERVER_SECRET_KEY=secrets.token_hex(16),
            MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",
        )
        for var in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            env.pop(var, None)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable, "-m", "mlflow", "server",
                    "--app-name", "basic-auth",
                    "--backend-store-uri", f"sqlite:///{self.workdir / 'mlflow.db'}",
                    "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
                ],
                env=env,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # uvicorn's workers stop with the group
            )
        deadline = time.monotonic() + MLFLOW_STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"mlflow server exited during start-up:\n{self.tail()}", pytrace=False)
            try:
                if requests.get(self.base_url + "/health", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.25)
        self.stop()
        pytest.fail(f"mlflow server not healthy after {MLFLOW_STARTUP_TIMEOUT_S}s:\n{self.tail()}", pytrace=False)

    def stop(self) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]


def run_import(source_url: str, database_url: str, *flags: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLGUARD_")}
    env.pop("RUST_LOG", None)
    env["MLGUARD_DATABASE__URL"] = database_url
    done = subprocess.run(
        [str(e2e.MLGUARD_BIN), "import-mlflow", "--from", source_url, *flags],
        env=env,
        capture_output=True,
        text=True,
        timeout=IMPORT_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"import failed ({done.returncode})\n{done.stdout}\n{done.stderr}"
    return done.stdout


def summary(stdout: str) -> dict[str, dict[str, int]]:
    columns = ["found", "created", "updated", "unchanged", "skipped", "conflicts"]
    rows = {}
    for line in stdout.splitlines():
        match = re.fullmatch(r"([a-z -]+?)\s+" + r"\s+".join([r"(\d+)"] * 6), line.strip())
        if match:
            rows[match.group(1)] = dict(zip(columns, map(int, match.groups()[1:])))
    assert "roles" in rows and "per-user grants" in rows, f"no summary table in:\n{stdout}"
    return rows


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """An MLflow 3.17.2 auth database: named roles (one outside `default`) with
    wildcard, DENY and wildcard-only rows, assignments, and per-user grants on
    experiment, registered_model, prompt and scorer ids, DENY among them."""
    server = MlflowAuthServer(tmp_path_factory.mktemp("mlflow317-auth")).start()
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
    with contextlib.closing(sqlite3.connect(server.db)) as conn:
        revision = conn.execute("SELECT version_num FROM alembic_version_auth").fetchone()[0]
        synthetic = [r[0] for r in conn.execute("SELECT name FROM roles WHERE name LIKE '\\_\\_user\\_%' ESCAPE '\\'")]
    assert revision == "f1a2b3c4d5e6", revision
    assert sorted(synthetic) == sorted(f"__user_{i}__" for i in mlflow_ids.values()), synthetic
    return {"url": f"sqlite://{server.db}", "passwords": passwords, "names": names, "mlflow_ids": mlflow_ids}


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
    first = run_import(source["url"], database_url, "--dry-run")
    assert "Dry run: nothing was written" in first, first
    server.import_output = run_import(source["url"], database_url)
    server.second_output = run_import(source["url"], database_url)
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
