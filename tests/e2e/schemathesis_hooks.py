"""Schemathesis hooks for `test_schemathesis.py`, loaded through SCHEMATHESIS_HOOKS.

The fuzzer authenticates as an admin and learns that admin's username (from the
Basic credentials and from responses), so it would sooner or later delete, demote
or re-password its own account and spend the rest of the run on 401s and 403s.
Those requests go to a bystander account instead; everything else is untouched.
"""

from __future__ import annotations

import os

import schemathesis

PROTECTED_USERNAME = os.environ["MLGUARD_FUZZ_PROTECTED_USERNAME"]
BYSTANDER_USERNAME = os.environ["MLGUARD_FUZZ_BYSTANDER_USERNAME"]

SELF_LOCKOUT_PATHS = {
    "/api/2.0/mlflow/users/delete",
    "/api/2.0/mlflow/users/update-admin",
    "/api/2.0/mlflow/users/update-password",
}


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.operation.path not in SELF_LOCKOUT_PATHS:
        return
    for fields in (case.body, case.query):
        if isinstance(fields, dict) and fields.get("username") == PROTECTED_USERNAME:
            fields["username"] = BYSTANDER_USERNAME
