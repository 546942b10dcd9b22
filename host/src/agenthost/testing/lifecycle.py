"""A task's whole lifecycle, as propeller or the Flyte 2 executor would run it: in this process
through an agent object (``run_lifecycle``), or over gRPC through a running server
(``run_on_server``). Both are ``agenthost.run`` with polling tuned for tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import grpc
from flyteidl.core import literals_pb2, tasks_pb2

from agenthost.run.lifecycle import Backoff, RunResult, Status, run_blocking
from agenthost.run.templates import make_inputs

if TYPE_CHECKING:
    from agenthost.testing.server import ServerProcess

TEST_BACKOFF = Backoff(initial=0.01, factor=1.5, maximum=0.25)
"""Polling for tests: quick first polls, never more than a quarter second apart."""


def run_lifecycle(
    agent: Any,
    template: tasks_pb2.TaskTemplate,
    inputs: Mapping[str, Any] | literals_pb2.LiteralMap | None = None,
    *,
    on_status: Callable[[Status], None] | None = None,
    timeout: float = 60.0,
    backoff: Backoff = TEST_BACKOFF,
) -> RunResult:
    """Run ``template`` through ``agent`` in this process as propeller would: ``create`` then
    ``get`` until the phase is terminal (async agents and sensors), or ``do`` (sync agents).

    ``inputs`` are Python values (encoded with the template's interface) or a ``LiteralMap``.
    ``on_status(status)`` sees every ``Status`` as it happens. Returns a ``RunResult``
    (``phase_name``, ``message``, ``outputs`` as Python values, ``statuses``); errors the host
    would send to propeller (``InvalidRequestError``, ``AgentCallError``...) are raised.
    A task still running after ``timeout`` seconds is deleted and ``RunTimeout`` raised.
    Call it from synchronous tests (it runs its own event loop).
    """
    from agenthost.run.backends import LocalBackend
    from agenthost.sensor import BaseSensor, SensorRouter

    agents = [agent]
    if isinstance(agent, BaseSensor) and agent.aliases:
        agents.append(SensorRouter([agent]))
    return run_blocking(
        lambda: LocalBackend.for_agents(agents),
        template,
        make_inputs(template, inputs),
        on_status=on_status,
        timeout=timeout,
        backoff=backoff,
    )


def run_on_server(
    server: ServerProcess | str,
    template: tasks_pb2.TaskTemplate,
    inputs: Mapping[str, Any] | literals_pb2.LiteralMap | None = None,
    *,
    on_status: Callable[[Status], None] | None = None,
    timeout: float = 60.0,
    backoff: Backoff = TEST_BACKOFF,
    credentials: grpc.ChannelCredentials | None = None,
    protocol: str = "v1",
) -> RunResult:
    """``run_lifecycle`` through a running server (a ``ServerProcess`` or ``"host:port"``)
    over gRPC, with the calls propeller makes (CreateTask/GetTask/DeleteTask or
    ExecuteTaskSync), or with ``protocol="v2"`` the calls the Flyte 2 executor makes (the
    flyteidl2 connector services: CreateTask/GetTask/DeleteTask, sync agents included). gRPC
    errors are raised as ``agenthost.run.lifecycle.RemoteCallError``."""
    from agenthost.run.remote import RemoteBackend, RemoteConnectorBackend

    if protocol not in ("v1", "v2"):
        raise ValueError(f"protocol must be v1 or v2, not {protocol!r}")
    backend = RemoteConnectorBackend if protocol == "v2" else RemoteBackend
    address = server if isinstance(server, str) else server.address
    return run_blocking(
        lambda: backend(address, credentials),
        template,
        make_inputs(template, inputs),
        on_status=on_status,
        timeout=timeout,
        backoff=backoff,
    )
