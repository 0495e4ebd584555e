"""Error codes as the real MLflow 3.10.1 client surfaces them (`MlflowException.error_code`)."""

import pytest
from mlflow.exceptions import MlflowException, RestException

from conftest import ADMIN_USERNAME, module_server, new_password, unique


# Grants name resources the tracking server holds, so mlguard sits in front of MLflow.
@pytest.fixture(scope="module")
def server(tmp_path_factory, mlflow_upstream):
    yield from module_server(tmp_path_factory, "READ", mlflow_upstream)


def raises(call, code: str, status: int) -> MlflowException:
    with pytest.raises(MlflowException) as e:
        call()
    assert e.value.error_code == code, str(e.value)
    assert e.value.get_http_status_code() == status, str(e.value)
    return e.value


def test_duplicate_user(server, as_admin):
    name, _ = server.create_user()
    pw = new_password()
    server.secrets.add(pw)
    exc = raises(lambda: as_admin.create_user(name, pw), "RESOURCE_ALREADY_EXISTS", 400)
    # No SQL nor hash leaks into the message (MLflow leaks both).
    for needle in ["INSERT", "UNIQUE", "scrypt", "$argon2", pw]:
        assert needle not in exc.message


def test_duplicate_grants(server, as_admin, mlflow_upstream):
    name, _ = server.create_user()
    exp, model = mlflow_upstream.create_experiment(), mlflow_upstream.create_registered_model()
    as_admin.create_experiment_permission(exp, name, "READ")
    raises(
        lambda: as_admin.create_experiment_permission(exp, name, "EDIT"),
        "RESOURCE_ALREADY_EXISTS",
        400,
    )
    assert as_admin.get_experiment_permission(exp, name).permission == "READ"

    as_admin.create_registered_model_permission(model, name, "READ")
    raises(
        lambda: as_admin.create_registered_model_permission(model, name, "READ"),
        "RESOURCE_ALREADY_EXISTS",
        400,
    )


def test_missing_user(server, as_admin, mlflow_upstream):
    nobody = unique("nobody")
    exp, model = mlflow_upstream.create_experiment(), mlflow_upstream.create_registered_model()
    exc = raises(lambda: as_admin.get_user(nobody), "RESOURCE_DOES_NOT_EXIST", 404)
    assert nobody in exc.message
    raises(
        lambda: as_admin.update_user_password(nobody, new_password()),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )
    raises(lambda: as_admin.update_user_admin(nobody, True), "RESOURCE_DOES_NOT_EXIST", 404)
    raises(lambda: as_admin.delete_user(nobody), "RESOURCE_DOES_NOT_EXIST", 404)
    # Granting to an unknown user.
    raises(
        lambda: as_admin.create_experiment_permission(exp, nobody, "READ"),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )
    raises(
        lambda: as_admin.create_registered_model_permission(model, nobody, "READ"),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )


def test_missing_grants(server, as_admin):
    name, _ = server.create_user()
    exc = raises(
        lambda: as_admin.get_experiment_permission("2", name),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )
    assert exc.message.endswith(
        f"Experiment permission with experiment_id=2 and username={name} not found"
    )
    raises(
        lambda: as_admin.update_experiment_permission("2", name, "EDIT"),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )
    raises(lambda: as_admin.delete_experiment_permission("2", name), "RESOURCE_DOES_NOT_EXIST", 404)

    exc = raises(
        lambda: as_admin.get_registered_model_permission("secret-model", name),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )
    assert exc.message.endswith(
        "Registered model permission with workspace=default, "
        f"name=secret-model and username={name} not found"
    )
    raises(
        lambda: as_admin.update_registered_model_permission("secret-model", name, "READ"),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )
    raises(
        lambda: as_admin.delete_registered_model_permission("secret-model", name),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )


def test_invalid_permission_name(server, as_admin, mlflow_upstream):
    name, _ = server.create_user()
    exp, model = mlflow_upstream.create_experiment(), mlflow_upstream.create_registered_model()
    exc = raises(
        lambda: as_admin.create_experiment_permission(exp, name, "WRITE"),
        "INVALID_PARAMETER_VALUE",
        400,
    )
    assert "WRITE" in exc.message
    raises(
        lambda: as_admin.create_registered_model_permission(model, name, "WRITE"),
        "INVALID_PARAMETER_VALUE",
        400,
    )
    as_admin.create_experiment_permission(exp, name, "READ")
    raises(
        lambda: as_admin.update_experiment_permission(exp, name, "read"),
        "INVALID_PARAMETER_VALUE",
        400,
    )
    assert as_admin.get_experiment_permission(exp, name).permission == "READ"


def test_short_password(server, as_admin):
    name = unique("shorty")
    exc = raises(lambda: as_admin.create_user(name, "elevenchars"), "INVALID_PARAMETER_VALUE", 400)
    assert "12" in exc.message
    raises(lambda: as_admin.get_user(name), "RESOURCE_DOES_NOT_EXIST", 404)
    # Exactly 12 characters is enough.
    twelve = "twelve-chars"
    server.secrets.add(twelve)
    assert as_admin.create_user(name, twelve).username == name

    # update-password applies the same rule (stricter than MLflow, on purpose).
    raises(
        lambda: as_admin.update_user_password(name, "short"),
        "INVALID_PARAMETER_VALUE",
        400,
    )


def test_non_admin_is_denied_admin_routes(server, login):
    name, pw = server.create_user()
    other, _ = server.create_user()
    login(name, pw)
    client = server.client()
    raises(lambda: client.create_user(unique("x"), new_password()), "PERMISSION_DENIED", 403)
    raises(lambda: client.get_user(other), "PERMISSION_DENIED", 403)
    # Probing for a name that does not exist gives the same answer.
    raises(lambda: client.get_user(unique("ghost")), "PERMISSION_DENIED", 403)
    raises(lambda: client.get_user(ADMIN_USERNAME), "PERMISSION_DENIED", 403)
    raises(lambda: client.update_user_password(other, new_password()), "PERMISSION_DENIED", 403)
    raises(lambda: client.update_user_admin(name, True), "PERMISSION_DENIED", 403)
    raises(lambda: client.delete_user(other), "PERMISSION_DENIED", 403)


def test_wrong_password_is_unauthenticated(server, login):
    name, pw = server.create_user()
    login(name, pw + "x")
    with pytest.raises(MlflowException) as e:
        server.client().get_user(name)
    # mlguard answers 401 in MLflow's JSON error shape, so the client raises a
    # RestException carrying UNAUTHENTICATED (with the real MLflow, whose 401 is
    # HTML, it raises a plain MlflowException mapped from the status: same code).
    assert isinstance(e.value, RestException)
    assert e.value.error_code == "UNAUTHENTICATED"
    assert e.value.get_http_status_code() == 401
    assert "not authenticated" in e.value.message

    # Unknown user: the very same answer.
    login(unique("stranger"), pw)
    with pytest.raises(MlflowException) as e2:
        server.client().get_user(name)
    assert e2.value.error_code == "UNAUTHENTICATED"
    assert e2.value.message == e.value.message
