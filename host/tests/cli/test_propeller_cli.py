"""``agenthost propeller-config``: valid YAML (checked with PyYAML) that routes every installed
task type, with the keys flyteplugins' connector-service / agent-service read."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cli_kit import CLI_ENV, MODULES

from agenthost.cli.propeller import build_config, to_yaml
from agenthost.testing import run_cli

yaml = pytest.importorskip("yaml", reason="PyYAML validates the emitted YAML (host test extra)")


def config(*args: str) -> tuple[dict[str, Any], str]:
    done = run_cli("propeller-config", *MODULES, *args, env=CLI_ENV)
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout), done.stdout


def installed_task_types() -> set[str]:
    done = run_cli("plugins", "--json", *MODULES, env=CLI_ENV)
    assert done.returncode == 0, done.stderr
    return {
        task_type["name"]
        for plugin in json.loads(done.stdout)["plugins"]
        if plugin["status"] == "loaded"
        for agent in plugin["agents"]
        for task_type in agent["task_types"]
    }


def test_default_deployment_names_every_installed_task_type() -> None:
    data, text = config()
    expected = installed_task_types()
    assert {
        "people_file_sensor",
        "people_forever",
        "people_sum",
        "people_shout",
        "sensor",
    } <= expected
    section = data["plugins"]["connector-service"]
    assert set(section["supportedTaskTypes"]) == expected
    connector = section["defaultConnector"]
    assert connector["endpoint"] == "k8s://agenthost.flyte:8000"
    assert connector["insecure"] is True
    assert connector["defaultTimeout"] == "10s"
    assert set(connector["timeouts"]) == {"CreateTask", "GetTask", "DeleteTask", "ExecuteTaskSync"}
    service_config = json.loads(connector["defaultServiceConfig"])
    assert service_config["loadBalancingConfig"] == [{"round_robin": {}}]
    (method,) = service_config["methodConfig"]
    assert {n["service"] for n in method["name"]} == {
        "flyteidl.service.AsyncAgentService",
        "flyteidl.service.SyncAgentService",
        "flyteidl.service.AgentMetadataService",
    }
    assert method["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE"]
    assert method["retryPolicy"]["maxAttempts"] >= 2
    assert "webApi" not in section and "resourceConstraints" not in section
    assert "healthCheckConfig" not in service_config
    plugins = data["tasks"]["task-plugins"]
    assert "connector-service" in plugins["enabled-plugins"]
    assert "container" in plugins["enabled-plugins"]
    routed = {t for t, p in plugins["default-for-task-types"].items() if p == "connector-service"}
    assert routed == expected
    assert text.startswith("# FlytePropeller configuration for agenthost")


def test_health_check_adds_client_side_health_checking() -> None:
    data, _ = config("--health-check")
    connector = data["plugins"]["connector-service"]["defaultConnector"]
    service_config = json.loads(connector["defaultServiceConfig"])
    assert service_config["healthCheckConfig"] == {"serviceName": ""}
    assert service_config["methodConfig"][0]["retryPolicy"]["retryableStatusCodes"] == [
        "UNAVAILABLE"
    ]


def test_canary_deployment_serves_only_a_subset() -> None:
    data, _ = config(
        "--name",
        "agenthost-canary",
        "--only",
        "people_sum",
        "--only",
        "sensor",
        "--endpoint",
        "dns:///agenthost-canary.flyte:8000",
        "--tls",
        "--timeout",
        "GetTask=3s",
    )
    section = data["plugins"]["connector-service"]
    assert "defaultConnector" not in section
    assert section["connectorForTaskTypes"] == {
        "people_sum": "agenthost-canary",
        "sensor": "agenthost-canary",
    }
    canary = section["connectors"]["agenthost-canary"]
    assert canary["endpoint"] == "dns:///agenthost-canary.flyte:8000"
    assert canary["insecure"] is False
    assert canary["timeouts"]["GetTask"] == "3s"
    defaults = data["tasks"]["task-plugins"]["default-for-task-types"]
    assert defaults["people_sum"] == "connector-service"
    assert "people_forever" not in defaults


def test_agent_flavor_uses_the_older_key_names() -> None:
    data, _ = config("--flavor", "agent", "--name", "canary", "--only", "people_shout")
    section = data["plugins"]["agent-service"]
    assert section["agentForTaskTypes"] == {"people_shout": "canary"}
    assert section["agents"]["canary"]["insecure"] is True
    assert "agent-service" in data["tasks"]["task-plugins"]["enabled-plugins"]
    plain, _ = config("--flavor", "agent")
    assert "defaultAgent" in plain["plugins"]["agent-service"]


def test_poll_rate_and_concurrency_keys_are_emitted_when_asked() -> None:
    data, _ = config(
        "--resync-interval", "2m", "--read-qps", "2", "--read-burst", "5",
        "--write-qps", "1", "--max-per-project", "20", "--max-per-namespace", "10",
    )  # fmt: skip
    section = data["plugins"]["connector-service"]
    assert section["webApi"] == {
        "caching": {"resyncInterval": "2m"},
        "readRateLimiter": {"qps": 2, "burst": 5},
        "writeRateLimiter": {"qps": 1},
    }
    assert section["resourceConstraints"] == {
        "ProjectScopeResourceConstraint": {"Value": 20},
        "NamespaceScopeResourceConstraint": {"Value": 10},
    }
    assert "defaultConnector" in section


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--resync-interval", "soon"), "--resync-interval 'soon' must be a duration"),
        (("--read-qps", "0"), "--read-qps must be at least 1"),
        (("--only", "nope"), "--only names task types not served here: nope"),
        (("--flavor", "flytekit"), "--flavor must be one of connector, agent"),
        (("--timeout", "GetTask"), "must be RPC=DURATION"),
        (("--timeout", "Fly=3s"), "must be RPC=DURATION"),
        (("--name", "has space"), "--name must be"),
        (("--flyte", "3"), "--flyte must be 1"),
        (("--flyte", "2", "--flavor", "agent"), "only the connector flavor"),
        (("--flyte", "2", "--timeout", "ExecuteTaskSync=9s"), "must be RPC=DURATION"),
        (("--flyte", "2", "--endpoint", "k8s:///agenthost.flyte:8000"), "no k8s:// resolver"),
        (("--endpoint", ""), "--endpoint '' is empty"),
        (("--endpoint", "  "), "--endpoint '  ' is empty"),
        (("--flyte", "2", "--endpoint", ""), "--endpoint '' is empty"),
    ],
)
def test_bad_options_exit_2(args: tuple[str, ...], message: str) -> None:
    done = run_cli("propeller-config", *MODULES, *args, env=CLI_ENV)
    assert done.returncode == 2
    assert message in done.stderr


def test_yaml_emitter_quotes_what_yaml_would_misread() -> None:
    tricky = [
        "yes",
        "no",
        "on",
        "null",
        "10s",
        "1.5",
        "a: b",
        "it's",
        "#x",
        "- y",
        "ünï",
        "tab\there",
    ]
    data = build_config(tricky, endpoint="dns:///x:1")
    assert yaml.safe_load(to_yaml(data)) == data


def test_flyte2_routes_every_type_through_default_for_task_types() -> None:
    data, text = config("--flyte", "2")
    expected = installed_task_types()
    assert set(data) == {"tasks", "plugins"}
    routes = data["tasks"]["task-plugins"]
    assert set(routes) == {"default-for-task-types"}  # no enabled-plugins on Flyte 2
    assert routes["default-for-task-types"] == dict.fromkeys(expected, "connector-service")
    section = data["plugins"]["connector-service"]
    assert set(section["supportedTaskTypes"]) == expected
    connector = section["defaultConnector"]
    assert connector["endpoint"] == "dns:///agenthost.flyte.svc.cluster.local:8000"
    assert connector["insecure"] is True
    service_config = json.loads(connector["defaultServiceConfig"])
    assert service_config["loadBalancingConfig"] == [{"round_robin": {}}]
    (retries,) = service_config["methodConfig"]
    assert {n["service"] for n in retries["name"]} == {
        "flyteidl2.connector.AsyncConnectorService",
        "flyteidl2.connector.ConnectorMetadataService",
    }
    assert retries["retryPolicy"]["retryableStatusCodes"] == ["UNAVAILABLE"]
    # people_shout is a sync agent: CreateTask runs it, so its deadline is the sync one.
    assert connector["timeouts"] == {
        "CreateTask": "300s",
        "GetTask": "10s",
        "DeleteTask": "10s",
        "ListConnectors": "10s",
    }
    assert text.startswith("# Flyte 2 executor configuration for agenthost")


def test_flyte2_named_deployment_for_async_types_only() -> None:
    data, _ = config(
        "--flyte",
        "2",
        "--name",
        "agenthost-v2",
        "--only",
        "people_sum",
        "--only",
        "sensor",
        "--timeout",
        "ListConnectors=3s",
        "--tls",
    )
    section = data["plugins"]["connector-service"]
    assert "defaultConnector" not in section
    assert section["connectorForTaskTypes"] == {
        "people_sum": "agenthost-v2",
        "sensor": "agenthost-v2",
    }
    deployment = section["connectors"]["agenthost-v2"]
    assert deployment["insecure"] is False
    assert deployment["timeouts"]["ListConnectors"] == "3s"
    assert deployment["timeouts"]["CreateTask"] == "30s"  # no sync agent routed
    assert data["tasks"]["task-plugins"]["default-for-task-types"] == {
        "people_sum": "connector-service",
        "sensor": "connector-service",
    }


def test_default_output_is_still_flyte1() -> None:
    default, _ = config()
    explicit, _ = config("--flyte", "1")
    assert default == explicit
    assert "enabled-plugins" in default["tasks"]["task-plugins"]


def test_flyte2_example_in_the_docs_is_what_the_command_builds() -> None:
    from cli_kit import HOST_DIR

    from agenthost.cli.propeller import deployment
    from agenthost.cli.propeller_flyte2 import (
        CONNECTOR_SERVICES,
        DEFAULT_ENDPOINT,
        build_flyte2_config,
        default_timeouts,
    )

    text = (HOST_DIR.parent / "docs" / "flyte2.md").read_text()
    documented = yaml.safe_load(text.split("```yaml\n", 1)[1].split("```", 1)[0])
    types = documented["plugins"]["connector-service"]["supportedTaskTypes"]
    timeouts = default_timeouts(sync_routed=True)
    target = deployment(DEFAULT_ENDPOINT, True, "10s", timeouts, services=CONNECTOR_SERVICES)
    assert documented == build_flyte2_config(types, deployment=target)


def test_flyte2_takes_the_plugin_wide_and_health_check_options() -> None:
    data, _ = config(
        "--flyte", "2", "--resync-interval", "60s", "--read-qps", "20", "--health-check"
    )
    section = data["plugins"]["connector-service"]
    assert section["webApi"]["caching"] == {"resyncInterval": "60s"}
    assert section["webApi"]["readRateLimiter"] == {"qps": 20}
    service_config = json.loads(section["defaultConnector"]["defaultServiceConfig"])
    assert service_config["healthCheckConfig"] == {"serviceName": ""}
