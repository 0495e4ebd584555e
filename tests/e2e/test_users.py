"""User lifecycle through the real MLflow 3.10.1 client (`get_app_client("basic-auth")`)."""

import pytest
from mlflow.exceptions import MlflowException
from mlflow.server.auth.entities import User

from conftest import ADMIN_USERNAME, module_server, new_password, unique


# Grants name resources the tracking server holds, so mlguard sits in front of MLflow.
@pytest.fixture(scope="module")
def server(tmp_path_factory, mlflow_upstream):
    yield from module_server(tmp_path_factory, "READ", mlflow_upstream)


def error_code(exc_info) -> str:
    return exc_info.value.error_code


def test_create_and_get_user(server, as_admin, login):
    name, password = unique("alice"), new_password()
    server.secrets.add(password)

    created = as_admin.create_user(name, password)
    assert isinstance(created, User)
    assert created.username == name
    assert created.is_admin is False
    assert isinstance(created.id, int) and created.id > 0
    assert created.experiment_permissions == []
    assert created.registered_model_permissions == []
    assert created.password_hash == "REDACTED"

    got = as_admin.get_user(name)
    assert got.id == created.id
    assert got.username == name
    assert got.is_admin is False
    assert got.experiment_permissions == []
    assert got.registered_model_permissions == []

    # The admin shows up as an admin.
    admin = as_admin.get_user(ADMIN_USERNAME)
    assert admin.is_admin is True
    assert admin.id != created.id

    # A user may read their own account.
    login(name, password)
    me = server.client().get_user(name)
    assert me.id == created.id and me.is_admin is False


def test_get_user_lists_grants(server, as_admin, mlflow_upstream):
    name, _ = server.create_user()
    exp, model = mlflow_upstream.create_experiment(), mlflow_upstream.create_registered_model()
    user = as_admin.get_user(name)
    as_admin.create_experiment_permission(exp, name, "EDIT")
    as_admin.create_registered_model_permission(model, name, "READ")

    got = as_admin.get_user(name)
    assert [(p.experiment_id, p.user_id, p.permission) for p in got.experiment_permissions] == [
        (exp, user.id, "EDIT")
    ]
    assert [
        (p.name, p.user_id, p.permission) for p in got.registered_model_permissions
    ] == [(model, user.id, "READ")]


def test_update_password(server, as_admin, login):
    name, old = server.create_user()
    new = new_password()
    server.secrets.add(new)

    as_admin.update_user_password(name, new)

    login(name, old)
    with pytest.raises(MlflowException) as e:
        server.client().get_user(name)
    assert error_code(e) == "UNAUTHENTICATED"
    assert e.value.get_http_status_code() == 401

    login(name, new)
    assert server.client().get_user(name).username == name


def test_user_changes_own_password(server, login):
    name, old = server.create_user()
    new = new_password()
    server.secrets.add(new)

    login(name, old)
    server.client().update_user_password(name, new)

    with pytest.raises(MlflowException) as e:
        server.client().get_user(name)  # still sending the old password
    assert error_code(e) == "UNAUTHENTICATED"
    login(name, new)
    assert server.client().get_user(name).username == name


def test_promote_and_demote_admin(server, as_admin, login):
    name, password = server.create_user()
    login(name, password)
    client = server.client()

    with pytest.raises(MlflowException) as e:
        client.create_user(unique("nope"), new_password())
    assert error_code(e) == "PERMISSION_DENIED"

    login(ADMIN_USERNAME, server.admin_password)
    as_admin.update_user_admin(name, True)
    assert as_admin.get_user(name).is_admin is True

    # Promoted: takes effect on the next request.
    login(name, password)
    other_password = new_password()
    server.secrets.add(other_password)
    other = client.create_user(unique("made-by-promoted"), other_password)
    assert other.is_admin is False
    assert client.get_user(other.username).id == other.id  # someone else's account

    login(ADMIN_USERNAME, server.admin_password)
    as_admin.update_user_admin(name, False)
    assert as_admin.get_user(name).is_admin is False

    login(name, password)
    with pytest.raises(MlflowException) as e:
        client.create_user(unique("nope"), new_password())
    assert error_code(e) == "PERMISSION_DENIED"
    with pytest.raises(MlflowException) as e:
        client.get_user(other.username)
    assert error_code(e) == "PERMISSION_DENIED"


def test_promoted_user_can_list_users(server, as_admin, login):
    """`users/list` has no client method in 3.10.1; use the client's own transport."""
    import requests

    name, password = server.create_user()
    url = server.base_url + "/api/2.0/mlflow/users/list"

    r = requests.get(url, auth=(name, password), timeout=10)
    assert r.status_code == 403 and r.json()["error_code"] == "PERMISSION_DENIED"

    as_admin.update_user_admin(name, True)
    r = requests.get(url, auth=(name, password), timeout=10)
    assert r.status_code == 200
    users = r.json()["users"]
    assert {"id", "username"} == set(users[0])
    assert {ADMIN_USERNAME, name} <= {u["username"] for u in users}

    as_admin.update_user_admin(name, False)
    r = requests.get(url, auth=(name, password), timeout=10)
    assert r.status_code == 403


