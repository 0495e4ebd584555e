#!/usr/bin/env bash
# Usage: scripts/run.sh [--listen ADDR] [--state-dir DIR] [--mlflow-port PORT]
#
# Brings up a protected MLflow on this machine, in the foreground:
#   1. builds mlguard (cargo build --release; skipped when MLGUARD_BIN names a binary),
#   2. creates or reuses the MLflow 3.17.2 server venv (scripts/mlflow-venv.sh),
#   3. starts `mlflow server` without auth on 127.0.0.1, on a free port, with its
#      SQLite database and artifacts (--serve-artifacts) under the state directory,
#   4. starts `mlguard serve` in front of it, on its SQLite default in the same
#      directory, and prints the URL and, on the first start, the admin password.
# Ctrl-C (or SIGTERM) stops both. Running it again reuses the state directory: the
# same users, grants, experiments and artifacts, and no new password.
#
#   --listen ADDR      where mlguard listens (MLGUARD_LISTEN; default 127.0.0.1:8080)
#   --state-dir DIR    databases, artifacts and logs (MLGUARD_RUN_DIR; default .mlguard-run)
#   --mlflow-port PORT MLflow's loopback port (MLGUARD_MLFLOW_PORT; default: a free one)
#
# Other MLGUARD_<SECTION>__<KEY> variables reach mlguard as usual (see README.md),
# except the three this script sets: server.listen, database.url and upstream.url.
set -euo pipefail

caller_pwd="$PWD"
cd "$(dirname "$0")/.."
repo="$PWD"

mlflow_version="3.17.2"
listen="${MLGUARD_LISTEN:-127.0.0.1:8080}"
state="${MLGUARD_RUN_DIR:-$repo/.mlguard-run}"
mlflow_port="${MLGUARD_MLFLOW_PORT:-}"

die() { echo "run.sh: $*" >&2; exit 1; }
say() { printf '==> %s\n' "$*" >&2; }

while [ "$#" -gt 0 ]; do
    case "$1" in
        --listen) [ "$#" -ge 2 ] || die "--listen needs ADDR"; listen="$2"; shift 2 ;;
        --state-dir) [ "$#" -ge 2 ] || die "--state-dir needs DIR"; state="$2"; shift 2 ;;
        --mlflow-port) [ "$#" -ge 2 ] || die "--mlflow-port needs PORT"; mlflow_port="$2"; shift 2 ;;
        -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$repo/scripts/run.sh"; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done

