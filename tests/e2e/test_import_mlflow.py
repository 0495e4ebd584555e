"""Migrating from MLflow's basic-auth app with `mlguard import-mlflow`.

The source databases are real:
- MLflow 3.10.1's, written by its own server (`mlflow server --app-name basic-auth`)
  driven by its own client, on SQLite and on PostgreSQL (through psycopg2). One user's
  hash is then rewritten to the `pbkdf2:sha256` format older werkzeug releases wrote,
  with werkzeug's own `generate_password_hash` (MLflow 3.10.1 only writes scrypt);
- MLflow 2.22.2's, from the committed dump `fixtures/mlflow-2.22.2-basic_auth.sql`
  (see `fixtures/make_mlflow2_auth_db.py`: 2.x cannot be installed beside 3.10.1).

Each is imported into mlguard, and then every user logs in to mlguard with their
MLflow password and sees, through the MLflow client, exactly what MLflow showed them.
One MLflow server per source, shared by the tests of this module.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from mlflow.exceptions import MlflowException
from werkzeug.security import generate_password_hash

from conftest import Mlguard, new_password, unique
from import_support import MlflowAuthServer, as_user, auth_client, imported, run_import, summary
FIXTURES = Path(__file__).resolve().parent / "fixtures"
POSTGRES_ADMIN_URL = os.environ.get(
    "MLGUARD_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test"
)

# The summary table's rows, as `mlguard import-mlflow` labels them, and the MLflow
# table each counts.
GRANT_TABLES = {
    "experiment grants": "experiment_permissions",
    "registered-model grants": "registered_model_permissions",
    "scorer grants": "scorer_permissions",
    "gateway-secret grants": "gateway_secret_permissions",
    "gateway-endpoint grants": "gateway_endpoint_permissions",
    "gateway-model-definition grants": "gateway_model_definition_permissions",
}


# ---------------------------------------------------------------------------------
# Helpers


def sqlite_url(path: Path) -> str:
    return f"sqlite://{path}"


def mlguard_snapshot(db: Path) -> dict | None:
    """Everything an import may write to mlguard's SQLite store."""
    if not db.exists():
        return None
    with contextlib.closing(sqlite3.connect(db)) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return {
            table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall()) if table in tables else None
            for table in ("users", "grants", "mlflow_imported_users")
        }


def stored_hashes(db: Path) -> dict[str, str]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return dict(conn.execute("SELECT username, password_hash FROM users"))


