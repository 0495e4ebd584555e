#!/usr/bin/env bash
# Runs every mlguard test on this machine: formatting, lints, unit and property tests,
# the storage contract suite on SQLite and PostgreSQL, in-process API tests, the
# OpenAPI snapshot, the end-to-end suite with the real MLflow client, and the deploy
# suite (Helm chart with real helm, the container image's runtime stage, and
# scripts/run.sh bringing up MLflow with mlguard in front of it).
# Installs what the tests need on first use: a Python venv with the pinned mlflow
# client and the test tools, and one server-only venv per pinned MLflow (the upstream
# servers mlguard is tested in front of), plus a client venv with MLflow 3.17.2 for its
# AuthServiceClient suite (tests/e2e317), and the npm packages of the OpenID provider
# the SSO tests run (tests/oidc).
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${MLGUARD_VENV:-.venv}"
case "$venv" in /*) ;; *) venv="$PWD/$venv" ;; esac
# The MLflow releases the upstream server is tested at, each in its own venv
# (scripts/mlflow-venv.sh; .venvs/mlflow-VERSION).
server_mlflow_versions=(3.10.1 3.17.2 3.18.0)
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

# The OpenID provider for the SSO tests (tests/oidc: oidc-provider from npm, run by Node).
step "OpenID provider packages (tests/oidc, npm ci)"
command -v node >/dev/null || { echo "node is needed for tests/oidc (Node.js 20+)" >&2; exit 1; }
"$venv/bin/python" -c 'import sys; sys.path.insert(0, "tests/e2e"); import oidc_provider; oidc_provider.ensure_node_modules()'

step "Server venvs, one per pinned MLflow (${server_mlflow_versions[*]})"
declare -A server_mlflow
for version in "${server_mlflow_versions[@]}"; do
    server_mlflow[$version]="$(scripts/mlflow-venv.sh "$version")/bin/mlflow"
    # Smoke check: the venv's own `mlflow` runs and is the pinned release.
    reported="$("${server_mlflow[$version]}" --version)"
    if [ "$reported" != "mlflow, version $version" ]; then
        echo "${server_mlflow[$version]} --version printed '$reported', not MLflow $version" >&2
        exit 1
    fi
    echo "$reported (${server_mlflow[$version]})"
done

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

# run_e2e CLIENT_VENV UPSTREAM_MLFLOW LABEL [pytest args...]
# The end-to-end suite with the mlflow client (and test tools) of CLIENT_VENV, against
# upstream MLflow servers run by the `mlflow` executable UPSTREAM_MLFLOW; the whole
# suite, or only the test files given.
run_e2e() {
    local client_venv="$1" upstream_mlflow="$2" label="$3"
    shift 3
    [ "$#" -gt 0 ] || set -- tests/e2e
    step "End-to-end ($label): the real mlguard binary driven by the real mlflow client"
    MLGUARD_BIN="$PWD/target/debug/mlguard" MLGUARD_UPSTREAM_MLFLOW="$upstream_mlflow" \
        "$client_venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
}

cargo build --locked -p mlguard-server
run_e2e "$venv" "$venv/bin/mlflow" "client 3.10.1 and upstream 3.10.1, both from $venv"

# The version matrix: a plain user's documented workflows (tests/e2e/test_workflows.py)
# with each supported client against each newer upstream, the UI walk in MLflow
# 3.17.2's UI, the 3.17.2 client's suite (tests/e2e317: AuthServiceClient, prompts
# as their own type, MCP servers, the import; in front of MLflow 3.17.2 from its
# venv), and 3.18.0's Skill Registry (tests/e2e318).
workflows=(tests/e2e/test_workflows.py)
run_e2e "$venv" "$(scripts/mlflow-venv.sh 3.17.2)/bin/mlflow" \
    "client 3.10.1, upstream 3.17.2 and its UI" "${workflows[@]}" tests/e2e/test_ui_walk.py
run_e2e "$venv" "$(scripts/mlflow-venv.sh 3.18.0)/bin/mlflow" \
    "client 3.10.1, upstream 3.18.0" "${workflows[@]}"
run_e2e "$venv" "$(scripts/mlflow-venv.sh 3.18.0)/bin/mlflow" \
    "upstream 3.18.0: the Skill Registry" tests/e2e318
client_317="$(scripts/mlflow-venv.sh 3.17.2 --client)"
run_e2e "$client_317" "$client_317/bin/mlflow" \
    "client 3.17.2, upstream 3.17.2" "${workflows[@]}"
run_e2e "$client_317" "$client_317/bin/mlflow" \
    "client 3.17.2, upstream 3.17.2: AuthServiceClient, prompts, import" tests/e2e317

step "Deploy: the Helm chart with real helm, the container image's runtime stage, scripts/run.sh"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/deploy/requirements.txt
helm_bin="$(scripts/install-helm.sh)"
HELM_BIN="$helm_bin" MLGUARD_BIN="$PWD/target/debug/mlguard" \
    "$venv/bin/python" -m pytest tests/deploy -q -p no:cacheprovider
