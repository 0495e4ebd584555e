#!/usr/bin/env bash
# Runs every mlguard test on this machine: formatting, lints, unit and property tests,
# the storage contract suite on SQLite and PostgreSQL, in-process API tests, the
# OpenAPI snapshot, the end-to-end suite with the real MLflow client, and the deploy
# suite (Helm chart with real helm, the container image's runtime stage).
# Installs what the tests need (a Python venv with the pinned mlflow) on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${MLGUARD_VENV:-.venv}"
pg_url="${MLGUARD_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
export MLGUARD_TEST_POSTGRES_URL="$pg_url"

step() { printf '\n==> %s\n' "$*"; }

step "Python venv for the end-to-end suite ($venv)"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/e2e/requirements.txt
# Headless Chromium and its driver, for the UI walk (tests/e2e/test_ui_walk.py).
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends chromium chromium-driver
fi

step "PostgreSQL"
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    # The machine's cluster may simply be stopped; start it rather than skip its tests.
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is required by the test suite" >&2; exit 1; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Rust tests (unit, property, storage contract on SQLite + PostgreSQL, API, OpenAPI)"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
else
    cargo test --workspace --locked --no-fail-fast
fi

step "End-to-end: the real mlguard binary driven by the real mlflow client"
cargo build --locked -p mlguard-server
MLGUARD_BIN="$PWD/target/debug/mlguard" "$venv/bin/python" -m pytest tests/e2e -q -p no:cacheprovider

step "Deploy: the Helm chart with real helm, and the container image's runtime stage"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/deploy/requirements.txt
helm_bin="$(scripts/install-helm.sh)"
HELM_BIN="$helm_bin" MLGUARD_BIN="$PWD/target/debug/mlguard" \
    "$venv/bin/python" -m pytest tests/deploy -q -p no:cacheprovider
