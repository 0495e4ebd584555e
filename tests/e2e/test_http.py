"""Raw HTTP against mlguard, from the attacker's side: credentials, routing, bodies,
parameter sources and error shapes. Every response passes through `check()`."""

import base64
import http.client
import json
from urllib.parse import urlsplit

import pytest
import requests

from conftest import ADMIN_USERNAME, module_server, new_password, unique

USERS = "/api/2.0/mlflow/users"
EXP_PERMS = "/api/2.0/mlflow/experiments/permissions"
MODEL_PERMS = "/api/2.0/mlflow/registered-models/permissions"
FORBIDDEN_IN_ERRORS = ["Traceback", "SELECT", "INSERT", "UPDATE ", "$argon2", "diesel", "panicked"]


def check(r: requests.Response, status: int, error_code: str | None = None) -> dict | None:
    """Status, request id, and (for errors) MLflow's JSON error shape with no leaks."""
    assert r.status_code == status, f"{r.request.method} {r.url}: {r.status_code} {r.text}"
    assert r.headers.get("x-request-id"), f"no x-request-id on {r.request.method} {r.url}"
    if r.request.method == "HEAD":
        assert r.content == b""
        return None
    if status >= 400:
        assert r.headers.get("content-type", "").startswith("application/json"), r.headers
        body = r.json()
        # MLflow 3.17 adds sqlstate and error_class (absent for unclassified codes).
        assert list(body) in (
            ["error_code", "message"],
            ["error_code", "message", "sqlstate", "error_class"],
        ), body
        assert isinstance(body["error_code"], str) and isinstance(body["message"], str)
        if error_code is not None:
            assert body["error_code"] == error_code, body
        for needle in FORBIDDEN_IN_ERRORS:
            assert needle not in r.text, f"{needle!r} leaked: {r.text}"
        return body
    if r.headers.get("content-type", "").startswith("application/json"):
        return r.json()
    return None


def basic(raw: str) -> str:
    return "Basic " + base64.b64encode(raw.encode()).decode()


@pytest.fixture(scope="module")
def bob(server):
    """A plain user: (username, password)."""
    return server.create_user(unique("bob"))


@pytest.fixture
def admin(server):
    s = requests.Session()
    s.auth = server.admin_auth()
    return s


# The tests that create grants use their own mlguard, in front of a real MLflow: a
# grant names a resource the tracking server holds. `server` keeps none behind it.
@pytest.fixture(scope="module")
def tracked_server(tmp_path_factory, mlflow_upstream):
    yield from module_server(tmp_path_factory, "READ", mlflow_upstream)


@pytest.fixture
def tracked_admin(tracked_server):
    s = requests.Session()
    s.auth = tracked_server.admin_auth()
    return s


@pytest.fixture(scope="module")
def tracked_bob(tracked_server):
    return tracked_server.create_user(unique("bob"))


# -- authentication --------------------------------------------------------------------


def test_open_routes_need_no_auth(server):
    r = requests.get(server.base_url + "/health", timeout=10)
    check(r, 200)
    r = requests.get(server.base_url + "/ready", timeout=10)
    check(r, 200)
    # Credentials, even bad ones, do not matter there.
    r = requests.get(server.base_url + "/health", auth=("x", "y"), timeout=10)
    check(r, 200)


def test_anonymous_is_401_with_challenge(server):
    for method, path in [
        ("GET", f"{USERS}/get?username=admin"),
        ("GET", f"{USERS}/list"),
        ("POST", f"{USERS}/create"),
        ("PATCH", f"{USERS}/update-admin"),
        ("DELETE", f"{USERS}/delete?username=admin"),
        ("GET", f"{EXP_PERMS}/get?experiment_id=1&username=admin"),
        ("GET", "/ajax-api/2.0/mlflow/users/list"),
    ]:
        r = requests.request(method, server.base_url + path, json={}, timeout=10)
        body = check(r, 401, "UNAUTHENTICATED")
        assert r.headers["www-authenticate"] == 'Basic realm="mlflow"'
        assert "not authenticated" in body["message"]


@pytest.mark.parametrize(
    "header",
    [
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"admin-without-colon").decode(),
        "Basic",
        "Basic ",
        "Bearer abc.def.ghi",
        "Digest username=admin",
        "basicauth " + base64.b64encode(b"admin:x").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
    ],
)
def test_malformed_authorization_is_401(server, header):
    r = requests.get(
        server.base_url + f"{USERS}/get?username=admin",
        headers={"Authorization": header},
        timeout=10,
    )
    check(r, 401, "UNAUTHENTICATED")
    assert r.headers["www-authenticate"] == 'Basic realm="mlflow"'


