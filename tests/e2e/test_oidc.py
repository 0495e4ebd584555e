"""Single sign-on against a real OpenID provider (`oidc-provider`, tests/oidc) with the
real mlguard binary in front of a real MLflow (`default_permission` NO_PERMISSIONS):

- a user of the provider opens the MLflow UI in headless Chromium, is sent to the
  provider's login, and lands on the experiment list as that user, seeing what their
  provider group's role grants and nothing else;
- a client-credentials token from the provider works as `MLFLOW_TRACKING_TOKEN` for
  the stock client, and group membership grants and takes away access through roles
  at the next token;
- the provider rotates its signing key mid-test;
- forged, expired and wrong-audience tokens, replayed or missing login state, a
  foreign `next`, cross-site changes made with the session cookie, and an unreachable
  provider each get a clear refusal; nothing opens a session, nothing leaks to logs.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from conftest import ADMIN_USERNAME, Mlguard, free_port, new_password, unique
from oidc_provider import OidcProvider

WEB_CLIENT, WEB_SECRET = "mlguard-web", "web-" + secrets.token_urlsafe(18)
BOT, BOT_SECRET = "ci-bot", "bot-" + secrets.token_urlsafe(18)
ALICE_PASSWORD = "alice-" + secrets.token_urlsafe(12)
BOB_PASSWORD = "bob-" + secrets.token_urlsafe(12)


class World:
    """The provider, MLflow and mlguard, with two experiments and a `readers` role
    that reads the first."""

    def __init__(self, provider: OidcProvider, guard: Mlguard, upstream):
        self.provider, self.guard, self.upstream = provider, guard, upstream
        self.url = guard.base_url
        self.admin = (ADMIN_USERNAME, guard.admin_password)

    def token(self, client_id: str = BOT, secret: str = BOT_SECRET, audience: str = "mlguard"):
        return self.provider.client_credentials_token(client_id, secret, audience)

    def get(self, path: str, token: str | None = None, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(f"{self.url}{path}", headers=headers, timeout=30, **kwargs)


@pytest.fixture(scope="module")
def world(tmp_path_factory, mlflow_upstream):
    port = free_port()
    callback = f"http://127.0.0.1:{port}/auth/callback"
    provider = OidcProvider(tmp_path_factory.mktemp("idp"), {
        "web_client": {"client_id": WEB_CLIENT, "client_secret": WEB_SECRET,
                       "redirect_uris": [callback],
                       "post_logout_redirect_uris": [f"http://127.0.0.1:{port}/"]},
        "machine_clients": [{"client_id": BOT, "client_secret": BOT_SECRET,
                             "groups": ["readers"]},
                            {"client_id": "stranger-bot", "client_secret": BOT_SECRET,
                             "groups": []},
                            # Asks for the name of mlguard's own admin account.
                            {"client_id": "impostor", "client_secret": BOT_SECRET,
                             "groups": ["mlflow-admins"], "username": ADMIN_USERNAME}],
        "users": {"alice": {"password": ALICE_PASSWORD, "groups": ["data-team"],
                            "email": "alice@example.com", "name": "Alice"},
                  "bob": {"password": BOB_PASSWORD, "groups": ["mlflow-admins"],
                          "email": "bob@example.com", "name": "Bob"}},
        "audiences": ["mlguard", "another-service"],
    }).start()
    guard = Mlguard(tmp_path_factory.mktemp("mlguard-oidc"), default_permission="NO_PERMISSIONS",
                    port=port, extra_env={
        "MLGUARD_UPSTREAM__URL": mlflow_upstream.url,
        "MLGUARD_AUTH__OIDC__ISSUER": provider.issuer,
        "MLGUARD_AUTH__OIDC__CLIENT_ID": WEB_CLIENT,
        "MLGUARD_AUTH__OIDC__CLIENT_SECRET": WEB_SECRET,
        "MLGUARD_AUTH__OIDC__REDIRECT_URL": callback,
        "MLGUARD_AUTH__OIDC__SCOPES": "openid profile email groups",
        "MLGUARD_AUTH__OIDC__ADMIN_GROUPS": "mlflow-admins",
        "MLGUARD_AUTH__OIDC__GROUP_ROLES": "data-team=readers",
        "MLGUARD_AUTH__OIDC__AUDIENCES": "mlguard",
        "MLGUARD_AUTH__OIDC__COOKIE_SECURE": "false",
        "MLGUARD_AUTH__OIDC__JWKS_REFETCH_INTERVAL_SECS": "1",
        "MLGUARD_AUTH__OIDC__JWKS_MAX_AGE_SECS": "3",
    })
    guard.secrets |= {WEB_SECRET, BOT_SECRET, ALICE_PASSWORD, BOB_PASSWORD}
    guard.start()
    w = World(provider, guard, mlflow_upstream)
    try:
        w.readable = mlflow_upstream.create_experiment(unique("team-exp"))
        w.hidden = mlflow_upstream.create_experiment(unique("other-exp"))
        made = requests.post(f"{w.url}/api/3.0/mlflow/roles/create", auth=w.admin, timeout=30,
                             json={"name": "readers", "workspace": "default"})
        assert made.status_code == 200, made.text
        role_id = made.json()["role"]["id"]
        row = requests.post(f"{w.url}/api/3.0/mlflow/roles/permissions/add", auth=w.admin,
                            timeout=30, json={"role_id": role_id, "resource_type": "experiment",
                                              "resource_pattern": w.readable,
                                              "permission": "READ"})
        assert row.status_code == 200, row.text
        yield w
    finally:
        guard.stop()
        provider.stop()
        guard.assert_no_secret_in_logs()
        log = guard.all_logs()
        assert "eyJ" not in log, "a JWT reached mlguard's log"


# -- machine identities ----------------------------------------------------------------------


def test_a_client_credentials_token_works_as_mlflow_tracking_token(world, monkeypatch):
    import mlflow
    from mlflow.exceptions import MlflowException

    token = world.token()
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    client = mlflow.MlflowClient(tracking_uri=world.url)
    # The bot's `readers` group is the `readers` role: the first experiment only.
    assert client.get_experiment(world.readable).experiment_id == world.readable
    with pytest.raises(MlflowException, match="PERMISSION_DENIED"):
        client.get_experiment(world.hidden)
    listed = {e.experiment_id for e in client.search_experiments()}
    assert world.readable in listed and world.hidden not in listed
    # Provisioned at first use, as the token's username claim names it.
    me = world.get("/api/2.0/mlflow/users/current", token)
    assert me.status_code == 200, me.text
    assert me.json()["user"]["username"] == BOT


def test_group_membership_grants_and_revokes_through_roles_at_the_next_token(world):
    path = f"/api/2.0/mlflow/experiments/get?experiment_id={world.readable}"
    assert world.get(path, world.token()).status_code == 200
    world.provider.set_groups(BOT, [])
    assert world.get(path, world.token()).status_code == 403
    world.provider.set_groups(BOT, ["readers"])
    assert world.get(path, world.token()).status_code == 200
    # An admin's own assignment is not the provider's to take away.
    role_id = requests.get(f"{world.url}/api/3.0/mlflow/roles/list", auth=world.admin,
                           timeout=30).json()["roles"]
    readers = next(r["id"] for r in role_id if r["name"] == "readers")
    world.provider.set_groups("stranger-bot", [])
    stranger = world.token("stranger-bot")
    assert world.get(path, stranger).status_code == 403
    assigned = requests.post(f"{world.url}/api/3.0/mlflow/roles/assign", auth=world.admin,
                             timeout=30, json={"username": "stranger-bot", "role_id": readers})
    assert assigned.status_code == 200, assigned.text
    assert world.get(path, world.token("stranger-bot")).status_code == 200


def forged(token: str, **changes) -> str:
    """The token with its payload changed and its signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{body}.{signature}"


