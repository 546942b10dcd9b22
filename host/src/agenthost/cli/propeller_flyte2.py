"""The Flyte 2 executor configuration ``agenthost propeller-config --flyte 2`` prints.

The Flyte 2 executor (flyteorg/flyte ``main``) reads the same ``plugins.connector-service``
section as Flyte 1's connector plugin (``defaultConnector``, ``connectors``,
``connectorForTaskTypes``, ``supportedTaskTypes``; per deployment ``endpoint``, ``insecure``,
``defaultServiceConfig``, ``defaultTimeout`` and ``timeouts``), with two differences that
shape this output:

* routing is static: a task type reaches the connector plugin only through
  ``tasks.task-plugins.default-for-task-types`` (or ``supportedTaskTypes``), never because
  ``ListConnectors`` advertises it; there is no ``enabled-plugins`` list;
* there is no sync service: sync agents run inside ``CreateTask``, so its timeout bounds them,
  and ``ListConnectors`` has a timeout of its own. There is no ``k8s://`` resolver.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

PLUGIN = "connector-service"
"""The Flyte 2 executor's connector plugin."""

DEFAULT_ENDPOINT = "dns:///agenthost.flyte.svc.cluster.local:8000"
"""A headless Service's DNS name: the Flyte 2 executor has no ``k8s://`` resolver."""

CONNECTOR_SERVICES = (
    "flyteidl2.connector.AsyncConnectorService",
    "flyteidl2.connector.ConnectorMetadataService",
)
"""The services the Flyte 2 executor calls (the service config's retries name them)."""

TIMEOUTS: dict[str, str] = {
    "CreateTask": "30s",
    "GetTask": "10s",
    "DeleteTask": "10s",
    "ListConnectors": "10s",
}
"""Per-RPC deadlines the executor applies (the keys it looks up)."""

SYNC_CREATE_TIMEOUT = "300s"
"""``CreateTask`` deadline when a sync agent is routed: it runs the whole sync call."""

SUPPORTED_SCHEMES = ("dns:", "passthrough:", "unix:")
"""gRPC targets the executor can dial (a bare ``host:port`` too); ``k8s://`` is not registered
on Flyte 2."""


def endpoint_problem(endpoint: str) -> str | None:
    """Why the Flyte 2 executor could not dial ``endpoint``, or None."""
    scheme, sep, _ = endpoint.partition("://")
    if sep and f"{scheme}:" not in SUPPORTED_SCHEMES:
        return (
            f"--endpoint {endpoint!r}: the Flyte 2 executor has no {scheme}:// resolver; "
            "use dns:///<service>:<port>"
        )
    return None


def default_timeouts(sync_routed: bool) -> dict[str, str]:
    """``TIMEOUTS``, with a longer ``CreateTask`` if a sync agent is routed."""
    timeouts = dict(TIMEOUTS)
    if sync_routed:
        timeouts["CreateTask"] = SYNC_CREATE_TIMEOUT
    return timeouts


def build_flyte2_config(
    task_types: Sequence[str],
    *,
    deployment: Mapping[str, Any],
    name: str | None = None,
    plugin_wide: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The executor configuration as plain data: every type routed to ``connector-service``,
    and ``deployment`` (endpoint, insecure, service config, timeouts) as ``defaultConnector``
    or, with ``name``, as ``connectors[name]`` plus ``connectorForTaskTypes`` routes;
    ``plugin_wide`` keys (``webApi``, ``resourceConstraints``: the same as Flyte 1's) are added
    to the plugin's section."""
    section: dict[str, Any]
    if name is None:
        section = {"defaultConnector": dict(deployment), "supportedTaskTypes": list(task_types)}
    else:
        section = {
            "connectors": {name: dict(deployment)},
            "connectorForTaskTypes": dict.fromkeys(task_types, name),
        }
    section.update(plugin_wide or {})
    return {
        "tasks": {"task-plugins": {"default-for-task-types": dict.fromkeys(task_types, PLUGIN)}},
        "plugins": {PLUGIN: section},
    }
