"""Schemathesis fuzzes every operation of the committed spec against a running
mlguard, as an admin over HTTP Basic: no 5xx, and every answer (status, content
type, headers, body) is one the spec documents.

Bounded for a 2-core machine: a few dozen examples per operation and a fixed seed,
so a failure reproduces with the `st replay` / curl line it prints.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from conftest import ADMIN_USERNAME, REPO, Mlguard

SPEC = REPO / "openapi" / "mlguard.json"
MAX_EXAMPLES = 25
SEED = 20251123
RUN_TIMEOUT_S = 240

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    # Refuses what the spec forbids (wrong types, missing fields, broken limits).
    "negative_data_rejection",
    # Every operation needs credentials; wrong or missing ones get 401.
    "ignored_auth",
    "unsupported_method",
    "missing_required_header",
    "use_after_free",
    "ensure_resource_availability",
]
# Left out: positive_data_acceptance. Valid-by-schema requests are refused for
# reasons no schema can state (an existing grant or user, a forged page_token or
# token, a field given twice with different values, control characters).


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory, mlflow_upstream):
    # In front of a real MLflow: grant creation asks it whether the resource exists,
    # and without one every create would be a 502.
    kek = base64.b64encode(os.urandom(32)).decode()
    server = Mlguard(
        tmp_path_factory.mktemp("mlguard-schemathesis"),
        extra_env={
            "MLGUARD_SECRETS__ENABLED": "true",
            "MLGUARD_SECRETS__KEK": kek,
            "MLGUARD_UPSTREAM__URL": mlflow_upstream.url,
            # The fuzzer sends wrong credentials on purpose (ignored_auth); with the
            # default limits it would soon lock the admin it runs as out with 429.
            "MLGUARD_AUTH__THROTTLE_MAX_FAILURES_PER_USER": "1000000",
            "MLGUARD_AUTH__THROTTLE_MAX_FAILURES_PER_ADDRESS": "1000000",
        },
    )
    server.secrets.add(kek)
    server.start()
    try:
        yield server
    finally:
        if server.proc is not None:
            server.stop()
        server.assert_no_secret_in_logs()


def operation_count() -> int:
    spec = json.loads(SPEC.read_text())
    methods = {"get", "put", "post", "delete", "patch"}
    return sum(1 for item in spec["paths"].values() for method in item if method in methods)


def test_schemathesis_finds_nothing_across_every_operation(fuzzed_server, tmp_path):
    server = fuzzed_server
    bystander, _ = server.create_user(username="fuzz-bystander")
    report_dir = tmp_path / "report"
    venv_bin = Path(sys.executable).parent
    hooks_dir = Path(__file__).resolve().parent
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(hooks_dir), os.environ.get("PYTHONPATH")])),
        "MLGUARD_FUZZ_PROTECTED_USERNAME": ADMIN_USERNAME,
        "MLGUARD_FUZZ_BYSTANDER_USERNAME": bystander,
    }
    done = subprocess.run(
        [
            str(venv_bin / "st"),
            "run",
            str(SPEC),
            "--url",
            server.base_url,
            "--auth",
            f"{ADMIN_USERNAME}:{server.admin_password}",
            "--checks",
            ",".join(CHECKS),
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            str(SEED),
            # One worker: concurrent ast.parse calls (hypothesis describing its
            # filters) trip a CPython 3.11.7 bug, "AST constructor recursion depth
            # mismatch", fixed in 3.11.8.
            "--workers",
            "1",
            "--request-timeout",
            "15",
            "--report",
            "json",
            "--report-dir",
            str(report_dir),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        cwd=tmp_path,
    )
    output = done.stdout + done.stderr
    # The admin's password is filtered from schemathesis' output; check anyway.
    assert server.admin_password not in output
    assert done.returncode == 0, (
        f"schemathesis found problems:\n{output}\n--- mlguard ---\n{server.stderr()[-4000:]}"
    )

    (report_path,) = report_dir.glob("*.json")
    report = json.loads(report_path.read_text())
    assert report["complete"], report["stop_reason"]
    operations = report["operations"]
    assert operations["tested"] == operations["total"] == operation_count(), operations
    assert operations["errored"] == 0, operations
    assert report["failures"] == [] and report["errors"] == [], output[-20000:]
    phases = {name: phase["status"] for name, phase in report["phases"].items()}
    assert phases == dict.fromkeys(["examples", "coverage", "fuzzing", "stateful"], "success"), phases

    # The admin it ran as is still one: later cases were not all 401s or 403s.
    r = requests.get(
        server.base_url + "/api/2.0/mlflow/users/get",
        params={"username": ADMIN_USERNAME},
        auth=server.admin_auth(),
        timeout=10,
    )
    assert r.status_code == 200, r.text
    assert r.json()["user"]["is_admin"] is True
