"""Fixtures for the deploy suite: the real `mlguard` binary and the real `helm`.

`MLGUARD_BIN` names the binary (default `<repo>/target/debug/mlguard`) and `HELM_BIN`
the helm binary (default: the one `scripts/install-helm.sh` installs). A missing one
fails the tests: it is a broken set-up, not a reason to skip.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MLGUARD_BIN = Path(os.environ.get("MLGUARD_BIN", REPO / "target" / "debug" / "mlguard"))


@pytest.fixture(scope="session")
def mlguard_bin() -> Path:
    assert MLGUARD_BIN.is_file(), (
        f"{MLGUARD_BIN} is missing: run `cargo build -p mlguard-server` or set MLGUARD_BIN"
    )
    return MLGUARD_BIN


@pytest.fixture(scope="session")
def recognised_env_vars(mlguard_bin: Path) -> set[str]:
    """Every MLGUARD_* variable the binary accepts, from its own `config-keys`.

    Read at test time, never hard-coded: keys are added as features land.
    """
    out = subprocess.run(
        [str(mlguard_bin), "config-keys"], check=True, capture_output=True, text=True
    ).stdout
    names = {line.split("\t")[1] for line in out.splitlines() if line.strip()}
    assert "MLGUARD_SERVER__LISTEN" in names, out
    return names
