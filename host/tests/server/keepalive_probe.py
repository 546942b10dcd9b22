"""A client that pings every 10 s against a real server: one quiet call per protocol lasting
``QUIET_SECONDS`` on one channel, and a second channel idle as long, then called.

A default grpc server answers such pings with GOAWAY ``too_many_pings`` after about 50 s (the
quiet call fails ``UNAVAILABLE``, the idle channel drops its connection), so a probe shorter
than that would pass anywhere. It runs in the background (``start`` at the end of collection,
see ``host/tests/conftest.py``) so its 70 s overlap the rest of the suite; the test only waits
for the outcome.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from pathlib import Path
from typing import Any

import grpc
from flyteidl.admin import agent_pb2
from flyteidl.service import agent_pb2_grpc

from agenthost.testing import (
    ServerProcess,
    make_template,
    pythonpath_env,
    serve_command,
    start_server,
)

QUIET_SECONDS = 72.0
PING_MS = 10_000
CLIENT_OPTIONS = [
    ("grpc.keepalive_time_ms", PING_MS),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
]
"""Like the Flyte 2 executor's client (which pings every 30 s), three times as often."""

HERE = Path(__file__).resolve().parent


class Connectivity:
    """The states a channel went through after it was first READY."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.ready = threading.Event()
        self.lost: list[str] = []
        channel.subscribe(self._seen, try_to_connect=True)

    def _seen(self, state: grpc.ChannelConnectivity) -> None:
        if state is grpc.ChannelConnectivity.READY:
            self.ready.set()
        elif self.ready.is_set():
            self.lost.append(state.name)


class KeepaliveProbe:
    """Start with ``start()``; ``result(timeout)`` gives the outcome of every part."""

    def __init__(self, markers: Path) -> None:
        self.markers = markers
        self.server: ServerProcess | None = None
        self.pool = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="keepalive")
        self.future: concurrent.futures.Future[dict[str, Any]] | None = None

    def start(self) -> None:
        """Start the server and the calls; returns at once."""
        env = pythonpath_env(HERE.parent, AGENTHOST_TEST_MARKERS=str(self.markers))
        self.server = start_server(serve_command("--modules", "fake_plugins.basic"), env)
        self.future = self.pool.submit(self._run, self.server.address)

    def _run(self, address: str) -> dict[str, Any]:
        from flyteidl2.connector import connector_pb2 as c2
        from flyteidl2.connector import service_pb2_grpc as svc2
        from flyteidl2.core import tasks_pb2

        busy = grpc.insecure_channel(address, options=CLIENT_OPTIONS)
        idle = grpc.insecure_channel(address, options=CLIENT_OPTIONS)
        try:
            watched = {"busy": Connectivity(busy), "idle": Connectivity(idle)}
            for name, conn in watched.items():
                if not conn.ready.wait(30):
                    return {name: "never READY"}
            quiet = {"seconds": QUIET_SECONDS, "tag": "keepalive"}
            v1 = agent_pb2_grpc.AsyncAgentServiceStub(busy).CreateTask.future(
                agent_pb2.CreateTaskRequest(template=make_template("slow_async", custom=quiet)),
                timeout=QUIET_SECONDS + 60,
            )
            template = tasks_pb2.TaskTemplate.FromString(
                make_template("slow_async", custom=quiet).SerializeToString()
            )
            v2 = svc2.AsyncConnectorServiceStub(busy).CreateTask.future(
                c2.CreateTaskRequest(template=template), timeout=QUIET_SECONDS + 60
            )
            outcome: dict[str, Any] = {}
            began = time.monotonic()
            for name, call in (("v1", v1), ("v2", v2)):
                try:
                    outcome[name] = ("OK", call.result().resource_meta)
                except grpc.RpcError as error:
                    outcome[name] = (error.code().name, error.details())
            outcome["quiet_seconds"] = time.monotonic() - began
            listed = svc2.ConnectorMetadataServiceStub(idle).ListConnectors(
                c2.ListConnectorsRequest(), timeout=10
            )
            outcome["idle_call"] = len(listed.connectors)
            outcome["lost"] = {name: conn.lost for name, conn in watched.items()}
            return outcome
        finally:
            busy.close()
            idle.close()

    def result(self, timeout: float) -> dict[str, Any]:
        """The outcome (waits up to ``timeout`` seconds)."""
        assert self.future is not None
        return self.future.result(timeout)

    def stop(self) -> None:
        """Stop the server (ending any call still running) and the client threads."""
        if self.server is not None:
            self.server.stop()
        self.pool.shutdown(wait=False, cancel_futures=True)
