#!/usr/bin/env python3
"""The load half of `bench/run.sh`, and the report.

`bench.py load`   starts, all on 127.0.0.1,
                    (a) MLflow 3.10.1 without auth,
                    (b) mlguard (release) in front of (a),
                    (c) MLflow 3.10.1's basic-auth app,
                    (d) mlguard (release) in front of a trivial upstream,
                  sets up the same experiment, non-admin user and READ grant on each
                  through its own API, drives `GET experiments/get` with wrk and
                  writes the measurements as JSON. Every process it starts is stopped
                  before it returns, and its pid is written to a file first, so
                  run.sh's trap can stop it even if this script is killed.
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
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

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

# Issue 5's targets.
TARGET_B_OVER_A = 0.95
TARGET_B_OVER_C = 20.0
TARGET_D_RPS = 20_000.0
TARGET_D_P99_MS = 2.0
TARGET_RSS_MB = 64.0
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

    def stop_all(self) -> None:
        for name, proc in reversed(self.started):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for name, proc in reversed(self.started):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                print(f"{name} ignored SIGTERM; killing it", file=sys.stderr)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.started.clear()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(name: str, url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited during start-up:\n{log.read_text(errors='replace')[-4000:]}")
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


def start_mlguard(procs: Processes, binary: Path, workdir: Path, name: str, upstream: str) -> Mlguard:
    workdir.mkdir(parents=True)
    port = free_port()
    admin_password = "adm-" + secrets.token_urlsafe(18)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLGUARD_")}
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
    log = workdir / "server.log"
    proc = procs.start(name, [str(binary), "serve"], env, log, workdir)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(name, url, proc, log)
    rss_kb = proc_field(f"/proc/{proc.pid}/status", "VmRSS") or 0
    return Mlguard(url, proc.pid, admin_password, rss_kb / 1024)


def start_trivial_upstream(procs: Processes, binary: Path, workdir: Path) -> str:
    workdir.mkdir(parents=True)
    address = f"127.0.0.1:{free_port()}"
    log = workdir / "server.log"
    proc = procs.start("trivial upstream", [str(binary), address], dict(os.environ), log, workdir)
    url = f"http://{address}"
    wait_healthy("trivial upstream", url, proc, log)
    return url


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


def create_reader(url: str, admin: tuple[str, str], experiment_id: str) -> str:
    """The non-admin user with READ on the experiment, through MLflow's user and
    permission API (which mlguard and MLflow's app both serve). Returns its password."""
    password = "rdr-" + secrets.token_urlsafe(18)
    r = requests.post(url + "/api/2.0/mlflow/users/create",
                      json={"username": READER, "password": password}, auth=admin, timeout=30)
    expect(r, 200, f"create user on {url}")
    r = requests.post(url + "/api/2.0/mlflow/experiments/permissions/create",
                      json={"experiment_id": experiment_id, "username": READER, "permission": "READ"},
                      auth=admin, timeout=30)
    expect(r, 200, f"grant READ on {url}")
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


def wrk(url: str, authorization: str | None, seconds: int) -> str:
    cmd = ["wrk", "-t", str(WRK_THREADS), "-c", str(WRK_CONNECTIONS), "-d", f"{seconds}s",
           "--timeout", WRK_TIMEOUT, "--latency"]
    if authorization:
        cmd += ["-H", f"Authorization: {authorization}"]
    # wrk stops by itself after `seconds`; the timeout only guards against a hang.
    done = subprocess.run(cmd + [url], check=False, capture_output=True, text=True, timeout=seconds + 120)
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def measure(setup: str, auth: str, url: str, authorization: str | None, seconds: int,
            warmup_seconds: int, mlguard: Mlguard | None) -> LoadResult:
    mlguard_pid = mlguard.pid if mlguard else None
    before_kb = proc_field(f"/proc/{mlguard_pid}/status", "VmRSS") if mlguard_pid else None
    if warmup_seconds:
        warmup = wrk(url, authorization, warmup_seconds)
        # wrk leaves up to one request per connection in flight; on a slow server
        # they would still be running when the measured window opens. Wait as long
        # as the slowest warm-up request took, and a second more.
        time.sleep(parse_duration_ms(parse_latency_max(warmup)) / 1000 + 1)
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
        output = wrk(url, authorization, seconds)
    finally:
        stop.set()
        if sampler:
            sampler.join()
    parsed = parse_wrk(output)
    hwm_kb = proc_field(f"/proc/{mlguard_pid}/status", "VmHWM") if mlguard_pid else None
    result = LoadResult(
        setup=setup, auth=auth, **parsed,
        rss_max_mb=peak_kb / 1024 if mlguard_pid else None,
        hwm_mb=hwm_kb / 1024 if hwm_kb is not None else None,
        rss_before_mb=before_kb / 1024 if before_kb is not None else None,
        rss_at_start_mb=mlguard.rss_at_start_mb if mlguard else None,
    )
    print(f"  {setup:<40} {auth:<7} {result.requests_per_s:>10.1f} req/s  p50 {result.p50_ms:.3f} ms"
          f"  p99 {result.p99_ms:.3f} ms  errors {result.errors}", flush=True)
    return result


def other_builds_running() -> bool:
    """Whether someone else's compiler is running (the machine has 2 cores)."""
    for comm in Path("/proc").glob("[0-9]*/comm"):
        with contextlib.suppress(OSError):
            if comm.read_text().strip() == "rustc":
                return True
    return False


def load(args: argparse.Namespace) -> None:
    workdir = Path(args.workdir)
    procs = Processes(Path(args.pid_file))

    def on_signal(signum, _frame):
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    conditions = {"load_before": os.getloadavg(), "builds_seen": other_builds_running()}
    results: list[LoadResult] = []
    try:
        print("starting MLflow without auth (a), MLflow's basic-auth app (c), mlguard (b, d)", flush=True)
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

        binary = Path(args.mlguard).resolve()
        front = start_mlguard(procs, binary, workdir / "mlguard-b", "mlguard (b)", plain)
        reader = create_reader(front.url, ("admin", front.admin_password), plain_experiment)
        front_basic, front_bearer = basic_header(READER, reader), create_token(front.url, reader)
        # Experiment 0 is MLflow's Default experiment: it exists, and the reader holds
        # no grant on it.
        for authorization in (front_basic, front_bearer):
            check_access(front.url, plain_experiment, authorization, "0")
        check_access(plain, plain_experiment, None, None)

        trivial = start_trivial_upstream(procs, Path(args.trivial_upstream).resolve(), workdir / "trivial")
        ceiling = start_mlguard(procs, binary, workdir / "mlguard-d", "mlguard (d)", trivial)
        reader = create_reader(ceiling.url, ("admin", ceiling.admin_password), "1")
        ceiling_basic, ceiling_bearer = basic_header(READER, reader), create_token(ceiling.url, reader)
        for authorization in (ceiling_basic, ceiling_bearer):
            check_access(ceiling.url, "1", authorization, "2")

        seconds, warmup = args.seconds, args.warmup_seconds
        print(f"load: wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS}, {warmup} s warm-up + {seconds} s each", flush=True)
        runs = [
            ("(a) MLflow 3.10.1, no auth", "none", endpoint(plain, plain_experiment), None, None),
            ("(b) mlguard -> MLflow (a)", "Basic", endpoint(front.url, plain_experiment), front_basic, front),
            ("(b) mlguard -> MLflow (a)", "Bearer", endpoint(front.url, plain_experiment), front_bearer, front),
            ("(c) MLflow 3.10.1 basic-auth app", "Basic", endpoint(auth_url, auth_experiment), auth_basic, None),
            ("(d) mlguard -> trivial upstream", "Basic", endpoint(ceiling.url, "1"), ceiling_basic, ceiling),
            ("(d) mlguard -> trivial upstream", "Bearer", endpoint(ceiling.url, "1"), ceiling_bearer, ceiling),
        ]
        for setup, auth, url, authorization, server in runs:
            conditions["builds_seen"] |= other_builds_running()
            results.append(measure(setup, auth, url, authorization, seconds, warmup, server))
        conditions["load_after"] = os.getloadavg()
    finally:
        procs.stop_all()
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


def report(args: argparse.Namespace) -> None:
    load_data = json.loads(Path(args.load).read_text())
    results = [LoadResult(**r) for r in load_data["results"]]
    conditions = load_data["conditions"]
    by_key = {(r.setup[:3], r.auth): r for r in results}
    estimates = criterion_estimates(Path(args.criterion))

    lines: list[str] = []
    add = lines.append
    add(f"Measured {args.date}, in one run of `bench/run.sh`.")
    add("")
    add("| setup | auth | requests/s | p50 | p99 | errors | mlguard RSS under load: max VmRSS (VmHWM; before the load; at start) |")
    add("|---|---|---:|---:|---:|---:|---|")
    for r in results:
        rss = (f"{r.rss_max_mb:.1f} MB ({r.hwm_mb:.1f}; {r.rss_before_mb:.1f}; {r.rss_at_start_mb:.1f})"
               if r.rss_max_mb is not None else "—")
        if r.requests == 0:
            add(f"| {r.setup} | {r.auth} | 0 (no request completed) | — | — | {r.errors} | {rss} |")
            continue
        add(f"| {r.setup} | {r.auth} | {r.requests_per_s:,.1f} | {fmt_ms(r.p50_ms)} | {fmt_ms(r.p99_ms)} "
            f"| {r.errors} | {rss} |")
    add("")

    def valid(r: LoadResult | None) -> bool:
        return r is not None and r.errors == 0 and r.requests > 0

    a, c = by_key.get(("(a)", "none")), by_key.get(("(c)", "Basic"))
    add("| target | measured | verdict |")
    add("|---|---|---|")
    for auth in ("Basic", "Bearer"):
        b = by_key.get(("(b)", auth))
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
        d = by_key.get(("(d)", auth))
        if valid(d):
            add(f"| (d) ≥ {TARGET_D_RPS:,.0f} requests/s ({auth}) | {d.requests_per_s:,.0f} "
                f"| {verdict(d.requests_per_s >= TARGET_D_RPS)} |")
            add(f"| (d) p99 < {TARGET_D_P99_MS:.0f} ms ({auth}) | {fmt_ms(d.p99_ms)} "
                f"| {verdict(d.p99_ms < TARGET_D_P99_MS)} |")
        else:
            add(f"| (d) ({auth}) | no valid measurement | **MISSED** |")
    peaks = [max(r.rss_max_mb, r.hwm_mb) for r in results if r.rss_max_mb is not None]
    if peaks:
        add(f"| mlguard RSS < {TARGET_RSS_MB:.0f} MB (highest VmHWM or VmRSS of any mlguard run) "
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
    ]
    if shared:
        notes.append("- **The machine was shared during this run** (high load average or other builds): "
                     "the numbers are lower than on an idle machine, and noisier.")
    method = [
        "## Method",
        "",
        (f"- Endpoint for every row: `GET /api/2.0/mlflow/experiments/get?experiment_id=<id>` by the non-admin "
        f"`{READER}`, who holds a READ grant on that experiment, created through each system's own API; "
        "default permission NO_PERMISSIONS everywhere, so the grant is what admits. Before the load, each setup "
        "is checked to answer 200 for it, 403 on an experiment without a grant (b, c, d) and 401 to a wrong "
        "password (Basic). Any non-2xx answer or socket error during the load is counted in *errors*, and a row "
        "with errors fails its targets."),
        (f"- wrk {WRK_THREADS} threads, {WRK_CONNECTIONS} connections, `--latency`, "
        f"{load_data['warmup_seconds']} s warm-up (discarded) then {load_data['seconds']} s measured per row, "
        "one row after another; everything on 127.0.0.1, wrk included, sharing the same cores."),
        (f"- MLflow 3.10.1 (`mlflow server`, uvicorn, `--workers {load_data['mlflow_workers']}` = its default, "
        "SQLite backend) for (a) and (c); (c) is `--app-name basic-auth` with its own SQLite auth database. "
        "MLflow's app has no bearer tokens, so (c) is Basic only; (a) has no auth."),
        ("- mlguard: release build, SQLite store, default settings otherwise (including `log.level=info`, one "
        "access-log line per request, to a file). (d)'s upstream is `crates/mlguard-server/examples/"
        "trivial_upstream.rs`, which answers MLflow's JSON at once."),
        ("- RSS: mlguard's `/proc/<pid>/status`: VmRSS sampled every 100 ms during the measured run (max shown), "
        "VmHWM (peak since start) after it, VmRSS just before the warm-up, and VmRSS when the process had just "
        "become healthy. Between start and load, set-up runs argon2 (19 MiB of working memory each): the "
        "admin's and the reader's password hashes and the first logins."),
        ("- Criterion (`cargo bench -p mlguard-domain -p mlguard-api`, short settings: "
        "`--warm-up-time 1 --measurement-time 3`): time per iteration with its 95% confidence interval."),
    ]
    Path(args.results).write_text("\n".join([
        "# mlguard benchmark results",
        "",
        "Written by `bench/run.sh`; do not edit by hand. Issue 5's targets, each marked met or **MISSED**.",
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
    p.add_argument("--workdir", required=True)
    p.add_argument("--pid-file", required=True)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--warmup-seconds", type=int, default=2)
    p.add_argument("--out", required=True)
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
