"""Grant CRUD for experiments and registered models, and MANAGE semantics, through
the real MLflow 3.10.1 client."""

import pytest
import requests
from mlflow.exceptions import MlflowException
from mlflow.server.auth.entities import ExperimentPermission, RegisteredModelPermission

from conftest import ADMIN_USERNAME, module_server, unique


# Grants name resources the tracking server holds: mlguard here sits in front of a
# real MLflow, and each test creates what it grants on.
@pytest.fixture(scope="module")
def server(tmp_path_factory, mlflow_upstream):
    yield from module_server(tmp_path_factory, "READ", mlflow_upstream)


@pytest.fixture(scope="module", params=["READ", "MANAGE"])
def server_by_default(request, tmp_path_factory, mlflow_upstream):
    yield from module_server(tmp_path_factory, request.param, mlflow_upstream)


def test_experiment_permission_crud(server, as_admin, mlflow_upstream):
    name, _ = server.create_user()
    user_id = as_admin.get_user(name).id
    exp = mlflow_upstream.create_experiment()
    other = mlflow_upstream.create_experiment()

    created = as_admin.create_experiment_permission(exp, name, "READ")
    assert isinstance(created, ExperimentPermission)
    assert (created.experiment_id, created.user_id, created.permission) == (exp, user_id, "READ")

    got = as_admin.get_experiment_permission(exp, name)
    assert (got.experiment_id, got.user_id, got.permission) == (exp, user_id, "READ")

    assert as_admin.update_experiment_permission(exp, name, "EDIT") is None
    got = as_admin.get_experiment_permission(exp, name)
    assert got.permission == "EDIT"

    # Every level round-trips, NO_PERMISSIONS included.
    for level in ["USE", "MANAGE", "NO_PERMISSIONS", "READ"]:
        as_admin.update_experiment_permission(exp, name, level)
        assert as_admin.get_experiment_permission(exp, name).permission == level

    far = as_admin.create_experiment_permission(other, name, "NO_PERMISSIONS")
    assert (far.experiment_id, far.permission) == (other, "NO_PERMISSIONS")

    assert as_admin.delete_experiment_permission(exp, name) is None
    with pytest.raises(MlflowException) as e:
        as_admin.get_experiment_permission(exp, name)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert e.value.get_http_status_code() == 404

    # Deleting one grant leaves the other.
    remaining = as_admin.get_user(name).experiment_permissions
    assert [(p.experiment_id, p.permission) for p in remaining] == [(other, "NO_PERMISSIONS")]


def test_registered_model_permission_crud(server, as_admin, mlflow_upstream):
    name, _ = server.create_user()
    user_id = as_admin.get_user(name).id
    model = mlflow_upstream.create_registered_model(unique("model with spaces/and-slash"))

    created = as_admin.create_registered_model_permission(model, name, "EDIT")
    assert isinstance(created, RegisteredModelPermission)
    assert (created.name, created.user_id, created.permission) == (model, user_id, "EDIT")

    got = as_admin.get_registered_model_permission(model, name)
    assert (got.name, got.user_id, got.permission) == (model, user_id, "EDIT")

    assert as_admin.update_registered_model_permission(model, name, "MANAGE") is None
    assert as_admin.get_registered_model_permission(model, name).permission == "MANAGE"

    grants = as_admin.get_user(name).registered_model_permissions
    assert [(p.name, p.permission) for p in grants] == [(model, "MANAGE")]

    assert as_admin.delete_registered_model_permission(model, name) is None
    with pytest.raises(MlflowException) as e:
        as_admin.get_registered_model_permission(model, name)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert as_admin.get_user(name).registered_model_permissions == []


def test_grants_are_per_user(server, as_admin, mlflow_upstream):
    a, _ = server.create_user()
    b, _ = server.create_user()
    exp = mlflow_upstream.create_experiment()
    as_admin.create_experiment_permission(exp, a, "EDIT")
    as_admin.create_experiment_permission(exp, b, "READ")
    as_admin.delete_experiment_permission(exp, a)
    assert as_admin.get_experiment_permission(exp, b).permission == "READ"
    with pytest.raises(MlflowException) as e:
        as_admin.get_experiment_permission(exp, a)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


# -- MANAGE semantics ----------------------------------------------------------------


