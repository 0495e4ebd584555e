"""Fixtures for the MLflow 3.17.2 client suite: one `mlguard serve` (the binary of
`MLGUARD_BIN`) on a free loopback port, a temp SQLite database and a known admin
password, started with the e2e suite's own `Mlguard` helper, in front of a real
MLflow 3.17.2 (a non-admin grants only on resources MLflow holds).

Run with a venv holding mlflow 3.17.2 (`scripts/mlflow-venv.sh 3.17.2 --client`).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

E2E = Path(__file__).resolve().parents[1] / "e2e"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# tests/e2e/conftest.py, loaded under its own name: both files are `conftest` to pytest.
e2e = _load("e2e_conftest", E2E / "conftest.py")

ADMIN_USERNAME = e2e.ADMIN_USERNAME
# What the e2e suite's support modules import from `conftest`, which here is this file.
MLGUARD_BIN = e2e.MLGUARD_BIN
free_port = e2e.free_port
new_password = e2e.new_password
unique = e2e.unique


def grant(server, username: str, resource_type: str, resource_id: str, permission: str) -> None:
    """The admin grants `username` a per-user permission through the 3.17 API."""
    import requests

    r = requests.post(f"{server.base_url}/api/3.0/mlflow/users/permissions/grant",
                      auth=(ADMIN_USERNAME, server.admin_password), timeout=30,
                      json={"username": username, "resource_type": resource_type,
                            "resource_id": resource_id, "permission": permission})
    assert r.status_code == 200, r.text


def load_e2e(module: str):
    """One of the e2e suite's support modules (`tests/e2e/<module>.py`)."""
    return _load(f"e2e_{module}", E2E / f"{module}.py")


@pytest.fixture(scope="session", autouse=True)
def _mlflow_317():
    import mlflow

    assert mlflow.__version__ == "3.17.2", f"this suite needs mlflow 3.17.2, not {mlflow.__version__}"


@pytest.fixture(scope="session")
def mlflow_upstream(tmp_path_factory):
    """One real MLflow, of this venv (3.17.2), without auth."""
    upstream = load_e2e("mlflow_upstream").MlflowServer(
        tmp_path_factory.mktemp("mlflow317")
    )
    upstream.start()
    try:
        assert upstream.version == "3.17.2", upstream.version
        yield upstream
    finally:
        upstream.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory, mlflow_upstream):
    """One mlguard per module, `default_permission=NO_PERMISSIONS`, in front of the
    real MLflow (`server.upstream`)."""
    srv = e2e.Mlguard(
        tmp_path_factory.mktemp("mlguard317"),
        admin_password=e2e.new_password(),
        default_permission="NO_PERMISSIONS",
        extra_env={"MLGUARD_UPSTREAM__URL": mlflow_upstream.url},
    )
    srv.upstream = mlflow_upstream
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        srv.assert_no_secret_in_logs()


@pytest.fixture
def login(monkeypatch):
    """Switches the identity the mlflow client sends (read on each call)."""

    def use(username: str, password: str) -> None:
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", username)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)

    return use
