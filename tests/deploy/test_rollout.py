"""Rollouts that fail no call, with the client propeller has: round robin over two replicas
and **no retry policy** (``defaultServiceConfig`` without ``methodConfig``), sending calls
continuously (at least 100 per second for at least 3 seconds) while replicas get SIGTERM as a
kubelet sends it (to the main process only).

On SIGTERM a replica sends GOAWAY on every connection at once, so the client stops picking it;
a call it had already started finishes within the grace period.

One failure is out of the server's hands: gRPC core cancels a call that reaches it after its
shutdown began but before the client read the GOAWAY (or that it had received but not yet handed
to the event loop). Such a ``CANCELLED`` within a moment of a SIGTERM is reported as a warning;
there can be at most one per client thread and SIGTERM (a thread has one call on the wire). Any
other failed call fails the test (see docs/operations.md, "Rollouts", for the measured rate)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import grpc
import pytest
from deploy_kit import agent_module
from flyteidl.admin import agent_pb2
from flyteidl.service import agent_pb2_grpc

from agenthost.cli.propeller import service_config
from agenthost.testing import ServerProcess, make_template, serve_command, start_server, wait_for

TASK_TYPE = "rollout_probe"
AGENT_MODULE = "rollout_probe_agent"
AGENT_SOURCE = '''
"""CreateTask takes a moment (so calls are always in flight) and says which process ran it."""

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

from agenthost import AgentRegistry, AsyncAgentBase, Resource, ResourceMeta, custom_of

AGENTHOST_PLUGIN_API = ">=1.0,<2"


@dataclass
class ProbeJob(ResourceMeta):
    pid: int


class RolloutProbe(AsyncAgentBase):
    def __init__(self):
        super().__init__("rollout_probe", ProbeJob, name="RolloutProbe")

    async def create(self, task_template, inputs=None, **kwargs):
        custom = custom_of(task_template)
        if "marker" in custom:
            Path(custom["marker"]).touch()
        await asyncio.sleep(float(custom.get("seconds", 0.02)))
        return ProbeJob(os.getpid())

    async def get(self, resource_meta):
        return Resource.succeeded({})

    async def delete(self, resource_meta):
        pass


AgentRegistry.register(RolloutProbe())
'''

PROPELLER_SERVICE_CONFIG: dict[str, Any] = {"loadBalancingConfig": [{"round_robin": {}}]}
"""Propeller's default ``defaultServiceConfig``: round robin, no retry policy."""

CLIENT_THREADS = 6
MIN_RATE = 100.0
MIN_SECONDS = 3.0
SHUTDOWN_RACE_SECONDS = 1.0
"""How long after a SIGTERM a ``CANCELLED`` counts as racing gRPC core's shutdown."""


@dataclass
class Traffic:
    """Client threads sending CreateTask back to back through one channel."""

    stub: agent_pb2_grpc.AsyncAgentServiceStub
    ok: int = 0
    failures: list[tuple[float, str]] = field(default_factory=list)
    sigterms: list[float] = field(default_factory=list)
    served_by: set[int] = field(default_factory=set)
    started: float = 0.0
    stopped: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def _send(self) -> None:
        request = agent_pb2.CreateTaskRequest(template=make_template(TASK_TYPE))
        while not self._stop.is_set():
            try:
                reply = self.stub.CreateTask(request, timeout=10)
            except grpc.RpcError as error:
                failure = (time.monotonic(), f"{error.code().name}: {error.details()}")
                with self._lock:
                    self.failures.append(failure)
                continue
            pid = json.loads(reply.resource_meta)["pid"]
            with self._lock:
                self.ok += 1
                self.served_by.add(pid)

    def start(self) -> None:
        self.started = time.monotonic()
        self._threads = [threading.Thread(target=self._send) for _ in range(CLIENT_THREADS)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        wait_for(lambda: time.monotonic() - self.started >= MIN_SECONDS, timeout=MIN_SECONDS + 1)
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)
        self.stopped = time.monotonic()

    def reached(self, replica: ServerProcess) -> bool:
        """Whether one of ``replica``'s processes has answered (it is in rotation)."""
        with self._lock:
            return bool(self.served_by & _pids(replica))

    def sigterm(self, replica: ServerProcess) -> int:
        """SIGTERM to ``replica``'s main process only, as the kubelet sends it; its exit code."""
        self.sigterms.append(time.monotonic())
        os.kill(replica.process.pid, signal.SIGTERM)
        return replica.process.wait(timeout=30)

    def _racing_shutdown(self, at: float, failure: str) -> bool:
        return failure == "CANCELLED: CANCELLED" and any(
            0 <= at - s <= SHUTDOWN_RACE_SECONDS for s in self.sigterms
        )

    def assert_clean(self, *, strict: bool = False) -> None:
        """No failed call (``strict``), or none but what gRPC core cancels while a replica's
        shutdown starts; and the rate the test promises."""
        seconds = self.stopped - self.started
        calls = self.ok + len(self.failures)
        if strict:
            assert self.failures == [], f"{len(self.failures)} of {calls} failed: {self.failures}"
        racing = [f for at, f in self.failures if self._racing_shutdown(at, f)]
        failed = [f for at, f in self.failures if not self._racing_shutdown(at, f)]
        assert failed == [], f"{len(failed)} of {calls} calls failed: {failed[:3]}"
        assert len(racing) <= CLIENT_THREADS * len(self.sigterms), racing
        if racing:
            warnings.warn(
                f"{len(racing)} of {calls} calls cancelled by gRPC core racing a shutdown "
                f"({len(self.sigterms)} SIGTERMs)",
                stacklevel=2,
            )
        assert seconds >= MIN_SECONDS
        assert calls / seconds >= MIN_RATE, f"only {calls / seconds:.0f} calls/s"


