"""Fixtures for the MLflow 3.18.0 suite: one `mlguard serve` (the binary of
`MLGUARD_BIN`) with `default_permission=NO_PERMISSIONS`, in front of a real MLflow
3.18.0 server (the `mlflow` of `MLGUARD_UPSTREAM_MLFLOW`, from
`scripts/mlflow-venv.sh 3.18.0`). The client side is plain HTTP, so any of the e2e
venvs runs it.
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


@pytest.fixture(scope="session")
def mlflow_upstream(tmp_path_factory):
    """One real MLflow 3.18.0, without auth."""
    upstream = _load("e2e_mlflow_upstream", E2E / "mlflow_upstream.py").MlflowServer(
        tmp_path_factory.mktemp("mlflow318")
    )
    upstream.start()
    try:
        assert upstream.version == "3.18.0", (
            f"this suite needs an MLflow 3.18.0 upstream (MLGUARD_UPSTREAM_MLFLOW), "
            f"not {upstream.version}")
        yield upstream
    finally:
        upstream.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory, mlflow_upstream):
    srv = e2e.Mlguard(
        tmp_path_factory.mktemp("mlguard318"),
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
