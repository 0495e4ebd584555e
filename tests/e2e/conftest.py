"""Fixtures for the end-to-end suite: the real `mlguard` binary, driven over HTTP by
the real `mlflow` 3.10.1 client and by `requests`.

The binary is found through `MLGUARD_BIN` (default `<repo>/target/debug/mlguard`).
If it does not exist the tests fail: a missing binary is a broken build, not a reason
to skip.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

# The mlflow client retries 5xx/429 with back-off for minutes by default; a test
# should see the first answer. Set before mlflow reads them (it reads on each call).
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "30"

REPO = Path(__file__).resolve().parents[2]
MLGUARD_BIN = Path(os.environ.get("MLGUARD_BIN", REPO / "target" / "debug" / "mlguard"))

ADMIN_USERNAME = "admin"
STARTUP_TIMEOUT_S = 30.0
SHUTDOWN_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_password() -> str:
    """A fresh password (well over the 12-character minimum), unique per call."""
    return "pw-" + secrets.token_urlsafe(18)


def unique(prefix: str) -> str:
    """A name no other test on the same server uses."""
    return f"{prefix}-{secrets.token_hex(4)}"


class Mlguard:
    """One `mlguard serve` process with its own database and captured output."""

    def __init__(
        self,
        workdir: Path,
        *,
        database_url: str | None = None,
        admin_password: str | None = "generate",
        default_permission: str = "READ",
        extra_env: dict[str, str] | None = None,
        port: int | None = None,
    ):
        self.workdir = workdir
        # A port chosen ahead, for a test that must name mlguard's URL before it
        # starts (an identity provider's redirect URL); a fresh one per start if not.
        self.fixed_port = port
        workdir.mkdir(parents=True, exist_ok=True)
        self.database_url = database_url or f"sqlite://{workdir / 'mlguard.db'}"
        if admin_password == "generate":
            admin_password = new_password()
        self.admin_password = admin_password
        self.default_permission = default_permission
        self.extra_env = dict(extra_env or {})
        # Every password a test hands to this server: none may appear in its log.
        self.secrets: set[str] = set()
        if admin_password:
            self.secrets.add(admin_password)
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.runs = 0
        self.stdout_path: Path | None = None
        self.stderr_path: Path | None = None

    # -- process -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self.port is not None, "server not started"
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLGUARD_")}
        env.pop("RUST_LOG", None)
        env.update(
            {
                "MLGUARD_SERVER__LISTEN": f"127.0.0.1:{self.port}",
                "MLGUARD_DATABASE__URL": self.database_url,
                "MLGUARD_AUTH__DEFAULT_PERMISSION": self.default_permission,
                "MLGUARD_LOG__FORMAT": "json",
            }
        )
        if self.admin_password:
            env["MLGUARD_AUTH__ADMIN_PASSWORD"] = self.admin_password
        env.update(self.extra_env)
        return env

    def start(self) -> "Mlguard":
        assert MLGUARD_BIN.is_file(), (
            f"mlguard binary not found at {MLGUARD_BIN}; build it with "
            "`cargo build -p mlguard-server` or set MLGUARD_BIN"
        )
        assert self.proc is None, "already running"
        self.runs += 1
        self.port = self.fixed_port or free_port()
        self.stdout_path = self.workdir / f"stdout.{self.runs}.log"
        self.stderr_path = self.workdir / f"stderr.{self.runs}.log"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [str(MLGUARD_BIN), "serve"],
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=self.workdir,
            )
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        last = "no answer"
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                pytest.fail(
                    f"mlguard exited with {code} during start-up\n{self.output()}",
                    pytrace=False,
                )
            try:
                r = requests.get(self.base_url + "/health", timeout=2)
                if r.status_code == 200:
                    return
                last = f"HTTP {r.status_code}"
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.1)
        self.proc.kill()
        self.proc.wait()
        self.proc = None
        pytest.fail(
            f"mlguard not healthy after {STARTUP_TIMEOUT_S}s ({last})\n{self.output()}",
            pytrace=False,
        )

    def stop(self) -> int:
        """SIGTERM, then require a clean exit (0) within a few seconds."""
        assert self.proc is not None, "not running"
        proc, self.proc = self.proc, None
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail(
                f"mlguard did not exit within {SHUTDOWN_TIMEOUT_S}s of SIGTERM\n{self.output()}",
                pytrace=False,
            )
        assert code == 0, f"mlguard exited with {code} after SIGTERM\n{self.output()}"
        return code

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    # -- output --------------------------------------------------------------------

    def stdout(self, run: int | None = None) -> str:
        return (self.workdir / f"stdout.{run or self.runs}.log").read_text(errors="replace")

    def stderr(self, run: int | None = None) -> str:
        return (self.workdir / f"stderr.{run or self.runs}.log").read_text(errors="replace")

    def all_logs(self) -> str:
        parts = []
        for run in range(1, self.runs + 1):
            parts.append(self.stdout(run))
            parts.append(self.stderr(run))
        return "\n".join(parts)

    def output(self) -> str:
        if not self.runs:
            return ""
        return (
            f"--- stdout ---\n{self.stdout()[-8000:]}\n--- stderr ---\n{self.stderr()[-8000:]}"
        )

    def assert_no_secret_in_logs(self) -> None:
        logs = self.all_logs()
        leaked = sorted(s for s in self.secrets if s in logs)
        assert not leaked, f"passwords found in the server output: {leaked}"

    # -- helpers -------------------------------------------------------------------

    def admin_auth(self) -> tuple[str, str]:
        return (ADMIN_USERNAME, self.admin_password)

    def client(self):
        """The real MLflow basic-auth client, pointed at this server. It authenticates
        with MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD, read on each call."""
        from mlflow.server import get_app_client

        return get_app_client("basic-auth", tracking_uri=self.base_url)

    def create_user(self, username: str | None = None, password: str | None = None):
        """Creates a user over raw HTTP as the admin; returns (username, password)."""
        username = username or unique("user")
        password = password or new_password()
        self.secrets.add(password)
        r = requests.post(
            self.base_url + "/api/2.0/mlflow/users/create",
            json={"username": username, "password": password},
            auth=self.admin_auth(),
            timeout=10,
        )
        assert r.status_code == 200, r.text
        return username, password


@pytest.fixture(scope="session", autouse=True)
def _require_binary():
    if not MLGUARD_BIN.is_file():
        pytest.fail(
            f"mlguard binary not found at {MLGUARD_BIN}; build it with "
            "`cargo build -p mlguard-server` or set MLGUARD_BIN",
            pytrace=False,
        )


@pytest.fixture
def mlguard_factory(tmp_path):
    """Builds servers on demand; stops each (asserting a clean exit) and checks that no
    password reached its output."""
    servers: list[Mlguard] = []

    def make(name: str = "srv", **kwargs) -> Mlguard:
        server = Mlguard(tmp_path / name, **kwargs)
        servers.append(server)
        return server

    yield make
    errors = []
    for server in servers:
        try:
            if server.proc is not None:
                server.stop()
            if server.runs:
                server.assert_no_secret_in_logs()
        except BaseException as e:  # report every server, not only the first
            server.kill()
            errors.append(f"{server.workdir.name}: {e}")
    if errors:
        pytest.fail("\n".join(errors), pytrace=False)


def module_server(tmp_path_factory, default_permission: str, upstream=None):
    """One mlguard for a module; in front of `upstream` (an `MlflowServer`) if given.
    Grants are only created on resources the tracking server holds, so modules that
    grant pass one (see `mlflow_upstream`)."""
    extra_env = {"MLGUARD_UPSTREAM__URL": upstream.url} if upstream else None
    server = Mlguard(
        tmp_path_factory.mktemp(f"mlguard-{default_permission.lower()}"),
        default_permission=default_permission,
        extra_env=extra_env,
    )
    server.start()
    try:
        yield server
    finally:
        if server.proc is not None:
            server.stop()
        server.assert_no_secret_in_logs()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One mlguard per test module, `default_permission=READ`."""
    yield from module_server(tmp_path_factory, "READ")


