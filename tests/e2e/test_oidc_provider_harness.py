"""The test OpenID provider (oidc_provider.py, tests/oidc/provider.mjs) does what the SSO
tests rely on, checked without mlguard: client-credentials JWTs with the configured
audience, groups and username; run-time group changes and key rotation; and the browser
authorization-code flow with PKCE S256 in headless Chromium.

Signatures are not checked here (no JWT library in the venv): only the claims and kids.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import secrets
import threading
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from oidc_provider import OidcProvider, free_port

WEB_SECRET = "web-" + secrets.token_urlsafe(16)
BOT_SECRET = "bot-" + secrets.token_urlsafe(16)
ALICE_PASSWORD = "pw-" + secrets.token_urlsafe(12)
CALLBACK_PORT = free_port()
REDIRECT_URI = f"http://127.0.0.1:{CALLBACK_PORT}/callback"


@pytest.fixture(scope="module")
def _require_binary():
    """Overrides conftest's session check: this module needs no mlguard binary."""


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    p = OidcProvider(tmp_path_factory.mktemp("oidc"), {
        "web_client": {"client_id": "mlguard-web", "client_secret": WEB_SECRET,
                       "redirect_uris": [REDIRECT_URI]},
        "machine_clients": [{"client_id": "ci-bot", "client_secret": BOT_SECRET,
                             "groups": ["ci"], "username": "ci-robot"}],
        "users": {"alice": {"password": ALICE_PASSWORD, "groups": ["data", "admins"],
                            "email": "alice@example.test", "name": "Alice A."}},
        "audiences": ["mlguard"],
    }).start()
    try:
        yield p
    finally:
        p.stop()
        log = p.log_path.read_text()
        for secret in (WEB_SECRET, BOT_SECRET, ALICE_PASSWORD):
            assert secret not in log, "a secret reached the provider's log"


def jwt_parts(token: str) -> tuple[dict, dict]:
    def part(s: str) -> dict:
        return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
    header, payload, _ = token.split(".")
    return part(header), part(payload)


def kids(provider: OidcProvider) -> list[str]:
    return [k["kid"] for k in provider.jwks()["keys"]]


def test_discovery_and_client_credentials_token(provider):
    meta = provider.discovery()
    assert meta["issuer"] == provider.issuer
    assert "S256" in meta["code_challenge_methods_supported"]
    assert "client_credentials" in meta["grant_types_supported"]

    header, claims = jwt_parts(provider.client_credentials_token("ci-bot", BOT_SECRET, "mlguard"))
    assert header["alg"] == "RS256" and header["kid"] in kids(provider)
    assert claims["iss"] == provider.issuer
    assert claims["aud"] == "mlguard"
    assert claims["sub"] == "ci-bot"
    assert claims["preferred_username"] == "ci-robot"
    assert claims["groups"] == ["ci"]
    assert claims["exp"] > claims["iat"]


def test_group_changes_and_key_rotation(provider):
    provider.set_groups("ci-bot", ["ci", "deployers"])
    _, claims = jwt_parts(provider.client_credentials_token("ci-bot", BOT_SECRET))
    assert claims["groups"] == ["ci", "deployers"]

    old = jwt_parts(provider.client_credentials_token("ci-bot", BOT_SECRET))[0]["kid"]
    new = provider.rotate_keys()
    assert new != old
    assert jwt_parts(provider.client_credentials_token("ci-bot", BOT_SECRET))[0]["kid"] == new
    assert kids(provider)[:2] == [new, old]

    newest = provider.rotate_keys(drop_old=True)
    assert jwt_parts(provider.client_credentials_token("ci-bot", BOT_SECRET))[0]["kid"] == newest
    assert kids(provider) == [newest]


class _Callback(http.server.BaseHTTPRequestHandler):
    """The relying party's redirect_uri: keeps the query of each request to /callback."""
    received: list[dict] = []

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path == "/callback":
            _Callback.received.append({k: v[0] for k, v in parse_qs(url.query).items()})
        body = b"<html><body><p id='done'>callback received</p></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def callback_server():
    _Callback.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", CALLBACK_PORT), _Callback)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield _Callback.received
    finally:
        server.shutdown()
        server.server_close()


def test_browser_code_flow_with_pkce(provider, callback_server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    meta = provider.discovery()
    browser.get(meta["authorization_endpoint"] + "?" + urlencode({
        "response_type": "code", "client_id": "mlguard-web", "redirect_uri": REDIRECT_URI,
        "scope": "openid profile email groups", "state": state, "nonce": nonce,
        "code_challenge": challenge, "code_challenge_method": "S256",
    }))

    def sign_in(password: str) -> None:
        WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.NAME, "password"))
        login = browser.find_element(By.NAME, "login")
        login.clear()
        login.send_keys("alice")
        browser.find_element(By.NAME, "password").send_keys(password)
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    sign_in("wrong-password")
    WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.ID, "error"))
    assert not callback_server
    sign_in(ALICE_PASSWORD)
    WebDriverWait(browser, 15).until(lambda d: callback_server)

    (answer,) = callback_server
    assert answer["state"] == state and answer.get("iss") == provider.issuer
    r = requests.post(meta["token_endpoint"], auth=("mlguard-web", WEB_SECRET), timeout=10, data={
        "grant_type": "authorization_code", "code": answer["code"],
        "redirect_uri": REDIRECT_URI, "code_verifier": verifier,
    })
    assert r.status_code == 200, r.text
    header, claims = jwt_parts(r.json()["id_token"])
    assert header["kid"] in kids(provider)
    assert claims["iss"] == provider.issuer
    assert claims["aud"] == "mlguard-web"
    assert claims["nonce"] == nonce
    assert claims["sub"] == "alice" and claims["preferred_username"] == "alice"
    assert claims["groups"] == ["data", "admins"]
    assert claims["email"] == "alice@example.test" and claims["name"] == "Alice A."
