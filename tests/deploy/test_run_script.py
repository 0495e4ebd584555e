"""`scripts/run.sh`, the README's first set-up command: MLflow 3.17.2 without auth on
loopback with mlguard in front of it, the URL and the generated admin password shown
once, and Ctrl-C (or SIGTERM) stopping both, with nothing left running.

The script runs as a user would start it, with `MLGUARD_BIN` naming the prebuilt
binary (so it skips its release build), on free ports, in a temporary state
directory. The MLflow 3.17.2 server venv comes from `scripts/mlflow-venv.sh` (which
`scripts/test.sh` has created by the time this runs; made here otherwise).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
RUN_SH = REPO / "scripts" / "run.sh"
MLFLOW_VERSION = "3.17.2"
SEARCH = "/api/2.0/mlflow/experiments/search?max_results=1"
UP_TIMEOUT_S = 240.0
STOP_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_table() -> dict[int, tuple[int, str, str]]:
    """Every process on the machine: pid -> (parent pid, start time, state)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # Fields after the command name, which is in parentheses and may hold spaces.
        fields = stat[stat.rindex(")") + 2:].split()
        table[int(entry.name)] = (int(fields[1]), fields[19], fields[0])
    return table


def running(pid: int, start_time: str) -> bool:
    """The same process (pid and start time) still runs; a zombie has stopped."""
    entry = proc_table().get(pid)
    return entry is not None and entry[1] == start_time and entry[2] != "Z"


def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class Run:
    """One `scripts/run.sh` in the foreground of its own session, as in a terminal."""

    def __init__(self, mlguard_bin: Path, state: Path, port: int, cwd: Path):
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLGUARD_")}
        env.update(
            MLGUARD_BIN=str(mlguard_bin),
            MLGUARD_LISTEN=f"127.0.0.1:{port}",
            MLGUARD_RUN_DIR=str(state),
        )
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            ["bash", str(RUN_SH)], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
            # As from a terminal's shell: SIGINT handled by default even when this
            # test runs under something that ignores it (a shell's background job does).
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        # pid -> (start time, command line) of the script and all it started.
        self.tree: dict[int, tuple[str, str]] = {}

    def _read(self) -> None:
        for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace"))

    def output(self) -> str:
        return "".join(self.lines)

    def wait_up(self) -> None:
        """Until the script says it is up and mlguard answers."""
        deadline = time.monotonic() + UP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"run.sh exited with {self.proc.returncode}\n{self.output()}",
                            pytrace=False)
            if "Ctrl-C stops both." in self.output():
                r = requests.get(self.url + "/health", timeout=5)
                assert r.status_code == 200, r.text
                self.record_tree()
                return
            time.sleep(0.2)
        pytest.fail(f"run.sh not up after {UP_TIMEOUT_S}s\n{self.output()}", pytrace=False)

    def record_tree(self) -> None:
        table = proc_table()
        children: dict[int, list[int]] = {}
        for pid, (ppid, _, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        todo = [self.proc.pid]
        while todo:
            pid = todo.pop()
            if pid in table:
                self.tree[pid] = (table[pid][1], cmdline(pid))
            todo.extend(children.get(pid, []))

    def mlflow_url(self) -> str:
        found = re.search(r"MLflow itself \(no auth, loopback only\): (http://127\.0\.0\.1:\d+)",
                          self.output())
        assert found, self.output()
        return found.group(1)

    def stop(self, sig: int, *, whole_group: bool) -> int:
        """`whole_group`: as Ctrl-C in a terminal (the foreground process group), else
        the script alone (as a supervisor's SIGTERM)."""
        self.record_tree()  # MLflow starts some of its processes after it answers
        if whole_group:
            os.killpg(self.proc.pid, sig)
        else:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"run.sh still running {STOP_TIMEOUT_S}s after signal {sig}\n"
                        f"{self.output()}", pytrace=False)
        self._reader.join(timeout=10)
        return code

    def left_running(self) -> list[str]:
        return [f"{pid}: {cmd}" for pid, (start, cmd) in self.tree.items() if running(pid, start)]

    def kill_all(self) -> None:
        """After a failure: nothing of this run may outlive the test."""
        for pid, (start, _) in self.tree.items():
            if running(pid, start):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def refused(url: str) -> bool:
    try:
        requests.get(url + "/health", timeout=2)
    except requests.ConnectionError:
        return True
    return False


