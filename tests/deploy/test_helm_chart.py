"""The Helm chart, rendered offline by Helm's own engine (helm-python-sdk bundles it) and every
manifest validated against the Kubernetes JSON schemas (kubernetes-validate, strict: unknown
fields fail). No cluster is involved.

Expected ports, schedules and names below come from the deployment contract (DESIGN.md and the
service settings), not from the chart's values, so a drifting chart fails here.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from alphaloop.common import metrics
from alphaloop.common.settings import DEFAULT_GRPC_PORTS, DEFAULT_METRICS_PORTS, SERVICES

CHART = Path(__file__).resolve().parents[2] / "helm" / "alphaloop"
RELEASE = "alphaloop"
NAMESPACE = "trading"

GRPC_PORTS = {
    "ingest": 50051,
    "features": 50052,
    "models": 50053,
    "grading": 50054,
    "risk": 50055,
    "execution": 50056,
}
METRICS_PORTS = {
    "ingest": 9101,
    "features": 9102,
    "models": 9103,
    "grading": 9104,
    "risk": 9105,
    "execution": 9106,
}
SCHEDULES = {"hydrate": "0 1 * * 1-5", "train": "0 3 * * 1-5"}

#: The oldest Kubernetes the chart claims (Chart.yaml kubeVersion), and the newest schema bundled.
OLDEST_KUBE, LATEST_KUBE = "1.27.0", kubernetes_validate.utils.latest_version()
#: preStopSleepSeconds (the preStop sleep action) needs Kubernetes 1.30.
PRESTOP_SLEEP_KUBE = "1.30.0"
#: Custom resources have no bundled schema; only these kinds skip schema validation.
CRD_KINDS = {"ServiceMonitor"}

#: Everything optional switched on, the way a production install would set it.
PRODUCTION_VALUES: dict[str, Any] = {
    "services": {
        "risk": {"replicas": 2, "priorityClassName": "trading-critical"},
        "models": {"readinessService": "readiness"},
    },
    "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}},
    "podDisruptionBudget": {"enabled": True},
    "networkPolicy": {
        "enabled": True,
        "grpcFrom": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "trading-ops"}}}
        ],
        "metricsFrom": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
        ],
    },
    "auth": {"existingSecret": "alphaloop-auth", "key": "token"},
    "store": {"password": {"existingSecret": "alphaloop-pg", "key": "password"}},
    "extraEnv": [{"name": "MLFLOW_TRACKING_URI", "value": "http://mlflow:5000"}],
    "preStopSleepSeconds": 5,
    "cronJobs": {"train": {"enabled": True}},
}


# -- rendering helpers ----------------------------------------------------------------------


def render(values: dict[str, Any] | None = None, *, release: str = RELEASE) -> dict[str, str]:
    with helm.Chart.load(CHART) as chart:
        return chart.render(values, name=release, namespace=NAMESPACE, is_install=True)


def manifests(rendered: dict[str, str]) -> list[dict[str, Any]]:
    docs = []
    for path, text in rendered.items():
        if path.endswith("NOTES.txt"):
            continue
        docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


def all_containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


@pytest.fixture(scope="module")
def default_docs() -> list[dict[str, Any]]:
    return manifests(render())


@pytest.fixture(scope="module")
def train_docs() -> list[dict[str, Any]]:
    return manifests(render({"cronJobs": {"train": {"enabled": True}}}))


@pytest.fixture(scope="module")
def production_docs() -> list[dict[str, Any]]:
    return manifests(render(PRODUCTION_VALUES))


# -- lint and schema validation -------------------------------------------------------------


@pytest.mark.parametrize("values", [None, PRODUCTION_VALUES], ids=["defaults", "production"])
def test_chart_passes_helm_lint_strict_at_the_oldest_supported_kubernetes(values):
    report = helm.lint(CHART, values, strict=True, kube_version=f"v{OLDEST_KUBE}")
    problems = [m for m in report["messages"] if m["severity"] >= 2]  # warnings and errors
    assert report["errors"] == [] and problems == [], report


@pytest.mark.parametrize(
    ("values", "kube_version"),
    [
        (None, OLDEST_KUBE),
        (None, LATEST_KUBE),
        (PRODUCTION_VALUES, PRESTOP_SLEEP_KUBE),
        (PRODUCTION_VALUES, LATEST_KUBE),
    ],
    ids=["defaults-oldest", "defaults-latest", "production-1.30", "production-latest"],
)
def test_every_rendered_manifest_is_valid_kubernetes(values, kube_version):
    docs = manifests(render(values))
    assert docs
    for doc in docs:
        if doc["kind"] in CRD_KINDS:
            continue
        try:
            kubernetes_validate.validate(doc, kube_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} at {where}: {exc.message}")


# -- services -------------------------------------------------------------------------------


def test_chart_ports_match_the_services_own_defaults():
    # The chart sets the ports explicitly; they must agree with what `alphaloop serve` binds
    # when unset, or a local run and the cluster would disagree.
    assert set(SERVICES) == set(GRPC_PORTS)
    assert DEFAULT_GRPC_PORTS == GRPC_PORTS
    assert DEFAULT_METRICS_PORTS == METRICS_PORTS


def test_six_deployments_and_services_with_their_grpc_and_metrics_ports(default_docs):
    deployments = of_kind(default_docs, "Deployment")
    services = of_kind(default_docs, "Service")
    assert set(deployments) == {f"alphaloop-{s}" for s in GRPC_PORTS}
    assert set(services) == {f"alphaloop-{s}" for s in GRPC_PORTS}
    for name, grpc_port in GRPC_PORTS.items():
        ports = {p["name"]: p for p in services[f"alphaloop-{name}"]["spec"]["ports"]}
        assert ports["grpc"]["port"] == grpc_port
        assert ports["grpc"]["appProtocol"] == "grpc"
        assert ports["metrics"]["port"] == METRICS_PORTS[name]
        (container,) = pod_spec(deployments[f"alphaloop-{name}"])["containers"]
        container_ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert container_ports == {"grpc": grpc_port, "metrics": METRICS_PORTS[name]}
        assert container["args"] == ["serve", name]
        assert container["image"].endswith(f"/alphaloop-{name}:0.1.0")


def test_each_service_selects_exactly_its_own_deployments_pods(default_docs):
    deployments = of_kind(default_docs, "Deployment")
    for name, service in of_kind(default_docs, "Service").items():
        selector = service["spec"]["selector"]
        matching = [
            d
            for d in deployments.values()
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert [d["metadata"]["name"] for d in matching] == [name]
        deployment = deployments[name]
        assert deployment["spec"]["selector"]["matchLabels"] == selector


def test_each_container_has_grpc_liveness_and_readiness_probes_on_its_grpc_port(default_docs):
    for name, deployment in of_kind(default_docs, "Deployment").items():
        service = name.removeprefix("alphaloop-")
        (container,) = pod_spec(deployment)["containers"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert container[probe]["grpc"]["port"] == GRPC_PORTS[service], (name, probe)
            assert "httpGet" not in container[probe] and "exec" not in container[probe]


def test_pods_run_non_root_with_a_read_only_root_fs_and_no_capabilities(train_docs):
    workloads = [d for d in train_docs if d["kind"] in ("Deployment", "CronJob")]
    assert len(workloads) == 8
    for doc in workloads:
        spec = pod_spec(doc)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == 10001
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        # Service links would inject ALPHALOOP_RISK_PORT=tcp://... into the settings prefix.
        assert spec["enableServiceLinks"] is False
        for container in all_containers(spec):
            sc = container["securityContext"]
            assert sc["runAsNonRoot"] is True
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert container["resources"]["requests"] and container["resources"]["limits"]


def test_state_dir_and_tmp_are_writable_empty_dirs(train_docs):
    for doc in (d for d in train_docs if d["kind"] in ("Deployment", "CronJob")):
        spec = pod_spec(doc)
        empty_dirs = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        for container in all_containers(spec):
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            (state_dir,) = [v for k, v in env_of(container).items() if k.endswith("_STATE_DIR")]
            assert mounts[state_dir] in empty_dirs
            assert mounts["/tmp"] in empty_dirs


def test_cluster_backends_and_settings_reach_each_service_as_prefixed_env(default_docs):
    for name, deployment in of_kind(default_docs, "Deployment").items():
        service = name.removeprefix("alphaloop-")
        prefix = f"ALPHALOOP_{service.upper()}_"
        spec = pod_spec(deployment)
        (container,) = spec["containers"]
        env = env_of(container)
        assert env[f"{prefix}BUS_BACKEND"] == "kafka"
        assert env[f"{prefix}BUS_URL"].startswith("kafka://")
        assert env[f"{prefix}STORE_BACKEND"] == "postgres"
        assert env[f"{prefix}STORE_URL"].startswith("postgresql://")
        assert env[f"{prefix}HOST"] == "0.0.0.0"
        assert env[f"{prefix}GRPC_PORT"] == str(GRPC_PORTS[service])
        assert env[f"{prefix}METRICS_PORT"] == str(METRICS_PORTS[service])
        assert env[f"{prefix}LOG_FORMAT"] == "json"
        # No service reads another service's settings.
        foreign = [k for k in env if k.startswith("ALPHALOOP_") and not k.startswith(prefix)]
        assert foreign == []
        grace = float(env[f"{prefix}SHUTDOWN_GRACE_SECONDS"])
        assert spec["terminationGracePeriodSeconds"] > grace


def test_execution_and_risk_get_their_peers_addresses_from_service_names(default_docs):
    services = of_kind(default_docs, "Service")
    deployments = of_kind(default_docs, "Deployment")

    def address(service_name: str) -> str:
        grpc = next(p for p in services[service_name]["spec"]["ports"] if p["name"] == "grpc")
        return f"{service_name}:{grpc['port']}"

    (execution,) = pod_spec(deployments["alphaloop-execution"])["containers"]
    assert env_of(execution)["ALPHALOOP_EXECUTION_RISK_ADDRESS"] == address("alphaloop-risk")
    assert address("alphaloop-risk") == "alphaloop-risk:50055"
    (risk,) = pod_spec(deployments["alphaloop-risk"])["containers"]
    assert env_of(risk)["ALPHALOOP_RISK_MODELS_ADDRESS"] == "alphaloop-models:50053"


def test_peer_addresses_follow_the_release_name():
    docs = manifests(render(release="paper"))
    deployments = of_kind(docs, "Deployment")
    (execution,) = pod_spec(deployments["paper-alphaloop-execution"])["containers"]
    assert env_of(execution)["ALPHALOOP_EXECUTION_RISK_ADDRESS"] == "paper-alphaloop-risk:50055"
    assert "paper-alphaloop-risk" in of_kind(docs, "Service")


def test_privileged_services_read_the_bearer_token_from_a_mounted_secret_file(default_docs):
    (secret,) = of_kind(default_docs, "Secret").values()
    assert secret["data"]["auth-token"]  # generated when none is given
    for name, deployment in of_kind(default_docs, "Deployment").items():
        service = name.removeprefix("alphaloop-")
        spec = pod_spec(deployment)
        (container,) = spec["containers"]
        token_file = env_of(container).get(f"ALPHALOOP_{service.upper()}_AUTH_TOKEN_FILE")
        if service in ("risk", "execution", "grading"):  # halt/resume, submit order, promote
            mount = next(m for m in container["volumeMounts"] if m["name"] == "auth-token")
            assert token_file == f"{mount['mountPath']}/auth-token"
            volume = next(v for v in spec["volumes"] if v["name"] == "auth-token")
            assert volume["secret"]["secretName"] == secret["metadata"]["name"]
        else:
            assert token_file is None
            assert all(v["name"] != "auth-token" for v in spec["volumes"])


def test_existing_secrets_are_referenced_instead_of_created(production_docs):
    assert of_kind(production_docs, "Secret") == {}
    deployments = of_kind(production_docs, "Deployment")
    spec = pod_spec(deployments["alphaloop-risk"])
    volume = next(v for v in spec["volumes"] if v["name"] == "auth-token")
    assert volume["secret"]["secretName"] == "alphaloop-auth"
    (container,) = spec["containers"]
    env = env_of(container)
    assert env["ALPHALOOP_RISK_AUTH_TOKEN_FILE"].endswith("/token")
    assert env["PGPASSWORD"] == {"secretKeyRef": {"name": "alphaloop-pg", "key": "password"}}


# -- overnight jobs -------------------------------------------------------------------------


def test_both_cronjobs_are_on_by_default(default_docs):
    assert set(of_kind(default_docs, "CronJob")) == {"alphaloop-hydrate", "alphaloop-train"}


def test_two_cronjobs_with_the_default_schedules(train_docs):
    cronjobs = of_kind(train_docs, "CronJob")
    assert {name: cj["spec"]["schedule"] for name, cj in cronjobs.items()} == {
        f"alphaloop-{job}": schedule for job, schedule in SCHEDULES.items()
    }
    for cj in cronjobs.values():
        assert cj["spec"]["concurrencyPolicy"] == "Forbid"


def test_hydrate_runs_in_the_ingest_image_with_ingest_settings(default_docs):
    spec = pod_spec(of_kind(default_docs, "CronJob")["alphaloop-hydrate"])
    assert spec.get("initContainers", []) == []
    (container,) = spec["containers"]
    assert container["args"] == ["hydrate"]
    assert container["image"].endswith("/alphaloop-ingest:0.1.0")
    assert env_of(container)["ALPHALOOP_INGEST_BUS_BACKEND"] == "kafka"


def test_train_runs_then_grades_and_grade_never_follows_a_failed_train(train_docs):
    spec = pod_spec(of_kind(train_docs, "CronJob")["alphaloop-train"])
    # Init containers run to completion, in order, before the main container starts.
    (train,) = spec["initContainers"]
    (grade,) = spec["containers"]
    assert train["args"] == ["train"] and train["image"].endswith("/alphaloop-models:0.1.0")
    assert grade["args"] == ["grade"] and grade["image"].endswith("/alphaloop-grading:0.1.0")
    assert env_of(train)["ALPHALOOP_MODELS_STORE_BACKEND"] == "postgres"
    assert env_of(grade)["ALPHALOOP_GRADING_STORE_BACKEND"] == "postgres"
    assert spec["restartPolicy"] == "Never"


# -- overrides, optional resources ----------------------------------------------------------


def test_overrides_change_replicas_and_add_the_optional_resources(default_docs, production_docs):
    assert of_kind(default_docs, "ServiceMonitor") == {}
    assert of_kind(default_docs, "NetworkPolicy") == {}
    assert of_kind(default_docs, "PodDisruptionBudget") == {}

    deployments = of_kind(production_docs, "Deployment")
    assert deployments["alphaloop-risk"]["spec"]["replicas"] == 2
    assert deployments["alphaloop-execution"]["spec"]["replicas"] == 1
    assert pod_spec(deployments["alphaloop-risk"])["priorityClassName"] == "trading-critical"
    (risk,) = pod_spec(deployments["alphaloop-risk"])["containers"]
    assert risk["lifecycle"]["preStop"] == {"sleep": {"seconds": 5}}
    assert len(of_kind(production_docs, "PodDisruptionBudget")) == 6
    # Stale market data can take models out of its Service without liveness restarting it.
    (models,) = pod_spec(deployments["alphaloop-models"])["containers"]
    assert models["readinessProbe"]["grpc"] == {"port": 50053, "service": "readiness"}
    assert models["livenessProbe"]["grpc"] == {"port": 50053}

    (monitor,) = of_kind(production_docs, "ServiceMonitor").values()
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    scraped = [
        s
        for s in of_kind(production_docs, "Service").values()
        if selector.items() <= s["metadata"]["labels"].items()
    ]
    assert len(scraped) == 6

    (policy,) = of_kind(production_docs, "NetworkPolicy").values()
    grpc_rule, metrics_rule = policy["spec"]["ingress"]
    assert grpc_rule["ports"] == [{"port": "grpc", "protocol": "TCP"}]
    assert metrics_rule["ports"] == [{"port": "metrics", "protocol": "TCP"}]


def test_extra_env_reaches_every_container(production_docs):
    for doc in (d for d in production_docs if d["kind"] in ("Deployment", "CronJob")):
        for container in all_containers(pod_spec(doc)):
            assert env_of(container)["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"


def test_chart_refuses_a_termination_grace_shorter_than_the_shutdown_grace():
    with pytest.raises(helm.HelmError, match="terminationGracePeriodSeconds"):
        render({"shutdownGraceSeconds": 30, "terminationGracePeriodSeconds": 30})


def test_chart_refuses_a_peer_that_is_not_a_service():
    with pytest.raises(helm.HelmError, match="not a service"):
        render({"services": {"execution": {"peers": ["broker"]}}})


def test_chart_refuses_a_peer_that_is_disabled():
    # Execution fails closed without risk; an address to a Service that does not exist would
    # only show up as refused orders at the open.
    with pytest.raises(helm.HelmError, match="disabled"):
        render({"services": {"risk": {"enabled": False}}})


def test_a_database_password_given_as_a_value_goes_into_the_charts_secret():
    docs = manifests(render({"store": {"password": {"value": "s3cret"}}}))
    (secret,) = of_kind(docs, "Secret").values()
    assert base64.b64decode(secret["data"]["postgres-password"]) == b"s3cret"
    (risk,) = pod_spec(of_kind(docs, "Deployment")["alphaloop-risk"])["containers"]
    assert env_of(risk)["PGPASSWORD"] == {
        "secretKeyRef": {"name": secret["metadata"]["name"], "key": "postgres-password"}
    }


# -- dashboard and notes --------------------------------------------------------------------


def _exported_sample_names() -> set[str]:
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "gauge": [""]}
    return {
        family.name + suffix
        for family in metrics.REGISTRY.collect()
        for suffix in suffixes[family.type]
    }


def test_grafana_dashboard_queries_only_metrics_the_services_export(default_docs):
    (dashboard,) = [
        cm
        for cm in of_kind(default_docs, "ConfigMap").values()
        if cm["metadata"]["labels"].get("grafana_dashboard") == "1"
    ]
    board = json.loads(dashboard["data"]["alphaloop.json"])
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    used = {m for e in exprs for m in re.findall(r"\balphaloop_[a-z_]+", e)}
    assert {
        "alphaloop_grpc_requests_total",
        "alphaloop_grpc_request_seconds_bucket",
        "alphaloop_bus_messages_total",
    } <= used
    assert used <= _exported_sample_names()


def test_notes_show_the_health_check_and_the_kill_switch():
    notes = render()["alphaloop/templates/NOTES.txt"]
    assert "grpcurl -plaintext localhost:50055 grpc.health.v1.Health/Check" in notes
    assert (
        f'kubectl -n {NAMESPACE} exec deploy/alphaloop-risk -- alphaloop halt --reason "..."'
        in notes
    )
    assert "alphaloop resume --reason" in notes


# -- values documentation -------------------------------------------------------------------

#: Kubernetes objects passed through as they are; their inner keys are Kubernetes' own.
PASSTHROUGH = {
    "podSecurityContext",
    "containerSecurityContext",
    "resources",
    "startup",
    "liveness",
    "readiness",
    "nodeSelector",
    "affinity",
    "annotations",
    "labels",
    "podAnnotations",
    "podLabels",
}
#: Structural maps that only group documented keys.
SECTIONS = {
    "image",
    "serviceAccount",
    "bus",
    "store",
    "store.password",
    "auth",
    "log",
    "otel",
    "probes",
    "services.ingest",
    "services.features",
    "services.models",
    "services.grading",
    "services.risk",
    "services.execution",
    "cronJobs.hydrate",
    "cronJobs.train",
    "jobDefaults",
    "metrics",
    "metrics.serviceMonitor",
    "metrics.dashboard",
    "podDisruptionBudget",
    "networkPolicy",
}


def test_every_value_is_documented_in_place():
    lines = (CHART / "values.yaml").read_text().splitlines()
    stack: list[tuple[int, str]] = []  # (indent, dotted path)
    comments: list[str] = []
    undocumented = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("#"):
            comments.append(stripped)
            continue
        if not stripped:
            comments = []
            continue
        indent = len(line) - len(line.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        match = re.match(r"([A-Za-z0-9_]+):", stripped)
        parent = stack[-1][1] if stack else ""
        in_list = stripped.startswith("-") or "[]" in parent
        if match and not in_list:
            path = f"{parent}.{match.group(1)}" if parent else match.group(1)
            inherited = any(part in PASSTHROUGH for part in parent.split("."))
            documented = any(c.startswith(f"# {path} -- ") for c in comments)
            if not (documented or inherited or path in SECTIONS):
                undocumented.append(path)
            stack.append((indent, path))
        elif stripped.startswith("-"):
            stack.append((indent, parent + "[]"))
        comments = []
    assert undocumented == []


def test_numba_cache_goes_to_the_writable_state_dir(train_docs):
    # Kernels are @njit(cache=True); with a read-only root fs the cache must live elsewhere.
    for doc in (d for d in train_docs if d["kind"] in ("Deployment", "CronJob")):
        for container in all_containers(pod_spec(doc)):
            env = env_of(container)
            (state_dir,) = [v for k, v in env.items() if k.endswith("_STATE_DIR")]
            assert env["NUMBA_CACHE_DIR"].startswith(state_dir)
