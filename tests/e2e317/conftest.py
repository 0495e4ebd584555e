"""Fixtures for the MLflow 3.17.2 client suite: one `mlguard serve` (the binary of
`MLGUARD_BIN`) on a free loopback port, a temp SQLite database and a known admin
password, started with the e2e suite's own `Mlguard` helper.

Run with a venv holding mlflow 3.17.2 (`scripts/mlflow-venv.sh 3.17.2 --client`).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

# tests/e2e/conftest.py, loaded under its own name: both files are `conftest` to pytest.
_spec = importlib.util.spec_from_file_location(
    "e2e_conftest", Path(__file__).resolve().parents[1] / "e2e" / "conftest.py"
)
e2e = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(e2e)

ADMIN_USERNAME = e2e.ADMIN_USERNAME


@pytest.fixture(scope="session", autouse=True)
def _mlflow_317():
    import mlflow

    assert mlflow.__version__ == "3.17.2", f"this suite needs mlflow 3.17.2, not {mlflow.__version__}"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One mlguard per module, `default_permission=NO_PERMISSIONS`, without an upstream:
    the calls under test are all mlguard's own."""
    srv = e2e.Mlguard(
        tmp_path_factory.mktemp("mlguard317"),
        admin_password=e2e.new_password(),
        default_permission="NO_PERMISSIONS",
    )
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
