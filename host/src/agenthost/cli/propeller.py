"""``agenthost propeller-config``: the FlytePropeller configuration for the agents installed here.

The keys are flyteplugins' web-API agent plugin configuration: current Flyte (1.16) calls the
plugin ``connector-service`` (``defaultConnector``, ``connectors``, ``connectorForTaskTypes``);
older releases call it ``agent-service`` (``defaultAgent``, ``agents``,
``agentForTaskTypes``). Both take ``supportedTaskTypes`` and, per deployment, ``endpoint``,
``insecure``, ``defaultServiceConfig``, ``defaultTimeout`` and ``timeouts`` keyed by RPC name,
and, for the plugin as a whole, ``webApi`` (status polling and rate limits) and
``resourceConstraints`` (how many tasks may run at once), emitted only when asked for.

The endpoint defaults to ``k8s://<service>.<namespace>:<port>``, the Kubernetes resolver
Flyte's own charts use: propeller watches the Service's endpoints, so a pod leaves the
rotation as soon as it starts terminating. The service config balances round robin over every
pod and retries ``UNAVAILABLE`` (a call that reached a pod as it went away, or a connection
refused) on the agent services; without it each such error costs a task one of its retries.

``--flyte 2`` prints the Flyte 2 executor's configuration instead
(``agenthost.cli.propeller_flyte2``).

The YAML is emitted here (no YAML library needed at run time) from plain dicts, lists,
strings, booleans and integers; strings are quoted whenever YAML could read them as
anything else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, NoReturn, Optional

import typer

from agenthost.cli import propeller_flyte2 as flyte2
from agenthost.cli.options import (
    AllowOption,
    BlockOption,
    ModulesOption,
    PluginSelection,
    split_names,
)

FLAVORS: dict[str, dict[str, str]] = {
    "connector": {
        "plugin": "connector-service",
        "default": "defaultConnector",
        "deployments": "connectors",
        "routes": "connectorForTaskTypes",
        "since": "current Flyte, e.g. 1.16",
    },
    "agent": {
        "plugin": "agent-service",
        "default": "defaultAgent",
        "deployments": "agents",
        "routes": "agentForTaskTypes",
        "since": "older Flyte releases",
    },
}
"""Key names per plugin flavor."""

DEFAULT_ENDPOINT = "k8s://agenthost.flyte:8000"
"""``k8s://<service>.<namespace>:<port>``: propeller's Kubernetes resolver, as Flyte's charts
use for ``flyteconnector``."""

AGENT_SERVICES = (
    "flyteidl.service.AsyncAgentService",
    "flyteidl.service.SyncAgentService",
    "flyteidl.service.AgentMetadataService",
)
"""The services the ``connector-service`` plugin of Flyte 1.16 (and ``agent-service``) calls."""

RETRY_POLICY: dict[str, Any] = {
    "maxAttempts": 5,
    "initialBackoff": "0.1s",
    "maxBackoff": "1s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}
"""Up to four retries within about 1.5 s: long enough to reach another replica during a
rollout, short against propeller's per-RPC deadlines."""

SERVICE_CONFIG: dict[str, Any] = {
    "loadBalancingConfig": [{"round_robin": {}}],
    "methodConfig": [
        {"name": [{"service": name} for name in AGENT_SERVICES], "retryPolicy": RETRY_POLICY}
    ],
}


def service_config(*, health_check: bool = False, services: Sequence[str] = AGENT_SERVICES) -> str:
    """The gRPC service config (JSON) for propeller: ``SERVICE_CONFIG`` (its retries on
    ``services``: the v1 agent services unless told otherwise), plus client-side health
    checking (``healthCheckConfig``) if asked: a client that supports it stops picking a
    replica as soon as it reports ``NOT_SERVING``, before its GOAWAY."""
    config = dict(SERVICE_CONFIG)
    if tuple(services) != AGENT_SERVICES:
        names = [{"service": name} for name in services]
        config["methodConfig"] = [{"name": names, "retryPolicy": RETRY_POLICY}]
    if health_check:
        config["healthCheckConfig"] = {"serviceName": ""}
    return json.dumps(config, separators=(",", ":"))


DEFAULT_SERVICE_CONFIG = service_config()
"""gRPC service config (JSON): round robin over every pod the endpoint resolves to, and
retries of ``UNAVAILABLE`` on the agent services."""

DEFAULT_TIMEOUTS: dict[str, str] = {
    "CreateTask": "30s",
    "GetTask": "10s",
    "DeleteTask": "10s",
    "ExecuteTaskSync": "300s",
}
"""Per-RPC deadlines propeller applies (``ExecuteTaskSync`` waits for the whole sync call)."""