def test_explicit_manage_grant_is_scoped_to_its_experiment(server, as_admin, login, mlflow_upstream):
    manager, manager_pw = server.create_user()
    target, _ = server.create_user()
    managed, unmanaged = mlflow_upstream.create_experiment(), mlflow_upstream.create_experiment()
    managed_model = mlflow_upstream.create_registered_model()
    other_model = mlflow_upstream.create_registered_model()
    as_admin.create_experiment_permission(managed, manager, "MANAGE")
    as_admin.create_registered_model_permission(managed_model, manager, "MANAGE")

    login(manager, manager_pw)
    client = server.client()

    # Full CRUD on the managed experiment.
    created = client.create_experiment_permission(managed, target, "READ")
    assert (created.experiment_id, created.permission) == (managed, "READ")
    assert client.get_experiment_permission(managed, target).permission == "READ"
    client.update_experiment_permission(managed, target, "EDIT")
    assert client.get_experiment_permission(managed, target).permission == "EDIT"
    client.delete_experiment_permission(managed, target)

    # Nothing on the other one.
    for call in [
        lambda: client.create_experiment_permission(unmanaged, target, "READ"),
        lambda: client.get_experiment_permission(unmanaged, target),
        lambda: client.update_experiment_permission(unmanaged, target, "EDIT"),
        lambda: client.delete_experiment_permission(unmanaged, target),
    ]:
        with pytest.raises(MlflowException) as e:
            call()
        assert e.value.error_code == "PERMISSION_DENIED"
        assert e.value.get_http_status_code() == 403

    # Same for registered models.
    client.create_registered_model_permission(managed_model, target, "READ")
    client.update_registered_model_permission(managed_model, target, "USE")
    assert client.get_registered_model_permission(managed_model, target).permission == "USE"
    client.delete_registered_model_permission(managed_model, target)
    with pytest.raises(MlflowException) as e:
        client.create_registered_model_permission(other_model, target, "READ")
    assert e.value.error_code == "PERMISSION_DENIED"


@pytest.mark.parametrize("level", ["READ", "USE", "EDIT", "NO_PERMISSIONS"])
def test_less_than_manage_cannot_manage(server, as_admin, login, level, mlflow_upstream):
    user, pw = server.create_user()
    target, _ = server.create_user()
    exp, model = mlflow_upstream.create_experiment(), mlflow_upstream.create_registered_model()
    as_admin.create_experiment_permission(exp, user, level)
    as_admin.create_registered_model_permission(model, user, level)
    login(user, pw)
    client = server.client()
    with pytest.raises(MlflowException) as e:
        client.create_experiment_permission(exp, target, "READ")
    assert e.value.error_code == "PERMISSION_DENIED"
    with pytest.raises(MlflowException) as e:
        client.create_registered_model_permission(model, target, "READ")
    assert e.value.error_code == "PERMISSION_DENIED"


def test_revoking_manage_takes_effect_on_next_request(server, as_admin, login, mlflow_upstream):
    manager, pw = server.create_user()
    target, _ = server.create_user()
    exp = mlflow_upstream.create_experiment()
    as_admin.create_experiment_permission(exp, manager, "MANAGE")
    login(manager, pw)
    server.client().create_experiment_permission(exp, target, "READ")

    login(ADMIN_USERNAME, server.admin_password)
    as_admin.update_experiment_permission(exp, manager, "EDIT")

    login(manager, pw)
    with pytest.raises(MlflowException) as e:
        server.client().get_experiment_permission(exp, target)
    assert e.value.error_code == "PERMISSION_DENIED"


def test_default_permission_decides_without_a_grant(server_by_default, login, mlflow_upstream):
    """No grant on an experiment: READ by default -> denied; MANAGE by default -> allowed.
    An explicit NO_PERMISSIONS denies whatever the default; a positive grant below the
    default is raised to it, as MLflow 3.17 combines them."""
    server = server_by_default
    ungranted, granted = mlflow_upstream.create_experiment(), mlflow_upstream.create_experiment()
    model = mlflow_upstream.create_registered_model()
    user, pw = server.create_user()
    target, _ = server.create_user()
    login(user, pw)
    client = server.client()

    if server.default_permission == "MANAGE":
        created = client.create_experiment_permission(ungranted, target, "READ")
        assert created.experiment_id == ungranted
        assert client.get_experiment_permission(ungranted, target).permission == "READ"
        client.update_experiment_permission(ungranted, target, "EDIT")
        client.delete_experiment_permission(ungranted, target)
        m = client.create_registered_model_permission(model, target, "READ")
        assert m.name == model
        client.delete_registered_model_permission(model, target)
    else:
        with pytest.raises(MlflowException) as e:
            client.create_experiment_permission(ungranted, target, "READ")
        assert e.value.error_code == "PERMISSION_DENIED"
        with pytest.raises(MlflowException) as e:
            client.create_registered_model_permission(model, target, "READ")
        assert e.value.error_code == "PERMISSION_DENIED"

    # An explicit NO_PERMISSIONS (MLflow 3.17's DENY) wins over the default.
    login(ADMIN_USERNAME, server.admin_password)
    server.client().create_experiment_permission(granted, user, "NO_PERMISSIONS")
    login(user, pw)
    with pytest.raises(MlflowException) as e:
        client.create_experiment_permission(granted, target, "READ")
    assert e.value.error_code == "PERMISSION_DENIED"

    # A READ grant is floored to the default: under MANAGE it manages.
    login(ADMIN_USERNAME, server.admin_password)
    server.client().update_experiment_permission(granted, user, "READ")
    login(user, pw)
    if server.default_permission == "MANAGE":
        client.create_experiment_permission(granted, target, "READ")
        client.delete_experiment_permission(granted, target)
    else:
        with pytest.raises(MlflowException) as e:
            client.create_experiment_permission(granted, target, "READ")
        assert e.value.error_code == "PERMISSION_DENIED"

    # Still not an admin: the default never reaches the user API.
    with pytest.raises(MlflowException) as e:
        client.get_user(target)
    assert e.value.error_code == "PERMISSION_DENIED"


