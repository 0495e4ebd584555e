"""MLflow's basic-auth app as an import source, and running `mlguard import-mlflow`:
shared by the import suites of every client release (tests/e2e, tests/e2e317).

`from conftest import ...` names whichever suite's conftest pytest loaded; both
provide MLGUARD_BIN, free_port and new_password.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from conftest import MLGUARD_BIN, free_port, new_password

MLFLOW_STARTUP_TIMEOUT_S = 120
IMPORT_TIMEOUT_S = 300


@contextlib.contextmanager
def as_user(username: str, password: str):
    """The identity the mlflow client sends, for the duration of the block."""
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


def run_import(source_url: str, database_url: str, *flags: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLGUARD_")}
    env.pop("RUST_LOG", None)
    env["MLGUARD_DATABASE__URL"] = database_url
    return subprocess.run(
        [str(MLGUARD_BIN), "import-mlflow", "--from", source_url, *flags],
        env=env,
        capture_output=True,
        text=True,
        timeout=IMPORT_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )


def imported(source_url: str, database_url: str, *flags: str) -> str:
    """Runs an import that must succeed; returns its standard output."""
    done = run_import(source_url, database_url, *flags)
    assert done.returncode == 0, f"import failed ({done.returncode})\n{done.stdout}\n{done.stderr}"
    return done.stdout


def summary(stdout: str, required=("users", "all grants")) -> dict[str, dict[str, int]]:
    """The summary table: row label -> column -> count; `required` rows must be in it."""
    columns = ["found", "created", "updated", "unchanged", "skipped", "conflicts"]
    rows = {}
    for line in stdout.splitlines():
        match = re.fullmatch(r"([a-z -]+?)\s+" + r"\s+".join([r"(\d+)"] * 6), line.strip())
        if match:
            rows[match.group(1)] = dict(zip(columns, map(int, match.groups()[1:])))
    assert all(row in rows for row in required), f"no summary table in:\n{stdout}"
    return rows


class MlflowAuthServer:
    """`mlflow server --app-name basic-auth` with its own basic_auth.ini."""

    def __init__(self, workdir: Path, database_uri: str, default_permission: str = "READ"):
        self.workdir = workdir
        self.admin_password = new_password()
        self.ini = workdir / "basic_auth.ini"
        self.ini.write_text(
            "[mlflow]\n"
            f"default_permission = {default_permission}\n"
            f"database_uri = {database_uri}\n"
            "admin_username = admin\n"
            f"admin_password = {self.admin_password}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        )
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "mlflow-server.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "MlflowAuthServer":
        env = dict(
            os.environ,
            MLFLOW_AUTH_CONFIG_PATH=str(self.ini),
            MLFLOW_FLASK_SERVER_SECRET_KEY=secrets.token_hex(16),
            # Background job runners are irrelevant here and slow the start.
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