# A relative state directory is relative to where the script was called from.
case "$state" in /*) ;; *) state="$caller_pwd/$state" ;; esac
mkdir -p "$state"
state="$(cd "$state" && pwd)"

# One run per state directory: two MLflows on one SQLite file would corrupt it.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$state/run.lock"
    flock -n 9 || die "another scripts/run.sh is using $state"
fi

command -v setsid >/dev/null 2>&1 || die "needs setsid (util-linux)"

# -- mlguard ---------------------------------------------------------------------------
if [ -n "${MLGUARD_BIN:-}" ]; then
    bin="$MLGUARD_BIN"
else
    say "Building mlguard (cargo build --release)"
    cargo build --release --locked -p mlguard-server
    target_dir="${CARGO_TARGET_DIR:-target}"
    case "$target_dir" in /*) ;; *) target_dir="$repo/$target_dir" ;; esac
    bin="$target_dir/release/mlguard"
fi
[ -x "$bin" ] || die "no mlguard binary at $bin"

# -- MLflow ----------------------------------------------------------------------------
say "MLflow $mlflow_version server venv (created on first use; takes a few minutes)"
venv="$(scripts/mlflow-venv.sh "$mlflow_version")"

if [ -z "$mlflow_port" ]; then
    mlflow_port="$("$venv/bin/python" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')"
fi
mlflow_url="http://127.0.0.1:$mlflow_port"

# The URL mlguard answers on, and the one this script checks it by.
host="${listen%:*}"
port="${listen##*:}"
case "$host" in
    0.0.0.0 | "") check_host=127.0.0.1 ;;
    "[::]") check_host="[::1]" ;;
    *) check_host="$host" ;;
esac
url="http://$listen"
check_url="http://$check_host:$port"

http_ok() {
    "$venv/bin/python" - "$1" <<'PY' 2>/dev/null
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
PY
}

alive() { kill -0 "$1" 2>/dev/null; }

mlflow_pid=""
mlguard_pid=""
relay_pid=""

# Stops mlguard (SIGTERM: it finishes in-flight requests), then MLflow's whole process
# group (its server and workers), escalating to SIGKILL after a while.
stop_all() {
    set +e
    trap '' INT TERM
    if [ -n "$mlguard_pid" ] && alive "$mlguard_pid"; then
        say "Stopping mlguard"
        kill -TERM "$mlguard_pid" 2>/dev/null
        for _ in $(seq 1 400); do alive "$mlguard_pid" || break; sleep 0.1; done
        alive "$mlguard_pid" && kill -KILL "$mlguard_pid" 2>/dev/null
    fi
    [ -n "$mlguard_pid" ] && wait "$mlguard_pid" 2>/dev/null
    [ -n "$relay_pid" ] && wait "$relay_pid" 2>/dev/null
    if [ -n "$mlflow_pid" ]; then
        say "Stopping MLflow"
        kill -TERM -- "-$mlflow_pid" 2>/dev/null
        for _ in $(seq 1 150); do kill -0 -- "-$mlflow_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$mlflow_pid" 2>/dev/null
        wait "$mlflow_pid" 2>/dev/null
    fi
}
trap stop_all EXIT
trap 'exit 0' INT TERM

say "Starting MLflow $mlflow_version without auth on $mlflow_url (log: $state/mlflow.log)"
# Its own session and process group, so that stopping it reaches its workers too.
setsid "$venv/bin/mlflow" server \
    --host 127.0.0.1 \
    --port "$mlflow_port" \
    --backend-store-uri "sqlite:///$state/mlflow.db" \
    --artifacts-destination "$state/mlflow-artifacts" \
    --serve-artifacts \
    </dev/null >>"$state/mlflow.log" 2>&1 &
mlflow_pid=$!

for _ in $(seq 1 360); do
    alive "$mlflow_pid" || die "MLflow exited during start-up; see $state/mlflow.log"
    http_ok "$mlflow_url/health" && break
    sleep 0.5
done
http_ok "$mlflow_url/health" || die "MLflow did not answer $mlflow_url/health; see $state/mlflow.log"

first_start=1
[ -e "$state/mlguard.db" ] && first_start=0

say "Starting mlguard in front of it on $url"
# mlguard prints the generated admin password once, on stdout (its logs go to stderr):
# read it through a pipe, to show it below the start-up lines rather than among them.
fifo_dir="$(mktemp -d)"
mkfifo -m 600 "$fifo_dir/stdout"
(
    cd "$state"
    # Its own session too: a Ctrl-C reaches this script alone, which then stops mlguard
    # before MLflow. The script's own variables are no configuration keys: mlguard
    # would refuse them.
    exec setsid env -u MLGUARD_BIN -u MLGUARD_LISTEN -u MLGUARD_RUN_DIR -u MLGUARD_MLFLOW_PORT \
        MLGUARD_SERVER__LISTEN="$listen" \
        MLGUARD_DATABASE__URL="sqlite://$state/mlguard.db" \
        MLGUARD_UPSTREAM__URL="$mlflow_url" \
        "$bin" serve
) </dev/null >"$fifo_dir/stdout" &
mlguard_pid=$!
exec 3<"$fifo_dir/stdout"
rm -rf "$fifo_dir"

admin_user=""
admin_password=""
read_stdout() {
    local line
    while IFS= read -r -t 0.1 -u 3 line; do
        case "$line" in
            "Generated a password for admin user '"*"': "*)
                admin_password="${line##*\': }"
                admin_user="${line#Generated a password for admin user \'}"
                admin_user="${admin_user%%\': *}"
                ;;
            "It is shown only this once."*) ;;
            *) printf '%s\n' "$line" ;;
        esac
    done
}

for _ in $(seq 1 300); do
    if ! alive "$mlguard_pid"; then
        read_stdout
        if [ -n "$admin_password" ]; then
            # It is not generated again: the database now holds the admin.
            echo "mlguard created admin user '$admin_user' with password $admin_password"
            echo "before it stopped; it is shown only this once: note it now."
        fi
        die "mlguard exited during start-up (its log is above)"
    fi
    read_stdout
    http_ok "$check_url/health" && break
    sleep 0.1
done
http_ok "$check_url/health" || die "mlguard did not answer $check_url/health"
read_stdout
# From now on mlguard's stdout goes straight through.
cat <&3 &
relay_pid=$!
exec 3<&-

echo
echo "mlguard is protecting MLflow $mlflow_version at: $url"
if [ -n "$admin_password" ]; then
    echo "  admin user:     $admin_user"
    echo "  admin password: $admin_password"
    echo "  (generated on this first start and shown only this once: note it now;"
    echo "   change it with users/update-password)"
elif [ "$first_start" = 1 ]; then
    echo "  admin user: the one MLGUARD_AUTH__ADMIN_USERNAME/__ADMIN_PASSWORD configured"
else
    echo "  reusing $state: same users and data; the admin password was printed on"
    echo "  the first start and is not shown again (forgotten? stop this, then run"
    echo "  MLGUARD_DATABASE__URL=sqlite://$state/mlguard.db $bin user set-password admin)"
fi
echo "  MLflow itself (no auth, loopback only): $mlflow_url, log: $state/mlflow.log"
echo "Ctrl-C stops both."
echo

# Until Ctrl-C or SIGTERM (the trap above), or until one of the two stops by itself.
while true; do
    if ! alive "$mlguard_pid"; then
        code=0
        wait "$mlguard_pid" || code=$?
        mlguard_pid=""
        die "mlguard exited ($code)"
    fi
    if ! alive "$mlflow_pid"; then
        die "MLflow exited; see $state/mlflow.log"
    fi
    sleep 1
done