# -- Grants need an existing resource ------------------------------------------------

MISSING_EXPERIMENT = "987654321"

# Per kind: the create and get paths, and the fields naming a resource MLflow lacks.
MISSING_RESOURCES = [
    ("/api/2.0/mlflow/experiments/permissions", {"experiment_id": MISSING_EXPERIMENT}),
    ("/api/2.0/mlflow/registered-models/permissions", {"name": "missing-model"}),
    # A prompt is a registered model to the grant API.
    ("/api/2.0/mlflow/registered-models/permissions", {"name": "missing-prompt"}),
    ("/api/3.0/mlflow/scorers/permissions",
     {"experiment_id": MISSING_EXPERIMENT, "scorer_name": "missing-scorer"}),
    ("/api/3.0/mlflow/gateway/secrets/permissions", {"secret_id": "missing-secret"}),
    ("/api/3.0/mlflow/gateway/endpoints/permissions", {"endpoint_id": "missing-endpoint"}),
    ("/api/3.0/mlflow/gateway/model-definitions/permissions",
     {"model_definition_id": "missing-definition"}),
]


def test_stock_client_cannot_grant_on_a_missing_experiment(server, as_admin):
    name, _ = server.create_user()
    with pytest.raises(MlflowException) as e:
        as_admin.create_experiment_permission(MISSING_EXPERIMENT, name, "MANAGE")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert e.value.get_http_status_code() == 404
    with pytest.raises(MlflowException) as e:
        as_admin.create_registered_model_permission("missing-model", name, "MANAGE")
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    # Nothing was created.
    with pytest.raises(MlflowException) as e:
        as_admin.get_experiment_permission(MISSING_EXPERIMENT, name)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert as_admin.get_user(name).experiment_permissions == []
    assert as_admin.get_user(name).registered_model_permissions == []


@pytest.mark.parametrize("base, fields", MISSING_RESOURCES,
                         ids=[f"{b.split('/')[-2]}-{list(f.values())[-1]}" for b, f in MISSING_RESOURCES])
def test_grants_on_missing_resources_are_refused(server_by_default, base, fields):
    """The admin, and a user who manages everything by default, get 404 and no grant;
    a user who may not manage gets the 403 they get on an existing resource."""
    server = server_by_default
    target, _ = server.create_user()
    user, pw = server.create_user()
    body = {**fields, "username": target, "permission": "READ"}
    callers = [server.admin_auth()]
    if server.default_permission == "MANAGE":
        callers.append((user, pw))
    for auth in callers:
        r = requests.post(server.base_url + f"{base}/create", json=body, auth=auth, timeout=30)
        assert r.status_code == 404, r.text
        assert r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST", r.text
        got = requests.get(server.base_url + f"{base}/get", auth=server.admin_auth(),
                           params={**fields, "username": target}, timeout=30)
        assert got.status_code == 404, got.text
        assert "permission" in got.json()["message"], got.text
    if server.default_permission == "READ":
        r = requests.post(server.base_url + f"{base}/create", json=body, auth=(user, pw), timeout=30)
        assert (r.status_code, r.json()["error_code"]) == (403, "PERMISSION_DENIED"), r.text


