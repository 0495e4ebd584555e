#!/usr/bin/env python3
"""The load half of `bench/run.sh`, and the report.

`bench.py load`   starts, all on 127.0.0.1,
                    (a) MLflow 3.10.1 without auth,
                    (b) mlguard (release) in front of (a),
                    (c) MLflow 3.10.1's basic-auth app,
                    (d) mlguard in front of a trivial upstream (SQLite, defaults),
                    (d1) the same with one worker thread,
                    (e) nginx (Debian's) in front of the same trivial upstream,
                        `worker_processes auto`, (e1) the same with one worker,
                    (f) mlguard with a PostgreSQL store, (f1) the same with one
                        worker thread (a second replica on (f)'s database),
                    (g) mlguard with `auth.consistency=strict`,
                    (h) mlguard whose SQLite database holds 100,000 more grants,
                        written with sqlite3 while it was stopped,
                    (i) hyper alone: hyper's server and pooled client with
                        nothing between them, the ceiling of mlguard's stack,
                  sets up the same experiment, non-admin user and READ grant on each
                  through its own API, drives `GET experiments/get` with wrk, then a
                  filtered `experiments/search` (pages of 100 and 1000) and a GraphQL
                  `mlflowSearchRuns` through (d), (e) and (h), and writes the
                  measurements as JSON. Every process it starts is stopped before it
                  returns, and its pid is written to a file first, so run.sh's trap
                  can stop it even if this script is killed; the PostgreSQL database
                  it creates is dropped.
`bench.py report` turns that JSON and criterion's estimates into bench/RESULTS.md
                  and the README's Performance table.

Only run.sh is meant to call it; see there for the knobs.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests

REPO = Path(__file__).resolve().parents[1]
MLFLOW_BIN = REPO / ".venv" / "bin" / "mlflow"

# The same for every setup, so the rows compare.
WRK_THREADS = 2
WRK_CONNECTIONS = 8
# Generous, so MLflow's slow auth app shows as latency, not as wrk timeouts.
WRK_TIMEOUT = "30s"
# Most of MLflow's workers would otherwise each start a job runner beside the server.
MLFLOW_ENV = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
MLFLOW_WORKERS = "4"  # MLflow's own default; used for (a) and (c) alike.
STARTUP_TIMEOUT_S = 180.0
READER = "bench-reader"
# Holds no grant: what it may list is nothing.
OUTSIDER = "bench-outsider"
# Granted nowhere, on every setup.
UNGRANTED_EXPERIMENT = "999999"
# The reader's grants on (d) and (h): experiments "1".."LISTED", every item of the
# largest search page.
LISTED = 1000
SEARCH_PAGES = (100, 1000)
GRAPHQL_RUNS = 100

# Issue 5's targets.
TARGET_B_OVER_A = 0.95
TARGET_B_OVER_C = 20.0
TARGET_D_RPS = 20_000.0
TARGET_D_P99_MS = 2.0
TARGET_RSS_MB = 64.0
# This issue's.
TARGET_OVER_NGINX = 0.8
TARGET_DECISION_NS = 1_000.0
TARGET_CACHED_CHECK_NS = 5_000.0

README_START = "<!-- bench:start (written by bench/run.sh) -->"
README_END = "<!-- bench:end -->"


# ---------------------------------------------------------------------------------
# Processes


class Processes:
    """Every server this script starts, each in its own process group (uvicorn's
    workers stop with their parent's group). Pids go to `pid_file` as soon as they
    exist."""

    def __init__(self, pid_file: Path):
        self.pid_file = pid_file
        self.started: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, cmd: list[str], env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen:
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.started.append((name, proc))
        with open(self.pid_file, "a") as f:
            f.write(f"{proc.pid}\n")
        return proc

    def stop(self, stopped: subprocess.Popen) -> None:
        """Stops one server, for a restart."""
        self._stop([(n, p) for n, p in self.started if p is stopped])
        self.started = [(n, p) for n, p in self.started if p is not stopped]

    def stop_all(self) -> None:
        self._stop(list(reversed(self.started)))
        self.started.clear()

    @staticmethod
    def _stop(servers: list[tuple[str, subprocess.Popen]]) -> None:
        for name, proc in servers:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for name, proc in servers:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                print(f"{name} ignored SIGTERM; killing it", file=sys.stderr)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ExitedDuringStartup(SystemExit):
    """A server that stopped before it became healthy (a refused setting, say)."""


def wait_healthy(name: str, url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ExitedDuringStartup(
                f"{name} exited during start-up:\n{log.read_text(errors='replace')[-4000:]}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url + "/health", timeout=2).status_code == 200:
                return
        time.sleep(0.25)
    raise SystemExit(f"{name} not healthy after {STARTUP_TIMEOUT_S}s:\n{log.read_text(errors='replace')[-4000:]}")


def mlflow_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_TRACKING_", "MLGUARD_"))}
    env.update(MLFLOW_ENV)
    env.update(extra)
    return env


def start_mlflow(procs: Processes, workdir: Path, name: str, auth_ini: Path | None) -> str:
    workdir.mkdir(parents=True)
    port = free_port()
    cmd = [
        str(MLFLOW_BIN), "server",
        "--host", "127.0.0.1", "--port", str(port),
        "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
        "--artifacts-destination", str(workdir / "artifacts"),
        "--workers", MLFLOW_WORKERS,
    ]
    extra = {}
    if auth_ini is not None:
        cmd += ["--app-name", "basic-auth"]
        extra = {
            "MLFLOW_AUTH_CONFIG_PATH": str(auth_ini),
            "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
        }
    log = workdir / "server.log"
    proc = procs.start(name, cmd, mlflow_env(extra), log, workdir)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(name, url, proc, log)
    return url


@dataclass
class Mlguard:
    url: str
    pid: int
    admin_password: str
    rss_at_start_mb: float  # healthy, before any request
    proc: subprocess.Popen
    log: Path
    start_s: float  # from the process's start until /health answered
    # The highest VmHWM read so far: `measure` resets the kernel's between rows.
    peak_since_start_kb: int = 0


def start_mlguard(procs: Processes, binary: Path, workdir: Path, name: str, upstream: str,
                  extra_env: dict[str, str] | None = None, admin_password: str | None = None,
                  log_name: str = "server.log") -> Mlguard:
    """`extra_env` overrides the defaults below (a PostgreSQL URL, say); a restart on
    the same workdir passes the admin password its first start was given."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    admin_password = admin_password or "adm-" + secrets.token_urlsafe(18)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLGUARD_") and k != "TOKIO_WORKER_THREADS"}
    env.pop("RUST_LOG", None)
    # Defaults everywhere else (log.level=info: one access-log line per request,
    # written to a file). NO_PERMISSIONS by default, so the grant is what admits.
    env.update({
        "MLGUARD_SERVER__LISTEN": f"127.0.0.1:{port}",
        "MLGUARD_DATABASE__URL": f"sqlite://{workdir / 'mlguard.db'}",
        "MLGUARD_UPSTREAM__URL": upstream,
        "MLGUARD_AUTH__ADMIN_PASSWORD": admin_password,
        "MLGUARD_AUTH__DEFAULT_PERMISSION": "NO_PERMISSIONS",
    })
    env.update(extra_env or {})
    log = workdir / log_name
    started = time.monotonic()
    proc = procs.start(name, [str(binary), "serve"], env, log, workdir)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(name, url, proc, log)
    start_s = time.monotonic() - started
    rss_kb = proc_field(f"/proc/{proc.pid}/status", "VmRSS") or 0
    return Mlguard(url, proc.pid, admin_password, rss_kb / 1024, proc, log, start_s)


def start_single_threaded_mlguard(procs: Processes, binary: Path, workdir: Path, name: str, upstream: str,
                                  extra_env: dict[str, str] | None = None,
                                  admin_password: str | None = None) -> tuple[Mlguard, str]:
    """mlguard with one worker thread (`server.worker_threads=1`). Returns the server
    and the setting, for the report."""
    setting = "MLGUARD_SERVER__WORKER_THREADS=1"
    server = start_mlguard(procs, binary, workdir, name, upstream,
                           {**(extra_env or {}), "MLGUARD_SERVER__WORKER_THREADS": "1"}, admin_password)
    return server, setting


