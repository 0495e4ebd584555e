"""A Python client generated from the committed spec (`openapi/mlguard.json`) with
openapi-python-client, used exactly as generated, manages users, grants and
secrets on a running mlguard.

The client is generated into the test's temporary directory on every run, so a
spec the generator cannot turn into working code fails here, not in a platform
team's pipeline.
"""

from __future__ import annotations

import base64
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ADMIN_USERNAME, REPO, Mlguard, new_password, unique

SPEC = REPO / "openapi" / "mlguard.json"
PACKAGE = "mlguard_client"
GENERATE_TIMEOUT_S = 120


def generate_client(out_dir: Path) -> str:
    """Runs the generator from this venv; returns what it printed."""
    venv_bin = Path(sys.executable).parent
    done = subprocess.run(
        [
            str(venv_bin / "openapi-python-client"),
            "generate",
            "--path",
            str(SPEC),
            "--meta",
            "none",
            "--output-path",
            str(out_dir / PACKAGE),
        ],
        # The generator formats its output with ruff, installed beside it.
        env={**os.environ, "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"},
        capture_output=True,
        text=True,
        timeout=GENERATE_TIMEOUT_S,
        cwd=out_dir,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"openapi-python-client failed:\n{output}"
    return output


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """The generated package, imported."""
    out_dir = tmp_path_factory.mktemp("generated-client")
    output = generate_client(out_dir)
    # It still exits 0 when it drops an operation or a schema it cannot read; any
    # warning means the spec is not complete enough for generated clients.
    assert "warning" not in output.lower(), f"the generator warned:\n{output}"
    sys.path.insert(0, str(out_dir))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out_dir))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def secrets_server(tmp_path_factory, mlflow_upstream):
    """An mlguard with the secret store on, where users hold nothing by default, so
    every grant and revocation is visible to the user it concerns. In front of a real
    MLflow: grants name resources the tracking server holds."""
    kek = base64.b64encode(os.urandom(32)).decode()
    server = Mlguard(
        tmp_path_factory.mktemp("mlguard-generated-client"),
        default_permission="NO_PERMISSIONS",
        extra_env={
            "MLGUARD_SECRETS__ENABLED": "true",
            "MLGUARD_SECRETS__KEK": kek,
            "MLGUARD_UPSTREAM__URL": mlflow_upstream.url,
        },
    )
    server.secrets.add(kek)
    server.start()
    try:
        yield server
    finally:
        if server.proc is not None:
            server.stop()
        server.assert_no_secret_in_logs()