def test_a_grant_named_ahead_cannot_lock_out_the_creator(server_by_default, login, mlflow_upstream):
    """A names an experiment id and a model name before they exist, for themselves
    (MANAGE) and against B (NO_PERMISSIONS); refused. B then creates both, and
    manages both."""
    server = server_by_default
    a, a_pw = server.create_user()
    b, b_pw = server.create_user()
    future_experiment = str(int(mlflow_upstream.create_experiment()) + 1)
    future_model = unique("future-model")
    refused_with = 404 if server.default_permission == "MANAGE" else 403
    for base, fields in [
        ("/api/2.0/mlflow/experiments/permissions", {"experiment_id": future_experiment}),
        ("/api/2.0/mlflow/registered-models/permissions", {"name": future_model}),
    ]:
        for username, level in [(a, "MANAGE"), (b, "NO_PERMISSIONS")]:
            r = requests.post(server.base_url + f"{base}/create", auth=(a, a_pw), timeout=30,
                              json={**fields, "username": username, "permission": level})
            assert r.status_code == refused_with, r.text

    # B creates both, through mlguard, over either prefix.
    r = requests.post(server.base_url + "/api/2.0/mlflow/experiments/create", auth=(b, b_pw),
                      json={"name": unique("b-exp")}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["experiment_id"] == future_experiment
    r = requests.post(server.base_url + "/ajax-api/2.0/mlflow/registered-models/create",
                      auth=(b, b_pw), json={"name": future_model}, timeout=30)
    assert r.status_code == 200, r.text

    login(b, b_pw)
    client = server.client()
    assert client.get_experiment_permission(future_experiment, b).permission == "MANAGE"
    assert client.get_registered_model_permission(future_model, b).permission == "MANAGE"
    for prefix in ["/api", "/ajax-api"]:
        got = requests.get(server.base_url + f"{prefix}/2.0/mlflow/experiments/get",
                           params={"experiment_id": future_experiment}, auth=(b, b_pw), timeout=30)
        assert got.status_code == 200, got.text
        got = requests.get(server.base_url + f"{prefix}/2.0/mlflow/registered-models/get",
                           params={"name": future_model}, auth=(b, b_pw), timeout=30)
        assert got.status_code == 200, got.text
    # B decides who else gets in; A holds nothing on either.
    client.create_experiment_permission(future_experiment, a, "READ")
    client.delete_experiment_permission(future_experiment, a)
    login(ADMIN_USERNAME, server.admin_password)
    grants = server.client().get_user(a)
    assert grants.experiment_permissions == [] and grants.registered_model_permissions == []


def test_grants_on_existing_resources_of_every_kind(server, mlflow_upstream):
    """The check finds each kind where MLflow keeps it: created there, granted here."""
    target, _ = server.create_user()
    exp = mlflow_upstream.create_experiment()
    secret = mlflow_upstream.create_gateway_secret()
    definition = mlflow_upstream.create_gateway_model_definition(secret)
    for base, fields in [
        ("/api/3.0/mlflow/scorers/permissions",
         {"experiment_id": exp, "scorer_name": mlflow_upstream.create_scorer(exp)}),
        ("/api/3.0/mlflow/gateway/secrets/permissions", {"secret_id": secret}),
        ("/api/3.0/mlflow/gateway/model-definitions/permissions",
         {"model_definition_id": definition}),
        ("/api/3.0/mlflow/gateway/endpoints/permissions",
         {"endpoint_id": mlflow_upstream.create_gateway_endpoint(definition)}),
    ]:
        r = requests.post(server.base_url + f"{base}/create", auth=server.admin_auth(), timeout=30,
                          json={**fields, "username": target, "permission": "USE"})
        assert r.status_code == 200, r.text
        got = requests.get(server.base_url + f"{base}/get", auth=server.admin_auth(), timeout=30,
                           params={**fields, "username": target})
        assert got.status_code == 200, got.text


def test_a_grant_outlives_its_deleted_experiment_for_cleanup(server, as_admin, mlflow_upstream):
    name, _ = server.create_user()
    exp = mlflow_upstream.create_experiment()
    as_admin.create_experiment_permission(exp, name, "READ")
    r = requests.post(f"{mlflow_upstream.url}/api/2.0/mlflow/experiments/delete",
                      json={"experiment_id": exp}, timeout=30)
    assert r.status_code == 200, r.text
    assert as_admin.get_experiment_permission(exp, name).permission == "READ"
    as_admin.update_experiment_permission(exp, name, "EDIT")
    as_admin.delete_experiment_permission(exp, name)


def test_no_grant_while_the_tracking_server_is_down(mlguard_factory):
    from conftest import free_port

    server = mlguard_factory(
        "down", extra_env={"MLGUARD_UPSTREAM__URL": f"http://127.0.0.1:{free_port()}"}
    ).start()
    name, _ = server.create_user()
    r = requests.post(server.base_url + "/api/2.0/mlflow/experiments/permissions/create",
                      auth=server.admin_auth(), timeout=30,
                      json={"experiment_id": "1", "username": name, "permission": "READ"})
    assert r.status_code == 502, r.text
    assert r.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
    got = requests.get(server.base_url + "/api/2.0/mlflow/experiments/permissions/get",
                       auth=server.admin_auth(), timeout=30,
                       params={"experiment_id": "1", "username": name})
    assert got.status_code == 404, got.text
