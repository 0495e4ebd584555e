"""A real MLflow tracking server (no auth, --serve-artifacts) on loopback, for the
gateway tests to put mlguard in front of.

Which MLflow: the `mlflow` executable that `MLGUARD_UPSTREAM_MLFLOW` names (for
instance a server venv from `scripts/mlflow-venv.sh VERSION`), else the one beside
this interpreter (the client's own venv, MLflow 3.10.1). The running server's version,
from its `GET /version`, is on `MlflowServer.version`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from conftest import free_port, unique

STARTUP_TIMEOUT_S = 120.0
UPSTREAM_MLFLOW_ENV = "MLGUARD_UPSTREAM_MLFLOW"


def upstream_mlflow_bin() -> Path:
    """The `mlflow` executable the upstream server runs."""
    named = os.environ.get(UPSTREAM_MLFLOW_ENV)
    if not named:
        return Path(sys.executable).parent / "mlflow"
    path = Path(named).absolute()  # the server runs in its own working directory
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise RuntimeError(f"{UPSTREAM_MLFLOW_ENV}={named}: no mlflow executable there")
    return path


class MlflowServer:
    def __init__(self, workdir: Path, static_prefix: str | None = None):
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.static_prefix = static_prefix
        self.proc: subprocess.Popen | None = None
        self.log_path = workdir / "mlflow.log"
        self.mlflow_bin = upstream_mlflow_bin()
        # The running server's MLflow version (its `GET /version`), once started.
        self.version: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "MlflowServer":
        cmd = [
            str(self.mlflow_bin), "server",
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--backend-store-uri", f"sqlite:///{self.workdir / 'mlflow.db'}",
            "--artifacts-destination", str(self.workdir / "artifacts"),
            "--serve-artifacts",
            "--workers", "1",
        ]
        if self.static_prefix:
            cmd += ["--static-prefix", self.static_prefix]
        env = dict(os.environ)
        for var in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            env.pop(var, None)
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                     cwd=self.workdir, start_new_session=True)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        health = f"{self.url}{self.static_prefix or ''}/health"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited:\n{self.log_path.read_text()[-4000:]}")
            try:
                if requests.get(health, timeout=1).status_code == 200:
                    self.version = self._server_version()
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"mlflow server did not start:\n{self.log_path.read_text()[-4000:]}")

    def _server_version(self) -> str:
        r = requests.get(f"{self.url}{self.static_prefix or ''}/version", timeout=10)
        if r.status_code != 200 or not r.text.strip():
            self.stop()
            raise RuntimeError(f"mlflow server's /version answered {r.status_code}: {r.text[:200]}")
        return r.text.strip()

    # -- resources, created straight in MLflow (no auth, no auto-grant) -------------

    def _post(self, path: str, body: dict) -> dict:
        r = requests.post(f"{self.url}{path}", json=body, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def create_experiment(self, name: str | None = None) -> str:
        """A new experiment; its id."""
        body = {"name": name or unique("exp")}
        return self._post("/api/2.0/mlflow/experiments/create", body)["experiment_id"]

    def create_registered_model(self, name: str | None = None) -> str:
        """A new registered model; its name."""
        body = {"name": name or unique("model")}
        return self._post("/api/2.0/mlflow/registered-models/create", body)["registered_model"]["name"]

    def create_scorer(self, experiment_id: str, name: str | None = None) -> str:
        """A new scorer (a plain custom one) in the experiment; its name."""
        name = name or unique("scorer")
        serialized = json.dumps({
            "name": name, "call_source": "def score(outputs):\n    return True",
            "call_signature": "(outputs)", "original_func_name": "score",
            "mlflow_version": "3.10.1", "serialization_version": 1,
        })
        self._post("/api/3.0/mlflow/scorers/register",
                   {"experiment_id": experiment_id, "name": name, "serialized_scorer": serialized})
        return name

    def create_gateway_secret(self) -> str:
        """A new gateway secret; its id."""
        body = {"secret_name": unique("secret"), "secret_value": {"api_key": "sk-e2e"},
                "provider": "openai"}
        return self._post("/api/3.0/mlflow/gateway/secrets/create", body)["secret"]["secret_id"]

    def create_gateway_model_definition(self, secret_id: str) -> str:
        """A new gateway model definition over the secret; its id."""
        body = {"name": unique("definition"), "secret_id": secret_id, "provider": "openai",
                "model_name": "gpt-4o-mini"}
        answer = self._post("/api/3.0/mlflow/gateway/model-definitions/create", body)
        return answer["model_definition"]["model_definition_id"]

    def create_gateway_endpoint(self, model_definition_id: str) -> str:
        """A new gateway endpoint routing to the model definition; its id."""
        body = {"name": unique("endpoint"), "model_configs": [
            {"model_definition_id": model_definition_id, "linkage_type": "PRIMARY", "weight": 1}]}
        return self._post("/api/3.0/mlflow/gateway/endpoints/create", body)["endpoint"]["endpoint_id"]

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, 15)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait()
        self.proc = None
