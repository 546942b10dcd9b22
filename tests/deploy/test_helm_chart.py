"""The Helm chart: lint, render the default, canary and fully-featured values, validate every
object against the Kubernetes schemas offline (kubernetes-validate), and check the parts that
make replicas boring: gRPC probes, ports, security, disruption and the propeller config."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from deploy_kit import CHART

from agenthost.cli.propeller import DEFAULT_SERVICE_CONFIG, service_config

KUBERNETES_VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]
"""The oldest Kubernetes the chart supports (native preStop sleep) and the newest schema."""

VARIANTS = {
    "default": [],
    "canary": ["-f", str(CHART / "ci" / "canary-values.yaml")],
    "production": ["-f", str(CHART / "ci" / "production-values.yaml")],
    "flyteconnector": ["-f", str(CHART / "ci" / "flyteconnector-values.yaml")],
}
RELEASE, NAMESPACE = "rel", "flyte"


def helm_run(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(helm), *args], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )


def render(helm: Path, *args: str) -> list[dict[str, Any]]:
    result = helm_run(helm, "template", RELEASE, str(CHART), "-n", NAMESPACE, *args)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def notes(helm: Path, *args: str) -> str:
    result = helm_run(
        helm, "install", RELEASE, str(CHART), "-n", NAMESPACE, "--dry-run=client", *args
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split("\nNOTES:\n", 1)[1]


def kinds(docs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        found.setdefault(doc["kind"], []).append(doc)
    return found


def container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = kinds(docs)["Deployment"]
    containers = deployment["spec"]["template"]["spec"]["containers"]
    (main,) = [c for c in containers if c["name"] == "agenthost"]
    assert isinstance(main, dict)
    return main


def propeller_config(text: str) -> dict[str, Any]:
    """The YAML NOTES.txt prints for propeller."""
    end = text.find("\nThe endpoint serves TLS")
    config = yaml.safe_load(text[text.index("tasks:\n") : end if end >= 0 else None])
    assert isinstance(config, dict)
    return config


def env_of(main: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in main["env"]}


@pytest.fixture(scope="module", params=list(VARIANTS))
def variant(request: pytest.FixtureRequest, helm: Path) -> tuple[str, list[dict[str, Any]]]:
    return request.param, render(helm, *VARIANTS[request.param])


@pytest.mark.parametrize("name", list(VARIANTS))
def test_the_chart_lints_cleanly(helm: Path, name: str) -> None:
    result = helm_run(helm, "lint", "--strict", str(CHART), *VARIANTS[name])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


def test_every_object_is_valid_kubernetes(variant: tuple[str, list[dict[str, Any]]]) -> None:
    _, docs = variant
    assert {"Deployment", "Service", "ServiceAccount"} <= set(kinds(docs))
    for doc in docs:
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # a CRD: checked in test_the_production_values_switch_everything_on
        for version in KUBERNETES_VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_rejects_what_kubernetes_would(helm: Path) -> None:
    docs = render(helm)
    main = container(docs)
    main["readinessProbe"]["grpc"]["port"] = "grpc"  # gRPC probes need a number
    (deployment,) = kinds(docs)["Deployment"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


def test_pods_are_probed_through_the_grpc_health_service(helm: Path) -> None:
    main = container(render(helm))
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert main[probe]["grpc"] == {"port": 8000, "service": ""}, probe
    assert main["startupProbe"]["failureThreshold"] * main["startupProbe"]["periodSeconds"] >= 60
    assert {p["name"]: p["containerPort"] for p in main["ports"]} == {"grpc": 8000, "metrics": 9090}
    assert "args" not in main
    env = env_of(main)
    assert env["AGENTHOST_PORT"] == "8000"
    assert "AGENTHOST_HEALTH_PORT" not in env  # plaintext: the gRPC port itself is probed
    assert env["AGENTHOST_STRICT"] == "true"
    assert "AGENTHOST_ALLOW" not in env


def test_services_carry_grpc_as_h2c_and_metrics_for_prometheus(helm: Path) -> None:
    services = {s["metadata"]["name"]: s for s in kinds(render(helm))["Service"]}
    main, headless = services["rel-agenthost"], services["rel-agenthost-headless"]
    ports = {p["name"]: p for p in main["spec"]["ports"]}
    assert ports["grpc"]["appProtocol"] == "kubernetes.io/h2c"
    assert ports["grpc"]["targetPort"] == "grpc"
    assert ports["metrics"]["port"] == 9090
    assert main["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert main["metadata"]["annotations"]["prometheus.io/port"] == "9090"
    assert headless["spec"]["clusterIP"] == "None"
    assert [p["name"] for p in headless["spec"]["ports"]] == ["grpc"]


def test_pods_run_restricted_with_a_writable_tmp_only(helm: Path) -> None:
    docs = render(helm)
    (deployment,) = kinds(docs)["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    main = container(docs)
    security = main["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["runAsNonRoot"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["automountServiceAccountToken"] is False
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert set(volumes) == {"tmp"} and "emptyDir" in volumes["tmp"]
    assert main["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]


def test_termination_outlasts_the_prestop_sleep_and_the_servers_grace_period(helm: Path) -> None:
    docs = render(helm)
    (deployment,) = kinds(docs)["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    main = container(docs)
    grace = float(env_of(main)["AGENTHOST_GRACE_PERIOD"])
    pre_stop = main["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["terminationGracePeriodSeconds"] > grace + pre_stop
    (budget,) = kinds(docs)["PodDisruptionBudget"]
    assert budget["spec"]["maxUnavailable"] == 1
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert "HorizontalPodAutoscaler" not in kinds(docs)
    assert "ServiceMonitor" not in kinds(docs)


def test_a_canary_release_serves_only_its_plugin_with_mounted_secrets(helm: Path) -> None:
    docs = render(helm, *VARIANTS["canary"])
    main = container(docs)
    assert env_of(main)["AGENTHOST_ALLOW"] == "agent-bigquery"
    assert main["image"].endswith(":0.1.0-bigquery")
    (deployment,) = kinds(docs)["Deployment"]
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["secrets"]["secret"]["secretName"] == "bigquery-credentials"
    assert {"name": "secrets", "mountPath": "/etc/secrets", "readOnly": True} in main[
        "volumeMounts"
    ]
    assert "Secret" not in kinds(docs)
    assert "PodDisruptionBudget" not in kinds(docs)


def test_notes_print_the_propeller_config_for_the_canary(helm: Path) -> None:
    config = propeller_config(notes(helm, *VARIANTS["canary"]))
    section = config["plugins"]["connector-service"]
    assert section["connectors"] == {
        "agenthost-bigquery-canary": {
            "endpoint": "k8s://rel-agenthost.flyte:8000",
            "insecure": True,
            # The same service config as `agenthost propeller-config`: round robin, and
            # retries of UNAVAILABLE on the agent services.
            "defaultServiceConfig": DEFAULT_SERVICE_CONFIG,
            "defaultTimeout": "10s",
        }
    }
    service_config = json.loads(DEFAULT_SERVICE_CONFIG)
    assert service_config["loadBalancingConfig"] == [{"round_robin": {}}]
    assert service_config["methodConfig"][0]["retryPolicy"]["retryableStatusCodes"] == [
        "UNAVAILABLE"
    ]
    assert section["connectorForTaskTypes"] == {
        "bigquery_query_job_task": "agenthost-bigquery-canary"
    }
    assert section["supportedTaskTypes"] == ["bigquery_query_job_task"]
    assert "webApi" not in section and "resourceConstraints" not in section
    assert config["tasks"]["task-plugins"] == {
        "enabled-plugins": ["connector-service"],
        "default-for-task-types": {"bigquery_query_job_task": "connector-service"},
    }


def test_notes_pass_propellers_polling_keys_through(helm: Path) -> None:
    settings = {
        "propeller.webApi.caching.resyncInterval": "60s",
        "propeller.webApi.readRateLimiter.qps": "5",
        "propeller.resourceConstraints.ProjectScopeResourceConstraint.Value": "20",
    }
    args = [a for key, value in settings.items() for a in ("--set", f"{key}={value}")]
    config = propeller_config(notes(helm, *args))
    section = config["plugins"]["connector-service"]
    assert section["webApi"] == {
        "caching": {"resyncInterval": "60s"},
        "readRateLimiter": {"qps": 5},
    }
    assert section["resourceConstraints"] == {"ProjectScopeResourceConstraint": {"Value": 20}}


def test_the_default_notes_route_every_bundled_task_type(helm: Path) -> None:
    config = propeller_config(notes(helm))
    routes = config["plugins"]["connector-service"]["connectorForTaskTypes"]
    assert set(routes) == {
        "bigquery_query_job_task",
        "chatgpt",
        "openai-batch",
        "file_sensor",
        "sensor",
        "snowflake",
        "databricks",
    }
    assert set(routes.values()) == {"rel-agenthost"}


def test_the_production_values_switch_everything_on(helm: Path) -> None:
    docs = render(helm, *VARIANTS["production"])
    found = kinds(docs)
    main = container(docs)
    assert main["args"] == [
        "--tls-cert",
        "/etc/agenthost/tls/tls.crt",
        "--tls-key",
        "/etc/agenthost/tls/tls.key",
        "--tls-client-ca",
        "/etc/agenthost/tls/client-ca.crt",
    ]
    # TLS on: native gRPC probes on the plaintext, health-only port
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert main[probe]["grpc"] == {"port": 8081, "service": ""}, probe
        assert "exec" not in main[probe]
    assert env_of(main)["AGENTHOST_HEALTH_PORT"] == "8081"
    assert {p["name"]: p["containerPort"] for p in main["ports"]} == {
        "grpc": 8000,
        "health": 8081,
        "metrics": 9090,
    }
    (deployment,) = found["Deployment"]
    assert "replicas" not in deployment["spec"]
    template = deployment["spec"]["template"]
    assert "checksum/secrets" in template["metadata"]["annotations"]
    assert template["spec"]["terminationGracePeriodSeconds"] == 5 + 30 + 10
    volumes = {
        v["name"]: v["secret"]["secretName"] for v in template["spec"]["volumes"] if "secret" in v
    }
    assert volumes == {"secrets": "rel-agenthost-secrets", "tls": "agenthost-tls"}
    (secret,) = found["Secret"]
    assert secret["stringData"] == {"openai_api_key": "not-a-real-key"}
    (hpa,) = found["HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "rel-agenthost"
    assert {m["resource"]["name"] for m in hpa["spec"]["metrics"]} == {"cpu", "memory"}
    (monitor,) = found["ServiceMonitor"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    service_ports = {
        p["name"]
        for s in found["Service"]
        if s["metadata"]["name"] == "rel-agenthost"
        for p in s["spec"]["ports"]
    }
    # two workers, one scrape endpoint: the supervisor's /metrics covers both
    assert env_of(main)["AGENTHOST_WORKERS"] == "2"
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics"]
    assert "metrics" in service_ports and "health" not in service_ports
    assert (
        monitor["spec"]["selector"]["matchLabels"]
        == (deployment["spec"]["selector"]["matchLabels"])
    )
    config = propeller_config(notes(helm, *VARIANTS["production"]))
    assert (
        config["plugins"]["connector-service"]["connectors"]["rel-agenthost"]["insecure"] is False
    )


def test_tls_without_a_secret_is_refused(helm: Path) -> None:
    result = helm_run(helm, "template", RELEASE, str(CHART), "--set", "tls.enabled=true")
    assert result.returncode != 0
    assert "tls.enabled needs tls.secretName" in result.stderr


def test_flyteconnector_values_replace_the_flyteconnector_subchart(helm: Path) -> None:
    """Values written for Flyte's flyteconnector chart (v1.16.8) mean the same here, and the
    Service keeps the name propeller already dials."""
    docs = render(helm, *VARIANTS["flyteconnector"])
    found = kinds(docs)
    for doc in docs:
        metadata = doc["metadata"]
        assert metadata["labels"]["team"] == "platform", doc["kind"]
        assert metadata["annotations"]["owner"] == "platform@example.com", doc["kind"]
    services = {s["metadata"]["name"]: s for s in found["Service"]}
    service = services["flyteconnector"]
    assert "flyteconnector-headless" in services
    assert service["metadata"]["annotations"]["projectcontour.io/upstream-protocol.h2c"] == "grpc"
    assert {p["name"]: p["port"] for p in service["spec"]["ports"]}["grpc"] == 8000
    (deployment,) = found["Deployment"]
    pod = deployment["spec"]["template"]
    spec = pod["spec"]
    main = container(docs)
    assert env_of(main)["GOOGLE_APPLICATION_CREDENTIALS"] == "/var/run/gcp/key.json"
    assert env_of(main)["AGENTHOST_PORT"] == "8000"
    assert pod["metadata"]["labels"]["tier"] == "connectors"
    assert (
        pod["metadata"]["annotations"]["cluster-autoscaler.kubernetes.io/safe-to-evict"] == "true"
    )
    assert main["resources"]["limits"]["memory"] == "300Mi"
    assert deployment["spec"]["replicas"] == 2
    assert {"name": "gcp-key", "mountPath": "/var/run/gcp", "readOnly": True} in main[
        "volumeMounts"
    ]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["gcp-key"]["secret"]["secretName"] == "gcp-key"
    assert [c["name"] for c in spec["containers"]] == ["agenthost", "egress-proxy"]
    # connectorSecret.secretData becomes a Secret mounted where agents read secrets.
    (secret,) = found["Secret"]
    assert secret["data"] == {"openai_api_key": "bm90LWEtcmVhbC1rZXk="}
    assert volumes["secrets"]["secret"]["secretName"] == secret["metadata"]["name"]
    assert {"name": "secrets", "mountPath": "/etc/secrets", "readOnly": True} in main[
        "volumeMounts"
    ]
    # rbac: a ClusterRole with the given rules, bound to the pods' service account, whose
    # token is then mounted.
    (role,) = found["ClusterRole"]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]
    (binding,) = found["ClusterRoleBinding"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    (account,) = found["ServiceAccount"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": NAMESPACE}
    ]
    assert spec["serviceAccountName"] == account["metadata"]["name"]
    assert spec["automountServiceAccountToken"] is True
    assert account["imagePullSecrets"] == [{"name": "registry-credentials"}]
    annotations = account["metadata"]["annotations"]
    assert annotations["iam.gke.io/gcp-service-account"].startswith("connector@")
    # Propeller's existing endpoint keeps working.
    config = propeller_config(notes(helm, *VARIANTS["flyteconnector"]))
    (connector,) = config["plugins"]["connector-service"]["connectors"].values()
    assert connector["endpoint"] == f"k8s://flyteconnector.{NAMESPACE}:8000"


def test_a_flyteconnector_port_replaces_the_server_port(helm: Path) -> None:
    docs = render(helm, "--set", "ports.containerPort=8443")
    main = container(docs)
    assert env_of(main)["AGENTHOST_PORT"] == "8443"
    assert main["readinessProbe"]["grpc"]["port"] == 8443
    assert {p["name"]: p["containerPort"] for p in main["ports"]}["grpc"] == 8443


def test_both_secret_formats_at_once_are_refused(helm: Path) -> None:
    result = helm_run(
        helm, "template", RELEASE, str(CHART),
        "--set", "secrets.data.a=1", "--set", "connectorSecret.secretData.stringData.b=2",
    )  # fmt: skip
    assert result.returncode != 0
    assert "not both" in result.stderr


def test_tls_without_a_health_port_is_refused(helm: Path) -> None:
    tls = ("--set", "tls.enabled=true", "--set", "tls.secretName=agenthost-tls")
    result = helm_run(helm, "template", RELEASE, str(CHART), *tls, "--set", "server.healthPort=0")
    assert result.returncode != 0
    assert "tls.enabled needs server.healthPort" in result.stderr


def test_connection_age_is_passed_when_set(helm: Path) -> None:
    assert "AGENTHOST_MAX_CONNECTION_AGE" not in env_of(container(render(helm)))
    for seconds in ("0", "120"):
        main = container(render(helm, "--set", f"server.maxConnectionAgeSeconds={seconds}"))
        assert env_of(main)["AGENTHOST_MAX_CONNECTION_AGE"] == seconds


def test_notes_add_health_checking_like_the_cli(helm: Path) -> None:
    config = propeller_config(notes(helm, "--set", "propeller.healthCheck=true"))
    (connector,) = config["plugins"]["connector-service"]["connectors"].values()
    assert connector["defaultServiceConfig"] == service_config(health_check=True)
    assert json.loads(connector["defaultServiceConfig"])["healthCheckConfig"] == {"serviceName": ""}
