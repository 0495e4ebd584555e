"""Three mlguard replicas on one PostgreSQL, each deciding from its in-process
authorization view (`auth.consistency = snapshot`, the default), under a storm.

Writers change six users concurrently through random replicas: grants, revokes,
DENYs, role assignments, password changes, deletions and re-creations. Each user's
changes are one ordered chain, so the committed history is known; the reference
model applies it serially. After every acknowledged change, the writer measures how
long until every replica decides as the model says (for revocations: until every
replica denies), and fails above BOUND_SECONDS. Meanwhile readers check random
decisions on random replicas: a decision taken while the model was settled must
equal the model's. Mid-storm, one replica's notification connection is killed
twice; it must read through the database, never answer stale. At the end, every
replica's decisions equal the reference model's."""

from __future__ import annotations

import random
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import new_password, unique
from test_postgres import postgres_url, psql  # noqa: F401  (fixture)

BOUND_SECONDS = 1.0
# A grant is seen through a forwarded request (MLflow answers it), a credential
# change through argon2 checks: both cost more than the propagation itself on a
# shared 2-core machine, so their bound is generous. A revocation is seen in
# mlguard's own 403.
SLOW_PROBE_BOUND_SECONDS = 5.0
USERS = 6
EXPERIMENTS = 3
OPS_PER_USER = 24
PERMS = "/api/2.0/mlflow/experiments/permissions"
POSITIVE = ("READ", "EDIT", "MANAGE")
# After each settled change a writer pauses, so that readers see every user in a
# settled state often enough even on a slow, shared machine (CI saw 48 checks without).
SETTLED_WINDOW_SECONDS = 0.25
MIN_READER_CHECKS = 100

session = threading.local()


def http() -> requests.Session:
    if not hasattr(session, "s"):
        session.s = requests.Session()
    return session.s


@pytest.fixture
def cluster(mlguard_factory, postgres_url, mlflow_upstream):  # noqa: F811
    admin_password = new_password()
    env = {
        "MLGUARD_UPSTREAM__URL": mlflow_upstream.url,
        # The storm checks revoked passwords on purpose: no throttling.
        "MLGUARD_AUTH__THROTTLE_MAX_FAILURES_PER_USER": "1000000",
        "MLGUARD_AUTH__THROTTLE_MAX_FAILURES_PER_ADDRESS": "1000000",
        "MLGUARD_AUTH__MAX_CONCURRENT_HASHES": "1",
    }
    return [
        mlguard_factory(f"replica{i}", database_url=postgres_url, admin_password=admin_password,
                        default_permission="NO_PERMISSIONS", extra_env=env).start()
        for i in range(3)
    ]


class Account:
    """One user as the reference model knows them, and their place in the storm."""

    def __init__(self, name: str, password: str):
        self.name = name
        self.password = password
        self.exists = True
        self.grants: dict[str, str] = {}
        self.in_role = False
        self.retired_passwords: list[str] = []
        # Readers trust the model only while it is settled: no change in flight.
        self.lock = threading.Lock()
        self.version = 0
        self.settled = True

    def allowed(self, experiment: str, role_experiment: str) -> bool:
        """What mlguard's resolution gives: DENY absorbs, any positive row admits,
        no row at all falls to the default, NO_PERMISSIONS."""
        if not self.exists:
            return False
        levels = [self.grants[experiment]] if experiment in self.grants else []
        if self.in_role and experiment == role_experiment:
            levels.append("READ")
        return bool(levels) and "NO_PERMISSIONS" not in levels

    def expected_status(self, experiment: str, role_experiment: str) -> int:
        if not self.exists:
            return 401
        return 200 if self.allowed(experiment, role_experiment) else 403


def decide(server, name: str, password: str, experiment: str) -> int:
    r = http().get(server.base_url + "/api/2.0/mlflow/experiments/get",
                   params={"experiment_id": experiment}, auth=(name, password), timeout=30)
    return r.status_code