def basic_client(api, server, username: str, password: str):
    """The generated client with HTTP Basic: its AuthenticatedClient sends
    `<prefix> <token>`, and Basic's token is base64 of `user:password`."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return api.AuthenticatedClient(
        base_url=server.base_url,
        token=token,
        prefix="Basic",
        # A status the spec does not list is a spec bug: fail on it.
        raise_on_unexpected_status=True,
    )


def test_generated_client_manages_users_grants_and_secrets(api, secrets_server, mlflow_upstream):
    from mlguard_client.api.permissions import (
        create_experiment_permission,
        delete_experiment_permission,
        get_experiment_permission,
    )
    from mlguard_client.api.secrets import (
        create_and_bind_secret,
        create_secret_permission,
        delete_secret_permission,
        get_secret_info,
    )
    from mlguard_client.api.users import create_user, get_user
    from mlguard_client.models import (
        CreateAndBindRequest,
        CreateAndBindResponse,
        CreateUserRequest,
        EmptyResponse,
        ErrorBody,
        ExperimentPermissionRef,
        ExperimentPermissionRequest,
        ExperimentPermissionResponse,
        PermissionName,
        SecretPermissionRef,
        SecretPermissionRequest,
        SecretPermissionResponse,
        SecretResponse,
        UserResponse,
    )

    server = secrets_server
    admin = basic_client(api, server, ADMIN_USERNAME, server.admin_password)

    # A user.
    username, password = unique("platform-user"), new_password()
    server.secrets.add(password)
    created = create_user.sync(
        client=admin, body=CreateUserRequest(username=username, password=password)
    )
    assert isinstance(created, UserResponse), created
    assert created.user.username == username
    assert created.user.is_admin is False
    user = basic_client(api, server, username, password)
    # The new account logs in, through the same generated client.
    own = get_user.sync(client=user, username=username)
    assert isinstance(own, UserResponse), own
    assert own.user.id == created.user.id

    # A grant on an experiment, seen by the user in their own account.
    experiment_id = mlflow_upstream.create_experiment()
    granted = create_experiment_permission.sync(
        client=admin,
        body=ExperimentPermissionRequest(
            experiment_id=experiment_id, username=username, permission=PermissionName.EDIT
        ),
    )
    assert isinstance(granted, ExperimentPermissionResponse), granted
    assert granted.experiment_permission.experiment_id == experiment_id
    assert granted.experiment_permission.permission == PermissionName.EDIT
    assert granted.experiment_permission.user_id == created.user.id
    own = get_user.sync(client=user, username=username)
    assert [(p.experiment_id, p.permission) for p in own.user.experiment_permissions] == [
        (experiment_id, PermissionName.EDIT)
    ]

    # A secret. Its value goes in and never comes back out.
    value = "sk-generated-" + os.urandom(12).hex()
    server.secrets.add(value)
    made = create_and_bind_secret.sync_detailed(
        client=admin,
        body=CreateAndBindRequest(
            name=unique("openai-key"),
            value=value,
            provider="openai",
            resource_type="scorer_job",
            resource_id="job-1",
            field_name="api_key",
        ),
    )
    assert made.status_code == 200, made.content
    assert isinstance(made.parsed, CreateAndBindResponse), made.content
    assert value.encode() not in made.content
    secret_id = made.parsed.secret.secret_id
    assert made.parsed.binding.secret_id == secret_id
    assert made.parsed.secret.provider == "openai"

    # With nothing granted on it, the user may not even read its metadata.
    denied = get_secret_info.sync_detailed(client=user, secret_id=secret_id)
    assert denied.status_code == 403
    assert isinstance(denied.parsed, ErrorBody)
    assert denied.parsed.error_code == "PERMISSION_DENIED"

    shared = create_secret_permission.sync(
        client=admin,
        body=SecretPermissionRequest(
            secret_id=secret_id, username=username, permission=PermissionName.READ
        ),
    )
    assert isinstance(shared, SecretPermissionResponse), shared
    assert shared.secret_permission.permission == PermissionName.READ
    info = get_secret_info.sync_detailed(client=user, secret_id=secret_id)
    assert info.status_code == 200, info.content
    assert isinstance(info.parsed, SecretResponse)
    assert info.parsed.secret.name == made.parsed.secret.name
    assert value.encode() not in info.content

    # Revoking both grants takes effect on the user's next request.
    revoked = delete_experiment_permission.sync(
        client=admin,
        body=ExperimentPermissionRef(experiment_id=experiment_id, username=username),
    )
    assert isinstance(revoked, EmptyResponse), revoked
    gone = get_experiment_permission.sync_detailed(
        client=admin, experiment_id=experiment_id, username=username
    )
    assert gone.status_code == 404
    assert isinstance(gone.parsed, ErrorBody)
    assert gone.parsed.error_code == "RESOURCE_DOES_NOT_EXIST"
    own = get_user.sync(client=user, username=username)
    assert own.user.experiment_permissions == []

    unshared = delete_secret_permission.sync(
        client=admin, body=SecretPermissionRef(secret_id=secret_id, username=username)
    )
    assert isinstance(unshared, EmptyResponse), unshared
    denied = get_secret_info.sync_detailed(client=user, secret_id=secret_id)
    assert denied.status_code == 403
    assert isinstance(denied.parsed, ErrorBody)


def test_generated_client_authenticates_with_a_bearer_token(api, secrets_server):
    """The spec's second scheme: a token from tokens/create, sent as Bearer."""
    from mlguard_client.api.tokens import create_token
    from mlguard_client.api.users import create_user, get_user
    from mlguard_client.models import CreateUserRequest, ErrorBody, TokenResponse, UserResponse

    server = secrets_server
    admin = basic_client(api, server, ADMIN_USERNAME, server.admin_password)
    username, password = unique("token-user"), new_password()
    server.secrets.add(password)
    assert isinstance(
        create_user.sync(client=admin, body=CreateUserRequest(username=username, password=password)),
        UserResponse,
    )

    issued = create_token.sync(client=basic_client(api, server, username, password))
    assert isinstance(issued, TokenResponse), issued
    server.secrets.add(issued.token)
    bearer = api.AuthenticatedClient(
        base_url=server.base_url, token=issued.token, raise_on_unexpected_status=True
    )
    own = get_user.sync(client=bearer, username=username)
    assert isinstance(own, UserResponse), own
    assert own.user.username == username
    # The token carries the user's rights, not more.
    other = get_user.sync_detailed(client=bearer, username=ADMIN_USERNAME)
    assert other.status_code == 403
    assert isinstance(other.parsed, ErrorBody)
