#!/usr/bin/env bash
# Usage: scripts/mlflow-venv.sh VERSION [--client]
#
# Creates (or reuses) a server-only Python venv holding exactly one pinned MLflow, for
# running the upstream `mlflow server` that mlguard sits in front of, and prints its
# directory on stdout (nothing else goes to stdout). Venvs live under
# .venvs/mlflow-VERSION/ (gitignored; MLGUARD_VENVS_DIR moves them). Idempotent: a
# complete venv made by the same recipe is reused; a half-made or outdated one is
# made again.
#
# Every version installed is pinned. MLflow 3.18.0's own wheel carries the whole
# package, but its mlflow-skinny and mlflow-tracing 3.18.0 are not on the index, so it
# is installed with --no-deps over mlflow 3.17.2's dependencies: 3.17.2 is installed,
# its own three packages (mlflow, mlflow-skinny, mlflow-tracing) removed again, and
# 3.18.0 put in their place. Without that removal, files 3.18.0 dropped would stay
# behind and every import would warn that the versions differ. (`pip check` still
# names the missing skinny/tracing 3.18.0; nothing at run time asks for them.)
# Flask-WTF is MLflow's "auth" extra.
#
# --client makes .venvs/client-VERSION/ instead: that MLflow (3.17.2 only) as the
# client of tests/e2e317 and of the workflow suite, with pytest, requests and
# scikit-learn pinned as tests/e2e/requirements.txt pins them (its mlflow pin is
# 3.10.1's and is not used).
set -euo pipefail
cd "$(dirname "$0")/.."

usage="usage: scripts/mlflow-venv.sh 3.10.1|3.17.2|3.18.0 | scripts/mlflow-venv.sh 3.17.2 --client"
[ "$#" -ge 1 ] && [ "$#" -le 2 ] || { echo "$usage" >&2; exit 2; }
version="$1"
flavour="mlflow"
if [ "$#" -eq 2 ]; then
    [ "$2" = "--client" ] && [ "$version" = "3.17.2" ] || { echo "$usage" >&2; exit 2; }
    flavour="client"
fi

flask_wtf="Flask-WTF==1.3.0"
# The e2e suite's pins of a test tool, e.g. `pytest==9.2.0`.
e2e_pin() {
    grep -E "^$1==" tests/e2e/requirements.txt || { echo "mlflow-venv: no $1 pin in tests/e2e/requirements.txt" >&2; exit 1; }
}
case "$flavour:$version" in
    client:3.17.2)
        recipe="mlflow==$version $flask_wtf $(e2e_pin pytest) $(e2e_pin requests) $(e2e_pin scikit-learn)" ;;
    *:3.10.1 | *:3.17.2)
        recipe="mlflow==$version $flask_wtf" ;;
    *:3.18.0)
        recipe="mlflow==3.17.2 $flask_wtf; uninstall mlflow mlflow-skinny mlflow-tracing; --no-deps mlflow==3.18.0" ;;
    *)
        echo "mlflow-venv: no recipe for MLflow $version; $usage" >&2; exit 2 ;;
esac

root="${MLGUARD_VENVS_DIR:-$PWD/.venvs}"
venv="$root/$flavour-$version"
# Written last: its presence, with this recipe in it, means the venv is complete.
marker="$venv/.mlguard-recipe"

complete() {
    [ -f "$marker" ] && [ "$(cat "$marker")" = "$recipe" ] && [ -x "$venv/bin/mlflow" ]
}

if complete; then
    echo "$venv"
    exit 0
fi

mkdir -p "$root"
# One creator at a time (scripts/test.sh and scripts/run.sh may race for the same venv).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$root/.$flavour-$version.lock"
    flock 9
    if complete; then
        echo "$venv"
        exit 0
    fi
fi

echo "mlflow-venv: creating $venv ($recipe)" >&2
rm -rf "$venv"
python3 -m venv "$venv"
pip() { "$venv/bin/python" -m pip --quiet --disable-pip-version-check "$@" >&2; }
case "$flavour:$version" in
    client:*)
        # shellcheck disable=SC2086 # the recipe is a list of pinned requirements
        pip install $recipe
        ;;
    *:3.18.0)
        pip install "mlflow==3.17.2" "$flask_wtf"
        pip uninstall --yes mlflow mlflow-skinny mlflow-tracing
        pip install --no-deps "mlflow==3.18.0"
        ;;
    *)
        pip install "mlflow==$version" "$flask_wtf"
        ;;
esac

got="$("$venv/bin/python" -c 'import mlflow; print(mlflow.__version__)')"
if [ "$got" != "$version" ]; then
    echo "mlflow-venv: $venv imports mlflow $got, not $version" >&2
    exit 1
fi
printf '%s\n' "$recipe" >"$marker"
echo "$venv"