def admin_call(server, admin, method, path, **kwargs):
    r = http().request(method, server.base_url + path, auth=admin, timeout=30, **kwargs)
    assert r.status_code == 200, (path, r.status_code, r.text)
    return r


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def test_replicas_converge_within_the_bound_and_never_answer_stale(cluster, mlflow_upstream, capsys):
    replicas = cluster
    admin = replicas[0].admin_auth()
    experiments = [mlflow_upstream.create_experiment() for _ in range(EXPERIMENTS)]
    role_experiment = experiments[0]
    role = admin_call(replicas[0], admin, "POST", "/api/3.0/mlflow/roles/create",
                      json={"workspace": "default", "name": unique("team")}).json()["role"]["id"]
    admin_call(replicas[1], admin, "POST", "/api/3.0/mlflow/roles/permissions/add",
               json={"role_id": role, "resource_type": "experiment",
                     "resource_pattern": role_experiment, "permission": "READ"})
    accounts = []
    for _ in range(USERS):
        name, password = unique("storm"), new_password()
        for server in replicas:
            server.secrets.add(password)
        admin_call(replicas[0], admin, "POST", "/api/2.0/mlflow/users/create",
                   json={"username": name, "password": password})
        accounts.append(Account(name, password))

    def settled_on(server, account: Account, checked: list[str], old_password: str | None) -> bool:
        for experiment in checked:
            want = account.expected_status(experiment, role_experiment)
            if decide(server, account.name, account.password, experiment) != want:
                return False
        return old_password is None or decide(server, account.name, old_password, checked[0]) == 401

    def until_settled_everywhere(account: Account, kind: str, checked: list[str],
                                 since: float) -> float:
        """Seconds from `since` until each replica was seen deciding as the model says."""
        old = account.retired_passwords[-1] if kind == "credentials" and account.retired_passwords else None
        pending, last = list(replicas), since
        while pending:
            assert time.monotonic() - since < 10, f"{account.name} never converged"
            for server in list(pending):
                if settled_on(server, account, checked, old):
                    pending.remove(server)
                    last = time.monotonic()
        return last - since

    # Revocations of a grant (revoke, DENY, unassign) and grants take effect with no
    # password check; a password change or a deletion is seen through argon2 checks
    # of the old password, which cost more than the change's propagation itself.
    latencies: dict[str, list[float]] = {"revocation": [], "grant": [], "credentials": []}
    stale: list[str] = []
    storm_over = threading.Event()

    def change(account: Account, rng: random.Random) -> tuple[str, list[str]]:
        """One change through a random replica, applied to the model once acknowledged."""
        server = replicas[rng.randrange(3)]
        experiment = rng.choice(experiments)
        if not account.exists:
            password = new_password()
            for s in replicas:
                s.secrets.add(password)
            admin_call(server, admin, "POST", "/api/2.0/mlflow/users/create",
                       json={"username": account.name, "password": password})
            account.password, account.exists = password, True
            account.grants, account.in_role = {}, False
            return "credentials", experiments
        # Credential changes are rarer: each is then seen through argon2 checks, which
        # would starve the 2-core machine the other measurements share.
        kind = rng.choice(["grant"] * 4 + ["revoke"] * 2 + ["deny"] * 2 + ["role"] * 3
                          + ["password", "delete"])
        if kind == "grant" or (kind == "revoke" and experiment not in account.grants):
            level = rng.choice(POSITIVE)
            method, path = ("PATCH", "update") if experiment in account.grants else ("POST", "create")
            admin_call(server, admin, method, f"{PERMS}/{path}",
                       json={"experiment_id": experiment, "username": account.name, "permission": level})
            account.grants[experiment] = level
            return "grant", [experiment]
        if kind == "revoke":
            admin_call(server, admin, "DELETE", f"{PERMS}/delete",
                       json={"experiment_id": experiment, "username": account.name})
            del account.grants[experiment]
            return "revocation", [experiment]
        if kind == "deny":
            method, path = ("PATCH", "update") if experiment in account.grants else ("POST", "create")
            admin_call(server, admin, method, f"{PERMS}/{path}",
                       json={"experiment_id": experiment, "username": account.name,
                             "permission": "NO_PERMISSIONS"})
            account.grants[experiment] = "NO_PERMISSIONS"
            return "revocation", [experiment]
        if kind == "role":
            body = {"username": account.name, "role_id": role}
            if account.in_role:
                admin_call(server, admin, "DELETE", "/api/3.0/mlflow/roles/unassign", json=body)
                account.in_role = False
                return "revocation", [role_experiment]
            admin_call(server, admin, "POST", "/api/3.0/mlflow/roles/assign", json=body)
            account.in_role = True
            return "grant", [role_experiment]
        if kind == "password":
            password = new_password()
            for s in replicas:
                s.secrets.add(password)
            admin_call(server, admin, "PATCH", "/api/2.0/mlflow/users/update-password",
                       json={"username": account.name, "password": password})
            account.retired_passwords.append(account.password)
            account.password = password
            return "credentials", [experiments[0]]
        admin_call(server, admin, "DELETE", "/api/2.0/mlflow/users/delete",
                   json={"username": account.name})
        account.exists = False
        return "credentials", [experiments[0]]

    def writer(index: int) -> None:
        account, rng = accounts[index], random.Random(index)
        for _ in range(OPS_PER_USER):
            with account.lock:
                account.settled = False
                account.version += 1
            kind, checked = change(account, rng)
            latencies[kind].append(until_settled_everywhere(account, kind, checked, time.monotonic()))
            with account.lock:
                account.settled = True
            time.sleep(SETTLED_WINDOW_SECONDS)

    def reader(seed: int) -> int:
        rng, checks = random.Random(1000 + seed), 0
        while not storm_over.is_set():
            account = rng.choice(accounts)
            server, experiment = rng.choice(replicas), rng.choice(experiments)
            with account.lock:
                version, settled = account.version, account.settled
                name, password = account.name, account.password
                want = account.expected_status(experiment, role_experiment)
            got = decide(server, name, password, experiment)
            with account.lock:
                still = account.settled and account.version == version
            if settled and still:
                checks += 1
                if got != want:
                    stale.append(f"{server.workdir.name}: {name} on {experiment}: {got}, model {want}")
        return checks

    def kill_listener_twice() -> int:
        pid = replicas[1].proc.pid
        killed = 0
        for delay in (3, 6):
            time.sleep(delay)
            psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                 f"WHERE application_name = 'mlguard-access-{pid}'")
            killed += 1
        return killed

    started = time.monotonic()
    with ThreadPoolExecutor(USERS + 5) as pool:
        readers = [pool.submit(reader, i) for i in range(4)]
        killer = pool.submit(kill_listener_twice)
        writers = [pool.submit(writer, i) for i in range(USERS)]
        for w in writers:
            w.result()
        killer.result()
        storm_over.set()
        reader_checks = sum(r.result() for r in readers)
    storm_seconds = time.monotonic() - started

    # The serial reference model, applied to the committed history, on every replica.
    for account in accounts:
        for server in replicas:
            for experiment in experiments:
                want = account.expected_status(experiment, role_experiment)
                got = decide(server, account.name, account.password, experiment)
                assert got == want, (server.workdir.name, account.name, experiment, got, want)
            for old in account.retired_passwords:
                assert decide(server, account.name, old, experiments[0]) == 401

    # The killed feed was noticed and came back, and never served stale meanwhile.
    log = replicas[1].all_logs()
    assert log.count("authorization change feed lost") >= 2, "the listener was never killed"
    assert log.count("authorization change feed listening") >= 3

    assert stale == [], stale[:10]
    assert reader_checks >= MIN_READER_CHECKS, reader_checks
    with capsys.disabled():
        print(f"\nconsistency storm: {USERS} writers x {OPS_PER_USER} changes over 3 replicas "
              f"in {storm_seconds:.1f} s; {reader_checks} settled reader checks, 0 stale")
        for label, values in latencies.items():
            if values:
                print(f"  {label} -> every replica: n={len(values)} "
                      f"p50={statistics.median(values) * 1000:.1f} ms "
                      f"p99={percentile(values, 0.99) * 1000:.1f} ms "
                      f"max={max(values) * 1000:.1f} ms (bound "
                      f"{(BOUND_SECONDS if label == 'revocation' else SLOW_PROBE_BOUND_SECONDS) * 1000:.0f} ms)")
    assert latencies["revocation"], "no revocation in the storm"
    assert max(latencies["revocation"]) <= BOUND_SECONDS, latencies["revocation"]
    assert max(latencies["grant"]) <= SLOW_PROBE_BOUND_SECONDS, latencies["grant"]
    assert max(latencies["credentials"]) <= SLOW_PROBE_BOUND_SECONDS, latencies["credentials"]
