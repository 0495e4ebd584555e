"""The stock MLflow 3.17.2 `AuthServiceClient` against the real mlguard binary: every
method it has, as an admin and, where a plain user may call it, as one."""

from __future__ import annotations

import pytest
from mlflow.exceptions import RestException
from mlflow.server import get_app_client

from conftest import ADMIN_USERNAME, e2e


def client(server):
    return get_app_client("basic-auth", tracking_uri=server.base_url)


def refused(call, code: str) -> RestException:
    with pytest.raises(RestException) as caught:
        call()
    assert caught.value.error_code == code, caught.value
    return caught.value


def test_users_round_trip_as_admin(server, login):
    login(ADMIN_USERNAME, server.admin_password)
    auth = client(server)
    name, password = e2e.unique("alice"), e2e.new_password()
    server.secrets.add(password)
    user = auth.create_user(name, password)
    assert (user.username, user.is_admin) == (name, False)
    assert auth.get_user(name).id == user.id
    new_password = e2e.new_password()
    server.secrets.add(new_password)
    auth.update_user_password(name, new_password)
    auth.update_user_admin(name, True)
    assert auth.get_user(name).is_admin
    auth.delete_user(name)
    refused(lambda: auth.get_user(name), "RESOURCE_DOES_NOT_EXIST")


def test_roles_round_trip_as_admin(server, login):
    login(ADMIN_USERNAME, server.admin_password)
    auth = client(server)
    bob, _ = server.create_user(e2e.unique("bob"))
    role = auth.create_role("default", e2e.unique("readers"), description="read all")
    assert (role.workspace, role.description, role.permissions) == ("default", "read all", [])
    assert auth.get_role(role.id).name == role.name
    assert role.id in [r.id for r in auth.list_roles("default")]
    assert role.id in [r.id for r in auth.list_all_roles()]
    renamed = auth.update_role(role.id, name=role.name + "-x", description="changed")
    assert (renamed.name, renamed.description) == (role.name + "-x", "changed")

    row = auth.add_role_permission(role.id, "experiment", "*", "READ")
    assert (row.role_id, row.resource_type, row.resource_pattern, row.permission) == (
        role.id,
        "experiment",
        "*",
        "READ",
    )
    assert [r.id for r in auth.list_role_permissions(role.id)] == [row.id]
    assert auth.update_role_permission(row.id, "DENY").permission == "DENY"

    assignment = auth.assign_role(bob, role.id)
    assert assignment.role_id == role.id
    assert [a.id for a in auth.list_role_users(role.id)] == [assignment.id]
    assert [r.id for r in auth.list_user_roles(bob)] == [role.id]
    # The role's DENY is what a check on bob resolves to.
    got = auth.get_user_permission(bob, "experiment", "1")
    assert (got.allowed, got.permission) == (False, "DENY")
    auth.unassign_role(bob, role.id)
    assert auth.list_user_roles(bob) == []

    auth.remove_role_permission(row.id)
    assert auth.list_role_permissions(role.id) == []
    auth.delete_role(role.id)
    error = refused(lambda: auth.get_role(role.id), "RESOURCE_DOES_NOT_EXIST")
    assert f"Role with id={role.id} not found" in error.message


def test_per_user_permissions_as_admin_and_as_the_user(server, login):
    bob, bob_password = server.create_user(e2e.unique("bob"))
    login(ADMIN_USERNAME, server.admin_password)
    auth = client(server)
    auth.grant_user_permission(bob, "experiment", "5", "USE")
    error = refused(
        lambda: auth.grant_user_permission(bob, "experiment", "5", "READ"),
        "RESOURCE_ALREADY_EXISTS",
    )
    assert "already exists" in error.message
    got = auth.get_user_permission(bob, "experiment", "5")
    assert (got.allowed, got.permission) == (True, "USE")
    # The synthetic role is an ordinary role in the listings.
    [synthetic] = auth.list_user_roles(bob)
    assert synthetic.name.startswith("__user_")
    assert [(p.resource_pattern, p.permission) for p in synthetic.permissions] == [("5", "USE")]

    # The user reads their own standing and roles, and nobody else's.
    login(bob, bob_password)
    own = client(server)
    got = own.get_user_permission(bob, "experiment", "5")
    assert (got.allowed, got.permission) == (True, "USE")
    assert [r.id for r in own.list_user_roles(bob)] == [synthetic.id]
    assert own.get_user(bob).username == bob
    refused(lambda: own.get_user_permission(ADMIN_USERNAME, "experiment", "5"), "PERMISSION_DENIED")
    refused(lambda: own.list_user_roles(ADMIN_USERNAME), "PERMISSION_DENIED")
    refused(lambda: own.list_all_roles(), "PERMISSION_DENIED")
    refused(lambda: own.create_role("default", e2e.unique("mine")), "PERMISSION_DENIED")
    refused(lambda: own.get_role(999999), "PERMISSION_DENIED")
    # Holding a role in default makes bob a viewer of default's roles.
    assert synthetic.id in [r.id for r in own.list_roles("default")]
    assert own.get_role(synthetic.id).id == synthetic.id
    refused(lambda: own.grant_user_permission(bob, "experiment", "6", "READ"), "PERMISSION_DENIED")
    new_password = e2e.new_password()
    server.secrets.add(new_password)
    own.update_user_password(bob, new_password, current_password=bob_password)
    login(bob, new_password)

    login(ADMIN_USERNAME, server.admin_password)
    auth.revoke_user_permission(bob, "experiment", "5")
    got = auth.get_user_permission(bob, "experiment", "5")
    assert (got.allowed, got.permission) == (False, "NO_PERMISSIONS")
    refused(lambda: auth.revoke_user_permission(bob, "experiment", "5"), "RESOURCE_DOES_NOT_EXIST")


def test_a_resource_manager_delegates_through_the_client(server, login):
    alice, alice_password = server.create_user(e2e.unique("alice"))
    bob, _ = server.create_user(e2e.unique("bob"))
    experiment = server.upstream.create_experiment()
    login(ADMIN_USERNAME, server.admin_password)
    client(server).grant_user_permission(alice, "experiment", experiment, "MANAGE")
    login(alice, alice_password)
    auth = client(server)
    auth.grant_user_permission(bob, "experiment", experiment, "EDIT")
    auth.revoke_user_permission(bob, "experiment", experiment)

    refused(lambda: auth.grant_user_permission(bob, "experiment", "*", "READ"), "PERMISSION_DENIED")