def start_trivial_upstream(procs: Processes, binary: Path, workdir: Path) -> str:
    workdir.mkdir(parents=True)
    address = f"127.0.0.1:{free_port()}"
    log = workdir / "server.log"
    proc = procs.start("trivial upstream", [str(binary), address], dict(os.environ), log, workdir)
    url = f"http://{address}"
    wait_healthy("trivial upstream", url, proc, log)
    return url


def start_bare_proxy(procs: Processes, binary: Path, workdir: Path, upstream: str) -> str:
    """`examples/bare_proxy.rs`: hyper's server and client, nothing else."""
    workdir.mkdir(parents=True)
    address = f"127.0.0.1:{free_port()}"
    log = workdir / "server.log"
    proc = procs.start("hyper alone (i)", [str(binary), address, upstream], dict(os.environ), log, workdir)
    url = f"http://{address}"
    # It forwards everything, /health included, to the trivial upstream.
    wait_healthy("hyper alone (i)", url, proc, log)
    return url


def nginx_version(binary: Path) -> str:
    done = subprocess.run([str(binary), "-v"], check=False, capture_output=True, text=True)
    match = re.search(r"nginx/(\S+)", done.stderr + done.stdout)
    return match[1] if match else "unknown"


def start_nginx(procs: Processes, binary: Path, workdir: Path, name: str, upstream: str,
                worker_processes: str) -> str:
    """Debian's nginx as a plain reverse proxy: `proxy_pass` with upstream keepalive,
    Debian's defaults otherwise (its access log included: mlguard logs every request
    too). Everything it writes stays in `workdir`; `daemon off` keeps the master in
    the process group that `procs` stops."""
    workdir.mkdir(parents=True)
    port = free_port()
    upstream_address = urlsplit(upstream).netloc
    conf = workdir / "nginx.conf"
    conf.write_text(f"""daemon off;
worker_processes {worker_processes};
pid {workdir / 'nginx.pid'};
error_log {workdir / 'error.log'};
events {{
    worker_connections 768;
}}
http {{
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    default_type application/octet-stream;
    access_log {workdir / 'access.log'};
    gzip on;
    client_body_temp_path {workdir / 'client_body'};
    proxy_temp_path {workdir / 'proxy'};
    fastcgi_temp_path {workdir / 'fastcgi'};
    uwsgi_temp_path {workdir / 'uwsgi'};
    scgi_temp_path {workdir / 'scgi'};
    upstream trivial {{
        server {upstream_address};
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://trivial;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
""")
    log = workdir / "server.log"
    # -e: the log for messages before the configuration is read (else /var/log/nginx).
    cmd = [str(binary), "-c", str(conf), "-p", str(workdir), "-e", str(workdir / "error.log")]
    check = subprocess.run(cmd + ["-t"], check=False, capture_output=True, text=True)
    if check.returncode != 0:
        raise SystemExit(f"{name}: nginx rejects its configuration:\n{check.stderr}")
    proc = procs.start(name, cmd, dict(os.environ), log, workdir)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(name, url, proc, log)
    return url


# PostgreSQL: a database of our own for the run, created and dropped through psql.


def postgres_database_url(server_url: str, database: str) -> str:
    return urlsplit(server_url)._replace(path="/" + database).geturl()