def test_bad_provider_tokens_are_refused_with_the_basic_challenge(world):
    path = f"/api/2.0/mlflow/experiments/get?experiment_id={world.readable}"
    good = world.token()
    header = json.loads(base64.urlsafe_b64decode(good.split(".")[0] + "=="))
    unsigned = base64.urlsafe_b64encode(json.dumps({"alg": "none", "kid": header["kid"]}).encode())
    cases = {
        "payload changed": forged(good, groups=["mlflow-admins"]),
        "another user": forged(good, preferred_username="admin"),
        "alg none": unsigned.rstrip(b"=").decode() + "." + good.split(".")[1] + ".",
        "wrong audience": world.token(audience="another-service"),
        "expired": forged(good, exp=int(time.time()) - 3600),
        "unknown key": base64.urlsafe_b64encode(json.dumps(
            {"alg": "RS256", "kid": "not-a-key"}).encode()).rstrip(b"=").decode()
            + "." + good.split(".")[1] + "." + good.split(".")[2],
        "junk": "eyJ.not.a-token",
    }
    for name, token in cases.items():
        r = world.get(path, token)
        assert r.status_code == 401, (name, r.text)
        assert r.json()["error_code"] == "UNAUTHENTICATED", name
        assert r.headers.get("WWW-Authenticate", "").startswith("Basic"), name
    assert world.get(path, good).status_code == 200