BASE_PLUGINS: dict[str, str] = {
    "container": "container",
    "sidecar": "sidecar",
    "container_array": "k8s-array",
}
"""Propeller's usual plugins, kept enabled next to the agent plugin."""


@dataclass(frozen=True)
class Polling:
    """Propeller's status polling and rate limits for the agent plugin (``webApi``) and how
    many of its tasks may run at once (``resourceConstraints``); ``None`` keeps propeller's
    default (resync 30s, 10 QPS with bursts of 100 for reads and writes, 100 per project, 50
    per project-domain namespace)."""

    resync_interval: str | None = None
    read_qps: int | None = None
    read_burst: int | None = None
    write_qps: int | None = None
    write_burst: int | None = None
    max_per_project: int | None = None
    max_per_namespace: int | None = None

    def section(self) -> dict[str, Any]:
        """The keys to add to the plugin's section (empty if nothing was set)."""
        web_api: dict[str, Any] = {}
        if self.resync_interval is not None:
            web_api["caching"] = {"resyncInterval": self.resync_interval}
        for key, qps, burst in (
            ("readRateLimiter", self.read_qps, self.read_burst),
            ("writeRateLimiter", self.write_qps, self.write_burst),
        ):
            limiter = {k: v for k, v in (("qps", qps), ("burst", burst)) if v is not None}
            if limiter:
                web_api[key] = limiter
        constraints = {
            name: {"Value": value}
            for name, value in (
                ("ProjectScopeResourceConstraint", self.max_per_project),
                ("NamespaceScopeResourceConstraint", self.max_per_namespace),
            )
            if value is not None
        }
        section: dict[str, Any] = {}
        if web_api:
            section["webApi"] = web_api
        if constraints:
            section["resourceConstraints"] = constraints
        return section


_DURATION = re.compile(r"^\d+(\.\d+)?(ns|us|ms|s|m|h)$")
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
_RESERVED = {"y", "n", "yes", "no", "true", "false", "on", "off", "null", "nan", "inf"}


