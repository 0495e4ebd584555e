"""The Helm chart, checked with the real helm (v3.17) and the real mlguard binary.

Each `ci/*.yaml` values file is linted and rendered; the rendered manifests must parse,
carry what an operator relies on (probes, security context, hooks, checksums), and
set only configuration mlguard accepts: the test runs the binary on the rendered
environment. Bad values must be refused at `helm template` time.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]

CHART = REPO / "deploy" / "helm" / "mlguard"
CI_VALUES = sorted((CHART / "ci").glob("*.yaml"))
RELEASE = "rel"
# What deploy/README.md tells operators to put in secret.existingSecret (test values).
EXISTING_SECRET_STAND_IN = {
    "MLGUARD_DATABASE__URL": "postgres://mlguard:test@127.0.0.1:1/mlguard",
    "MLGUARD_AUTH__ADMIN_PASSWORD": "a-test-admin-password",
    "MLGUARD_SECRETS__KEK": "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=",
}
# Variables the chart owns instead of taking them from values.config.
CHART_OWNED_ENV = {"MLGUARD_SERVER__LISTEN", "MLGUARD_DATABASE__URL"}
# Variables that belong in a Secret only, never in the ConfigMap.
SENSITIVE_ENV = {"MLGUARD_DATABASE__URL", "MLGUARD_AUTH__ADMIN_PASSWORD", "MLGUARD_AUTH__JWT_SECRET",
                 "MLGUARD_AUTH__JWT_PREVIOUS_SECRET", "MLGUARD_SECRETS__KEK", "MLGUARD_SECRETS__PREVIOUS_KEKS"}


@pytest.fixture(scope="session")
def helm(tmp_path_factory) -> list[str]:
    binary = os.environ.get("HELM_BIN") or subprocess.run(
        [str(REPO / "scripts" / "install-helm.sh")],
        check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1]
    version = subprocess.run([binary, "version", "--short"], check=True,
                             capture_output=True, text=True).stdout
    assert version.startswith("v3."), version
    # Keep helm's caches and config out of $HOME: the run leaves nothing behind.
    home = tmp_path_factory.mktemp("helm-home")
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        os.environ[var] = str(home / var.lower())
    return [binary]


class UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses duplicate keys: PyYAML would keep the last one
    silently, while the API server (or kubectl) refuses or misreads the object."""


def _no_duplicates(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        assert key not in seen, f"duplicate key {key!r} at {key_node.start_mark}"
        seen.add(key)
    return loader.construct_mapping(node, deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def run_helm(helm, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*helm, *args], capture_output=True, text=True, timeout=120)


def render(helm, values: Path | None = None, *extra: str, tmp_path: Path | None = None,
           overrides: dict | None = None) -> list[dict]:
    """`helm template` → every rendered object, parsed."""
    args = ["template", RELEASE, str(CHART), "--namespace", "ml"]
    if values is not None:
        args += ["-f", str(values)]
    if overrides is not None:
        assert tmp_path is not None
        override_file = tmp_path / f"override-{len(list(tmp_path.iterdir()))}.yaml"
        override_file.write_text(yaml.safe_dump(overrides))
        args += ["-f", str(override_file)]
    result = run_helm(helm, *args, *extra)
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.load_all(result.stdout, Loader=UniqueKeyLoader) if d]
    for doc in docs:
        assert {"apiVersion", "kind", "metadata"} <= doc.keys(), doc
    return docs


def find(docs, kind: str, name: str | None = None) -> list[dict]:
    return [d for d in docs if d["kind"] == kind
            and (name is None or d["metadata"]["name"] == name)]


def one(docs, kind: str, name: str) -> dict:
    found = find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind} {name}, got {[d['metadata']['name'] for d in find(docs, kind)]}"
    return found[0]


def hook_events(doc) -> set[str]:
    hook = doc["metadata"].get("annotations", {}).get("helm.sh/hook", "")
    return {e.strip() for e in hook.split(",") if e.strip()}


def mlguard_deployment(docs) -> dict:
    return one(docs, "Deployment", f"{RELEASE}-mlguard")