def test_a_provider_name_never_takes_over_a_local_account(world):
    """A validly signed token whose username claim names an account mlguard made
    for someone else (here: the bootstrap admin) signs in as nobody."""
    token = world.token("impostor")
    r = world.get("/api/2.0/mlflow/users/current", token)
    assert r.status_code == 401, r.text
    assert r.headers["WWW-Authenticate"].startswith("Basic")
    # The local admin is untouched: its password still works, and it is no
    # provider identity's.
    me = requests.get(f"{world.url}/api/2.0/mlflow/users/current", auth=world.admin, timeout=30)
    assert me.status_code == 200 and me.json()["user"]["username"] == ADMIN_USERNAME


def test_revoking_a_users_credentials_ends_their_sessions(world, browser):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{world.url}/")
    WebDriverWait(browser, 20).until(lambda d: d.current_url.startswith(world.provider.issuer))
    sign_in(browser, "alice", ALICE_PASSWORD)
    WebDriverWait(browser, 30).until(lambda d: d.current_url.startswith(world.url))
    jar = {"mlguard_session": session_cookie(browser)}
    me = f"{world.url}/api/2.0/mlflow/users/current"
    assert requests.get(me, cookies=jar, timeout=30).status_code == 200
    revoked = requests.post(f"{world.url}/api/2.0/mlguard/tokens/revoke-all", auth=world.admin,
                            json={"username": "alice"}, timeout=30)
    assert revoked.status_code == 200, revoked.text
    assert requests.get(me, cookies=jar, timeout=30).status_code == 401


def test_a_rotated_signing_key_is_picked_up_and_a_withdrawn_one_dropped(world):
    path = f"/api/2.0/mlflow/experiments/get?experiment_id={world.readable}"
    before = world.token()
    world.provider.rotate_keys()
    after = world.token()
    # Unknown key ids fetch the JWKS at most once a second here (the forged ones
    # above may just have): then the new key is fetched at first sight.
    time.sleep(1.2)
    assert after.split(".")[0] != before.split(".")[0]
    assert world.get(path, after).status_code == 200, "new key fetched at first sight"
    assert world.get(path, before).status_code == 200, "the old key is still listed"
    world.provider.rotate_keys(drop_old=True)
    time.sleep(4)  # past MLGUARD_AUTH__OIDC__JWKS_MAX_AGE_SECS
    assert world.get(path, before).status_code == 401, "a withdrawn key signs nothing"
    assert world.get(path, world.token()).status_code == 200


# -- the browser login -----------------------------------------------------------------------


