"""Log forging against the real binary with text logs: a login name or a path with line
breaks or control characters never writes a line of its own."""

import base64
import re

import requests
from conftest import new_password

FORGED = "2026-12-01T00:00:00Z INFO forged admin login"
# A line mlguard writes: its own timestamp, with fractions of a second.
EVENT_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z ")


def basic(user: str, password: str) -> dict[str, str]:
    raw = f"{user}:{password}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def test_text_logs_keep_request_values_on_their_line(mlguard_factory):
    server = mlguard_factory(extra_env={"MLGUARD_LOG__FORMAT": "text"}).start()
    url = f"{server.base_url}/api/2.0/mlflow/users/get"
    password = new_password()
    server.secrets.add(password)
    for user in [
        f"alice\n{FORGED}",
        f"alice\r\n{FORGED}",
        "alice\x1b[2K\x1b[1G" + FORGED,
        "mallory is_admin=true",
    ]:
        r = requests.get(
            url, params={"username": "admin"}, headers=basic(user, password), timeout=10
        )
        assert r.status_code == 401, r.text
    r = requests.get(
        f"{server.base_url}/forged%0D%0A{FORGED.replace(' ', '%20')}",
        headers=basic("admin", server.admin_password),
        timeout=10,
    )
    assert r.status_code == 400, r.text
    r = requests.get(
        url,
        params={"username": "admin"},
        headers={**basic("admin", server.admin_password), "X-Request-Id": "a\tb=c d"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    server.stop()

    log = server.stderr()
    lines = [line for line in log.splitlines() if line.strip()]
    assert lines, "the server logged nothing"
    for line in lines:
        assert EVENT_LINE.match(line), f"not a line mlguard wrote: {line!r}\n{log}"
        assert not line.startswith(FORGED), log
    for c in "\r\x1b":
        assert c not in log, f"{c!r} written as it is:\n{log}"
    assert 'user.name="mallory is_admin=true"' in log, log
    assert 'request_id="a\\tb=c d"' in log, log