def test_two_authorization_headers_are_401(server):
    """Even when both are valid admin credentials."""
    good = basic(f"{ADMIN_USERNAME}:{server.admin_password}")
    url = urlsplit(server.base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.putrequest("GET", f"{USERS}/get?username=admin")
        conn.putheader("Authorization", good)
        conn.putheader("Authorization", good)
        conn.endheaders()
        resp = conn.getresponse()
        raw = resp.read()
        assert resp.status == 401
        assert resp.getheader("www-authenticate") == 'Basic realm="mlflow"'
        assert resp.getheader("x-request-id")
        assert json.loads(raw)["error_code"] == "UNAUTHENTICATED"
    finally:
        conn.close()


def test_wrong_and_unknown_credentials_look_the_same(server, bob):
    name, pw = bob
    a = requests.get(server.base_url + f"{USERS}/get?username={name}", auth=(name, pw + "!"), timeout=10)
    b = requests.get(server.base_url + f"{USERS}/get?username={name}", auth=("nobody-here", pw), timeout=10)
    c = requests.get(server.base_url + f"{USERS}/get?username={name}", auth=(name, ""), timeout=10)
    for r in (a, b, c):
        check(r, 401, "UNAUTHENTICATED")
    assert a.json() == b.json() == c.json()


def test_password_with_colon_works(server, admin):
    name, pw = server.create_user(unique("colon"), "pa:ss:word-" + new_password())
    r = requests.get(server.base_url + f"{USERS}/get?username={name}", auth=(name, pw), timeout=10)
    assert check(r, 200)["user"]["username"] == name


# -- routing ---------------------------------------------------------------------------


def test_unknown_path(server, admin):
    """Anonymous callers learn nothing; an admin's unknown path goes to the gateway,
    which here has no MLflow behind it (502); a native path spelled differently is
    never forwarded (404)."""
    for path in ["/api/2.0/mlflow/nope", "/", "/static/x.js"]:
        check(requests.get(server.base_url + path, timeout=10), 401, "UNAUTHENTICATED")
        check(admin.get(server.base_url + path, timeout=10), 502, "TEMPORARILY_UNAVAILABLE")
    # MLflow serves users/get under /api/2.0 and /ajax-api/2.0 only.
    check(requests.get(server.base_url + "/api/3.0/mlflow/users/get", timeout=10), 401)
    check(admin.get(server.base_url + "/api/3.0/mlflow/users/get?username=admin", timeout=10), 404)


def test_wrong_method(server, admin):
    r = admin.post(server.base_url + f"{USERS}/get", json={"username": "admin"}, timeout=10)
    check(r, 405)
    # Anonymous: authentication first.
    r = requests.post(server.base_url + f"{USERS}/get", json={"username": "admin"}, timeout=10)
    check(r, 401)


def test_ajax_users_list(server, admin):
    r = admin.get(server.base_url + "/ajax-api/2.0/mlflow/users/list", timeout=10)
    users = check(r, 200)["users"]
    assert ADMIN_USERNAME in {u["username"] for u in users}
    assert all(set(u) == {"id", "username"} for u in users)


def test_request_id_is_propagated(server):
    r = requests.get(server.base_url + "/health", headers={"x-request-id": "e2e-req-42"}, timeout=10)
    check(r, 200)
    assert r.headers["x-request-id"] == "e2e-req-42"
    r1 = requests.get(server.base_url + "/health", timeout=10)
    r2 = requests.get(server.base_url + "/health", timeout=10)
    assert r1.headers["x-request-id"] != r2.headers["x-request-id"]


# -- bodies ----------------------------------------------------------------------------


def test_post_with_non_json_content_type_is_415(server, admin):
    payload = json.dumps({"username": unique("ct"), "password": new_password()})
    for ctype in ["text/plain", "application/x-www-form-urlencoded", None]:
        headers = {"Content-Type": ctype} if ctype else {}
        r = admin.post(server.base_url + f"{USERS}/create", data=payload, headers=headers, timeout=10)
        assert (r.request.headers.get("Content-Type")) == ctype
        check(r, 415)
    r = admin.patch(
        server.base_url + f"{USERS}/update-admin",
        data='{"username":"admin","is_admin":true}',
        headers={"Content-Type": "text/plain"},
        timeout=10,
    )
    check(r, 415)


def test_json_content_type_with_charset_is_accepted(server, admin):
    name = unique("charset")
    pw = new_password()
    server.secrets.add(pw)
    r = admin.post(
        server.base_url + f"{USERS}/create",
        data=json.dumps({"username": name, "password": pw}),
        headers={"Content-Type": "application/json; charset=utf-8"},
        timeout=10,
    )
    assert check(r, 200)["user"]["username"] == name


@pytest.mark.parametrize("body", ["{", '{"username": "x",', "[]", '"x"', "", "null", "nan"])
def test_malformed_json_is_400(server, admin, body):
    r = admin.post(
        server.base_url + f"{USERS}/create",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    check(r, 400)


def test_missing_and_mistyped_fields(server, admin):
    r = admin.post(server.base_url + f"{USERS}/create", json={"username": unique("x")}, timeout=10)
    body = check(r, 400, "INVALID_PARAMETER_VALUE")
    assert "Missing value for required parameter 'password'" in body["message"]
    r = admin.post(server.base_url + f"{USERS}/create", json={"username": 5, "password": new_password()}, timeout=10)
    check(r, 400, "INVALID_PARAMETER_VALUE")
    r = admin.post(server.base_url + f"{USERS}/create", json={"username": "", "password": new_password()}, timeout=10)
    check(r, 400)
    r = admin.get(server.base_url + f"{USERS}/get", timeout=10)
    check(r, 400, "INVALID_PARAMETER_VALUE")


def test_oversized_body_is_refused(server, admin):
    r = admin.post(
        server.base_url + f"{USERS}/create",
        json={"username": unique("big"), "password": "x" * (2 * 1024 * 1024)},
        timeout=30,
    )
    check(r, 413)


# -- parameters ------------------------------------------------------------------------


@pytest.mark.parametrize("bad_id", ["01", " 1", "1 ", "+1", "-1", "1.0", "", "abc", 1, 1.0, None, True])
def test_non_canonical_experiment_id_is_400(server, admin, bob, bad_id):
    name, _ = bob
    r = admin.post(
        server.base_url + f"{EXP_PERMS}/create",
        json={"experiment_id": bad_id, "username": name, "permission": "READ"},
        timeout=10,
    )
    check(r, 400, "INVALID_PARAMETER_VALUE")


def test_non_canonical_experiment_id_in_query_is_400(server, admin, bob):
    name, _ = bob
    for bad in ["01", "%201", "1%00", "0x1"]:
        r = admin.get(
            server.base_url + f"{EXP_PERMS}/get?experiment_id={bad}&username={name}", timeout=10
        )
        check(r, 400, "INVALID_PARAMETER_VALUE")
    # The canonical "0" is fine (no grant there: 404).
    r = admin.get(server.base_url + f"{EXP_PERMS}/get?experiment_id=0&username={name}", timeout=10)
    check(r, 404, "RESOURCE_DOES_NOT_EXIST")


def test_non_canonical_id_does_not_bypass_manage(tracked_server, tracked_admin, tracked_bob, mlflow_upstream):
    """A non-admin with MANAGE on experiment N must not reach 0N (a different string)."""
    server, admin = tracked_server, tracked_admin
    bob = tracked_bob
    exp = mlflow_upstream.create_experiment()
    name, pw = bob
    target, _ = server.create_user()
    r = admin.post(
        server.base_url + f"{EXP_PERMS}/create",
        json={"experiment_id": exp, "username": name, "permission": "MANAGE"},
        timeout=10,
    )
    check(r, 200)
    r = requests.post(
        server.base_url + f"{EXP_PERMS}/create",
        json={"experiment_id": "0" + exp, "username": target, "permission": "READ"},
        auth=(name, pw),
        timeout=10,
    )
    check(r, 400, "INVALID_PARAMETER_VALUE")
    r = requests.post(
        server.base_url + f"{EXP_PERMS}/create",
        json={"experiment_id": exp, "username": target, "permission": "READ"},
        auth=(name, pw),
        timeout=10,
    )
    assert check(r, 200)["experiment_permission"] == {
        "experiment_id": exp,
        "permission": "READ",
        "user_id": admin.get(server.base_url + f"{USERS}/get?username={target}").json()["user"]["id"],
    }


@pytest.mark.parametrize("value", ["false", "true", 0, 1, None, [], {}])
def test_is_admin_must_be_a_boolean(server, admin, value):
    name, _ = server.create_user()
    r = admin.patch(
        server.base_url + f"{USERS}/update-admin",
        json={"username": name, "is_admin": value},
        timeout=10,
    )
    check(r, 400, "INVALID_PARAMETER_VALUE")
    r = admin.get(server.base_url + f"{USERS}/get?username={name}", timeout=10)
    assert check(r, 200)["user"]["is_admin"] is False


def test_conflicting_parameters_are_400(server, admin, bob):
    name, _ = bob
    r = admin.get(server.base_url + f"{USERS}/get?username={name}&username=admin", timeout=10)
    check(r, 400, "INVALID_PARAMETER_VALUE")
    # The same value twice is not a conflict.
    r = admin.get(server.base_url + f"{USERS}/get?username={name}&username={name}", timeout=10)
    check(r, 200)
    # Query against body on DELETE.
    victim, _ = server.create_user()
    r = admin.delete(
        server.base_url + f"{USERS}/delete?username=admin", json={"username": victim}, timeout=10
    )
    check(r, 400, "INVALID_PARAMETER_VALUE")
    r = admin.get(server.base_url + f"{USERS}/get?username={victim}", timeout=10)
    check(r, 200)
    r = admin.get(server.base_url + f"{USERS}/get?username={ADMIN_USERNAME}", timeout=10)
    check(r, 200)


def test_conflicting_identity_cannot_escalate(server, bob):
    """A user may read themself; naming someone else as well must not slip through."""
    name, pw = bob
    for query in [f"username={name}&username=admin", f"username=admin&username={name}"]:
        r = requests.get(server.base_url + f"{USERS}/get?{query}", auth=(name, pw), timeout=10)
        assert r.status_code in (400, 403), r.text
        check(r, r.status_code)


def test_get_ignores_the_body(server, bob):
    name, pw = bob
    r = requests.get(
        server.base_url + f"{USERS}/get?username={name}",
        json={"username": "admin"},
        auth=(name, pw),
        timeout=10,
    )
    assert check(r, 200)["user"]["username"] == name


def test_delete_user_with_body_and_with_query(server, admin):
    a, _ = server.create_user()
    b, _ = server.create_user()
    r = admin.delete(server.base_url + f"{USERS}/delete", json={"username": a}, timeout=10)
    assert check(r, 200) == {}
    r = admin.delete(server.base_url + f"{USERS}/delete?username={b}", timeout=10)
    assert check(r, 200) == {}
    for name in (a, b):
        r = admin.get(server.base_url + f"{USERS}/get?username={name}", timeout=10)
        check(r, 404, "RESOURCE_DOES_NOT_EXIST")
    # Nothing to delete now.
    r = admin.delete(server.base_url + f"{USERS}/delete?username={a}", timeout=10)
    check(r, 404, "RESOURCE_DOES_NOT_EXIST")
    r = admin.delete(server.base_url + f"{USERS}/delete", timeout=10)
    check(r, 400, "INVALID_PARAMETER_VALUE")


def test_delete_grants_with_body_and_with_query(tracked_server, tracked_admin, tracked_bob, mlflow_upstream):
    server, admin = tracked_server, tracked_admin
    bob = tracked_bob
    first, second = mlflow_upstream.create_experiment(), mlflow_upstream.create_experiment()
    model = mlflow_upstream.create_registered_model(unique("m q"))
    name, _ = bob
    for exp in (first, second):
        r = admin.post(
            server.base_url + f"{EXP_PERMS}/create",
            json={"experiment_id": exp, "username": name, "permission": "READ"},
            timeout=10,
        )
        check(r, 200)
    r = admin.delete(
        server.base_url + f"{EXP_PERMS}/delete", json={"experiment_id": first, "username": name}, timeout=10
    )
    assert check(r, 200) == {}
    r = admin.delete(server.base_url + f"{EXP_PERMS}/delete?experiment_id={second}&username={name}", timeout=10)
    assert check(r, 200) == {}
    for exp in (first, second):
        r = admin.get(server.base_url + f"{EXP_PERMS}/get?experiment_id={exp}&username={name}", timeout=10)
        check(r, 404, "RESOURCE_DOES_NOT_EXIST")

    r = admin.post(
        server.base_url + f"{MODEL_PERMS}/create",
        json={"name": model, "username": name, "permission": "READ"},
        timeout=10,
    )
    body = check(r, 200)["registered_model_permission"]
    assert body["name"] == model and body["permission"] == "READ" and body["workspace"] == "default"
    r = admin.delete(server.base_url + f"{MODEL_PERMS}/delete", params={"name": model, "username": name}, timeout=10)
    assert check(r, 200) == {}
    r = admin.get(server.base_url + f"{MODEL_PERMS}/get", params={"name": model, "username": name}, timeout=10)
    check(r, 404, "RESOURCE_DOES_NOT_EXIST")


def test_wire_shapes(tracked_server, tracked_admin, tracked_bob, mlflow_upstream):
    server, admin = tracked_server, tracked_admin
    bob = tracked_bob
    exp = mlflow_upstream.create_experiment()
    name, _ = bob
    r = admin.get(server.base_url + f"{USERS}/get?username={name}", timeout=10)
    user = check(r, 200)["user"]
    assert set(user) >= {
        "id",
        "username",
        "is_admin",
        "experiment_permissions",
        "registered_model_permissions",
        "scorer_permissions",
    }
    assert "password" not in json.dumps(user) and "$argon2" not in r.text
    r = admin.patch(
        server.base_url + f"{USERS}/update-admin", json={"username": name, "is_admin": False}, timeout=10
    )
    assert check(r, 200) == {}
    r = admin.post(
        server.base_url + f"{EXP_PERMS}/create",
        json={"experiment_id": exp, "username": name, "permission": "USE"},
        timeout=10,
    )
    assert check(r, 200) == {
        "experiment_permission": {"experiment_id": exp, "permission": "USE", "user_id": user["id"]}
    }
    r = admin.patch(
        server.base_url + f"{EXP_PERMS}/update",
        json={"experiment_id": exp, "username": name, "permission": "EDIT"},
        timeout=10,
    )
    assert check(r, 200) == {}


# -- HEAD ------------------------------------------------------------------------------


def test_head_behaves_like_get(server, bob):
    name, pw = bob
    url = server.base_url + f"{USERS}/get"
    cases = [
        ({"username": name}, (name, pw)),  # 200: self
        ({"username": "admin"}, (name, pw)),  # 403: someone else
        ({"username": name}, None),  # 401: anonymous
        ({"username": unique("ghost")}, server.admin_auth()),  # 404
        ({}, server.admin_auth()),  # 400: missing username
    ]
    for params, auth in cases:
        g = requests.get(url, params=params, auth=auth, timeout=10)
        h = requests.head(url, params=params, auth=auth, timeout=10)
        check(g, g.status_code)
        assert h.status_code == g.status_code, (params, g.status_code, h.status_code)
        assert h.content == b""
        assert h.headers.get("x-request-id")
        if g.status_code == 401:
            assert h.headers["www-authenticate"] == 'Basic realm="mlflow"'
    assert {
        requests.get(url, params=p, auth=a, timeout=10).status_code for p, a in cases
    } == {200, 400, 401, 403, 404}


# -- logs ------------------------------------------------------------------------------


def test_log_is_json_and_has_no_passwords(server):
    """Checked again once the server has stopped (module fixture teardown)."""
    server.assert_no_secret_in_logs()
    lines = [line for line in server.stderr().splitlines() if line.strip()]
    assert lines, "the server logged nothing"
    for line in lines:
        json.loads(line)


# -- races -----------------------------------------------------------------------------


def test_concurrent_duplicates_resolve_to_one_winner(tracked_server, mlflow_upstream):
    server = tracked_server
    exp = mlflow_upstream.create_experiment()
    """Parallel creates of one user / one grant: one 200, the rest a clean 400."""
    from concurrent.futures import ThreadPoolExecutor

    name = unique("race")

    def create_user(_):
        pw = new_password()
        server.secrets.add(pw)
        return requests.post(
            server.base_url + f"{USERS}/create",
            json={"username": name, "password": pw},
            auth=server.admin_auth(),
            timeout=30,
        )

    def create_grant(_):
        return requests.post(
            server.base_url + f"{EXP_PERMS}/create",
            json={"experiment_id": exp, "username": name, "permission": "READ"},
            auth=server.admin_auth(),
            timeout=30,
        )

    for action in (create_user, create_grant):
        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(action, range(8)))
        codes = sorted(r.status_code for r in responses)
        assert codes == [200] + [400] * 7, [r.text for r in responses]
        for r in responses:
            if r.status_code == 400:
                check(r, 400, "RESOURCE_ALREADY_EXISTS")


# -- Host and Origin (DNS rebinding, cross-site requests) ------------------------------


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """mlguard in front of a recording stand-in for MLflow, with one foreign origin
    allowed: (server, the requests the stand-in received)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from conftest import Mlguard

    seen: list[tuple[str, str]] = []

    class Recorder(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(self):
            seen.append((self.command, self.path))
            if self.headers.get("transfer-encoding", "").lower() == "chunked":
                while self.rfile.readline() not in (b"0\r\n", b""):
                    pass
                self.rfile.readline()
            else:
                self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = answer

        def log_message(self, *args):
            pass

    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    server = Mlguard(
        tmp_path_factory.mktemp("mlguard-origins"),
        extra_env={
            "MLGUARD_UPSTREAM__URL": f"http://127.0.0.1:{upstream.server_address[1]}",
            "MLGUARD_SERVER__CORS_ALLOWED_ORIGINS": "https://ui.example.com",
        },
    )
    server.start()
    try:
        yield server, seen
    finally:
        if server.proc is not None:
            server.stop()
        upstream.shutdown()
        server.assert_no_secret_in_logs()


INVOCATIONS = "/gateway/chat/mlflow/invocations"


def test_a_foreign_host_is_refused_on_every_path(guarded):
    """A DNS-rebinding page reaches mlguard under the attacker's name."""
    server, seen = guarded
    port = server.port
    for host in ["evil.example", f"evil.example:{port}", f"127.0.0.1.evil.example:{port}", ""]:
        for method, path in [("GET", "/health"), ("GET", "/ready"), ("POST", INVOCATIONS),
                             ("GET", f"{USERS}/get?username=admin")]:
            before = len(seen)
            r = requests.request(method, server.base_url + path, headers={"Host": host},
                                 data="{}", auth=server.admin_auth(), timeout=10)
            check(r, 400, "BAD_REQUEST")
            assert "Host" in r.json()["message"]
            assert len(seen) == before, seen[before:]
    for host in [f"localhost:{port}", f"127.0.0.1:{port}", "localhost", f"[::1]:{port}"]:
        check(requests.get(server.base_url + "/health", headers={"Host": host}, timeout=10), 200)


def test_a_cross_site_state_change_is_refused(guarded):
    """A page elsewhere makes the logged-in browser send a CORS "simple request": a
    text/plain POST needs no preflight, so only the Origin tells it apart."""
    server, seen = guarded
    own = server.base_url
    cross_site = [
        {"Origin": "https://evil.example"},
        {"Origin": own.replace("127.0.0.1", "localhost")},  # another origin, same machine
        {"Origin": f"http://127.0.0.1:{server.port + 1}"},
        {"Origin": "null"},
        {"Origin": "https://ui.example.com.evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "same-origin"},
    ]
    for headers in cross_site:
        for method in ["POST", "PUT", "PATCH", "DELETE"]:
            before = len(seen)
            r = requests.request(method, own + INVOCATIONS, data='{"messages": []}',
                                 headers={"Content-Type": "text/plain", **headers},
                                 auth=server.admin_auth(), timeout=10)
            check(r, 403, "PERMISSION_DENIED")
            assert len(seen) == before, (headers, seen[before:])
        # Native endpoints too.
        r = requests.post(own + f"{USERS}/create", json={"username": unique("x"), "password": new_password()},
                          headers=headers, auth=server.admin_auth(), timeout=10)
        check(r, 403, "PERMISSION_DENIED")
    # mlguard's own origin, a configured one, and clients that send no Origin (the
    # Python client, curl) go through; so do reads from anywhere.
    for headers in [{"Origin": own}, {"Origin": "https://ui.example.com"},
                    {"Sec-Fetch-Site": "same-origin", "Origin": own}, {}]:
        before = len(seen)
        r = requests.post(own + INVOCATIONS, data='{"messages": []}',
                          headers={"Content-Type": "application/json", **headers},
                          auth=server.admin_auth(), timeout=10)
        check(r, 200)
        assert seen[before:] == [("POST", INVOCATIONS)], (headers, seen[before:])
    before = len(seen)
    r = requests.get(own + "/api/2.0/mlflow/experiments/get?experiment_id=0",
                     headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
                     auth=server.admin_auth(), timeout=10)
    check(r, 200)
    assert len(seen) == before + 1