def psql(url: str, sql: str) -> str:
    done = subprocess.run(
        ["psql", url, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-At", "-c", sql],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"psql failed ({sql}): {done.stderr}"
    return done.stdout


@contextlib.contextmanager
def postgres_database():
    """A fresh database on the test PostgreSQL server; yields its URL."""
    name = f"mlguard_import_e2e_{secrets.token_hex(6)}"
    psql(POSTGRES_ADMIN_URL, f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(POSTGRES_ADMIN_URL)._replace(path="/" + name))
    finally:
        psql(POSTGRES_ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---------------------------------------------------------------------------------
# The real MLflow basic-auth server


@dataclass
class Probes:
    """Gateway resources whose level every user's view is checked on: MLflow's
    `get_user` does not list gateway grants."""

    secrets: list[str] = field(default_factory=list)
    endpoints: list[str] = field(default_factory=list)
    model_definitions: list[str] = field(default_factory=list)


@dataclass
class Source:
    """An MLflow basic-auth database and what MLflow showed of it."""

    url: str
    passwords: dict[str, str]
    probes: Probes
    view: dict | None = None
    sqlite_path: Path | None = None


def populate(server: MlflowAuthServer, url: str, legacy_hash_in: Path | None) -> Source:
    """Users with and without admin and grants of every kind, made through MLflow's
    own API: creators get MANAGE from MLflow's after-hooks, the rest is granted by the
    admin with the basic-auth client."""
    from mlflow import MlflowClient

    passwords = {"admin": server.admin_password}
    names = {n: unique(n) for n in ("alice", "bob", "carol", "dave", "erin")}
    probes = Probes()
    with as_user("admin", server.admin_password):
        admin = auth_client(server.base_url)
        for name in names.values():
            passwords[name] = new_password()
            admin.create_user(name, passwords[name])
        admin.update_user_admin(names["carol"], True)
    alice, bob, carol, dave, erin = (names[n] for n in ("alice", "bob", "carol", "dave", "erin"))

    with as_user(alice, passwords[alice]):
        experiment_id = MlflowClient(server.base_url).create_experiment(unique("alice-exp"))
    model = unique("bob model")
    with as_user(bob, passwords[bob]):
        MlflowClient(server.base_url).create_registered_model(model)

    with as_user("admin", server.admin_password):
        admin = auth_client(server.base_url)
        admin.create_experiment_permission(experiment_id, bob, "READ")
        admin.create_experiment_permission(experiment_id, dave, "NO_PERMISSIONS")
        admin.create_experiment_permission("424242", erin, "EDIT")
        admin.create_registered_model_permission(model, alice, "EDIT")
        admin.create_scorer_permission(experiment_id, "relevance", alice, "USE")
        admin.create_scorer_permission(experiment_id, "safety/v2", bob, "MANAGE")
        admin.create_gateway_secret_permission("gw-secret-1", bob, "USE")
        admin.create_gateway_endpoint_permission("gw-endpoint-1", alice, "MANAGE")
        admin.create_gateway_model_definition_permission("gw-model-def-1", carol, "READ")
        admin.create_gateway_model_definition_permission("gw-model-def-1", erin, "NO_PERMISSIONS")

    if legacy_hash_in is not None:
        # What werkzeug < 2.3 wrote (MLflow 2.x of 2023); MLflow 3.10.1 writes scrypt.
        with contextlib.closing(sqlite3.connect(legacy_hash_in)) as conn:
            conn.execute(
                "UPDATE users SET password_hash = ? WHERE username = ?",
                (generate_password_hash(passwords[erin], "pbkdf2:sha256:600000"), erin),
            )
            conn.commit()

    probes.secrets = ["gw-secret-1", "gw-secret-2"]
    probes.endpoints = ["gw-endpoint-1", "gw-endpoint-2"]
    probes.model_definitions = ["gw-model-def-1", "gw-model-def-2"]
    return Source(url=url, passwords=passwords, probes=probes)


def outcome(call) -> str:
    try:
        return call().permission
    except MlflowException as e:
        return e.error_code


def view_of(base_url: str, source: Source) -> dict:
    """What each user sees of themself (every experiment, model and scorer grant),
    and every user's level on each gateway probe, all through the MLflow client.
    User ids are left out: mlguard numbers its own."""
    view = {}
    for name, password in sorted(source.passwords.items()):
        with as_user(name, password):
            user = auth_client(base_url).get_user(name)
        view[name] = {
            "is_admin": user.is_admin,
            "experiments": sorted((p.experiment_id, p.permission) for p in user.experiment_permissions),
            "models": sorted((p.name, p.permission) for p in user.registered_model_permissions),
            "scorers": sorted(
                (p.experiment_id, p.scorer_name, p.permission) for p in user.scorer_permissions
            ),
        }
    probes = source.probes
    with as_user("admin", source.passwords["admin"]):
        admin = auth_client(base_url)
        for name in sorted(source.passwords):
            levels = view[name]["levels"] = {}
            for s in probes.secrets:
                levels[f"secret {s}"] = outcome(lambda: admin.get_gateway_secret_permission(s, name))
            for p in probes.endpoints:
                levels[f"endpoint {p}"] = outcome(
                    lambda: admin.get_gateway_endpoint_permission(p, name)
                )
            for d in probes.model_definitions:
                levels[f"model definition {d}"] = outcome(
                    lambda: admin.get_gateway_model_definition_permission(d, name)
                )
    return view


def assert_view_is_telling(view: dict) -> None:
    """A comparison of two views proves something only if they hold something."""
    users = view.values()
    assert any(u["is_admin"] for u in users) and not all(u["is_admin"] for u in users)
    for kind in ("experiments", "models", "scorers"):
        assert any(u[kind] for u in users), f"no {kind} grant in {view}"
    levels = [level for u in users for level in u["levels"].values()]
    for needed in ("NO_PERMISSIONS", "USE", "MANAGE", "READ", "RESOURCE_DOES_NOT_EXIST"):
        assert needed in levels, f"no {needed} among the gateway levels: {view}"


def mlguard_on(mlguard_factory, name: str, database_url: str, source: Source) -> Mlguard:
    server = mlguard_factory(name, database_url=database_url, admin_password=source.passwords["admin"])
    server.secrets.update(source.passwords.values())
    return server


def count_rows(db: Path, table: str) -> int:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


# ---------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def mlflow_sqlite(tmp_path_factory) -> Source:
    """A basic-auth database written by MLflow 3.10.1 on SQLite."""
    workdir = tmp_path_factory.mktemp("mlflow-sqlite")
    db = workdir / "basic_auth.db"
    server = MlflowAuthServer(workdir, f"sqlite:///{db}").start()
    try:
        source = populate(server, sqlite_url(db), legacy_hash_in=db)
        source.view = view_of(server.base_url, source)
    finally:
        server.stop()
    assert_view_is_telling(source.view)
    source.sqlite_path = db
    return source


def assert_no_secret(text: str, source: Source) -> None:
    for password in source.passwords.values():
        assert password not in text, "a password reached the output"
    if source.sqlite_path is not None:
        for stored in stored_hashes(source.sqlite_path).values():
            digest = stored.rsplit("$", 1)[-1]
            assert digest not in text, "a password hash reached the output"


# ---------------------------------------------------------------------------------
# Tests


def test_every_user_keeps_their_password_and_permissions(mlflow_sqlite, mlguard_factory, tmp_path):
    source = mlflow_sqlite
    db = tmp_path / "mlguard.db"
    done = run_import(source.url, sqlite_url(db))
    assert done.returncode == 0, done.stdout + done.stderr
    assert_no_secret(done.stdout + done.stderr, source)

    table = summary(done.stdout)
    assert table["users"] == dict(found=6, created=6, updated=0, unchanged=0, skipped=0, conflicts=0)
    for label, mlflow_table in GRANT_TABLES.items():
        rows = count_rows(source.sqlite_path, mlflow_table)
        assert rows > 0, f"the MLflow database has no {mlflow_table}: the test would prove nothing"
        assert table[label] == dict(
            found=rows, created=rows, updated=0, unchanged=0, skipped=0, conflicts=0
        ), label
    assert "Imported: created 6 user(s)" in done.stdout

    server = mlguard_on(mlguard_factory, "imported", sqlite_url(db), source).start()
    assert view_of(server.base_url, source) == source.view

    # Wrong passwords stay wrong.
    for name in source.passwords:
        with as_user(name, source.passwords[name] + "x"), pytest.raises(MlflowException) as e:
            auth_client(server.base_url).get_user(name)
        assert e.value.error_code == "UNAUTHENTICATED"

    # Having logged in, every account now holds argon2id, and still logs in.
    hashes = stored_hashes(db)
    assert all(h.startswith("$argon2id$") for h in hashes.values()), hashes.keys()
    for name, password in source.passwords.items():
        with as_user(name, password):
            assert auth_client(server.base_url).get_user(name).username == name


def test_a_repeated_import_changes_nothing(mlflow_sqlite, mlguard_factory, tmp_path):
    source = mlflow_sqlite
    db = tmp_path / "mlguard.db"
    imported(source.url, sqlite_url(db))
    first = mlguard_snapshot(db)

    again = imported(source.url, sqlite_url(db))
    assert mlguard_snapshot(db) == first
    assert "Nothing to do" in again
    table = summary(again)
    for label, row in table.items():
        assert row["created"] == row["updated"] == row["conflicts"] == 0, (label, row)
        assert row["unchanged"] == row["found"], (label, row)

    # Logins replace the hashes; the password is still recognised as MLflow's.
    server = mlguard_on(mlguard_factory, "repeat", sqlite_url(db), source).start()
    for name, password in source.passwords.items():
        with as_user(name, password):
            auth_client(server.base_url).get_user(name)
    server.stop()
    after_logins = mlguard_snapshot(db)
    assert after_logins != first
    third = imported(source.url, sqlite_url(db))
    assert "Nothing to do" in third, third
    assert mlguard_snapshot(db) == after_logins


def test_a_dry_run_only_prints(mlflow_sqlite, tmp_path):
    db = tmp_path / "mlguard.db"
    out = imported(mlflow_sqlite.url, sqlite_url(db), "--dry-run")
    assert "Dry run: nothing was written" in out
    assert summary(out)["users"]["created"] == 6
    snapshot = mlguard_snapshot(db)
    # Not even the schema: the dry run's migrations were rolled back with the rest.
    assert snapshot is None or snapshot == {"users": None, "grants": None, "mlflow_imported_users": None}


def test_a_conflicting_admin_is_reported_then_overwritten(mlflow_sqlite, mlguard_factory, tmp_path):
    """The usual slip: `mlguard serve` ran first and created its own `admin`."""
    source = mlflow_sqlite
    db = tmp_path / "mlguard.db"
    server = mlguard_on(mlguard_factory, "conflict", sqlite_url(db), source)
    own_admin_password = new_password()
    server.admin_password = own_admin_password
    server.secrets.add(own_admin_password)
    server.start()
    server.stop()

    out = imported(source.url, sqlite_url(db))
    assert re.search(
        r'^conflict\s+user "admin": already in mlguard with different data \(its password differs\)',
        out,
        re.MULTILINE,
    ), out
    assert "run again with --overwrite" in out
    table = summary(out)
    assert (table["users"]["created"], table["users"]["conflicts"]) == (5, 1)

    server.start()
    with as_user("admin", own_admin_password):
        assert auth_client(server.base_url).get_user("admin").is_admin
    with as_user("admin", source.passwords["admin"]), pytest.raises(MlflowException):
        auth_client(server.base_url).get_user("admin")
    server.stop()

    out = imported(source.url, sqlite_url(db), "--overwrite")
    assert re.search(r'^overwritten\s+user "admin"', out, re.MULTILINE), out
    server.start()
    assert view_of(server.base_url, source) == source.view


def test_an_unknown_hash_format_is_reported_not_dropped(mlflow_sqlite, mlguard_factory, tmp_path):
    source = mlflow_sqlite
    copy = tmp_path / "basic_auth.db"
    shutil.copy(source.sqlite_path, copy)
    dave = next(n for n in source.passwords if n.startswith("dave-"))
    with contextlib.closing(sqlite3.connect(copy)) as conn:
        # werkzeug < 2.3's plain salted digest: MLflow may hold it, mlguard cannot verify it.
        conn.execute(
            "UPDATE users SET password_hash = 'sha256$Sv3Hm1$4f5e1c0ffee0ddba11' WHERE username = ?",
            (dave,),
        )
        conn.commit()
    db = tmp_path / "mlguard.db"
    out = imported(sqlite_url(copy), sqlite_url(db))
    assert re.search(
        rf'^skipped\s+user "{dave}": unsupported password hash method \'sha256\'.*'
        r"its 1 grant\(s\) were skipped too$",
        out,
        re.MULTILINE,
    ), out
    assert "4f5e1c0ffee0ddba11" not in out and "Sv3Hm1" not in out
    table = summary(out)
    assert (table["users"]["created"], table["users"]["skipped"]) == (5, 1)
    assert "\n2 row(s) could not be imported" in out  # the user and its grant

    server = mlguard_on(mlguard_factory, "unknown-hash", sqlite_url(db), source).start()
    with as_user(dave, source.passwords[dave]), pytest.raises(MlflowException) as e:
        auth_client(server.base_url).get_user(dave)
    assert e.value.error_code == "UNAUTHENTICATED"
    alice = next(n for n in source.passwords if n.startswith("alice-"))
    with as_user(alice, source.passwords[alice]):
        assert auth_client(server.base_url).get_user(alice).username == alice


def test_corrupt_or_foreign_databases_are_refused_and_change_nothing(mlflow_sqlite, tmp_path):
    source = mlflow_sqlite
    db = tmp_path / "mlguard.db"
    imported(source.url, sqlite_url(db))
    before = mlguard_snapshot(db)

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(os.urandom(8192))
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(source.sqlite_path.read_bytes()[:6000])
    tracking = source.sqlite_path.parent / "mlflow.db"  # MLflow's tracking store
    missing = tmp_path / "no-such.db"
    cases = [
        (garbage, "file is not a database"),
        (truncated, "database disk image is malformed"),
        (tracking, "is not an MLflow basic-auth database: it has no `users` table; it looks like an MLflow tracking database"),
        (missing, "does not exist"),
    ]
    for path, reason in cases:
        done = run_import(sqlite_url(path), sqlite_url(db))
        assert done.returncode != 0, f"{path.name}: {done.stdout}"
        assert done.stderr.startswith("mlguard: import-mlflow failed, nothing was changed: "), done.stderr
        assert reason in done.stderr, f"{path.name}: {done.stderr}"
        assert "SELECT" not in done.stderr and "Traceback" not in done.stderr
        assert done.stdout == "", done.stdout
        assert mlguard_snapshot(db) == before, path.name
    assert not missing.exists(), "a missing source must not be created"


def test_a_large_import_shows_progress(mlflow_sqlite, tmp_path):
    copy = tmp_path / "basic_auth.db"
    shutil.copy(mlflow_sqlite.sqlite_path, copy)
    cheap = generate_password_hash(new_password(), "pbkdf2:sha256:1000")
    extra = 1200
    with contextlib.closing(sqlite3.connect(copy)) as conn:
        conn.executemany(
            "INSERT INTO users (username, password_hash, is_admin) VALUES (?, ?, 0)",
            [(f"bulk-{i:05}", cheap) for i in range(extra)],
        )
        conn.execute(
            "INSERT INTO experiment_permissions (experiment_id, user_id, permission) "
            "SELECT '7', id, 'READ' FROM users WHERE username LIKE 'bulk-%'"
        )
        conn.commit()
    db = tmp_path / "mlguard.db"
    started = time.monotonic()
    done = run_import(sqlite_url(copy), sqlite_url(db))
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert "importing: 0% (0/" in done.stderr and "importing: 100% (" in done.stderr, done.stderr
    table = summary(done.stdout)
    assert table["users"]["created"] == 6 + extra
    assert table["experiment grants"]["created"] == count_rows(copy, "experiment_permissions")
    assert elapsed < 120, f"importing {extra} users took {elapsed:.0f}s"
    # Small imports print no progress at all.
    small = run_import(mlflow_sqlite.url, sqlite_url(tmp_path / "small.db"))
    assert "importing" not in small.stderr, small.stderr


def load_fixture_module(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_mlflow_2_database_imports(mlguard_factory, tmp_path):
    fixture = load_fixture_module(FIXTURES / "make_mlflow2_auth_db.py")
    source_db = tmp_path / "basic_auth.db"
    with contextlib.closing(sqlite3.connect(source_db)) as conn:
        conn.executescript((FIXTURES / "mlflow-2.22.2-basic_auth.sql").read_text())
    db = tmp_path / "mlguard.db"
    out = imported(sqlite_url(source_db), sqlite_url(db))
    assert "(schema revision 8606fa83a998)" in out
    table = summary(out)
    assert table["users"]["created"] == 4
    assert table["all grants"]["created"] == 4 and table["all grants"]["skipped"] == 0

    source = Source(url=sqlite_url(source_db), passwords=fixture.PASSWORDS, probes=Probes())
    server = mlguard_on(mlguard_factory, "mlflow2", sqlite_url(db), source).start()
    users = {}
    for name, password in fixture.PASSWORDS.items():
        with as_user(name, password):
            users[name] = auth_client(server.base_url).get_user(name)
    assert {n: u.is_admin for n, u in users.items()} == {
        "admin": True, "alice": False, "bob": True, "legacy": False,
    }
    assert [(p.experiment_id, p.permission) for p in users["alice"].experiment_permissions] == [("1", "MANAGE")]
    assert [(p.name, p.permission) for p in users["alice"].registered_model_permissions] == [
        ("alice-2x-model", "MANAGE")
    ]
    # `legacy` logged in with a werkzeug pbkdf2:sha256:260000 hash.
    assert [(p.experiment_id, p.permission) for p in users["legacy"].experiment_permissions] == [("1", "READ")]
    assert [(p.name, p.permission) for p in users["legacy"].registered_model_permissions] == [
        ("alice-2x-model", "EDIT")
    ]


def test_a_postgres_database_imports_into_postgres(mlguard_factory, tmp_path_factory):
    """MLflow 3.10.1 on PostgreSQL (psycopg2), imported into mlguard on PostgreSQL."""
    import psycopg2  # noqa: F401  (pinned in requirements.txt: missing is a failure)

    workdir = tmp_path_factory.mktemp("mlflow-postgres")
    with postgres_database() as source_url, postgres_database() as target_url:
        sqlalchemy_url = source_url.replace("postgres://", "postgresql+psycopg2://", 1)
        server = MlflowAuthServer(workdir, sqlalchemy_url).start()
        try:
            source = populate(server, source_url, legacy_hash_in=None)
            source.view = view_of(server.base_url, source)
        finally:
            server.stop()
        assert_view_is_telling(source.view)
        tables = psql(source_url, "SELECT version_num FROM alembic_version_auth")
        assert tables.strip() == "2ed73881770d"

        # MLflow's own spelling of the URL is accepted.
        out = imported(sqlalchemy_url, target_url)
        table = summary(out)
        assert table["users"]["created"] == 6
        for label, mlflow_table in GRANT_TABLES.items():
            rows = int(psql(source_url, f"SELECT COUNT(*) FROM {mlflow_table}"))
            assert rows > 0 and table[label]["created"] == rows, label

        mlguard = mlguard_on(mlguard_factory, "pg", target_url, source).start()
        assert view_of(mlguard.base_url, source) == source.view
        mlguard.stop()

        assert "Nothing to do" in imported(source_url, target_url)
        hashes = psql(target_url, "SELECT password_hash FROM users").split()
        assert hashes and all(h.startswith("$argon2id$") for h in hashes)