def test_delete_user(server, as_admin, login, mlflow_upstream):
    name, password = server.create_user()
    exp, model = mlflow_upstream.create_experiment(), mlflow_upstream.create_registered_model()
    as_admin.create_experiment_permission(exp, name, "MANAGE")
    as_admin.create_registered_model_permission(model, name, "MANAGE")

    as_admin.delete_user(name)

    with pytest.raises(MlflowException) as e:
        as_admin.get_user(name)
    assert error_code(e) == "RESOURCE_DOES_NOT_EXIST"
    assert e.value.get_http_status_code() == 404

    # Its grants went with it.
    with pytest.raises(MlflowException) as e:
        as_admin.get_experiment_permission(exp, name)
    assert error_code(e) == "RESOURCE_DOES_NOT_EXIST"

    # Its credentials no longer authenticate.
    login(name, password)
    with pytest.raises(MlflowException) as e:
        server.client().get_user(name)
    assert error_code(e) == "UNAUTHENTICATED"
    assert e.value.get_http_status_code() == 401

    # Recreating the name inherits nothing.
    login(ADMIN_USERNAME, server.admin_password)
    new_pw = new_password()
    server.secrets.add(new_pw)
    again = as_admin.create_user(name, new_pw)
    assert again.experiment_permissions == []
    assert again.registered_model_permissions == []
    got = as_admin.get_user(name)
    assert got.experiment_permissions == []
    assert got.registered_model_permissions == []
    assert got.is_admin is False
    with pytest.raises(MlflowException) as e:
        as_admin.get_experiment_permission(exp, name)
    assert error_code(e) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as e:
        as_admin.get_registered_model_permission(model, name)
    assert error_code(e) == "RESOURCE_DOES_NOT_EXIST"
    # The old password does not open the new account.
    login(name, password)
    with pytest.raises(MlflowException) as e:
        server.client().get_user(name)
    assert error_code(e) == "UNAUTHENTICATED"


def test_signup_form_creates_users_for_admins_only(server):
    """MLflow's HTML sign-up form: an admin opens it and posts it back with its CSRF
    token; the new user can log in. Without the token, or as a non-admin, nothing is
    created."""
    import re

    import requests

    url = server.base_url
    session = requests.Session()
    session.auth = server.admin_auth()
    form = session.get(f"{url}/signup", timeout=10)
    assert form.status_code == 200, form.text
    assert form.headers["Content-Type"].startswith("text/html")
    assert "frame-ancestors 'none'" in form.headers["Content-Security-Policy"]
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    assert session.cookies.get("mlguard_signup_csrf") == token

    name, password = unique("signup"), new_password()
    server.secrets.add(password)
    # A forged post: right fields, but not the token of this session's form.
    forged = requests.post(f"{url}/api/2.0/mlflow/users/create-ui", auth=server.admin_auth(),
                           data={"username": name, "password": password, "csrf_token": token},
                           timeout=10)
    assert forged.status_code == 400, forged.text
    assert requests.get(f"{url}/api/2.0/mlflow/users/get", params={"username": name},
                        auth=server.admin_auth(), timeout=10).status_code == 404

    created = session.post(f"{url}/api/2.0/mlflow/users/create-ui",
                           data={"username": name, "password": password, "csrf_token": token},
                           timeout=10)
    assert created.status_code == 200, created.text
    assert f"Successfully signed up user: {name}" in created.text
    me = requests.get(f"{url}/api/2.0/mlflow/users/get", params={"username": name},
                      auth=(name, password), timeout=10)
    assert me.status_code == 200 and me.json()["user"]["is_admin"] is False

    # The same name again is refused on the page, not with a stack trace.
    again = session.post(f"{url}/api/2.0/mlflow/users/create-ui",
                         data={"username": name, "password": password, "csrf_token": token},
                         timeout=10)
    assert again.status_code == 400 and "already exists" in again.text, again.text
    assert "Traceback" not in again.text and "INSERT" not in again.text

    # A plain user may neither open the form nor post one.
    plain = requests.Session()
    plain.auth = (name, password)
    assert plain.get(f"{url}/signup", timeout=10).status_code == 403
    plain.cookies.set("mlguard_signup_csrf", token)
    r = plain.post(f"{url}/api/2.0/mlflow/users/create-ui",
                   data={"username": unique("x"), "password": new_password(), "csrf_token": token},
                   timeout=10)
    assert r.status_code == 403 and r.json()["error_code"] == "PERMISSION_DENIED"