def container_env(docs, pod_owner: dict) -> dict[str, str | None]:
    """The MLGUARD_* environment a container of `pod_owner` gets: inline `env`, plus
    the data of every ConfigMap/Secret it reads through envFrom that the chart
    renders (None for values in a Secret the chart does not render)."""
    container = pod_owner["spec"]["template"]["spec"]["containers"][0]
    env: dict[str, str | None] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            config_map = one(docs, "ConfigMap", source["configMapRef"]["name"])
            env.update(config_map["data"])
        if "secretRef" in source:
            for secret in find(docs, "Secret", source["secretRef"]["name"]):
                env.update({k: base64.b64decode(v).decode() for k, v in secret["data"].items()})
    for item in container.get("env", []):
        env[item["name"]] = item.get("value")
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(params=CI_VALUES, ids=lambda p: p.stem)
def ci_values(request) -> Path:
    return request.param


def test_there_are_ci_values_files_to_render():
    names = {p.stem for p in CI_VALUES}
    assert {"default-values", "postgres-values", "postgres-existing-secret-values",
            "ingress-hpa-values", "with-mlflow-values"} <= names, names


def test_chart_lints_strictly(helm, ci_values):
    result = run_helm(helm, "lint", "--strict", str(CHART), "-f", str(ci_values))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_pod_is_locked_down(helm, ci_values):
    docs = render(helm, ci_values)
    pod_owners = find(docs, "Deployment") + find(docs, "Job")
    assert pod_owners
    for owner in pod_owners:
        name = f"{owner['kind']} {owner['metadata']['name']}"
        pod = owner["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        # No Kubernetes API credentials in a pod that never calls the API.
        assert pod["automountServiceAccountToken"] is False, name
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["runAsNonRoot"] is True, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert "add" not in context["capabilities"], name


def test_probes_check_health_for_liveness_and_ready_for_readiness(helm, ci_values):
    docs = render(helm, ci_values)
    deployment = mlguard_deployment(docs)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    # The probes' named port is the one mlguard listens on.
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["port"] in ports
    listen = container_env(docs, deployment)["MLGUARD_SERVER__LISTEN"]
    assert listen == f"0.0.0.0:{ports['http']}"
    service = one(docs, "Service", f"{RELEASE}-mlguard")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def test_every_variable_the_chart_sets_is_recognised_by_mlguard(helm, ci_values, recognised_env_vars):
    docs = render(helm, ci_values)
    pod_owners = [mlguard_deployment(docs)] + [
        j for j in find(docs, "Job") if "migrate" in j["metadata"]["name"]]
    for owner in pod_owners:
        names = {n for n in container_env(docs, owner) if n.startswith("MLGUARD_")}
        unknown = names - recognised_env_vars
        assert not unknown, f"{owner['metadata']['name']} sets {sorted(unknown)}, unknown to mlguard"
    for secret in find(docs, "Secret"):
        unknown = set(secret["data"]) - recognised_env_vars
        assert not unknown, f"Secret {secret['metadata']['name']} holds {sorted(unknown)}"


def test_mlguard_accepts_the_rendered_configuration(helm, ci_values, mlguard_bin, tmp_path):
    """Names are not enough: a value mlguard refuses (say a number rendered as
    6.7e+07) crash-loops every pod. `mlguard healthcheck` loads and validates the
    whole configuration before it connects, so a configuration error and a refused
    connection are told apart."""
    docs = render(helm, ci_values)
    deployment = mlguard_deployment(docs)
    env = container_env(docs, deployment)
    for source in deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"]:
        if "secretRef" in source and not find(docs, "Secret", source["secretRef"]["name"]):
            env.update(EXISTING_SECRET_STAND_IN)
    env["MLGUARD_SERVER__LISTEN"] = f"127.0.0.1:{free_port()}"  # nothing listens there
    result = subprocess.run([str(mlguard_bin), "healthcheck"], cwd=tmp_path,
                            env={"PATH": os.environ["PATH"], **env},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "configuration" not in result.stderr, result.stderr
    assert "healthcheck: cannot connect" in result.stderr, result.stderr


def test_values_config_keys_are_all_mlguard_keys(recognised_env_vars):
    schema = json.loads((CHART / "values.schema.json").read_text())
    sections = schema["properties"]["config"]["properties"]
    names = {f"MLGUARD_{section.upper()}__{key.upper()}"
             for section, spec in sections.items() for key in spec["properties"]}
    assert names, "the schema lists no config keys"
    assert not names - recognised_env_vars, sorted(names - recognised_env_vars)
    # The chart owns these: values cannot set them a second, conflicting way.
    assert not names & CHART_OWNED_ENV
    # A ConfigMap is readable by anyone who may read the namespace's config.
    assert not names & SENSITIVE_ENV, sorted(names & SENSITIVE_ENV)


def test_all_settings_values_file_sets_every_config_key(helm):
    """So `test_mlguard_accepts_the_rendered_configuration` sees every key the schema
    allows with a non-default value, not only the defaults."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    allowed = {(section, key) for section, spec in schema["properties"]["config"]["properties"].items()
               for key in spec["properties"]}
    values = yaml.safe_load((CHART / "ci" / "all-settings-values.yaml").read_text())["config"]
    given = {(section, key) for section, keys in values.items() for key in keys}
    assert given == allowed, f"missing {sorted(allowed - given)}"
    docs = render(helm, CHART / "ci" / "all-settings-values.yaml")
    env = container_env(docs, mlguard_deployment(docs))
    assert env["MLGUARD_UPSTREAM__MAX_BODY_BYTES"] == "268435456"
    assert env["MLGUARD_LOG__LEVEL"] == "mlguard=debug,info"


def test_default_install_is_one_sqlite_pod_on_a_kept_volume(helm):
    docs = render(helm, CHART / "ci" / "default-values.yaml")
    deployment = mlguard_deployment(docs)
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    env = container_env(docs, deployment)
    assert env["MLGUARD_DATABASE__URL"] == "sqlite:///data/mlguard.db"
    mounts = deployment["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "data", "mountPath": "/data"} in mounts
    claim = one(docs, "PersistentVolumeClaim", f"{RELEASE}-mlguard-data")
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    # No migration hook (the pod migrates its own file) and nothing optional.
    assert not find(docs, "Job")
    for kind in ("Ingress", "HorizontalPodAutoscaler", "NetworkPolicy", "Secret"):
        assert not find(docs, kind), kind
    assert one(docs, "PodDisruptionBudget", f"{RELEASE}-mlguard")["spec"]["maxUnavailable"] == 1


def test_postgres_runs_replicas_spread_over_nodes_with_a_migration_hook(helm):
    docs = render(helm, CHART / "ci" / "postgres-values.yaml")
    deployment = mlguard_deployment(docs)
    spec = deployment["spec"]
    assert spec["replicas"] == 3
    assert spec["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    anti = spec["template"]["spec"]["affinity"]["podAntiAffinity"]
    term = anti["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    assert not find(docs, "PersistentVolumeClaim")

    env = container_env(docs, deployment)
    assert env["MLGUARD_DATABASE__URL"].startswith("postgres://")
    assert env["MLGUARD_SECRETS__KEK"] == "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE="
    assert env["MLGUARD_AUTH__JWT_SECRET"] == "c2lnbmluZy1rZXktZm9yLWNpLW9ubHktbm90LXNlY3JldCE="
    # A large number stays an integer (Helm reads numbers as floats).
    assert env["MLGUARD_UPSTREAM__MAX_BODY_BYTES"] == "134217728"
    # Secrets live in the Secret, never in the ConfigMap.
    config_map = one(docs, "ConfigMap", f"{RELEASE}-mlguard")
    assert not SENSITIVE_ENV & set(config_map["data"])
    assert SENSITIVE_ENV - {"MLGUARD_AUTH__JWT_PREVIOUS_SECRET"} <= set(one(docs, "Secret", f"{RELEASE}-mlguard")["data"])

    job = one(docs, "Job", f"{RELEASE}-mlguard-migrate")
    assert hook_events(job) == {"pre-install", "pre-upgrade"}
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["containers"][0]["args"] == ["migrate"]
    assert pod["containers"][0]["image"] == spec["template"]["spec"]["containers"][0]["image"]
    # Hooks run before the release's objects exist: the Job may read only hook
    # objects, created before it (a lower weight), and the same settings as the pods.
    job_env = container_env(docs, job)
    assert {k: v for k, v in job_env.items() if k != "MLGUARD_SERVER__LISTEN"} == \
        {k: v for k, v in env.items() if k != "MLGUARD_SERVER__LISTEN"}
    secret_name = pod["containers"][0]["envFrom"][0]["secretRef"]["name"]
    hook_secret = one(docs, "Secret", secret_name)
    assert hook_events(hook_secret) == {"pre-install", "pre-upgrade"}
    weight = lambda d: int(d["metadata"]["annotations"]["helm.sh/hook-weight"])  # noqa: E731
    assert weight(hook_secret) < weight(job)
    assert "hook-succeeded" in hook_secret["metadata"]["annotations"]["helm.sh/hook-delete-policy"]
    assert "configMapRef" not in json.dumps(pod)


def test_existing_secret_replaces_the_charts_secret(helm):
    docs = render(helm, CHART / "ci" / "postgres-existing-secret-values.yaml")
    assert not find(docs, "Secret"), "the chart must not render secrets it was told to take from elsewhere"
    deployment = mlguard_deployment(docs)
    refs = deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"]
    assert {"secretRef": {"name": "mlguard-env"}} in refs
    job = one(docs, "Job", f"{RELEASE}-mlguard-migrate")
    assert job["spec"]["template"]["spec"]["containers"][0]["envFrom"] == [{"secretRef": {"name": "mlguard-env"}}]
    # Helm cannot hash a Secret it does not render: no misleading checksum.
    assert "checksum/secret" not in deployment["spec"]["template"]["metadata"]["annotations"]


def test_ingress_and_autoscaler_target_the_gateway(helm):
    docs = render(helm, CHART / "ci" / "ingress-hpa-values.yaml")
    deployment = mlguard_deployment(docs)
    # The autoscaler owns the replica count; a fixed one would fight it on upgrade.
    assert "replicas" not in deployment["spec"]
    hpa = one(docs, "HorizontalPodAutoscaler", f"{RELEASE}-mlguard")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": deployment["metadata"]["name"]}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    ingress = one(docs, "Ingress", f"{RELEASE}-mlguard")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"][0]["hosts"] == ["mlflow.example.com"]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": f"{RELEASE}-mlguard", "port": {"name": "http"}}


def test_mlguard_answers_its_service_and_ingress_names(helm):
    """mlguard refuses Host names it does not know (DNS-rebinding guard): the chart
    lists its Service's names and the Ingress hosts, and the probes (which the
    kubelet sends to the pod's IP) say Host: localhost."""
    service = f"{RELEASE}-mlguard"
    names = [service, f"{service}.ml.svc", f"{service}.ml.svc.cluster.local"]
    docs = render(helm, CHART / "ci" / "ingress-hpa-values.yaml")
    deployment = mlguard_deployment(docs)
    hosts = container_env(docs, deployment)["MLGUARD_SERVER__ALLOWED_HOSTS"].split(",")
    assert hosts == names + ["mlflow.example.com"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["httpHeaders"] == [{"name": "Host", "value": "localhost"}]
    docs = render(helm, CHART / "ci" / "default-values.yaml")
    hosts = container_env(docs, mlguard_deployment(docs))["MLGUARD_SERVER__ALLOWED_HOSTS"]
    assert hosts.split(",") == names
    docs = render(helm, CHART / "ci" / "all-settings-values.yaml")
    hosts = container_env(docs, mlguard_deployment(docs))["MLGUARD_SERVER__ALLOWED_HOSTS"]
    assert hosts.endswith(",mlguard.internal.example,*.corp.example"), hosts


def test_bundled_mlflow_is_reachable_only_from_mlguard(helm):
    docs = render(helm, CHART / "ci" / "with-mlflow-values.yaml")
    name = f"{RELEASE}-mlguard-mlflow"
    mlflow = one(docs, "Deployment", name)
    service = one(docs, "Service", name)
    port = service["spec"]["ports"][0]["port"]
    env = container_env(docs, mlguard_deployment(docs))
    assert env["MLGUARD_UPSTREAM__URL"] == f"http://{name}:{port}"
    container = mlflow["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    assert f"--port={port}" in args and "--serve-artifacts" in args
    # mlguard's static prefix and MLflow's must agree, or every UI route 404s.
    assert "--static-prefix=/mlflow" in args
    assert env["MLGUARD_SERVER__STATIC_PREFIX"] == "/mlflow"
    # MLflow refuses unknown Host headers; mlguard sends the Service's host:port.
    allowed = {e["name"]: e["value"] for e in container["env"]}["MLFLOW_SERVER_ALLOWED_HOSTS"]
    assert f"{name}:{port}" in allowed.split(",")
    # Unauthenticated MLflow must not be reachable around mlguard.
    policy = one(docs, "NetworkPolicy", name)
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= \
        mlflow["spec"]["template"]["metadata"]["labels"].items()
    allowed_from = policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    gateway_labels = mlguard_deployment(docs)["spec"]["template"]["metadata"]["labels"]
    assert allowed_from.items() <= gateway_labels.items()
    assert not allowed_from.items() <= mlflow["spec"]["template"]["metadata"]["labels"].items()
    # The gateway's selectors must not catch MLflow's pods (PDB, Service, anti-affinity).
    selector = mlguard_deployment(docs)["spec"]["selector"]["matchLabels"]
    assert not selector.items() <= mlflow["spec"]["template"]["metadata"]["labels"].items()


def test_mlflow_is_off_by_default(helm):
    docs = render(helm)
    assert [d["metadata"]["name"] for d in find(docs, "Deployment")] == [f"{RELEASE}-mlguard"]


def test_pods_roll_when_and_only_when_their_settings_change(helm, tmp_path):
    base = CHART / "ci" / "postgres-values.yaml"

    def checksums(overrides=None):
        docs = render(helm, base, tmp_path=tmp_path, overrides=overrides)
        annotations = mlguard_deployment(docs)["spec"]["template"]["metadata"]["annotations"]
        return annotations["checksum/config"], annotations["checksum/secret"]

    config, secret = checksums()
    assert checksums() == (config, secret), "rendering is not deterministic"
    new_config, same_secret = checksums({"config": {"log": {"level": "debug"}}})
    assert new_config != config and same_secret == secret
    same_config, new_secret = checksums({"secret": {"adminPassword": "another-long-password"}})
    assert same_config == config and new_secret != secret
    # Scaling changes neither: no needless restart of every pod.
    assert checksums({"replicaCount": 5}) == (config, secret)


def test_termination_grace_outlasts_mlguards_shutdown_grace(helm, tmp_path):
    docs = render(helm, tmp_path=tmp_path, overrides={"config": {"server": {"shutdown_grace_secs": 90}}})
    deployment = mlguard_deployment(docs)
    assert container_env(docs, deployment)["MLGUARD_SERVER__SHUTDOWN_GRACE_SECS"] == "90"
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > 90


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"replicaCount": "three"}, "replicaCount"),
        ({"replicaCount": 0}, "replicaCount"),
        ({"image": {"pullPolicy": "Sometimes"}}, "pullPolicy"),
        ({"database": {"kind": "mysql"}}, "kind"),
        ({"config": {"auth": {"default_permission": "read"}}}, "default_permission"),
        # A typo is refused, as mlguard refuses unknown keys.
        ({"config": {"auth": {"default_permision": "READ"}}}, "default_permision"),
        ({"config": {"upstream": {"url": "https://mlflow:5000"}}}, "url"),
        ({"config": {"database": {"max_connections": 0}}}, "max_connections"),
        ({"secret": {"adminPassword": "short"}}, "adminPassword"),
        ({"secret": {"kek": "not-a-32-byte-key"}}, "kek"),
        ({"secret": {"jwtSecret": "too-short"}}, "jwtSecret"),
        ({"secret": {"extraEnv": {"PATH": "/tmp"}}}, "extraEnv"),
        ({"podAntiAffinity": "sometimes"}, "podAntiAffinity"),
        ({"unknownTopLevel": True}, "unknownTopLevel"),
    ],
    ids=lambda v: json.dumps(v) if isinstance(v, dict) else v,
)
def test_schema_refuses_bad_values(helm, tmp_path, overrides, complaint):
    values = tmp_path / "bad.yaml"
    values.write_text(yaml.safe_dump(overrides))
    result = run_helm(helm, "template", RELEASE, str(CHART), "-f", str(values))
    assert result.returncode != 0, f"accepted {overrides}"
    assert "schema" in result.stderr and complaint in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"replicaCount": 2}, "SQLite serves a single replica"),
        ({"autoscaling": {"enabled": True}}, "SQLite serves a single replica"),
        ({"database": {"kind": "postgres"}}, "needs database.url"),
        ({"config": {"secrets": {"enabled": True}}}, "needs a key-encryption key"),
        ({"secret": {"jwtPreviousSecret": "c2lnbmluZy1rZXktZm9yLWNpLW9ubHktbm90LXNlY3JldCE="}},
         "needs secret.jwtSecret"),
    ],
    ids=["sqlite-replicas", "sqlite-hpa", "postgres-no-url", "secrets-no-kek", "jwt-previous-alone"],
)
def test_half_configured_installs_fail_at_render_time(helm, tmp_path, overrides, complaint):
    values = tmp_path / "half.yaml"
    values.write_text(yaml.safe_dump(overrides))
    result = run_helm(helm, "template", RELEASE, str(CHART), "-f", str(values))
    assert result.returncode != 0, f"accepted {overrides}"
    assert complaint in result.stderr, result.stderr


def test_image_tag_defaults_to_the_mlguard_version(helm, mlguard_bin):
    version = subprocess.run([str(mlguard_bin), "--version"], check=True,
                             capture_output=True, text=True).stdout.split()[-1]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == version
    image = mlguard_deployment(render(helm))["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith(f":{version}")