def propeller_config(
    endpoint: Annotated[
        str,
        typer.Option(
            help="gRPC target propeller dials: k8s://SERVICE.NAMESPACE:PORT (propeller watches "
            "the Service's endpoints) or dns:///HEADLESS-SERVICE:PORT.",
        ),
    ] = DEFAULT_ENDPOINT,
    name: Annotated[
        Optional[str],  # noqa: UP045 - typer needs Optional on Python 3.10
        typer.Option(
            help="Emit a named deployment plus task-type routes (e.g. a canary) instead of "
            "the default deployment.",
        ),
    ] = None,
    only: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            help="Route only these task types (repeatable; each must be served here).",
        ),
    ] = None,
    flavor: Annotated[
        str,
        typer.Option(
            help="connector (connector-service, current Flyte) or agent (agent-service, "
            "older Flyte releases).",
        ),
    ] = "connector",
    flyte: Annotated[
        int,
        typer.Option(
            help="1: FlytePropeller (Flyte 1); 2: the Flyte 2 executor (routes every type "
            "through tasks.task-plugins.default-for-task-types; endpoint default "
            "dns:///agenthost.flyte.svc.cluster.local:8000).",
        ),
    ] = 1,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure/--tls",
            help="Plaintext (agenthost serve without --tls-cert) or TLS to the endpoint.",
        ),
    ] = True,
    default_timeout: Annotated[
        str, typer.Option(help="Deadline of RPCs without a --timeout of their own.")
    ] = "10s",
    timeout: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            help="Per-RPC deadline as RPC=DURATION (CreateTask, GetTask, DeleteTask, "
            "ExecuteTaskSync; with --flyte 2: ListConnectors, not ExecuteTaskSync); repeatable.",
        ),
    ] = None,
    allow: AllowOption = None,
    block: BlockOption = None,
    modules: ModulesOption = None,
    resync_interval: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            help="How often propeller polls each running task with GetTask "
            "(webApi.caching.resyncInterval; propeller's default 30s).",
        ),
    ] = None,
    read_qps: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="GetTask calls per second over all tasks (webApi.readRateLimiter)."),
    ] = None,
    read_burst: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="Burst of GetTask calls above --read-qps."),
    ] = None,
    write_qps: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            help="CreateTask/DeleteTask calls per second (webApi.writeRateLimiter).",
        ),
    ] = None,
    write_burst: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="Burst of CreateTask/DeleteTask calls above --write-qps."),
    ] = None,
    max_per_project: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            help="Tasks of these types running at once per project "
            "(resourceConstraints.ProjectScopeResourceConstraint).",
        ),
    ] = None,
    max_per_namespace: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            help="Tasks of these types running at once per project and domain "
            "(resourceConstraints.NamespaceScopeResourceConstraint).",
        ),
    ] = None,
    health_check: Annotated[
        bool,
        typer.Option(
            "--health-check/--no-health-check",
            help="Add client-side health checking to the service config (propeller then stops "
            "calling a replica as soon as it reports NOT_SERVING; needs a propeller build "
            "that links grpc-go's health package, e.g. flyte-binary).",
        ),
    ] = False,
) -> None:
    """Print the FlytePropeller configuration (YAML) that routes this host's task types to it."""
    endpoint = _checked_target(flavor, flyte, endpoint, name)
    chosen = _chosen_timeouts(timeout or (), flyte2.TIMEOUTS if flyte == 2 else DEFAULT_TIMEOUTS)
    polling = _checked_polling(
        default_timeout,
        Polling(
            resync_interval, read_qps, read_burst, write_qps, write_burst,
            max_per_project, max_per_namespace,
        ),
    )  # fmt: skip
    result = PluginSelection.from_options(allow, block, modules).load()
    task_types = _routed_task_types(result.agents, split_names(only))
    keys = FLAVORS[flavor]
    if flyte == 2:
        sync_types = {a.task_category.name for a in result.agents if a.is_sync}
        timeouts = flyte2.default_timeouts(bool(sync_types & set(task_types))) | chosen
        target = deployment(
            endpoint,
            insecure,
            default_timeout,
            timeouts,
            health_check=health_check,
            services=flyte2.CONNECTOR_SERVICES,
        )
        config = flyte2.build_flyte2_config(
            task_types, deployment=target, name=name, plugin_wide=polling.section()
        )
        header = [
            "Flyte 2 executor configuration for agenthost (connector-service, flyteidl2).",
            f"Task types: {', '.join(task_types)}.",
            "Merge into the executor's configuration: on Flyte 2 only",
            "tasks.task-plugins.default-for-task-types routes a type to the connector plugin.",
            "Sync agents run inside CreateTask, so its timeout bounds them.",
        ]
    else:
        config = build_config(
            task_types,
            endpoint=endpoint,
            name=name,
            flavor=flavor,
            insecure=insecure,
            default_timeout=default_timeout,
            timeouts=DEFAULT_TIMEOUTS | chosen,
            polling=polling,
            health_check=health_check,
        )
        header = [
            f"FlytePropeller configuration for agenthost ({keys['plugin']}, {keys['since']}).",
            f"Task types: {', '.join(task_types)}.",
            "Merge into propeller's configuration (the flyte-propeller-config ConfigMap, or your",
            "helm values); keep the plugins and task-type defaults you already have.",
        ]
    if name is not None:
        header.append(
            f"Deployment {name!r} serves only the task types listed under "
            f"{keys['routes']}; everything else keeps its current route."
        )
    for problem in result.failed:
        header.append(f"WARNING: plugin {problem.label} failed to load: {problem.reason}")
    typer.echo("\n".join(f"# {line}" for line in header))
    typer.echo(to_yaml(config), nl=False)


