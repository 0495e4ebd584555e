"""A real OpenID provider on loopback for the SSO tests: tests/oidc/provider.mjs, which
runs panva's certified `oidc-provider` (the version tests/oidc/package.json pins) under
`node`. Plain HTTP, in-memory, one process per `OidcProvider`.

    provider = OidcProvider(workdir, {
        "web_client": {"client_id": "mlguard", "client_secret": "...",
                       "redirect_uris": [".../callback"], "post_logout_redirect_uris": [...]},
        "machine_clients": [{"client_id": "ci-bot", "client_secret": "...", "groups": ["ci"]}],
        "users": {"alice": {"password": "...", "groups": ["data"], "email": "...", "name": "..."}},
        "audiences": ["mlguard"],
    }).start()

What a client does (the issuer is `provider.issuer`, http://127.0.0.1:PORT):
- discovery: GET {issuer}/.well-known/openid-configuration (authorize /auth, token /token,
  JWKS /jwks, end_session /session/end).
- browser login: GET /auth?response_type=code&client_id&redirect_uri&scope=openid profile
  email groups&state&nonce&code_challenge&code_challenge_method=S256 (PKCE S256 required).
  The login form: input[name=login], input[name=password], button#submit (type=submit);
  no consent page. Code exchange: POST /token grant_type=authorization_code, code,
  redirect_uri, code_verifier, with HTTP Basic client auth (client_secret_post works too).
  The ID token: sub (= username), preferred_username, name, email, groups, nonce, aud.
- machine token: POST /token grant_type=client_credentials&resource=urn:mlguard with HTTP
  Basic: a RS256 JWT with iss, sub (= client_id), aud ("mlguard"), exp, groups and the
  username claim (`username_claim`, default preferred_username). `resource` must be an
  absolute URI, so audience A is asked for as `resource_for(A)` ("urn:A" unless A is a
  URI, i.e. has a colon); without `resource` the first audience is used.
- logout: GET /session/end?id_token_hint&post_logout_redirect_uri&state; its confirmation
  page submits itself, then redirects to post_logout_redirect_uri?state.
- test control: GET /__test/health, POST /__test/users/<name>/groups {"groups": [...]},
  POST /__test/rotate-keys {"drop_old": bool} (`set_groups`, `rotate_keys` below).

The first `start()` (and any after package-lock.json changes) runs `npm ci` in tests/oidc,
which needs the npm registry. The provider's output is in `workdir/oidc-provider.log`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import requests

OIDC_DIR = Path(__file__).resolve().parents[1] / "oidc"
STAMP = OIDC_DIR / "node_modules" / ".npm-ci-stamp"
STARTUP_TIMEOUT_S = 30.0
NPM_TIMEOUT_S = 600


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resource_for(audience: str) -> str:
    """The resource indicator (RFC 8707: an absolute URI) that yields `aud: audience`."""
    return audience if ":" in audience else f"urn:{audience}"


def ensure_node_modules() -> None:
    """`npm ci` in tests/oidc unless node_modules is newer than package-lock.json."""
    lock = OIDC_DIR / "package-lock.json"
    if STAMP.is_file() and STAMP.stat().st_mtime >= lock.stat().st_mtime:
        return
    npm = shutil.which("npm")
    if not npm:
        raise RuntimeError("npm not found on PATH (needed once, for tests/oidc/node_modules)")
    done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=OIDC_DIR,
                          capture_output=True, text=True, timeout=NPM_TIMEOUT_S)
    if done.returncode != 0:
        raise RuntimeError(f"npm ci in {OIDC_DIR} failed:\n{(done.stdout + done.stderr)[-4000:]}")
    STAMP.touch()


class OidcProvider:
    def __init__(self, workdir: Path, config: dict):
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.config = config
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path = workdir / "oidc-provider.log"
        self.config_path = workdir / "oidc-provider.json"

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "OidcProvider":
        node = shutil.which("node")
        if not node:
            raise RuntimeError("node not found on PATH (Node.js 20.19+ runs tests/oidc/provider.mjs)")
        ensure_node_modules()
        self.config_path.write_text(json.dumps(self.config))
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [node, str(OIDC_DIR / "provider.mjs"), str(self.config_path), str(self.port)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            cwd=self.workdir, start_new_session=True)
        log.close()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"oidc provider exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.issuer}/.well-known/openid-configuration",
                                timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"oidc provider did not start in {STARTUP_TIMEOUT_S}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    # -- client side -----------------------------------------------------------------

    def discovery(self) -> dict:
        r = requests.get(f"{self.issuer}/.well-known/openid-configuration", timeout=10)
        r.raise_for_status()
        return r.json()

    def jwks(self) -> dict:
        r = requests.get(self.discovery()["jwks_uri"], timeout=10)
        r.raise_for_status()
        return r.json()

    def client_credentials_token(self, client_id: str, client_secret: str,
                                 audience: str = "mlguard") -> str:
        """A machine client's JWT access token for `audience` (client_secret_basic)."""
        r = requests.post(f"{self.issuer}/token", auth=(client_id, client_secret), timeout=10,
                          data={"grant_type": "client_credentials", "resource": resource_for(audience)})
        assert r.status_code == 200, f"client_credentials for {client_id}: {r.status_code} {r.text}"
        return r.json()["access_token"]

    # -- test control ----------------------------------------------------------------

    def _control(self, path: str, body: dict) -> dict:
        r = requests.post(f"{self.issuer}/__test/{path}", json=body, timeout=30)
        assert r.status_code == 200, f"{path}: {r.status_code} {r.text}"
        return r.json()

    def set_groups(self, name: str, groups: list[str]) -> None:
        """The groups of user or machine client `name`, in tokens issued from now on."""
        self._control(f"users/{quote(name, safe='')}/groups", {"groups": list(groups)})

    def rotate_keys(self, drop_old: bool = False) -> str:
        """A new signing key, used from now on (old ones stay in the JWKS unless
        `drop_old`); its kid."""
        return self._control("rotate-keys", {"drop_old": drop_old})["kid"]