@pytest.fixture(scope="module")
def server_venv() -> Path:
    out = subprocess.run(
        [str(REPO / "scripts" / "mlflow-venv.sh"), MLFLOW_VERSION],
        check=True, stdout=subprocess.PIPE, text=True, timeout=1800,
    ).stdout
    assert len(out.splitlines()) == 1, f"mlflow-venv.sh printed more than its directory: {out!r}"
    return Path(out.strip())


def assert_stopped(run: Run, code: int, mlflow_url: str) -> None:
    assert code == 0, f"run.sh exited with {code}\n{run.output()}"
    assert not run.left_running(), (
        f"still running after run.sh stopped: {run.left_running()}\n{run.output()}"
    )
    assert refused(run.url), f"mlguard still answers on {run.url}"
    assert refused(mlflow_url), f"MLflow still answers on {mlflow_url}"


def test_run_sh_protects_mlflow_and_stops_both(mlguard_bin, server_venv, tmp_path):
    state = tmp_path / "state"
    experiment = f"run-sh-{os.getpid()}"

    # First start: a fresh state directory, so a generated admin password, shown once.
    run = Run(mlguard_bin, state, free_port(), tmp_path)
    try:
        run.wait_up()
        out = run.output()
        assert f"mlguard is protecting MLflow {MLFLOW_VERSION} at: {run.url}" in out, out
        found = re.search(r"^  admin password: (\S+)$", out, re.MULTILINE)
        assert found, f"no admin password in the output\n{out}"
        password = found.group(1)
        assert out.count(password) == 1, f"the password is shown more than once\n{out}"

        # Both processes the script started are running, and the tree tracks them.
        commands = [cmd for _, cmd in run.tree.values()]
        assert any(cmd.startswith(f"{mlguard_bin} serve") for cmd in commands), commands
        assert any(" server --host 127.0.0.1 " in cmd and "mlflow" in cmd for cmd in commands), commands

        # MLflow itself: the pinned release, on loopback, without auth.
        mlflow_url = run.mlflow_url()
        assert requests.get(mlflow_url + "/version", timeout=10).text.strip() == MLFLOW_VERSION

        # Through mlguard: nobody without credentials; the admin through to MLflow.
        r = requests.get(run.url + SEARCH, timeout=30)
        assert r.status_code == 401, r.text
        r = requests.get(run.url + SEARCH, auth=("admin", password), timeout=30)
        assert r.status_code == 200, r.text
        assert r.json()["experiments"][0]["name"] == "Default", r.text  # MLflow's answer
        r = requests.post(run.url + "/api/2.0/mlflow/experiments/create",
                          json={"name": experiment}, auth=("admin", password), timeout=30)
        assert r.status_code == 200, r.text

        # Ctrl-C in the terminal: SIGINT to the foreground process group.
        code = run.stop(signal.SIGINT, whole_group=True)
        assert_stopped(run, code, mlflow_url)
    finally:
        run.kill_all()

    # Second start on the same state: same users and data, and no password printed.
    again = Run(mlguard_bin, state, free_port(), tmp_path)
    try:
        again.wait_up()
        out = again.output()
        assert password not in out, out
        assert "admin password:" not in out, out
        assert "not shown again" in out, out
        r = requests.get(again.url + "/api/2.0/mlflow/experiments/get-by-name",
                         params={"experiment_name": experiment}, auth=("admin", password),
                         timeout=30)
        assert r.status_code == 200, r.text
        # SIGTERM to the script alone, as a supervisor stops it.
        code = again.stop(signal.SIGTERM, whole_group=False)
        assert_stopped(again, code, again.mlflow_url())
    finally:
        again.kill_all()