@pytest.fixture(scope="module", params=["READ", "MANAGE"])
def server_by_default(request, tmp_path_factory):
    """One mlguard per default permission (READ, then MANAGE)."""
    yield from module_server(tmp_path_factory, request.param)


CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1400,900",
]


@pytest.fixture
def browser():
    """A headless Chromium (Debian's chromium + chromium-driver, driven by selenium)
    with a profile of its own: no cookie from another test."""
    import shutil
    import tempfile

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert CHROMIUM.is_file() and CHROMEDRIVER.is_file(), (
        "chromium and chromedriver are needed (apt-get install chromium chromium-driver)")
    profile = tempfile.mkdtemp(prefix="mlguard-browser-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def mlflow_upstream(tmp_path_factory):
    """One real MLflow for the whole session, for modules whose mlguard needs a
    tracking server (to create the resources a grant names)."""
    from mlflow_upstream import MlflowServer  # it imports this module

    upstream = MlflowServer(tmp_path_factory.mktemp("mlflow-shared")).start()
    try:
        yield upstream
    finally:
        upstream.stop()


@pytest.fixture
def login(monkeypatch):
    """Switches the identity the mlflow client sends."""

    def use(username: str, password: str) -> None:
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", username)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)

    return use


@pytest.fixture
def as_admin(server, login):
    login(ADMIN_USERNAME, server.admin_password)
    return server.client()
