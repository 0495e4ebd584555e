#!/usr/bin/env bash
# The benchmark of issue 5 and of the nginx reference, in one command: bench/run.sh
#
# Builds mlguard in release, installs wrk if missing, then on 127.0.0.1 only:
#   (a) MLflow 3.10.1 without auth, (b) mlguard in front of it, (c) MLflow 3.10.1's
#   basic-auth app; in front of one trivial upstream: (d) mlguard (SQLite, defaults),
#   (d1) the same with one worker thread, (e) Debian's nginx as a plain keepalive
#   proxy_pass (worker_processes auto), (e1) with one worker, (f) mlguard on
#   PostgreSQL, (f1) with one worker thread, (g) mlguard with consistency=strict,
#   (h) mlguard with 100,000 grants loaded, (i) hyper alone (examples/bare_proxy.rs:
#   mlguard's HTTP stack with nothing between server and client); plus list filtering (experiments/search,
#   pages of 100 and 1000) and a GraphQL mlflowSearchRuns through (d), (e) and (h);
# loads each with wrk (bench/bench.py), runs the criterion benches, and writes one
# report, with the machine and the date, to bench/RESULTS.md and the README.
# Every process it starts is stopped on exit, failure included, and the PostgreSQL
# database it creates is dropped.
#
# Needs: Debian's nginx (apt-get install nginx), a PostgreSQL server and psql.
# Knobs: BENCH_SECONDS (10, measured per row), BENCH_WARMUP_SECONDS (2),
# BENCH_QUIET_WAIT_SECONDS (300: how long to wait for other builds to finish),
# BENCH_POSTGRES_URL (postgres://postgres@127.0.0.1:5432/test: a database to connect
# to; the run creates its own beside it), BENCH_NGINX (/usr/sbin/nginx).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
seconds="${BENCH_SECONDS:-10}"
warmup="${BENCH_WARMUP_SECONDS:-2}"
quiet_wait="${BENCH_QUIET_WAIT_SECONDS:-300}"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
python="$repo/.venv/bin/python"
postgres_url="${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
nginx="${BENCH_NGINX:-/usr/sbin/nginx}"
pg_database="mlguard_bench_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"

workdir="$(mktemp -d -t mlguard-bench.XXXXXX)"
pid_file="$workdir/pids"
: >"$pid_file"
bench_py_pid=""

cleanup() {
    local status=$?
    # bench.py stops its servers itself; this covers it being killed first. Each
    # server leads its own process group (uvicorn's workers included).
    if [[ -n "$bench_py_pid" ]] && kill -0 "$bench_py_pid" 2>/dev/null; then
        kill -TERM "$bench_py_pid" 2>/dev/null || true
        wait "$bench_py_pid" 2>/dev/null || true
    fi
    while read -r pid; do
        [[ -n "$pid" ]] || continue
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM -- "-$pid" 2>/dev/null || true
            sleep 1
            kill -KILL -- "-$pid" 2>/dev/null || true
        fi
    done <"$pid_file"
    # bench.py drops it itself; this covers it being killed first.
    psql "$postgres_url" -qc "DROP DATABASE IF EXISTS \"$pg_database\" WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$workdir"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ ! -x "$python" ]]; then
    echo "no $python: run scripts/test.sh once to create the venv (mlflow 3.10.1)" >&2
    exit 1
fi
if [[ ! -x "$nginx" ]]; then
    echo "no nginx at $nginx: install Debian's (apt-get install nginx) or set BENCH_NGINX" >&2
    exit 1
fi
if ! psql "$postgres_url" -qAtc 'SELECT 1' >/dev/null; then
    echo "PostgreSQL is not reachable at $postgres_url (set BENCH_POSTGRES_URL)" >&2
    exit 1
fi
if ! command -v wrk >/dev/null; then
    echo "installing wrk (apt)"
    apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi

echo "building (release): mlguard, the trivial upstream, hyper alone, the criterion benches"
cargo build --release -p mlguard-server --bin mlguard --example trivial_upstream --example bare_proxy
cargo bench -p mlguard-domain -p mlguard-api --bench decision --bench credential_cache --no-run

# Two cores: someone else's compile would halve what we measure. Wait for a quiet
# moment, bounded; if it never comes, the report says the machine was shared.
waited=0
while pgrep -x rustc >/dev/null && ((waited < quiet_wait)); do
    ((waited == 0)) && echo "other builds are running; waiting up to ${quiet_wait}s for them to finish"
    sleep 10
    waited=$((waited + 10))
done

date_utc="$(date -u '+%Y-%m-%d %H:%M UTC')"
"$python" bench/bench.py load \
    --mlguard "$target_dir/release/mlguard" \
    --trivial-upstream "$target_dir/release/examples/trivial_upstream" \
    --bare-proxy "$target_dir/release/examples/bare_proxy" \
    --workdir "$workdir/servers" --pid-file "$pid_file" \
    --seconds "$seconds" --warmup-seconds "$warmup" \
    --nginx "$nginx" --postgres-url "$postgres_url" --postgres-database "$pg_database" \
    --out "$workdir/load.json" &
bench_py_pid=$!
wait "$bench_py_pid"
bench_py_pid=""

echo "criterion: decision, cached credential check, full request in-process"
# Only this run's estimates may be reported: drop earlier ones first.
rm -rf "$target_dir/criterion/decide" "$target_dir/criterion/credential_cache" \
    "$target_dir/criterion/full_authenticated_request_in_process" "$target_dir/criterion/sqlite_store"
builds_during_criterion="no"
pgrep -x rustc >/dev/null && builds_during_criterion="yes"
cargo bench -p mlguard-domain -p mlguard-api --bench decision --bench credential_cache -- \
    --warm-up-time 1 --measurement-time 3
pgrep -x rustc >/dev/null && builds_during_criterion="yes"
read -r load1 load5 load15 _ </proc/loadavg

"$python" bench/bench.py report \
    --load "$workdir/load.json" --criterion "$target_dir/criterion" \
    --results bench/RESULTS.md --readme README.md --date "$date_utc" \
    --bench-conditions "another build ran: ${builds_during_criterion}; load average after: ${load1}, ${load5}, ${load15}"
echo "wrote bench/RESULTS.md"