@pytest.fixture(scope="module")
def agent_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return agent_module(tmp_path_factory.mktemp("rollout-agent"), AGENT_MODULE, AGENT_SOURCE)


def _replica(env: dict[str, str], workers: int, port: int = 0) -> ServerProcess:
    command = serve_command("--modules", AGENT_MODULE, "--strict", "--grace-period", "10")
    command[command.index("--port") + 1] = str(port)
    if workers > 1:
        command += ["--workers", str(workers)]
    return start_server(command, env)


def _pids(replica: ServerProcess) -> set[int]:
    """The processes that serve calls: the workers of ``--workers N``, else the server."""
    workers = re.findall(r"^agenthost worker \d+ pid (\d+) serving", replica.logs(), re.M)
    return {int(pid) for pid in workers} or {replica.process.pid}


@contextlib.contextmanager
def _two_replicas(
    env: dict[str, str], workers: int, service_config: str = json.dumps(PROPELLER_SERVICE_CONFIG)
) -> Iterator[tuple[list[ServerProcess], Traffic]]:
    replicas = [_replica(env, workers), _replica(env, workers)]
    target = "ipv4:" + ",".join(f"127.0.0.1:{r.port}" for r in replicas)
    channel = grpc.insecure_channel(
        target,
        options=[
            ("grpc.service_config", service_config),
            ("grpc.use_local_subchannel_pool", 1),
        ],
    )
    traffic = Traffic(agent_pb2_grpc.AsyncAgentServiceStub(channel))
    try:
        traffic.start()
        # Both replicas in rotation: the channel connects to its addresses one by one.
        wait_for(lambda: len(traffic.served_by) >= 2, timeout=30)
        yield replicas, traffic
    finally:
        traffic.stop()
        channel.close()
        for replica in replicas:
            replica.stop()


def test_sigterm_to_one_replica_fails_no_call(agent_env: dict[str, str], tmp_path: Path) -> None:
    with _two_replicas(agent_env, workers=1) as (replicas, traffic):
        leaving = replicas[0]
        marker = tmp_path / "long-call-started"
        long_call = agent_pb2.CreateTaskRequest(
            template=make_template(TASK_TYPE, custom={"seconds": 1.5, "marker": str(marker)})
        )
        pending = leaving.async_stub.CreateTask.future(long_call, timeout=20)
        wait_for(marker.exists, timeout=10)
        signalled = time.monotonic()
        assert traffic.sigterm(leaving) == 0
        exited = time.monotonic() - signalled
        # The call in flight at SIGTERM finished, and the replica waited for it.
        assert json.loads(pending.result().resource_meta)["pid"] == leaving.process.pid
        assert 1.0 <= exited < 10
        calls_before = traffic.ok
        wait_for(lambda: traffic.ok >= calls_before + 50, timeout=10)
    traffic.assert_clean()


def _rolling_restart(
    agent_env: dict[str, str], replicas: list[ServerProcess], traffic: Traffic, workers: int
) -> None:
    for index in range(len(replicas)):
        assert traffic.sigterm(replicas[index]) == 0
        replicas[index] = _replica(agent_env, workers, port=replicas[index].port)
        # The restarted replica is back in rotation before the next one leaves.
        wait_for(partial(traffic.reached, replicas[index]), timeout=30)


@pytest.mark.parametrize("workers", [1, 2], ids=["workers-1", "workers-2"])
def test_rolling_restart_of_both_replicas_fails_no_call(
    agent_env: dict[str, str], workers: int
) -> None:
    with _two_replicas(agent_env, workers) as (replicas, traffic):
        _rolling_restart(agent_env, replicas, traffic, workers)
    traffic.assert_clean()


def test_health_checking_clients_see_no_failed_call_at_all(agent_env: dict[str, str]) -> None:
    """With ``propeller-config --health-check``'s service config, the client stops picking a
    replica when it reports NOT_SERVING, before gRPC's shutdown: not even the core race."""
    config = service_config(health_check=True)
    with _two_replicas(agent_env, 1, config) as (replicas, traffic):
        _rolling_restart(agent_env, replicas, traffic, 1)
    traffic.assert_clean(strict=True)