def sign_in(browser, username: str, password: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.NAME, "password"))
    browser.find_element(By.NAME, "login").send_keys(username)
    browser.find_element(By.NAME, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def session_cookie(browser) -> str:
    cookie = browser.get_cookie("mlguard_session")
    assert cookie, browser.get_cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    return cookie["value"]


def test_a_provider_user_logs_in_through_the_browser_and_uses_the_mlflow_ui(world, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    # Opening the UI without a session goes to the provider's login, and back.
    browser.get(f"{world.url}/#/experiments")
    WebDriverWait(browser, 20).until(lambda d: d.current_url.startswith(world.provider.issuer))
    sign_in(browser, "alice", ALICE_PASSWORD)
    WebDriverWait(browser, 30).until(lambda d: d.current_url.startswith(world.url))
    readable_name = requests.get(
        f"{world.url}/api/2.0/mlflow/experiments/get?experiment_id={world.readable}",
        auth=world.admin, timeout=30).json()["experiment"]["name"]
    hidden_name = requests.get(
        f"{world.url}/api/2.0/mlflow/experiments/get?experiment_id={world.hidden}",
        auth=world.admin, timeout=30).json()["experiment"]["name"]
    # The experiment list, as alice: her group's role reads the first experiment only.
    WebDriverWait(browser, 40).until(
        lambda d: readable_name in d.find_element(By.TAG_NAME, "body").text)
    assert hidden_name not in browser.find_element(By.TAG_NAME, "body").text
    secret = session_cookie(browser)

    # The UI's own calls change state with the cookie, as its pages send them; the
    # cookie itself is out of the page's reach.
    made = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch('/ajax-api/2.0/mlflow/experiments/create', {method: 'POST',
              headers: {'Content-Type': 'application/json'},
              body: JSON.stringify({name: arguments[0]})})
          .then(r => r.json().then(body => done([r.status, body, document.cookie])))
          .catch(e => done([0, String(e), document.cookie]));
    """, unique("ui-made"))
    assert made[0] == 200 and made[1].get("experiment_id"), made
    assert "mlguard_session" not in made[2]

    # The cookie is a session of alice's, kept server-side.
    jar = {"mlguard_session": secret}
    me = requests.get(f"{world.url}/api/2.0/mlflow/users/current", cookies=jar, timeout=30)
    assert me.status_code == 200 and me.json()["user"]["username"] == "alice", me.text
    listed = requests.get(f"{world.url}/api/2.0/mlguard/sessions/list", cookies=jar, timeout=30)
    assert listed.status_code == 200, listed.text
    (mine,) = listed.json()["sessions"]
    assert mine["current"] is True

    # A change made with the cookie must come from mlguard's own pages.
    create = f"{world.url}/api/2.0/mlflow/experiments/create"
    body = {"name": unique("sso-exp")}
    for headers in ({}, {"Origin": "http://evil.example"},
                    {"Referer": "http://evil.example/page"}):
        r = requests.post(create, cookies=jar, json=body, headers=headers, timeout=30)
        assert r.status_code == 403, (headers, r.text)
    own = requests.post(create, cookies=jar, json=body, timeout=30,
                        headers={"Origin": world.url})
    assert own.status_code == 200, own.text

    # Logging out ends the session here and sends the browser to the provider.
    out = requests.post(f"{world.url}/auth/logout", cookies=jar, headers={"Origin": world.url},
                        allow_redirects=False, timeout=30)
    assert out.status_code == 303, out.text
    assert out.headers["Location"].startswith(world.provider.issuer)
    assert "mlguard_session=;" in out.headers.get("Set-Cookie", "")
    gone = requests.get(f"{world.url}/api/2.0/mlflow/users/current", cookies=jar, timeout=30)
    assert gone.status_code == 401


def test_provider_admins_are_admins_and_end_others_sessions(world, browser):
    browser.get(f"{world.url}/")
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 20).until(lambda d: d.current_url.startswith(world.provider.issuer))
    sign_in(browser, "bob", BOB_PASSWORD)
    WebDriverWait(browser, 30).until(lambda d: d.current_url.startswith(world.url))
    jar = {"mlguard_session": session_cookie(browser)}
    me = requests.get(f"{world.url}/api/2.0/mlflow/users/current", cookies=jar, timeout=30)
    assert me.json()["user"]["is_admin"] is True, me.text
    users = requests.get(f"{world.url}/api/2.0/mlflow/users/list", cookies=jar, timeout=30)
    assert users.status_code == 200, users.text
    mine = requests.get(f"{world.url}/api/2.0/mlguard/sessions/list", cookies=jar,
                        timeout=30).json()["sessions"]
    # A plain user neither lists nor ends someone else's session.
    carol = world.guard.create_user(unique("carol"))
    theirs = requests.get(f"{world.url}/api/2.0/mlguard/sessions/list", auth=carol,
                          params={"username": "bob"}, timeout=30)
    assert theirs.status_code == 403, theirs.text
    ending = requests.post(f"{world.url}/api/2.0/mlguard/sessions/end", auth=carol, timeout=30,
                           json={"session_id": mine[0]["session_id"]})
    assert ending.status_code == 404, ending.text
    assert requests.get(f"{world.url}/api/2.0/mlflow/users/current", cookies=jar,
                        timeout=30).status_code == 200
    # An admin lists anyone's.
    listed = requests.get(f"{world.url}/api/2.0/mlguard/sessions/list", auth=world.admin,
                          params={"username": "bob"}, timeout=30)
    assert [s["session_id"] for s in listed.json()["sessions"]] == [mine[0]["session_id"]]
    # Bob, an admin by his group, ends a session of his own through the API.
    ended = requests.post(f"{world.url}/api/2.0/mlguard/sessions/end", cookies=jar,
                          headers={"Origin": world.url}, timeout=30,
                          json={"session_id": mine[0]["session_id"]})
    assert ended.status_code == 200, ended.text
    assert requests.get(f"{world.url}/api/2.0/mlflow/users/current", cookies=jar,
                        timeout=30).status_code == 401


def test_an_id_token_for_another_login_opens_no_session(world, browser):
    """A login whose ID token carries another nonce than the one mlguard sent (here:
    the kept nonce changed under it, as if a token of another login were replayed
    into this callback) is refused after the provider's login, and opens nothing."""
    import sqlite3

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{world.url}/")
    WebDriverWait(browser, 20).until(lambda d: d.current_url.startswith(world.provider.issuer))
    database = world.guard.database_url.removeprefix("sqlite://")
    with sqlite3.connect(database) as db:
        changed = db.execute("UPDATE pending_logins SET nonce = 'another-login'").rowcount
    assert changed == 1
    sign_in(browser, "alice", ALICE_PASSWORD)
    WebDriverWait(browser, 30).until(lambda d: d.current_url.startswith(world.url))
    assert "could not be verified" in browser.find_element(By.TAG_NAME, "body").text
    assert browser.get_cookie("mlguard_session") is None
    assert "nonce" in world.guard.all_logs()


def test_broken_logins_open_no_session(world):
    def callback(**params):
        return requests.get(f"{world.url}/auth/callback", params=params, timeout=30,
                            allow_redirects=False)

    for params in ({}, {"code": "x"}, {"state": "x"}, {"code": "x", "state": "never-issued"},
                   {"error": "access_denied", "state": "x"}):
        r = callback(**params)
        assert r.status_code in (400, 401), (params, r.status_code)
        assert r.headers["Content-Type"].startswith("text/html"), params
        assert "mlguard_session" not in r.headers.get("Set-Cookie", ""), params

    # A real login's state, replayed after use, or from another browser, opens nothing.
    started = requests.get(f"{world.url}/auth/login", params={"next": "https://evil.example/"},
                           allow_redirects=False, timeout=30)
    assert started.status_code == 302
    authorize = urlparse(started.headers["Location"])
    assert f"{authorize.scheme}://{authorize.netloc}" == world.provider.issuer
    query = parse_qs(authorize.query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    state = query["state"][0]
    login_cookie = started.cookies.get("mlguard_login")
    assert login_cookie == state
    no_cookie = callback(code="forged-code", state=state)
    assert no_cookie.status_code == 400
    with_cookie = requests.get(f"{world.url}/auth/callback", timeout=30, allow_redirects=False,
                               params={"code": "forged-code", "state": state},
                               cookies={"mlguard_login": state})
    assert with_cookie.status_code == 401, "the provider refuses a forged code"
    replay = requests.get(f"{world.url}/auth/callback", timeout=30, allow_redirects=False,
                          params={"code": "forged-code", "state": state},
                          cookies={"mlguard_login": state})
    assert replay.status_code == 400, "a state is used once"

    # API clients without credentials keep the Basic challenge; pages go to the login.
    api = requests.get(f"{world.url}/api/2.0/mlflow/experiments/search", timeout=30)
    assert api.status_code == 401 and api.headers["WWW-Authenticate"].startswith("Basic")
    page = requests.get(f"{world.url}/", headers={"Accept": "text/html"},
                        allow_redirects=False, timeout=30)
    assert page.status_code == 302 and page.headers["Location"].startswith("/auth/login?next=")


def test_an_unreachable_provider_refuses_logins_and_its_tokens(world):
    path = f"/api/2.0/mlflow/experiments/get?experiment_id={world.readable}"
    token = world.token()
    world.provider.stop()
    try:
        time.sleep(4)  # the kept keys are past their maximum age: they must be fetched
        r = world.get(path, token)
        assert r.status_code == 401, r.text
        login = requests.get(f"{world.url}/auth/login", allow_redirects=False, timeout=30)
        # Discovery was kept from earlier logins: the redirect still works, the
        # provider is what the browser then cannot reach.
        assert login.status_code in (302, 502), login.status_code
        # Passwords keep working without the provider.
        assert requests.get(f"{world.url}{path}", auth=world.admin, timeout=30).status_code == 200
    finally:
        world.provider.start()