def _fail(message: str) -> NoReturn:
    """Report a usage error the way typer reports its own (exit code 2)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _checked_target(flavor: str, flyte: int, endpoint: str, name: str | None) -> str:
    """Check the flavor, Flyte line, endpoint and deployment name; the endpoint to emit."""
    if not endpoint.strip():
        _fail(f"--endpoint {endpoint!r} is empty: give the gRPC target propeller dials")
    if flavor not in FLAVORS:
        _fail(f"--flavor must be one of {', '.join(FLAVORS)}")
    if flyte not in (1, 2):
        _fail("--flyte must be 1 (FlytePropeller) or 2 (the Flyte 2 executor)")
    if flyte == 2:
        if flavor != "connector":
            _fail("--flyte 2 has only the connector flavor (connector-service)")
        if endpoint == DEFAULT_ENDPOINT:
            endpoint = flyte2.DEFAULT_ENDPOINT
        if unreachable := flyte2.endpoint_problem(endpoint):
            _fail(unreachable)
    if name is not None and not _PLAIN.match(name):
        _fail("--name must be letters, digits, _ . / - (starting with a letter)")
    return endpoint


def _chosen_timeouts(items: Sequence[str], rpcs: Iterable[str]) -> dict[str, str]:
    """The ``--timeout RPC=DURATION`` values, checked against the RPCs of the chosen line."""
    rpcs = list(rpcs)
    chosen: dict[str, str] = {}
    for item in items:
        rpc, sep, value = item.partition("=")
        if not sep or rpc not in rpcs or not _DURATION.match(value):
            _fail(
                f"--timeout {item!r} must be RPC=DURATION, RPC one of "
                f"{', '.join(rpcs)}, DURATION like 30s or 2m"
            )
        chosen[rpc] = value
    return chosen


def _checked_polling(default_timeout: str, polling: Polling) -> Polling:
    """Check the durations and the poll-rate numbers; ``polling`` itself."""
    if not _DURATION.match(default_timeout):
        _fail(f"--default-timeout {default_timeout!r} must be a duration like 10s")
    if polling.resync_interval is not None and not _DURATION.match(polling.resync_interval):
        _fail(f"--resync-interval {polling.resync_interval!r} must be a duration like 60s")
    for option, value in vars(polling).items():
        if isinstance(value, int) and value < 1:
            _fail(f"--{option.replace('_', '-')} must be at least 1")
    return polling


def _routed_task_types(agents: Sequence[Any], wanted: list[str]) -> list[str]:
    """The served task types to route: all of them, or the ``--only`` ones (each served)."""
    served = sorted({agent.task_category.name for agent in agents})
    unknown = [t for t in wanted if t not in served]
    if unknown:
        _fail(
            f"--only names task types not served here: {', '.join(unknown)} "
            f"(served: {', '.join(served) or 'none'})"
        )
    task_types = [t for t in served if t in wanted] if wanted else served
    if not task_types:
        _fail("no agents are installed here (agenthost plugins lists what was found)")
    return task_types


def deployment(
    endpoint: str,
    insecure: bool,
    default_timeout: str,
    timeouts: Mapping[str, str],
    *,
    health_check: bool = False,
    services: Sequence[str] = AGENT_SERVICES,
) -> dict[str, Any]:
    """One connector deployment: where to dial, how (the service config retries ``services``),
    and with which deadlines."""
    return {
        "endpoint": endpoint,
        "insecure": insecure,
        "defaultServiceConfig": service_config(health_check=health_check, services=services),
        "defaultTimeout": default_timeout,
        "timeouts": dict(timeouts),
    }


def build_config(
    task_types: Sequence[str],
    *,
    endpoint: str = DEFAULT_ENDPOINT,
    name: str | None = None,
    flavor: str = "connector",
    insecure: bool = True,
    default_timeout: str = "10s",
    timeouts: Mapping[str, str] = DEFAULT_TIMEOUTS,
    polling: Polling | None = None,
    health_check: bool = False,
) -> dict[str, Any]:
    """The configuration as plain data (see the module docstring for the keys)."""
    keys = FLAVORS[flavor]
    plugin = keys["plugin"]
    target = deployment(endpoint, insecure, default_timeout, timeouts, health_check=health_check)
    defaults = dict(BASE_PLUGINS)
    defaults.update(dict.fromkeys(task_types, plugin))
    section: dict[str, Any]
    if name is None:
        section = {keys["default"]: target, "supportedTaskTypes": list(task_types)}
    else:
        section = {
            keys["deployments"]: {name: target},
            keys["routes"]: dict.fromkeys(task_types, name),
        }
    if polling is not None:
        section.update(polling.section())
    return {
        "tasks": {
            "task-plugins": {
                "enabled-plugins": [*dict.fromkeys(BASE_PLUGINS.values()), plugin],
                "default-for-task-types": defaults,
            }
        },
        "plugins": {plugin: section},
    }


def to_yaml(data: Mapping[str, Any], indent: int = 0) -> str:
    """Block-style YAML for nested dicts and lists of strings, booleans and integers."""
    lines: list[str] = []
    _emit_mapping(data, indent, lines)
    return "\n".join(lines) + "\n"


def _emit_mapping(data: Mapping[str, Any], indent: int, lines: list[str]) -> None:
    pad = " " * indent
    for key, value in data.items():
        label = f"{pad}{_scalar(str(key))}:"
        if isinstance(value, Mapping):
            if value:
                lines.append(label)
                _emit_mapping(value, indent + 2, lines)
            else:
                lines.append(f"{label} {{}}")
        elif isinstance(value, (list, tuple)):
            if value:
                lines.append(label)
                for item in value:
                    lines.append(f"{pad}  - {_scalar(item)}")
            else:
                lines.append(f"{label} []")
        else:
            lines.append(f"{label} {_scalar(value)}")


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED:
        return text
    if all(c.isprintable() for c in text):
        return "'" + text.replace("'", "''") + "'"
    return json.dumps(text)
