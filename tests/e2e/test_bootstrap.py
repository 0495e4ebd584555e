"""Process-level behaviour: the first admin, restarts on the same database, start-up
refusals and graceful shutdown."""

import re
import subprocess

import requests

from conftest import MLGUARD_BIN, Mlguard, new_password

GENERATED = re.compile(r"Generated a password for admin user 'admin': (\S+)")
USERS_GET_ADMIN = "/api/2.0/mlflow/users/get?username=admin"


def test_generated_admin_password_is_printed_once(mlguard_factory):
    server = mlguard_factory("gen", admin_password=None)
    server.start()

    # Printed once, on stdout, never in the structured log.
    matches = GENERATED.findall(server.stdout())
    assert len(matches) == 1, server.output()
    password = matches[0]
    assert len(password) >= 16
    assert password not in server.stderr()

    # The README's "done when" check.
    r = requests.get(server.base_url + USERS_GET_ADMIN, auth=("admin", password), timeout=10)
    assert r.status_code == 200, r.text
    user = r.json()["user"]
    assert user["username"] == "admin" and user["is_admin"] is True
    assert requests.get(server.base_url + USERS_GET_ADMIN, auth=("admin", password + "x"), timeout=10).status_code == 401
    server.stop()

    # Same database: nothing generated, nothing printed, the old password still works.
    server.start()
    assert "Generated a password" not in server.stdout(), server.output()
    assert password not in server.stdout() + server.stderr()
    r = requests.get(server.base_url + USERS_GET_ADMIN, auth=("admin", password), timeout=10)
    assert r.status_code == 200, r.text
    server.stop()

    # A configured password on a non-empty store does not reset the admin.
    server.admin_password = new_password()
    server.secrets.add(server.admin_password)
    server.start()
    assert server.stdout() == ""
    assert requests.get(server.base_url + USERS_GET_ADMIN, auth=("admin", password), timeout=10).status_code == 200
    assert (
        requests.get(server.base_url + USERS_GET_ADMIN, auth=server.admin_auth(), timeout=10).status_code
        == 401
    )


def test_configured_admin_password_is_not_printed(mlguard_factory):
    server = mlguard_factory("configured").start()
    assert server.stdout() == ""
    r = requests.get(server.base_url + USERS_GET_ADMIN, auth=server.admin_auth(), timeout=10)
    assert r.status_code == 200 and r.json()["user"]["is_admin"] is True


def test_state_survives_restart(mlguard_factory, mlflow_upstream):
    # Grants name resources the tracking server holds, so mlguard sits in front of MLflow.
    server = mlguard_factory(
        "restart", extra_env={"MLGUARD_UPSTREAM__URL": mlflow_upstream.url}
    ).start()
    name, pw = server.create_user()
    exp = mlflow_upstream.create_experiment()
    r = requests.post(
        server.base_url + "/api/2.0/mlflow/experiments/permissions/create",
        json={"experiment_id": exp, "username": name, "permission": "EDIT"},
        auth=server.admin_auth(),
        timeout=10,
    )
    assert r.status_code == 200, r.text
    server.stop()
    server.start()
    r = requests.get(server.base_url + f"/api/2.0/mlflow/users/get?username={name}", auth=(name, pw), timeout=10)
    assert r.status_code == 200, r.text
    assert [(p["experiment_id"], p["permission"]) for p in r.json()["user"]["experiment_permissions"]] == [
        (exp, "EDIT")
    ]


def test_graceful_shutdown_with_open_keepalive_connection(mlguard_factory):
    server = mlguard_factory("keepalive").start()
    session = requests.Session()
    r = session.get(server.base_url + USERS_GET_ADMIN, auth=server.admin_auth(), timeout=10)
    assert r.status_code == 200
    # The pooled connection stays open; SIGTERM must still end the process with 0 quickly.
    server.stop()
    session.close()


def _run_refused(tmp_path, env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    server = Mlguard(tmp_path / "refused")
    server.port = 1  # never bound: start-up must stop before listening
    env = server.env()
    env.update(env_extra)
    return subprocess.run(
        [str(MLGUARD_BIN), "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=server.workdir,
    )


def test_bad_configuration_is_refused(tmp_path):
    short = "short-pw"
    done = _run_refused(tmp_path, {"MLGUARD_AUTH__ADMIN_PASSWORD": short})
    assert done.returncode != 0
    assert "admin_password" in done.stderr
    assert short not in done.stdout + done.stderr

    done = _run_refused(tmp_path, {"MLGUARD_AUTH__DEFAULT_PERMISSION": "WRITE"})
    assert done.returncode != 0
    assert "default_permission" in done.stderr