def psql(server_url: str, sql: str) -> str:
    done = subprocess.run(["psql", server_url, "-v", "ON_ERROR_STOP=1", "-Atqc", sql],
                          check=False, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise SystemExit(f"psql {server_url}: {sql}: {done.stderr.strip()}")
    return done.stdout.strip()


def check_database_name(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise SystemExit(f"--postgres-database {name!r}: use lower-case letters, digits and _")
    return name


# (h): 100,000 grants written straight into mlguard's SQLite database.


def fake_password_hash() -> str:
    """An argon2id PHC string of mlguard's shape that no password matches: these
    users never log in, but their rows look like real ones."""
    salt = base64.b64encode(secrets.token_bytes(16)).decode().rstrip("=")
    digest = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    return f"$argon2id$v=19$m=19456,t=2,p=1${salt}${digest}"


def insert_many_grants(db: Path, users: int, per_user: int, reader_experiments: range) -> int:
    """Users `bench-user-<n>`, each with READ on `per_user` experiments of its own
    (ids above LISTED), plus the reader's grants on `reader_experiments`, written as
    mlguard writes a per-user grant: a row of the user's synthetic role
    `__user_<id>__` in workspace `default`. The server must be stopped. Returns the
    number of grant rows written."""
    con = sqlite3.connect(db)
    try:
        con.execute("PRAGMA foreign_keys = ON")
        now = int(time.time() * 1000)
        with con:
            reader_id = con.execute("SELECT id FROM users WHERE username = ?", (READER,)).fetchone()[0]
            # The reader's first grant came through the API: copy how it is stored.
            reader_role, resource_type, permission = con.execute(
                "SELECT r.id, p.resource_type, p.permission FROM roles r "
                "JOIN role_permissions p ON p.role_id = r.id "
                "WHERE r.workspace = 'default' AND r.name = ? AND p.resource_pattern = '1'",
                (f"__user_{reader_id}__",),
            ).fetchone()
            con.executemany(
                "INSERT INTO users (username, password_hash, is_admin, credential_version, created_at) "
                "VALUES (?, ?, 0, 0, ?)",
                ((f"bench-user-{n:06d}", fake_password_hash(), now) for n in range(users)),
            )
            ids = [row[0] for row in con.execute(
                "SELECT id FROM users WHERE username LIKE 'bench-user-%' ORDER BY username")]
            con.executemany(
                "INSERT INTO roles (workspace, name, description, created_at) VALUES ('default', ?, NULL, ?)",
                ((f"__user_{user_id}__", now) for user_id in ids),
            )
            roles = dict(con.execute(
                "SELECT CAST(substr(name, 8, length(name) - 9) AS INTEGER), id FROM roles "
                "WHERE workspace = 'default' AND name LIKE '\\_\\_user\\_%' ESCAPE '\\'"))
            con.executemany(
                "INSERT INTO user_role_assignments (user_id, role_id, created_at) VALUES (?, ?, ?)",
                ((user_id, roles[user_id], now) for user_id in ids),
            )
            rows = [(roles[user_id], resource_type, str(LISTED + n * per_user + k + 1), permission, now)
                    for n, user_id in enumerate(ids) for k in range(per_user)]
            rows += [(reader_role, resource_type, str(e), permission, now) for e in reader_experiments if e != 1]
            con.executemany(
                "INSERT INTO role_permissions (role_id, resource_type, resource_pattern, permission, created_at) "
                "VALUES (?, ?, ?, ?, ?)", rows)
            # The triggers logged every row for a running server to replay; the next
            # start loads the whole view instead, so the log would only be pruned
            # later, during a measured run.
            con.execute("DELETE FROM access_changes")
        return len(rows)
    finally:
        con.close()


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def view_loaded(log: Path) -> dict[str, int]:
    """The sizes and load time of the "authorization view loaded" log line."""
    for line in reversed(log.read_text(errors="replace").splitlines()):
        line = ANSI.sub("", line)
        if "authorization view loaded" in line:
            fields = dict(re.findall(r"(\w+)=(\d+)", line))
            return {k: int(fields[k]) for k in ("users", "roles", "rows", "load_ms") if k in fields}
    raise SystemExit(f"no 'authorization view loaded' line in {log}")


# ---------------------------------------------------------------------------------
# Set-up through each system's own API


def basic_header(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def expect(response: requests.Response, status: int, what: str) -> requests.Response:
    if response.status_code != status:
        raise SystemExit(f"{what}: expected {status}, got {response.status_code}: {response.text[:500]}")
    return response


def create_experiment(url: str, auth: tuple[str, str] | None) -> str:
    r = requests.post(url + "/api/2.0/mlflow/experiments/create",
                      json={"name": "bench-" + secrets.token_hex(4)}, auth=auth, timeout=30)
    return expect(r, 200, f"create experiment on {url}").json()["experiment_id"]


def create_user(url: str, admin: tuple[str, str], username: str) -> str:
    """A non-admin user, through MLflow's user API. Returns its password."""
    password = "usr-" + secrets.token_urlsafe(18)
    r = requests.post(url + "/api/2.0/mlflow/users/create",
                      json={"username": username, "password": password}, auth=admin, timeout=30)
    expect(r, 200, f"create user {username} on {url}")
    return password


def grant_read(url: str, admin: tuple[str, str], experiment_ids: list[str], username: str = READER) -> None:
    """READ on each experiment, through MLflow's permission API (which mlguard and
    MLflow's app both serve)."""
    with requests.Session() as session:
        session.auth = admin
        for experiment_id in experiment_ids:
            r = session.post(url + "/api/2.0/mlflow/experiments/permissions/create",
                             json={"experiment_id": experiment_id, "username": username, "permission": "READ"},
                             timeout=30)
            expect(r, 200, f"grant READ on experiment {experiment_id} on {url}")


def create_reader(url: str, admin: tuple[str, str], experiment_id: str) -> str:
    """The non-admin user with READ on the experiment. Returns its password."""
    password = create_user(url, admin, READER)
    grant_read(url, admin, [experiment_id])
    return password


def create_token(url: str, reader_password: str) -> str:
    r = requests.post(url + "/api/2.0/mlguard/tokens/create", auth=(READER, reader_password), timeout=30)
    return "Bearer " + expect(r, 200, f"issue token on {url}").json()["token"]


def endpoint(url: str, experiment_id: str) -> str:
    return f"{url}/api/2.0/mlflow/experiments/get?experiment_id={experiment_id}"


def check_access(url: str, experiment_id: str, authorization: str | None, other_experiment: str | None) -> None:
    """The benchmarked request succeeds, and the same caller is refused where it holds
    no grant and with a wrong password: a fast answer must be a checked one."""
    headers = {"Authorization": authorization} if authorization else {}
    r = expect(requests.get(endpoint(url, experiment_id), headers=headers, timeout=60), 200,
               f"GET experiment {experiment_id} on {url}")
    if r.json()["experiment"]["experiment_id"] != experiment_id:
        raise SystemExit(f"{url} answered another experiment: {r.text[:300]}")
    if authorization is None:
        return
    if other_experiment is not None:
        expect(requests.get(endpoint(url, other_experiment), headers=headers, timeout=60), 403,
               f"ungranted experiment {other_experiment} on {url}")
    if authorization.startswith("Basic "):
        wrong = {"Authorization": basic_header(READER, "wrong-password-123")}
        expect(requests.get(endpoint(url, experiment_id), headers=wrong, timeout=60), 401,
               f"wrong password on {url}")


@dataclass
class Post:
    """A listing request sent with POST: its JSON body, and how many items its
    answer must hold for the reader."""
    name: str  # for file names
    path: str
    body: dict
    items: Callable[[dict], int]
    expected: int

    def wrk_script(self, workdir: Path) -> Path:
        """wrk sends a body only from a Lua script."""
        body = json.dumps(self.body, separators=(",", ":"))
        if "]==]" in body:
            raise ValueError("the body would end the Lua string")
        script = workdir / f"wrk-{self.name}.lua"
        script.write_text('wrk.method = "POST"\n'
                          'wrk.headers["Content-Type"] = "application/json"\n'
                          f"wrk.body = [==[{body}]==]\n")
        return script


def listed_experiments(answer: dict) -> int:
    return len(answer.get("experiments") or [])


def listed_runs(answer: dict) -> int:
    if answer.get("errors"):
        raise SystemExit(f"GraphQL errors: {answer['errors']}")
    return len(((answer.get("data") or {}).get("mlflowSearchRuns") or {}).get("runs") or [])


def search_post(page: int) -> Post:
    return Post(f"search-{page}", "/api/2.0/mlflow/experiments/search", {"max_results": page},
                listed_experiments, page)


# Runs with what MLflow's UI asks of each: info, metrics, params, tags.
SEARCH_RUNS_QUERY = """query BenchSearchRuns($input: MlflowSearchRunsInput) {
  mlflowSearchRuns(input: $input) {
    runs {
      info { runId runUuid runName experimentId userId status startTime endTime artifactUri lifecycleStage }
      data { metrics { key value timestamp step } params { key value } tags { key value } }
    }
    nextPageToken
  }
}"""


def graphql_post(runs: int) -> Post:
    """`mlflowSearchRuns` over experiments 1..runs: mlguard checks READ on each id,
    then parses and rewrites MLflow's answer of `runs` runs."""
    variables = {"input": {"experimentIds": [str(i) for i in range(1, runs + 1)], "maxResults": runs}}
    return Post(f"graphql-{runs}", "/graphql",
                {"query": SEARCH_RUNS_QUERY, "variables": variables, "operationName": "BenchSearchRuns"},
                listed_runs, runs)


def send(url: str, post: Post, authorization: str | None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    return requests.post(url + post.path, data=json.dumps(post.body), headers=headers, timeout=60)


def check_listing(url: str, post: Post, authorization: str | None, outsider: str | None) -> None:
    """The reader sees the whole page, a user without grants sees none of it, and a
    wrong password is refused."""
    answer = expect(send(url, post, authorization), 200, f"{post.name} on {url}").json()
    if post.items(answer) != post.expected:
        raise SystemExit(f"{post.name} on {url}: {post.items(answer)} items, expected {post.expected}")
    if outsider is not None:
        answer = expect(send(url, post, outsider), 200, f"{post.name} by {OUTSIDER} on {url}").json()
        if post.items(answer) != 0:
            raise SystemExit(f"{post.name} on {url}: {OUTSIDER} was shown {post.items(answer)} items")
    if authorization and authorization.startswith("Basic "):
        expect(send(url, post, basic_header(READER, "wrong-password-123")), 401, f"{post.name}: wrong password on {url}")


# ---------------------------------------------------------------------------------
# Load


@dataclass
class LoadResult:
    setup: str
    auth: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx/3xx answers plus socket errors: any makes the row invalid
    rss_max_mb: float | None  # highest VmRSS sampled during the run
    rss_before_mb: float | None  # VmRSS before the warm-up
    rss_at_start_mb: float | None  # VmRSS when the process had just become healthy
    hwm_mb: float | None  # VmHWM after the run: the process's peak since it started
    key: str = ""  # the report's name for the row: "d", "d1", "e", "d-search-100", ...
    # The peak of the measured run alone (VmHWM reset just before it), without what
    # set-up's argon2 hashing left behind; None where the kernel refused the reset.
    run_hwm_mb: float | None = None


UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_duration_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"unreadable wrk duration {text!r}")
    return float(match[1]) * UNIT_MS[match[2]]


def parse_wrk(output: str) -> dict:
    def find(pattern: str) -> re.Match:
        match = re.search(pattern, output, re.MULTILINE)
        if not match:
            raise SystemExit(f"wrk output lacks {pattern!r}:\n{output}")
        return match

    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = (sum(int(g) for g in socket_errors.groups()) if socket_errors else 0) + (
        int(non_2xx[1]) if non_2xx else 0)
    return {
        "requests_per_s": float(find(r"^Requests/sec:\s+([\d.]+)")[1]),
        "p50_ms": parse_duration_ms(find(r"^\s+50%\s+(\S+)")[1]),
        "p99_ms": parse_duration_ms(find(r"^\s+99%\s+(\S+)")[1]),
        "requests": int(find(r"^\s+(\d+) requests in")[1]),
        "errors": errors,
    }


def parse_latency_max(output: str) -> str:
    """The Max column of wrk's `Latency avg stdev max +/-` line ("0us" if none)."""
    match = re.search(r"^[ \t]+Latency[ \t]+\S+[ \t]+\S+[ \t]+(\S+)", output, re.MULTILINE)
    return match[1] if match and re.fullmatch(r"[\d.]+(us|ms|s|m)", match[1]) else "0us"


def proc_field(path: str, field: str) -> int | None:
    """A `Field:   123 kB` line of a /proc file, as the number."""
    with contextlib.suppress(OSError):
        for line in Path(path).read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def wrk(url: str, authorization: str | None, seconds: int, script: Path | None = None) -> str:
    cmd = ["wrk", "-t", str(WRK_THREADS), "-c", str(WRK_CONNECTIONS), "-d", f"{seconds}s",
           "--timeout", WRK_TIMEOUT, "--latency"]
    if authorization:
        cmd += ["-H", f"Authorization: {authorization}"]
    if script:
        cmd += ["-s", str(script)]
    # wrk stops by itself after `seconds`; the timeout only guards against a hang.
    done = subprocess.run(cmd + [url], check=False, capture_output=True, text=True, timeout=seconds + 120)
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def measure(key: str, setup: str, auth: str, url: str, authorization: str | None, seconds: int,
            warmup_seconds: int, mlguard: Mlguard | None, script: Path | None = None) -> LoadResult:
    mlguard_pid = mlguard.pid if mlguard else None
    before_kb = proc_field(f"/proc/{mlguard_pid}/status", "VmRSS") if mlguard_pid else None
    if warmup_seconds:
        warmup = wrk(url, authorization, warmup_seconds, script)
        # wrk leaves up to one request per connection in flight; on a slow server
        # they would still be running when the measured window opens. Wait as long
        # as the slowest warm-up request took, and a second more.
        time.sleep(parse_duration_ms(parse_latency_max(warmup)) / 1000 + 1)
    status = f"/proc/{mlguard_pid}/status"
    run_hwm_reset = False
    if mlguard:
        mlguard.peak_since_start_kb = max(mlguard.peak_since_start_kb, proc_field(status, "VmHWM") or 0)
        # "5" sets VmHWM to the current VmRSS (proc(5), clear_refs).
        with contextlib.suppress(OSError):
            Path(f"/proc/{mlguard_pid}/clear_refs").write_text("5")
            run_hwm_reset = True
    peak_kb = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak_kb
        while not stop.is_set():
            peak_kb = max(peak_kb, proc_field(f"/proc/{mlguard_pid}/status", "VmRSS") or 0)
            stop.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True) if mlguard_pid else None
    if sampler:
        sampler.start()
    try:
        output = wrk(url, authorization, seconds, script)
    finally:
        stop.set()
        if sampler:
            sampler.join()
    parsed = parse_wrk(output)
    hwm_kb = None
    if mlguard:
        run_hwm_kb = proc_field(status, "VmHWM") or 0
        mlguard.peak_since_start_kb = hwm_kb = max(mlguard.peak_since_start_kb, run_hwm_kb)
    result = LoadResult(
        key=key, setup=setup, auth=auth, **parsed,
        rss_max_mb=peak_kb / 1024 if mlguard_pid else None,
        hwm_mb=hwm_kb / 1024 if hwm_kb is not None else None,
        run_hwm_mb=run_hwm_kb / 1024 if mlguard and run_hwm_reset else None,
        rss_before_mb=before_kb / 1024 if before_kb is not None else None,
        rss_at_start_mb=mlguard.rss_at_start_mb if mlguard else None,
    )
    print(f"  {setup:<58} {auth:<7} {result.requests_per_s:>10.1f} req/s  p50 {result.p50_ms:.3f} ms"
          f"  p99 {result.p99_ms:.3f} ms  errors {result.errors}", flush=True)
    return result


def other_builds_running() -> bool:
    """Whether someone else's compiler is running (the machine has 2 cores)."""
    for comm in Path("/proc").glob("[0-9]*/comm"):
        with contextlib.suppress(OSError):
            if comm.read_text().strip() == "rustc":
                return True
    return False


@dataclass
class Row:
    key: str
    setup: str
    auth: str
    url: str
    authorization: str | None
    server: Mlguard | None  # whose RSS is sampled
    script: Path | None = None


def children(pid: int) -> int:
    with contextlib.suppress(OSError):
        return len(Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
    return 0


def start_many_grants(procs: Processes, binary: Path, workdir: Path, upstream: str, users: int,
                      per_user: int) -> tuple[Mlguard, dict]:
    """(h): mlguard whose database holds `users` x `per_user` grants of other users
    besides the reader's LISTED. The API would take far too long to write them, so:
    start once (migrations, admin, the reader and its first grant through the API),
    restart as it is (the baseline at start, without the first start's argon2
    hashing), stop, write the rest with sqlite3, start again: the view loads it all."""
    name = "mlguard (h)"
    first = start_mlguard(procs, binary, workdir, name, upstream, log_name="server-first.log")
    reader_password = create_reader(first.url, ("admin", first.admin_password), "1")
    procs.stop(first.proc)
    empty = start_mlguard(procs, binary, workdir, name, upstream, admin_password=first.admin_password,
                          log_name="server-empty.log")
    procs.stop(empty.proc)
    generated = users * per_user
    written = insert_many_grants(workdir / "mlguard.db", users, per_user, range(1, LISTED + 1))
    many = start_mlguard(procs, binary, workdir, name, upstream, admin_password=first.admin_password,
                         log_name="server.log")
    view = view_loaded(many.log)
    print(f"  {name}: authorization view loaded {view}", flush=True)
    if view.get("rows", 0) < generated:
        raise SystemExit(f"{name}: the view loaded {view.get('rows')} grant rows, expected {written + 1} "
                         f"({generated:,} generated)")
    return many, {
        "users": users,
        "per_user": per_user,
        "generated_grants": generated,
        "rows_written": written + 1,  # and the reader's first, through the API
        "view": view,
        "start_s": many.start_s,
        "rss_at_start_mb": many.rss_at_start_mb,
        "empty_rss_at_start_mb": empty.rss_at_start_mb,
        "empty_view": view_loaded(empty.log),
        "reader_password": reader_password,
    }


def load(args: argparse.Namespace) -> None:
    workdir = Path(args.workdir)
    procs = Processes(Path(args.pid_file))

    def on_signal(signum, _frame):
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for tool in ("wrk", "psql"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed")
    nginx = Path(args.nginx)
    if not os.access(nginx, os.X_OK):
        raise SystemExit(f"no nginx at {nginx} (Debian: apt-get install nginx)")
    pg_database = check_database_name(args.postgres_database or "mlguard_bench_" + secrets.token_hex(6))
    pg_created = False
    conditions = {"load_before": os.getloadavg(), "builds_seen": other_builds_running(),
                  "nginx_version": nginx_version(nginx), "listed": LISTED}
    results: list[LoadResult] = []
    rows: list[Row] = []
    try:
        binary = Path(args.mlguard).resolve()
        if not args.skip_mlflow:
            print("starting MLflow without auth (a), MLflow's basic-auth app (c), mlguard (b)", flush=True)
            plain = start_mlflow(procs, workdir / "mlflow-plain", "mlflow (a)", None)
            plain_experiment = create_experiment(plain, None)

            auth_dir = workdir / "mlflow-basic-auth"
            mlflow_admin = ("admin", "adm-" + secrets.token_urlsafe(18))
            ini = workdir / "basic_auth.ini"
            ini.write_text(
                "[mlflow]\n"
                "default_permission = NO_PERMISSIONS\n"
                f"database_uri = sqlite:///{workdir / 'basic_auth.db'}\n"
                f"admin_username = {mlflow_admin[0]}\n"
                f"admin_password = {mlflow_admin[1]}\n"
                "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
            )
            auth_url = start_mlflow(procs, auth_dir, "mlflow basic-auth (c)", ini)
            auth_experiment = create_experiment(auth_url, mlflow_admin)
            auth_other = create_experiment(auth_url, mlflow_admin)
            auth_reader = create_reader(auth_url, mlflow_admin, auth_experiment)
            auth_basic = basic_header(READER, auth_reader)
            check_access(auth_url, auth_experiment, auth_basic, auth_other)

            front = start_mlguard(procs, binary, workdir / "mlguard-b", "mlguard (b)", plain)
            reader = create_reader(front.url, ("admin", front.admin_password), plain_experiment)
            front_basic, front_bearer = basic_header(READER, reader), create_token(front.url, reader)
            # Experiment 0 is MLflow's Default experiment: it exists, and the reader holds
            # no grant on it.
            for authorization in (front_basic, front_bearer):
                check_access(front.url, plain_experiment, authorization, "0")
            check_access(plain, plain_experiment, None, None)
            rows += [
                Row("a", "(a) MLflow 3.10.1, no auth", "none", endpoint(plain, plain_experiment), None, None),
                Row("b", "(b) mlguard -> MLflow (a)", "Basic", endpoint(front.url, plain_experiment),
                    front_basic, front),
                Row("b", "(b) mlguard -> MLflow (a)", "Bearer", endpoint(front.url, plain_experiment),
                    front_bearer, front),
                Row("c", "(c) MLflow 3.10.1 basic-auth app", "Basic", endpoint(auth_url, auth_experiment),
                    auth_basic, None),
            ]

        print("starting the trivial upstream, mlguard (d, d1, f, f1, g, h) and nginx (e, e1) in front of it",
              flush=True)
        trivial = start_trivial_upstream(procs, Path(args.trivial_upstream).resolve(), workdir / "trivial")
        searches = [search_post(page) for page in SEARCH_PAGES]
        graphql = graphql_post(GRAPHQL_RUNS)
        listed = [str(i) for i in range(1, LISTED + 1)]

        ceiling = start_mlguard(procs, binary, workdir / "mlguard-d", "mlguard (d)", trivial)
        admin = ("admin", ceiling.admin_password)
        reader = create_reader(ceiling.url, admin, "1")
        grant_read(ceiling.url, admin, listed[1:])
        outsider = basic_header(OUTSIDER, create_user(ceiling.url, admin, OUTSIDER))
        ceiling_basic, ceiling_bearer = basic_header(READER, reader), create_token(ceiling.url, reader)
        for authorization in (ceiling_basic, ceiling_bearer):
            check_access(ceiling.url, "1", authorization, UNGRANTED_EXPERIMENT)
        for post in (*searches, graphql):
            check_listing(ceiling.url, post, ceiling_basic, outsider)

        single, setting = start_single_threaded_mlguard(procs, binary, workdir / "mlguard-d1", "mlguard (d1)",
                                                         trivial)
        conditions["single_thread_setting"] = setting
        reader = create_reader(single.url, ("admin", single.admin_password), "1")
        single_basic, single_bearer = basic_header(READER, reader), create_token(single.url, reader)
        for authorization in (single_basic, single_bearer):
            check_access(single.url, "1", authorization, UNGRANTED_EXPERIMENT)

        nginx_auto = start_nginx(procs, nginx, workdir / "nginx-e", "nginx (e)", trivial, "auto")
        nginx_one = start_nginx(procs, nginx, workdir / "nginx-e1", "nginx (e1)", trivial, "1")
        conditions["nginx_workers"] = {key: children(proc.pid) for key, (name, proc) in
                                       zip(("e", "e1"), procs.started[-2:])}
        bare = start_bare_proxy(procs, Path(args.bare_proxy).resolve(), workdir / "bare-i", trivial)
        for url in (nginx_auto, nginx_one, bare):
            check_access(url, "1", None, None)
        for post in (*searches, graphql):
            check_listing(nginx_auto, post, None, None)

        psql(args.postgres_url, f'CREATE DATABASE "{pg_database}"')
        pg_created = True
        conditions["postgres_version"] = psql(args.postgres_url, "SHOW server_version")
        pg_env = {"MLGUARD_DATABASE__URL": postgres_database_url(args.postgres_url, pg_database)}
        pg = start_mlguard(procs, binary, workdir / "mlguard-f", "mlguard (f)", trivial, pg_env)
        reader = create_reader(pg.url, ("admin", pg.admin_password), "1")
        pg_basic, pg_bearer = basic_header(READER, reader), create_token(pg.url, reader)
        # A second replica on the same database: the reader, its token and the grant
        # are (f)'s.
        pg_single, _ = start_single_threaded_mlguard(procs, binary, workdir / "mlguard-f1", "mlguard (f1)",
                                                      trivial, pg_env, pg.admin_password)
        for url in (pg.url, pg_single.url):
            for authorization in (pg_basic, pg_bearer):
                check_access(url, "1", authorization, UNGRANTED_EXPERIMENT)

        strict = start_mlguard(procs, binary, workdir / "mlguard-g", "mlguard (g)", trivial,
                               {"MLGUARD_AUTH__CONSISTENCY": "strict"})
        reader = create_reader(strict.url, ("admin", strict.admin_password), "1")
        strict_basic = basic_header(READER, reader)
        check_access(strict.url, "1", strict_basic, UNGRANTED_EXPERIMENT)

        many, many_conditions = start_many_grants(procs, binary, workdir / "mlguard-h", trivial,
                                                  args.many_grants_users, args.many_grants_per_user)
        conditions["many_grants"] = many_conditions
        many_basic = basic_header(READER, many_conditions.pop("reader_password"))
        many_outsider = basic_header(OUTSIDER, create_user(many.url, ("admin", many.admin_password), OUTSIDER))
        check_access(many.url, "1", many_basic, UNGRANTED_EXPERIMENT)
        check_listing(many.url, searches[0], many_basic, many_outsider)

        one = conditions["nginx_workers"]
        nginx_label = f"nginx {conditions['nginx_version']}"
        grants_label = f"{many_conditions['generated_grants']:,} grants"
        scripts = {post.name: post.wrk_script(workdir) for post in (*searches, graphql)}
        rows += [
            Row("d", "(d) mlguard -> trivial upstream", "Basic", endpoint(ceiling.url, "1"), ceiling_basic, ceiling),
            Row("d", "(d) mlguard -> trivial upstream", "Bearer", endpoint(ceiling.url, "1"), ceiling_bearer,
                ceiling),
            Row("d1", "(d1) mlguard, 1 worker thread -> trivial upstream", "Basic", endpoint(single.url, "1"),
                single_basic, single),
            Row("d1", "(d1) mlguard, 1 worker thread -> trivial upstream", "Bearer", endpoint(single.url, "1"),
                single_bearer, single),
            Row("e", f"(e) {nginx_label}, worker_processes auto ({one['e']}) -> trivial upstream", "none",
                endpoint(nginx_auto, "1"), None, None),
            Row("e1", f"(e1) {nginx_label}, worker_processes 1 -> trivial upstream", "none",
                endpoint(nginx_one, "1"), None, None),
            Row("i", "(i) hyper alone (server and pooled client, nothing between) -> trivial upstream", "none",
                endpoint(bare, "1"), None, None),
            Row("f", "(f) mlguard, PostgreSQL store -> trivial upstream", "Basic", endpoint(pg.url, "1"), pg_basic,
                pg),
            Row("f", "(f) mlguard, PostgreSQL store -> trivial upstream", "Bearer", endpoint(pg.url, "1"),
                pg_bearer, pg),
            Row("f1", "(f1) mlguard, PostgreSQL, 1 worker thread -> trivial upstream", "Basic",
                endpoint(pg_single.url, "1"), pg_basic, pg_single),
            Row("f1", "(f1) mlguard, PostgreSQL, 1 worker thread -> trivial upstream", "Bearer",
                endpoint(pg_single.url, "1"), pg_bearer, pg_single),
            Row("g", "(g) mlguard, consistency=strict -> trivial upstream", "Basic", endpoint(strict.url, "1"),
                strict_basic, strict),
            Row("h", f"(h) mlguard with {grants_label} -> trivial upstream", "Basic", endpoint(many.url, "1"),
                many_basic, many),
        ]
        for search in searches:
            what = f"`experiments/search`, page of {search.expected}"
            rows += [
                Row(f"d-{search.name}", f"(d) {what}", "Basic", ceiling.url + search.path, ceiling_basic, ceiling,
                    scripts[search.name]),
                Row(f"e-{search.name}", f"(e) {what}", "none", nginx_auto + search.path, None, None,
                    scripts[search.name]),
            ]
        what = f"`experiments/search`, page of {SEARCH_PAGES[0]}, {grants_label}"
        rows.append(Row(f"h-search-{SEARCH_PAGES[0]}", f"(h) {what}", "Basic", many.url + searches[0].path,
                        many_basic, many, scripts[searches[0].name]))
        what = f"GraphQL `mlflowSearchRuns`, {GRAPHQL_RUNS} runs"
        rows += [
            Row("d-graphql", f"(d) {what}", "Basic", ceiling.url + graphql.path, ceiling_basic, ceiling,
                scripts[graphql.name]),
            Row("e-graphql", f"(e) {what}", "none", nginx_auto + graphql.path, None, None, scripts[graphql.name]),
        ]

        seconds, warmup = args.seconds, args.warmup_seconds
        print(f"load: wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS}, {warmup} s warm-up + {seconds} s each", flush=True)
        for row in rows:
            conditions["builds_seen"] |= other_builds_running()
            results.append(measure(row.key, row.setup, row.auth, row.url, row.authorization, seconds, warmup,
                                   row.server, row.script))
        conditions["load_after"] = os.getloadavg()
    finally:
        # A second signal must not cut the clean-up short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        procs.stop_all()
        if pg_created:
            psql(args.postgres_url, f'DROP DATABASE IF EXISTS "{pg_database}" WITH (FORCE)')
    Path(args.out).write_text(json.dumps({
        "results": [asdict(r) for r in results],
        "conditions": conditions,
        "seconds": args.seconds,
        "warmup_seconds": args.warmup_seconds,
        "mlflow_workers": MLFLOW_WORKERS,
    }, indent=2))


# ---------------------------------------------------------------------------------
# Report


def verdict(met: bool) -> str:
    return "met" if met else "**MISSED**"


def fmt_ms(ms: float) -> str:
    return f"{ms:.3f} ms" if ms < 100 else f"{ms:,.0f} ms"


def fmt_ns(ns: float) -> str:
    return f"{ns:,.1f} ns" if ns < 10_000 else f"{ns / 1000:,.2f} µs"


def criterion_estimates(criterion_dir: Path) -> dict[str, dict]:
    """full_id -> {"ns": per-iteration time as criterion prints it, "low", "high"}."""
    found = {}
    for bench in criterion_dir.glob("**/new/benchmark.json"):
        meta = json.loads(bench.read_text())
        estimates = json.loads((bench.parent / "estimates.json").read_text())
        # criterion's headline "time" is the slope in linear sampling, else the mean.
        estimate = estimates.get("slope") or estimates["mean"]
        interval = estimate["confidence_interval"]
        found[meta["full_id"]] = {
            "ns": estimate["point_estimate"],
            "low": interval["lower_bound"],
            "high": interval["upper_bound"],
        }
    return found


MICRO_BENCHES = [
    ("decide/admin", "authorization decision: admin", TARGET_DECISION_NS),
    ("decide/explicit_grant", "authorization decision: explicit grant", TARGET_DECISION_NS),
    ("decide/default", "authorization decision: default permission", TARGET_DECISION_NS),
    ("credential_cache/fingerprint_and_get",
     "cached credential check (HMAC fingerprint + cache get, warm 10,000-entry cache)",
     TARGET_CACHED_CHECK_NS),
    ("sqlite_store/credential_state",
     "store read 1 of a cached Basic request: the account's credential version (SQLite)", None),
    ("sqlite_store/resolve",
     "store read 2: what the caller's roles resolve to on the experiment (SQLite)", None),
    ("full_authenticated_request_in_process/basic_cached",
     ("full authenticated request, in-process: Basic (cached) + credential version + grant "
     "from SQLite + decision + instant stub upstream"), None),
    ("full_authenticated_request_in_process/bearer",
     ("full authenticated request, in-process: Bearer (JWT verify + version + revocation + "
     "grant from SQLite) + decision + instant stub upstream"), None),
]


def machine_info() -> list[str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    nproc = subprocess.run(["nproc"], check=False, capture_output=True, text=True).stdout.strip()
    mem_kb = proc_field("/proc/meminfo", "MemTotal")
    return [
        f"- CPUs (`nproc`): {nproc}",
        f"- CPU model: {cpu}",
        f"- memory: {mem_kb / 1024 / 1024:.1f} GiB" if mem_kb else "- memory: unknown",
        f"- kernel: {platform.release()}",
    ]


SHOWN = "no target (shown for honesty)"


def nginx_targets(by_key: dict[tuple[str, str], LoadResult], conditions: dict) -> list[str]:
    """This issue's table: mlguard against nginx in front of the same trivial
    upstream, RSS with 100,000 grants, and what list filtering and GraphQL cost."""
    lines = ["| target: mlguard against nginx, 100k grants, lists | measured | verdict |", "|---|---|---|"]
    add = lines.append

    def valid(r: LoadResult | None) -> bool:
        return r is not None and r.errors == 0 and r.requests > 0

    def ratio(label: str, mlguard_row: tuple[str, str], nginx_row: tuple[str, str], target: float | None,
              note: str = SHOWN) -> None:
        m, n = by_key.get(mlguard_row), by_key.get(nginx_row)
        if not (valid(m) and valid(n)):
            add(f"| {label} | no valid measurement | {'**MISSED**' if target else note} |")
            return
        r = m.requests_per_s / n.requests_per_s
        measured = (f"{r:.3f} ({m.requests_per_s:,.0f} / {n.requests_per_s:,.0f} requests/s; "
                    f"p50 {m.p50_ms - n.p50_ms:+.3f} ms)")
        add(f"| {label} | {measured} | {verdict(r >= target) if target else note} |")

    verdict_row = "shown; the verdict is the row with defaults on both sides"
    for store, key in (("SQLite", "d"), ("PostgreSQL", "f")):
        for auth in ("Basic", "Bearer"):
            ratio(f"mlguard/nginx ≥ {TARGET_OVER_NGINX} ({key})/(e), {store}, {auth}, defaults", (key, auth),
                  ("e", "none"), TARGET_OVER_NGINX)
            ratio(f"mlguard/nginx ({key}1)/(e1), {store}, {auth}, one worker thread against one worker process",
                  (f"{key}1", auth), ("e1", "none"), None, verdict_row)
    ratio("mlguard/nginx (g)/(e), SQLite, `consistency=strict`, Basic", ("g", "Basic"), ("e", "none"), None)
    ratio("hyper alone/nginx (i)/(e): the ceiling of mlguard's HTTP stack", ("i", "none"), ("e", "none"), None)
    for auth in ("Basic", "Bearer"):
        ratio(f"mlguard/hyper alone (d)/(i), SQLite, {auth}: what mlguard's own work costs", ("d", auth),
              ("i", "none"), None)

    many = conditions.get("many_grants")
    h, d = by_key.get(("h", "Basic")), by_key.get(("d", "Basic"))
    if many and h is not None:
        rows = many["view"]["rows"]
        h_rows = [r for r in by_key.values() if r.key.startswith("h")]
        under_load = max(r.rss_max_mb or 0 for r in h_rows)
        run_peaks = [r.run_hwm_mb for r in h_rows if r.run_hwm_mb is not None]
        run_peak = max(run_peaks) if run_peaks else max(r.hwm_mb or 0 for r in h_rows)
        peak = max(many["rss_at_start_mb"], under_load, run_peak)
        add(f"| (h) mlguard RSS < {TARGET_RSS_MB:.0f} MB with {many['generated_grants']:,} grants "
            f"({many['users']:,} users × {many['per_user']}; {rows:,} grant rows in the view): the highest of "
            f"VmRSS at start, max VmRSS under load and VmHWM of the measured runs "
            f"| {peak:.1f} MB (at start {many['rss_at_start_mb']:.1f}; max under load {under_load:.1f}; VmHWM of "
            f"the runs {run_peak:.1f}; VmHWM since start, set-up's argon2 included: "
            f"{max(r.hwm_mb or 0 for r in h_rows):.1f}) | {verdict(all(valid(r) for r in h_rows) and peak < TARGET_RSS_MB)} |")
        if d is not None and d.rss_at_start_mb is not None:
            per_row = (many["rss_at_start_mb"] - d.rss_at_start_mb) * 1024 * 1024 / rows
            add(f"| memory per grant: ((h) at start − (d) at start) / {rows:,} rows; (d)'s first start hashes "
                "the admin's password (argon2, 19 MiB), (h)'s restart does not "
                f"| {per_row:,.0f} bytes ({many['rss_at_start_mb']:.1f} − {d.rss_at_start_mb:.1f} MB) | {SHOWN} |")
        per_row = (many["rss_at_start_mb"] - many["empty_rss_at_start_mb"]) * 1024 * 1024 / (rows - 1)
        add(f"| memory per grant: ((h) at start − (h)'s database restarted before the rows were written) "
            f"/ {rows - 1:,} rows (neither start hashes a password) "
            f"| {per_row:,.0f} bytes ({many['rss_at_start_mb']:.1f} − {many['empty_rss_at_start_mb']:.1f} MB) "
            f"| {SHOWN} |")
        add(f"| authorization view load at (h)'s start, {rows:,} rows, {many['view']['users']:,} users "
            f"| {many['view']['load_ms']:,} ms (its log's `load_ms`); start to healthy {many['start_s']:.2f} s "
            f"| {SHOWN} |")
    else:
        add(f"| (h) mlguard RSS < {TARGET_RSS_MB:.0f} MB with 100,000 grants | not measured | **MISSED** |")

    for page in SEARCH_PAGES:
        ratio(f"list filtering, `experiments/search` page of {page}, all readable: (d)/(e), Basic",
              (f"d-search-{page}", "Basic"), (f"e-search-{page}", "none"), None)
    page = SEARCH_PAGES[0]
    more = f"{many['generated_grants']:,}" if many else "100,000"
    ratio(f"list filtering, page of {page}, {more} more grants: (h)/(e), Basic",
          (f"h-search-{page}", "Basic"), (f"e-search-{page}", "none"), None)
    ratio(f"list filtering, page of {page}: (h)/(d), the same request with {more} more grants in the view "
          "(1.0: no growth)",
          (f"h-search-{page}", "Basic"), (f"d-search-{page}", "Basic"), None)
    ratio(f"GraphQL `mlflowSearchRuns` over {GRAPHQL_RUNS} experiments, {GRAPHQL_RUNS} runs: (d)/(e), Basic",
          ("d-graphql", "Basic"), ("e-graphql", "none"), None)
    return lines


def report(args: argparse.Namespace) -> None:
    load_data = json.loads(Path(args.load).read_text())
    results = [LoadResult(**r) for r in load_data["results"]]
    conditions = load_data["conditions"]
    for r in results:
        # Files written before rows had keys: "(d) mlguard ..." is row d.
        r.key = r.key or r.setup.split(")", 1)[0].lstrip("(")
    by_key = {(r.key, r.auth): r for r in results}
    estimates = criterion_estimates(Path(args.criterion))

    lines: list[str] = []
    add = lines.append
    add(f"Measured {args.date}, in one run of `bench/run.sh`.")
    add("")
    add("| setup | auth | requests/s | p50 | p99 | errors | mlguard RSS under load: max VmRSS (VmHWM; before the load; at start) "
        "| mlguard VmHWM of the measured run |")
    add("|---|---|---:|---:|---:|---:|---|---:|")
    for r in results:
        rss = (f"{r.rss_max_mb:.1f} MB ({r.hwm_mb:.1f}; {r.rss_before_mb:.1f}; {r.rss_at_start_mb:.1f})"
               if r.rss_max_mb is not None else "—")
        run_hwm = f"{r.run_hwm_mb:.1f} MB" if r.run_hwm_mb is not None else "—"
        if r.requests == 0:
            add(f"| {r.setup} | {r.auth} | 0 (no request completed) | — | — | {r.errors} | {rss} | {run_hwm} |")
            continue
        add(f"| {r.setup} | {r.auth} | {r.requests_per_s:,.1f} | {fmt_ms(r.p50_ms)} | {fmt_ms(r.p99_ms)} "
            f"| {r.errors} | {rss} | {run_hwm} |")
    add("")

    def valid(r: LoadResult | None) -> bool:
        return r is not None and r.errors == 0 and r.requests > 0

    a, c = by_key.get(("a", "none")), by_key.get(("c", "Basic"))
    add("| target | measured | verdict |")
    add("|---|---|---|")
    for auth in ("Basic", "Bearer"):
        b = by_key.get(("b", auth))
        if valid(a) and valid(b):
            ratio = b.requests_per_s / a.requests_per_s
            add(f"| b/a ≥ {TARGET_B_OVER_A} ({auth}) | {ratio:.3f} | {verdict(ratio >= TARGET_B_OVER_A)} |")
        else:
            add(f"| b/a ≥ {TARGET_B_OVER_A} ({auth}) | no valid measurement | **MISSED** |")
        if valid(c) and valid(b):
            ratio = b.requests_per_s / c.requests_per_s
            add(f"| b/c ≥ {TARGET_B_OVER_C:.0f} ({auth} vs c's Basic) | {ratio:,.1f} "
                f"| {verdict(ratio >= TARGET_B_OVER_C)} |")
        else:
            add(f"| b/c ≥ {TARGET_B_OVER_C:.0f} ({auth} vs c's Basic) | no valid measurement | **MISSED** |")
    for auth in ("Basic", "Bearer"):
        d = by_key.get(("d", auth))
        if valid(d):
            add(f"| (d) ≥ {TARGET_D_RPS:,.0f} requests/s ({auth}) | {d.requests_per_s:,.0f} "
                f"| {verdict(d.requests_per_s >= TARGET_D_RPS)} |")
            add(f"| (d) p99 < {TARGET_D_P99_MS:.0f} ms ({auth}) | {fmt_ms(d.p99_ms)} "
                f"| {verdict(d.p99_ms < TARGET_D_P99_MS)} |")
        else:
            add(f"| (d) ({auth}) | no valid measurement | **MISSED** |")
    # (h)'s 100,000 grants have a target of their own, below.
    peaks = [max(r.rss_max_mb, r.hwm_mb) for r in results if r.rss_max_mb is not None and not r.key.startswith("h")]
    if peaks:
        add(f"| mlguard RSS < {TARGET_RSS_MB:.0f} MB (highest VmHWM or VmRSS of any mlguard run but (h)) "
            f"| {max(peaks):.1f} MB | {verdict(max(peaks) < TARGET_RSS_MB)} |")
    else:
        add(f"| mlguard RSS < {TARGET_RSS_MB:.0f} MB | not measured | **MISSED** |")
    for full_id, label, target_ns in MICRO_BENCHES:
        e = estimates.get(full_id)
        if e is None:
            add(f"| {label}{f' < {fmt_ns(target_ns)}' if target_ns else ''} (`{full_id}`) "
                f"| no result | **MISSED** |")
            continue
        measured = f"{fmt_ns(e['ns'])} per iteration [{fmt_ns(e['low'])} – {fmt_ns(e['high'])}]"
        if target_ns is None:
            add(f"| {label} (`{full_id}`) | {measured} | no target (shown for honesty) |")
        else:
            add(f"| {label} < {fmt_ns(target_ns)} (`{full_id}`) | {measured} "
                f"| {verdict(e['ns'] < target_ns)} |")
    add("")
    lines.extend(nginx_targets(by_key, conditions))
    table = "\n".join(lines)

    load_before, load_after = conditions["load_before"], conditions.get("load_after")
    shared = conditions["builds_seen"] or max(load_before[0], (load_after or [0])[0]) > 1.0
    notes = [
        "## Machine",
        "",
        *machine_info(),
        (f"- load average (1, 5, 15 min) before the load runs: {', '.join(f'{x:.2f}' for x in load_before)}; "
        f"after: {', '.join(f'{x:.2f}' for x in load_after) if load_after else 'n/a'}"),
        (f"- another build (`rustc`) ran during the load runs: {'yes' if conditions['builds_seen'] else 'no'}; "
        f"criterion phase: {args.bench_conditions}"),
        (f"- nginx {conditions.get('nginx_version', 'n/a')} (Debian's package); PostgreSQL "
         f"{conditions.get('postgres_version', 'n/a')}; one worker thread for (d1) and (f1) set with "
         f"`{conditions.get('single_thread_setting', 'n/a')}`"
         + (" (this mlguard build does not know `server.worker_threads` yet and refuses it)"
            if conditions.get("single_thread_setting", "").startswith("TOKIO") else "")),
    ]
    if shared:
        notes.append("- **The machine was shared during this run** (high load average or other builds): "
                     "the numbers are lower than on an idle machine, and noisier.")
    many = conditions.get("many_grants") or {}
    method = [
        "## Method",
        "",
        (f"- Endpoint for rows (a)–(h): `GET /api/2.0/mlflow/experiments/get?experiment_id=<id>` by the non-admin "
        f"`{READER}`, who holds a READ grant on that experiment, created through each system's own API; "
        "default permission NO_PERMISSIONS everywhere, so the grant is what admits. Before the load, each setup "
        "is checked to answer 200 for it, 403 on an experiment without a grant (b, c, d, d1, f, f1, g, h) and 401 "
        "to a wrong password (Basic); nginx (e, e1) answers the same request without authentication. Any non-2xx "
        "answer or socket error during the load is counted in *errors*, and a row with errors fails its targets."),
        (f"- wrk {WRK_THREADS} threads, {WRK_CONNECTIONS} connections, `--latency`, "
        f"{load_data['warmup_seconds']} s warm-up (discarded) then {load_data['seconds']} s measured per row, "
        "one row after another; everything on 127.0.0.1, wrk included, sharing the same cores."),
        (f"- MLflow 3.10.1 (`mlflow server`, uvicorn, `--workers {load_data['mlflow_workers']}` = its default, "
        "SQLite backend) for (a) and (c); (c) is `--app-name basic-auth` with its own SQLite auth database. "
        "MLflow's app has no bearer tokens, so (c) is Basic only; (a) has no auth."),
        ("- mlguard: release build, SQLite store, default settings otherwise (including `log.level=info`, one "
        "access-log line per request, to a file). From (d) on, the upstream is `crates/mlguard-server/examples/"
        "trivial_upstream.rs`, which answers MLflow's JSON at once; one instance serves every row. (d1) and (f1) "
        "run one tokio worker thread; (f) and (f1) use a PostgreSQL database created for the run (f1 is a second "
        "replica on f's database) and dropped after it; (g) sets `auth.consistency=strict`, so every decision "
        "reads the database."),
        ("- nginx (e, e1): Debian's package with a generated configuration, Debian's `nginx.conf` defaults "
        "(`sendfile`, `tcp_nopush`, `gzip`, `worker_connections 768`, an access log line per request to a file) "
        "and one `location /` with `proxy_pass` to an `upstream` block with `keepalive 32`, "
        "`proxy_http_version 1.1` and `proxy_set_header Connection \"\"`. (e) keeps Debian's "
        f"`worker_processes auto` ({conditions.get('nginx_workers', {}).get('e', '?')} workers here), (e1) has "
        "`worker_processes 1`. The mlguard/nginx verdicts are (d)/(e) and (f)/(e), defaults against defaults; "
        "(d1)/(e1) and (f1)/(e1) compare one thread with one worker process."),
        ("- hyper alone (i): `crates/mlguard-server/examples/bare_proxy.rs`, hyper's HTTP/1 server and "
        "hyper-util's pooled client, one single-threaded runtime per core, mimalloc, and nothing between them: "
        "no authentication, policy, logging or header rewriting. (i)/(e) is the ceiling of the stack mlguard "
        "is built on; (d)/(i) is what mlguard's own work costs on it."),
        (f"- (h): 100k grants. mlguard started once on a new SQLite database (migrations, the admin, "
        f"`{READER}` and its first grant through the API), was restarted as it was (the baseline at start), "
        f"stopped, and got {many.get('users', 0):,} users × {many.get('per_user', 0)} experiment READ grants "
        f"({many.get('generated_grants', 0):,}) written with Python's sqlite3 as mlguard writes them (a row of "
        f"each user's synthetic role `__user_<id>__`), plus the reader's grants on experiments 1–{LISTED}; then "
        "it was started again, and its \"authorization view loaded\" log line must count at least the generated "
        "grants. The memory per grant divides the difference of VmRSS at start by the rows in the view."),
        (f"- Lists: `POST experiments/search` with `max_results` {' and '.join(str(p) for p in SEARCH_PAGES)}; the "
        f"trivial upstream answers experiments 1..N, and `{READER}` holds READ on 1..{LISTED} on (d) and (h) "
        "(through the API on (d)), so mlguard keeps every item and needs one upstream page. Checked before the "
        f"load: the reader gets the whole page, `{OUTSIDER}` (no grants) an empty one, a wrong password 401. "
        f"GraphQL: `mlflowSearchRuns` over experiments 1..{GRAPHQL_RUNS} with `maxResults: {GRAPHQL_RUNS}` "
        "(run info, metrics, params, tags): mlguard checks READ on each experiment id, forwards its own printing "
        f"of the query, and parses and rewrites the answer of {GRAPHQL_RUNS} runs. Bodies go to wrk by a Lua "
        "script. These rows have no target."),
        ("- RSS: mlguard's `/proc/<pid>/status`: VmRSS sampled every 100 ms during the measured run (max shown), "
        "VmHWM (peak since start) after it, VmRSS just before the warm-up, and VmRSS when the process had just "
        "become healthy. Between start and load, set-up runs argon2 (19 MiB of working memory each): the "
        "admin's and the users' password hashes, the first logins and the wrong-password checks. The last column "
        "is VmHWM of the measured run alone (reset through `/proc/<pid>/clear_refs` just before it), which "
        "leaves set-up out; (h)'s target is judged on it, on VmRSS at start and on VmRSS under load."),
        ("- Criterion (`cargo bench -p mlguard-domain -p mlguard-api`, short settings: "
        "`--warm-up-time 1 --measurement-time 3`): time per iteration with its 95% confidence interval."),
    ]
    Path(args.results).write_text("\n".join([
        "# mlguard benchmark results",
        "",
        ("Written by `bench/run.sh`; do not edit by hand. Issue 5's targets, then the nginx reference's, "
         "each marked met or **MISSED**."),
        "",
        "## Results",
        "",
        table,
        "",
        *notes,
        "",
        *method,
        "",
    ]))
    print(table)

    readme = Path(args.readme)
    text = readme.read_text()
    if README_START in text and README_END in text:
        head, rest = text.split(README_START, 1)
        _, tail = rest.split(README_END, 1)
        readme.write_text(f"{head}{README_START}\n{table}\n{README_END}{tail}")
        print(f"updated the Performance table in {readme}")
    else:
        print(f"NOT updated: {readme} lacks the markers {README_START!r} / {README_END!r}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("load")
    p.add_argument("--mlguard", required=True)
    p.add_argument("--trivial-upstream", required=True)
    p.add_argument("--bare-proxy", required=True, help="examples/bare_proxy, for (i)")
    p.add_argument("--workdir", required=True)
    p.add_argument("--pid-file", required=True)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--warmup-seconds", type=int, default=2)
    p.add_argument("--out", required=True)
    p.add_argument("--nginx", default="/usr/sbin/nginx", help="Debian's nginx, for (e) and (e1)")
    p.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432/test",
                   help="a PostgreSQL database to connect to; (f) gets a new database on the same server")
    p.add_argument("--postgres-database",
                   help="the name of (f)'s database, created and dropped here (default: mlguard_bench_<random>)")
    p.add_argument("--many-grants-users", type=int, default=1000, help="(h): users holding generated grants")
    p.add_argument("--many-grants-per-user", type=int, default=100, help="(h): experiment grants of each")
    p.add_argument("--skip-mlflow", action="store_true",
                   help="leave out rows (a)-(c), which need MLflow (for quick trials; the report marks them MISSED)")
    p = sub.add_parser("report")
    p.add_argument("--load", required=True)
    p.add_argument("--criterion", required=True)
    p.add_argument("--results", required=True)
    p.add_argument("--readme", required=True)
    p.add_argument("--date", required=True)
    p.add_argument("--bench-conditions", required=True)
    args = parser.parse_args()
    {"load": load, "report": report}[args.command](args)


if __name__ == "__main__":
    main()
