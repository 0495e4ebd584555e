"""The user lifecycle against PostgreSQL, through the real MLflow client.

Uses a fresh database `mlguard_e2e_<hex>` on the server named by
`MLGUARD_TEST_POSTGRES_URL` (default postgres://postgres@127.0.0.1:5432/test, trust
auth), created and dropped with `psql`. An unreachable PostgreSQL is a failure.
"""

import os
import secrets
import subprocess
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from mlflow.exceptions import MlflowException

from conftest import ADMIN_USERNAME, new_password, unique

ADMIN_URL = os.environ.get("MLGUARD_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")


def psql(sql: str) -> None:
    done = subprocess.run(
        ["psql", ADMIN_URL, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-c", sql],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"psql failed ({sql}): {done.stderr}"


@pytest.fixture
def postgres_url():
    name = f"mlguard_e2e_{secrets.token_hex(6)}"
    psql(f'CREATE DATABASE "{name}"')
    try:
        parts = urlsplit(ADMIN_URL)
        yield urlunsplit(parts._replace(path="/" + name))
    finally:
        psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_user_lifecycle_on_postgres(mlguard_factory, postgres_url, login, mlflow_upstream):
    # Grants name resources the tracking server holds, so mlguard sits in front of MLflow.
    server = mlguard_factory(
        "pg", database_url=postgres_url, extra_env={"MLGUARD_UPSTREAM__URL": mlflow_upstream.url}
    ).start()
    exp, model = mlflow_upstream.create_experiment(), mlflow_upstream.create_registered_model()
    r = requests.get(server.base_url + "/ready", timeout=10)
    assert r.status_code == 200, r.text

    login(ADMIN_USERNAME, server.admin_password)
    admin = server.client()
    name, pw = unique("pg-user"), new_password()
    server.secrets.add(pw)

    created = admin.create_user(name, pw)
    assert (created.username, created.is_admin) == (name, False)
    with pytest.raises(MlflowException) as e:
        admin.create_user(name, new_password())
    assert e.value.error_code == "RESOURCE_ALREADY_EXISTS"

    admin.create_experiment_permission(exp, name, "MANAGE")
    admin.create_registered_model_permission(model, name, "EDIT")
    with pytest.raises(MlflowException) as e:
        admin.create_experiment_permission(exp, name, "READ")
    assert e.value.error_code == "RESOURCE_ALREADY_EXISTS"
    with pytest.raises(MlflowException) as e:
        admin.get_experiment_permission("8", name)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    got = admin.get_user(name)
    assert got.id == created.id
    assert [(p.experiment_id, p.user_id, p.permission) for p in got.experiment_permissions] == [
        (exp, created.id, "MANAGE")
    ]
    assert [(p.name, p.permission) for p in got.registered_model_permissions] == [(model, "EDIT")]

    new_pw = new_password()
    server.secrets.add(new_pw)
    admin.update_user_password(name, new_pw)
    login(name, pw)
    with pytest.raises(MlflowException) as e:
        server.client().get_user(name)
    assert e.value.error_code == "UNAUTHENTICATED"
    login(name, new_pw)
    server.client().create_experiment_permission(exp, ADMIN_USERNAME, "READ")  # MANAGE on exp
    with pytest.raises(MlflowException) as e:
        server.client().create_user(unique("x"), new_password())
    assert e.value.error_code == "PERMISSION_DENIED"

    login(ADMIN_USERNAME, server.admin_password)
    admin.update_user_admin(name, True)
    assert admin.get_user(name).is_admin is True
    admin.update_user_admin(name, False)

    # Survives a restart on the same database.
    server.stop()
    server.start()  # on a new port
    admin = server.client()
    assert admin.get_user(name).id == created.id

    admin.delete_user(name)
    with pytest.raises(MlflowException) as e:
        admin.get_user(name)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    login(name, new_pw)
    with pytest.raises(MlflowException) as e:
        server.client().get_user(name)
    assert e.value.error_code == "UNAUTHENTICATED"

    login(ADMIN_USERNAME, server.admin_password)
    again = admin.create_user(name, new_pw)
    assert again.experiment_permissions == [] and again.registered_model_permissions == []
    assert admin.get_user(name).experiment_permissions == []
