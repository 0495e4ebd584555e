"""Grant CRUD for experiments and registered models, and MANAGE semantics, through
the real MLflow 3.10.1 client."""

import pytest
from mlflow.exceptions import MlflowException
from mlflow.server.auth.entities import ExperimentPermission, RegisteredModelPermission

from conftest import ADMIN_USERNAME, unique


def test_experiment_permission_crud(server, as_admin):
    name, _ = server.create_user()
    user_id = as_admin.get_user(name).id

    created = as_admin.create_experiment_permission("1", name, "READ")
    assert isinstance(created, ExperimentPermission)
    assert (created.experiment_id, created.user_id, created.permission) == ("1", user_id, "READ")

    got = as_admin.get_experiment_permission("1", name)
    assert (got.experiment_id, got.user_id, got.permission) == ("1", user_id, "READ")

    assert as_admin.update_experiment_permission("1", name, "EDIT") is None
    got = as_admin.get_experiment_permission("1", name)
    assert got.permission == "EDIT"

    # Every level round-trips, NO_PERMISSIONS included.
    for level in ["USE", "MANAGE", "NO_PERMISSIONS", "READ"]:
        as_admin.update_experiment_permission("1", name, level)
        assert as_admin.get_experiment_permission("1", name).permission == level

    # The experiment's existence is not checked (as in MLflow).
    far = as_admin.create_experiment_permission("99999", name, "NO_PERMISSIONS")
    assert (far.experiment_id, far.permission) == ("99999", "NO_PERMISSIONS")

    assert as_admin.delete_experiment_permission("1", name) is None
    with pytest.raises(MlflowException) as e:
        as_admin.get_experiment_permission("1", name)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert e.value.get_http_status_code() == 404

    # Deleting one grant leaves the other.
    remaining = as_admin.get_user(name).experiment_permissions
    assert [(p.experiment_id, p.permission) for p in remaining] == [("99999", "NO_PERMISSIONS")]


def test_registered_model_permission_crud(server, as_admin):
    name, _ = server.create_user()
    user_id = as_admin.get_user(name).id
    model = unique("model with spaces/and-slash")

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


def test_grants_are_per_user(server, as_admin):
    a, _ = server.create_user()
    b, _ = server.create_user()
    as_admin.create_experiment_permission("3", a, "EDIT")
    as_admin.create_experiment_permission("3", b, "READ")
    as_admin.delete_experiment_permission("3", a)
    assert as_admin.get_experiment_permission("3", b).permission == "READ"
    with pytest.raises(MlflowException) as e:
        as_admin.get_experiment_permission("3", a)
    assert e.value.error_code == "RESOURCE_DOES_NOT_EXIST"


# -- MANAGE semantics ----------------------------------------------------------------


def test_explicit_manage_grant_is_scoped_to_its_experiment(server, as_admin, login):
    manager, manager_pw = server.create_user()
    target, _ = server.create_user()
    as_admin.create_experiment_permission("7", manager, "MANAGE")
    as_admin.create_registered_model_permission("managed-model", manager, "MANAGE")

    login(manager, manager_pw)
    client = server.client()

    # Full CRUD on experiment 7.
    created = client.create_experiment_permission("7", target, "READ")
    assert (created.experiment_id, created.permission) == ("7", "READ")
    assert client.get_experiment_permission("7", target).permission == "READ"
    client.update_experiment_permission("7", target, "EDIT")
    assert client.get_experiment_permission("7", target).permission == "EDIT"
    client.delete_experiment_permission("7", target)

    # Nothing on experiment 8.
    for call in [
        lambda: client.create_experiment_permission("8", target, "READ"),
        lambda: client.get_experiment_permission("8", target),
        lambda: client.update_experiment_permission("8", target, "EDIT"),
        lambda: client.delete_experiment_permission("8", target),
    ]:
        with pytest.raises(MlflowException) as e:
            call()
        assert e.value.error_code == "PERMISSION_DENIED"
        assert e.value.get_http_status_code() == 403

    # Same for registered models.
    client.create_registered_model_permission("managed-model", target, "READ")
    client.update_registered_model_permission("managed-model", target, "USE")
    assert client.get_registered_model_permission("managed-model", target).permission == "USE"
    client.delete_registered_model_permission("managed-model", target)
    with pytest.raises(MlflowException) as e:
        client.create_registered_model_permission("other-model", target, "READ")
    assert e.value.error_code == "PERMISSION_DENIED"


@pytest.mark.parametrize("level", ["READ", "USE", "EDIT", "NO_PERMISSIONS"])
def test_less_than_manage_cannot_manage(server, as_admin, login, level):
    user, pw = server.create_user()
    target, _ = server.create_user()
    as_admin.create_experiment_permission("7", user, level)
    as_admin.create_registered_model_permission("m7", user, level)
    login(user, pw)
    client = server.client()
    with pytest.raises(MlflowException) as e:
        client.create_experiment_permission("7", target, "READ")
    assert e.value.error_code == "PERMISSION_DENIED"
    with pytest.raises(MlflowException) as e:
        client.create_registered_model_permission("m7", target, "READ")
    assert e.value.error_code == "PERMISSION_DENIED"


def test_revoking_manage_takes_effect_on_next_request(server, as_admin, login):
    manager, pw = server.create_user()
    target, _ = server.create_user()
    as_admin.create_experiment_permission("21", manager, "MANAGE")
    login(manager, pw)
    server.client().create_experiment_permission("21", target, "READ")

    login(ADMIN_USERNAME, server.admin_password)
    as_admin.update_experiment_permission("21", manager, "EDIT")

    login(manager, pw)
    with pytest.raises(MlflowException) as e:
        server.client().get_experiment_permission("21", target)
    assert e.value.error_code == "PERMISSION_DENIED"


def test_default_permission_decides_without_a_grant(server_by_default, login):
    """No grant on experiment 8: READ by default -> denied; MANAGE by default -> allowed.
    An explicit grant below MANAGE overrides even a MANAGE default."""
    server = server_by_default
    user, pw = server.create_user()
    target, _ = server.create_user()
    login(user, pw)
    client = server.client()

    if server.default_permission == "MANAGE":
        created = client.create_experiment_permission("8", target, "READ")
        assert created.experiment_id == "8"
        assert client.get_experiment_permission("8", target).permission == "READ"
        client.update_experiment_permission("8", target, "EDIT")
        client.delete_experiment_permission("8", target)
        m = client.create_registered_model_permission("default-model", target, "READ")
        assert m.name == "default-model"
        client.delete_registered_model_permission("default-model", target)
    else:
        with pytest.raises(MlflowException) as e:
            client.create_experiment_permission("8", target, "READ")
        assert e.value.error_code == "PERMISSION_DENIED"
        with pytest.raises(MlflowException) as e:
            client.create_registered_model_permission("default-model", target, "READ")
        assert e.value.error_code == "PERMISSION_DENIED"

    # An explicit grant wins over the default, whatever the default.
    login(ADMIN_USERNAME, server.admin_password)
    server.client().create_experiment_permission("9", user, "READ")
    login(user, pw)
    with pytest.raises(MlflowException) as e:
        client.create_experiment_permission("9", target, "READ")
    assert e.value.error_code == "PERMISSION_DENIED"

    # Still not an admin: the default never reaches the user API.
    with pytest.raises(MlflowException) as e:
        client.get_user(target)
    assert e.value.error_code == "PERMISSION_DENIED"
