"""Helpers for test_workflows.py: the users of one mlguard, the permission API as a
MANAGE holder calls it, and a record of the HTTP the mlflow client sends.

The record matters when a workflow fails: the client's exception names the error but
not the request. Every answer outside 2xx (and the few 404s the client expects) is
printed as it happens, so pytest shows, for a failing test, exactly which request
mlguard refused.
"""

from __future__ import annotations

import os
import threading
from urllib.parse import urlsplit

import requests

from conftest import Mlguard, unique

USERS = ("owner", "reader", "stranger")


class World:
    """An mlguard in front of the shared MLflow with three plain users: `owner` creates
    things (and so holds MANAGE on them), `reader` gets what `owner` shares, and
    `stranger` holds no grant."""

    def __init__(self, guard: Mlguard, default: str):
        self.guard = guard
        self.default = default
        self.url = guard.base_url
        self.users = {name: guard.create_user(unique(name)) for name in USERS}

    @property
    def strict(self) -> bool:
        """True when a user without a grant reads nothing."""
        return self.default == "NO_PERMISSIONS"

    def username(self, who: str) -> str:
        return self.users[who][0]

    def auth(self, who: str):
        if who == "admin":
            return self.guard.admin_auth()
        return self.users[who]

    def http(self, who: str, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, self.url + path, auth=self.auth(who), timeout=60, **kwargs)

    # The permission API, called by a MANAGE holder (never the admin): this is how a
    # user shares what they created.
    _KEY = {"experiments": "experiment_id", "registered-models": "name"}

    def grant(self, kind: str, key: str, to: str, permission: str, *, by: str = "owner") -> None:
        r = self.http(by, "POST", f"/api/2.0/mlflow/{kind}/permissions/create",
                      json={self._KEY[kind]: key, "username": self.username(to),
                            "permission": permission})
        assert r.status_code == 200, (kind, key, to, permission, r.status_code, r.text)

    def revoke(self, kind: str, key: str, to: str, *, by: str = "owner") -> None:
        r = self.http(by, "DELETE", f"/api/2.0/mlflow/{kind}/permissions/delete",
                      json={self._KEY[kind]: key, "username": self.username(to)})
        assert r.status_code == 200, (kind, key, to, r.status_code, r.text)


def denied(excinfo) -> bool:
    """The mlflow client's exception reports mlguard's 403 PERMISSION_DENIED (the REST
    client names the error code; the artifact client names the status)."""
    text = str(excinfo.value)
    return "PERMISSION_DENIED" in text or "403" in text


def not_found(excinfo) -> bool:
    text = str(excinfo.value)
    return "RESOURCE_DOES_NOT_EXIST" in text or "404" in text


class Traffic:
    """Records each request the client sends through `requests`; prints the ones that
    did not succeed (method, path, query, the start of the body, status, answer)."""

    # Answers the client expects and acts on: a name looked up before it is created,
    # and register_model creating a registered model that already exists.
    EXPECTED_404 = ("/experiments/get-by-name", "/registered-models/get")
    EXPECTED_400 = ("/registered-models/create",)

    def __init__(self):
        # (method, path, status, thread): the client also sends from background
        # threads (e.g. linking a new prompt to the active experiment).
        self.calls: list[tuple[str, str, int, int]] = []

    def since(self, mark: int) -> list[tuple[str, str, int]]:
        """The requests this thread sent after `mark` (a former len(calls))."""
        me = threading.get_ident()
        return [(m, p, s) for m, p, s, t in self.calls[mark:] if t == me]

    def install(self, monkeypatch) -> None:
        original = requests.Session.send
        traffic = self

        def send(session, prepared, **kwargs):
            response = original(session, prepared, **kwargs)
            traffic.saw(prepared, response)
            return response

        monkeypatch.setattr(requests.Session, "send", send)

    def saw(self, prepared, response) -> None:
        url = urlsplit(prepared.url)
        status = response.status_code
        self.calls.append((prepared.method, url.path, status, threading.get_ident()))
        if (status < 300
                or (status == 404 and url.path.endswith(self.EXPECTED_404))
                or (status == 400 and url.path.endswith(self.EXPECTED_400)
                    and "RESOURCE_ALREADY_EXISTS" in response.text)):
            return
        body = prepared.body
        if isinstance(body, bytes):
            body = body[:600].decode(errors="replace")
        elif body is not None and not isinstance(body, str):
            body = "<streamed>"
        print(f"[http] {prepared.method} {url.path}"
              f"{'?' + url.query if url.query else ''} body={(body or '')[:600]!r}"
              f" -> {status} {response.text[:300]!r}")


def reset_client_state() -> None:
    """Forgets what the fluent API keeps between calls, so that one test's active
    experiment, run, autologging or cached prompt never reaches the next one."""
    import mlflow
    from mlflow.prompt.registry_utils import PromptCache
    from mlflow.tracking import fluent

    while mlflow.active_run() is not None:
        mlflow.end_run()
    fluent._active_experiment_id = None
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
    PromptCache.get_instance().clear()
