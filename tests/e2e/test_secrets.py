"""The secret store end to end, through the real `mlguard` binary over HTTP.

The five scenarios of the secrets issue run on SQLite and on PostgreSQL. Every
response body is kept, and at the end of each test it and the server's captured
output (at debug level) are searched for every secret value and KEK handed to the
server: none may appear. Start-up refusals, a wrong KEK and `mlguard secrets
rotate-kek` are checked through the binary too.
"""

from __future__ import annotations

import base64
import os
import secrets as random
import subprocess
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests

from conftest import ADMIN_USERNAME, MLGUARD_BIN, Mlguard, unique

SECRETS_API = "/api/3.0/mlflow/secrets"
PERMISSIONS_API = "/api/2.0/mlflow/secrets/permissions"
AUDIT_API = "/api/2.0/mlguard/secrets/audit"
PG_ADMIN_URL = os.environ.get(
    "MLGUARD_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"
)


def new_kek() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def new_value() -> str:
    """A secret value that is easy to search for."""
    return "sk-e2e-" + random.token_hex(16)


def psql(sql: str) -> None:
    done = subprocess.run(
        ["psql", PG_ADMIN_URL, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-c", sql],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"psql failed ({sql}): {done.stderr}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    """`None` (the server's own SQLite file) or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
        return
    name = f"mlguard_e2e_secrets_{random.token_hex(6)}"
    psql(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(PG_ADMIN_URL)._replace(path="/" + name))
    finally:
        psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Api:
    """Raw HTTP to one server, remembering every response body."""

    def __init__(self, server: Mlguard):
        self.server = server
        self.bodies: list[str] = []
        self.passwords: dict[str, str] = {ADMIN_USERNAME: server.admin_password}

    def user(self, name: str) -> str:
        _, password = self.server.create_user(name)
        self.passwords[name] = password
        return name

    def call(self, who: str, method: str, path: str, *, params=None, body=None):
        r = requests.request(
            method,
            self.server.base_url + path,
            params=params,
            json=body,
            auth=(who, self.passwords[who]),
            timeout=15,
        )
        self.bodies.append(r.text)
        return r

    def ok(self, who: str, method: str, path: str, **kwargs) -> dict:
        r = self.call(who, method, path, **kwargs)
        assert r.status_code == 200, f"{who} {method} {path}: {r.status_code} {r.text}"
        return r.json()

    def refused(self, who: str, method: str, path: str, status: int, code: str, **kwargs):
        r = self.call(who, method, path, **kwargs)
        assert r.status_code == status, f"{who} {method} {path}: {r.status_code} {r.text}"
        body = r.json()
        # MLflow 3.17 adds sqlstate and error_class (absent for unclassified codes).
        assert list(body) in (
            ["error_code", "message"],
            ["error_code", "message", "sqlstate", "error_class"],
        ), r.text
        assert body["error_code"] == code, r.text
        return body

    def denied(self, who: str, method: str, path: str, **kwargs):
        return self.refused(who, method, path, 403, "PERMISSION_DENIED", **kwargs)

    # -- the endpoints -------------------------------------------------------------

    def create(self, who: str, value: str, resource_id: str, **extra) -> dict:
        self.server.secrets.add(value)
        body = {
            "name": extra.pop("name", "provider key"),
            "value": value,
            "resource_type": "scorer_job",
            "resource_id": resource_id,
            "field_name": "api_key",
            **extra,
        }
        return self.ok(who, "POST", f"{SECRETS_API}/create-and-bind", body=body)

    def info(self, who: str, secret_id: str):
        return self.call(who, "GET", f"{SECRETS_API}/get-info", params={"secret_id": secret_id})

    def bindings(self, who: str, secret_id: str):
        return self.call(
            who, "GET", f"{SECRETS_API}/list-bindings", params={"secret_id": secret_id}
        )

    def listed(self, who: str) -> list[str]:
        ids, token = [], None
        while True:
            params = {"max_results": 50, **({"page_token": token} if token else {})}
            page = self.ok(who, "GET", f"{SECRETS_API}/list", params=params)
            ids += [s["secret_id"] for s in page["secrets"]]
            token = page.get("next_page_token")
            if not token:
                return ids

    def assert_no_value_anywhere(self, values) -> None:
        leaked = sorted(v for v in values if any(v in body for body in self.bodies))
        assert not leaked, f"secret values found in response bodies: {leaked}"
        self.server.assert_no_secret_in_logs()


def secrets_server(mlguard_factory, name: str, default: str, database_url, kek: str) -> Mlguard:
    server = mlguard_factory(
        name,
        database_url=database_url,
        default_permission=default,
        extra_env={
            "MLGUARD_SECRETS__ENABLED": "true",
            "MLGUARD_SECRETS__KEK": kek,
            # The most verbose level mlguard has: nothing may leak even there.
            "MLGUARD_LOG__LEVEL": "debug",
        },
    )
    server.secrets.add(kek)
    return server


def test_secret_lifecycle_scenarios(mlguard_factory, database_url):
    """Scenarios 1 to 4, with default NO_PERMISSIONS."""
    server = secrets_server(
        mlguard_factory, "strict", "NO_PERMISSIONS", database_url, new_kek()
    ).start()
    api = Api(server)
    alice, bob, carol = api.user(unique("alice")), api.user(unique("bob")), api.user(unique("carol"))
    value, new = new_value(), new_value()

    # 1. alice creates a secret and is auto-granted MANAGE.
    created = api.create(alice, value, "job-1", provider="openai", description="team key")
    secret = created["secret"]
    sid = secret["secret_id"]
    assert set(secret) == {
        "secret_id", "name", "provider", "description", "created_by", "created_at", "updated_at"
    }
    assert (secret["created_by"], secret["provider"]) == (alice, "openai")
    assert created["binding"]["resource_id"] == "job-1"
    grant = api.ok(
        alice, "GET", f"{PERMISSIONS_API}/get", params={"secret_id": sid, "username": alice}
    )["secret_permission"]
    assert (grant["secret_id"], grant["username"], grant["permission"]) == (sid, alice, "MANAGE")
    assert api.listed(alice) == [sid]

    # Nobody else sees it yet: 403 whether or not the id exists.
    api.denied(bob, "GET", f"{SECRETS_API}/get-info", params={"secret_id": sid})
    api.denied(bob, "GET", f"{SECRETS_API}/get-info", params={"secret_id": "0" * 32})
    assert api.listed(bob) == []

    # 2. alice gives bob EDIT; bob binds and creates a route, but cannot update,
    #    delete or grant.
    api.ok(alice, "POST", f"{PERMISSIONS_API}/create",
           body={"secret_id": sid, "username": bob, "permission": "EDIT"})
    bound = api.ok(bob, "POST", f"{SECRETS_API}/bind", body={
        "secret_id": sid, "resource_type": "judge", "resource_id": "bobs-judge",
        "field_name": "api_key"})["binding"]
    assert (bound["created_by"], bound["secret_id"]) == (bob, sid)
    routed = api.ok(bob, "POST", f"{SECRETS_API}/create-route-and-bind", body={
        "secret_id": sid, "route": {"name": "chat", "provider": "openai", "model_name": "gpt-4o"}})
    route_id = routed["route"]["route_id"]
    assert routed["binding"]["resource_type"] == "route"
    assert routed["binding"]["resource_id"] == route_id
    assert routed["binding"]["field_name"] == "api_key"
    server.secrets.add(new)
    api.denied(bob, "POST", f"{SECRETS_API}/update", body={"secret_id": sid, "value": new})
    api.denied(bob, "DELETE", f"{SECRETS_API}/delete", body={"secret_id": sid})
    api.denied(bob, "POST", f"{PERMISSIONS_API}/create",
               body={"secret_id": sid, "username": carol, "permission": "READ"})
    assert api.info(bob, sid).status_code == 200

    # 3. carol with READ sees the metadata and the bindings, and nothing more.
    api.ok(alice, "POST", f"{PERMISSIONS_API}/create",
           body={"secret_id": sid, "username": carol, "permission": "READ"})
    seen = api.info(carol, sid).json()["secret"]
    assert seen["secret_id"] == sid and "value" not in seen
    keys = {(b["resource_type"], b["resource_id"]) for b in api.bindings(carol, sid).json()["bindings"]}
    assert keys == {("scorer_job", "job-1"), ("judge", "bobs-judge"), ("route", route_id)}
    assert api.listed(carol) == [sid]
    api.denied(carol, "POST", f"{SECRETS_API}/bind", body={
        "secret_id": sid, "resource_type": "judge", "resource_id": "carols", "field_name": "k"})
    api.denied(carol, "POST", f"{SECRETS_API}/unbind", body={
        "resource_type": "judge", "resource_id": "bobs-judge", "field_name": "api_key"})
    api.denied(carol, "POST", f"{SECRETS_API}/create-route-and-bind", body={
        "secret_id": sid, "route": {"name": "r", "provider": "p", "model_name": "m"}})
    api.denied(carol, "POST", f"{SECRETS_API}/update", body={"secret_id": sid, "value": new})
    api.denied(carol, "DELETE", f"{SECRETS_API}/delete", body={"secret_id": sid})
    api.denied(carol, "GET", f"{PERMISSIONS_API}/get", params={"secret_id": sid, "username": carol})
    api.denied(carol, "GET", AUDIT_API)

    # 4. alice revokes bob, who falls back to the default at once, while his
    #    bindings remain.
    assert api.ok(alice, "DELETE", f"{PERMISSIONS_API}/delete",
                  body={"secret_id": sid, "username": bob}) == {}
    api.denied(bob, "GET", f"{SECRETS_API}/get-info", params={"secret_id": sid})
    api.denied(bob, "POST", f"{SECRETS_API}/unbind", body={
        "resource_type": "judge", "resource_id": "bobs-judge", "field_name": "api_key"})
    assert api.listed(bob) == []
    remaining = api.bindings(alice, sid).json()["bindings"]
    assert {b["resource_id"] for b in remaining if b["created_by"] == bob} == {"bobs-judge", route_id}

    # The owner rotates the value; the answer is metadata only.
    updated = api.ok(alice, "POST", f"{SECRETS_API}/update", body={"secret_id": sid, "value": new})
    assert updated["secret"]["updated_at"] >= secret["updated_at"]
    # A binding key holds one secret.
    api.refused(alice, "POST", f"{SECRETS_API}/bind", 400, "RESOURCE_ALREADY_EXISTS", body={
        "secret_id": sid, "resource_type": "judge", "resource_id": "bobs-judge",
        "field_name": "api_key"})
    # Deleting takes bindings and grants along; then it is gone for everyone.
    assert api.ok(alice, "DELETE", f"{SECRETS_API}/delete", body={"secret_id": sid}) == {}
    api.refused(ADMIN_USERNAME, "GET", f"{SECRETS_API}/get-info", 404, "RESOURCE_DOES_NOT_EXIST",
                params={"secret_id": sid})
    api.denied(carol, "GET", f"{SECRETS_API}/get-info", params={"secret_id": sid})

    api.assert_no_value_anywhere([value, new])


def test_default_read_shares_discovery_but_not_rotation(mlguard_factory, database_url):
    """Scenario 5: with default READ everyone discovers the shared secret; only
    MANAGE holders and admins rotate it, and an admin's bypass is audited."""
    server = secrets_server(mlguard_factory, "open", "READ", database_url, new_kek()).start()
    api = Api(server)
    alice, bob, dave = api.user(unique("alice")), api.user(unique("bob")), api.user(unique("dave"))
    value = new_value()
    sid = api.create(alice, value, "shared-job")["secret"]["secret_id"]
    api.ok(alice, "POST", f"{PERMISSIONS_API}/create",
           body={"secret_id": sid, "username": bob, "permission": "EDIT"})

    for who in [alice, bob, dave, ADMIN_USERNAME]:
        assert sid in api.listed(who), who
        assert api.info(who, sid).status_code == 200, who
        assert api.bindings(who, sid).status_code == 200, who

    rotated = [new_value() for _ in range(4)]
    server.secrets.update(rotated)
    api.denied(dave, "POST", f"{SECRETS_API}/update", body={"secret_id": sid, "value": rotated[0]})
    api.denied(bob, "POST", f"{SECRETS_API}/update", body={"secret_id": sid, "value": rotated[1]})
    api.ok(alice, "POST", f"{SECRETS_API}/update", body={"secret_id": sid, "value": rotated[2]})
    api.ok(ADMIN_USERNAME, "POST", f"{SECRETS_API}/update", body={"secret_id": sid, "value": rotated[3]})
    # dave binds nothing (READ by default is not EDIT); bob may.
    api.denied(dave, "POST", f"{SECRETS_API}/bind", body={
        "secret_id": sid, "resource_type": "judge", "resource_id": "daves", "field_name": "k"})

    # The admin's update needed MANAGE they hold only as an admin: audited.
    trail = api.ok(ADMIN_USERNAME, "GET", AUDIT_API, params={"secret_id": sid})["entries"]
    assert [(e["actor"], e["operation"], e["secret_id"]) for e in trail] == [
        (ADMIN_USERNAME, "update", sid)
    ]
    api.denied(alice, "GET", AUDIT_API)

    api.assert_no_value_anywhere([value, *rotated])


def _run(server: Mlguard, args: list[str], env_overrides: dict[str, str]):
    env = server.env()
    env.update(env_overrides)
    return subprocess.run(
        [str(MLGUARD_BIN), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=server.workdir,
        stdin=subprocess.DEVNULL,
    )


def test_enabled_without_a_kek_refuses_to_start(tmp_path):
    server = Mlguard(tmp_path / "no-kek")
    server.port = 1  # never bound: the start is refused first
    done = _run(server, ["serve"], {"MLGUARD_SECRETS__ENABLED": "true"})
    assert done.returncode != 0
    assert "secrets.kek is not set" in done.stderr, done.stderr
    short = base64.b64encode(b"only sixteen byt").decode()
    done = _run(server, ["serve"], {"MLGUARD_SECRETS__ENABLED": "true", "MLGUARD_SECRETS__KEK": short})
    assert done.returncode != 0
    assert "exactly 32 bytes" in done.stderr, done.stderr
    assert short not in done.stdout + done.stderr


def test_disabled_secret_store_answers_feature_disabled(mlguard_factory):
    server = mlguard_factory("off").start()
    r = requests.get(
        server.base_url + f"{SECRETS_API}/list", auth=server.admin_auth(), timeout=10
    )
    assert r.status_code == 501, r.text
    assert r.json()["error_code"] == "FEATURE_DISABLED"


def test_wrong_kek_refuses_to_start_and_rotation_moves_every_key(mlguard_factory, database_url):
    old_kek, new_kek_, stranger = new_kek(), new_kek(), new_kek()
    server = secrets_server(mlguard_factory, "rotate", "NO_PERMISSIONS", database_url, old_kek)
    server.secrets.update([new_kek_, stranger])
    server.start()
    api = Api(server)
    values = [new_value() for _ in range(25)]
    ids = [api.create(ADMIN_USERNAME, v, f"job-{i}")["secret"]["secret_id"] for i, v in enumerate(values)]
    server.stop()

    # A different KEK: the start is refused, and says why, without any key in it.
    server.extra_env["MLGUARD_SECRETS__KEK"] = stranger
    done = _run(server, ["serve"], {})
    assert done.returncode != 0
    assert "secrets.previous_keks" in done.stderr and "25 data keys" in done.stderr, done.stderr
    for key in [old_kek, new_kek_, stranger]:
        assert key not in done.stdout + done.stderr

    # The new KEK with the old one as previous: serves, then rotates offline.
    server.extra_env["MLGUARD_SECRETS__KEK"] = new_kek_
    server.extra_env["MLGUARD_SECRETS__PREVIOUS_KEKS"] = old_kek
    server.start()
    assert api.info(ADMIN_USERNAME, ids[0]).status_code == 200
    server.stop()
    rotation = _run(server, ["secrets", "rotate-kek", "--batch-size", "7"], {})
    assert rotation.returncode == 0, rotation.stderr
    assert '"rewrapped":25' in rotation.stderr.replace(" ", ""), rotation.stderr
    again = _run(server, ["secrets", "rotate-kek"], {})
    assert again.returncode == 0, again.stderr
    assert '"rewrapped":0' in again.stderr.replace(" ", ""), again.stderr
    for key in [old_kek, new_kek_]:
        assert key not in rotation.stdout + rotation.stderr + again.stdout + again.stderr

    # The old KEK is no longer needed.
    del server.extra_env["MLGUARD_SECRETS__PREVIOUS_KEKS"]
    server.start()
    assert sorted(api.listed(ADMIN_USERNAME)) == sorted(ids)
    api.assert_no_value_anywhere(values)
