"""The ``Server`` object in process: agents loaded by the real loader, ``start()`` on a free port,
both protocols called with their own generated stubs, and ``stop()`` draining (health
``NOT_SERVING``, in-flight calls finished within the grace, agents closed), idempotently."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from flyteidl.admin import agent_pb2
from flyteidl.service import agent_pb2_grpc
from flyteidl2.connector import connector_pb2 as c2
from flyteidl2.connector import service_pb2_grpc as svc2
from flyteidl2.core import tasks_pb2 as tasks2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from agenthost.server.app import Server, ServerConfig, load
from agenthost.server.ports import bind_error, free_port
from agenthost.server.process import StartupError
from agenthost.testing import make_template

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
T = TypeVar("T")


@pytest.fixture
def markers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The directory the test agents write marker files into."""
    monkeypatch.setenv("AGENTHOST_TEST_MARKERS", str(tmp_path))
    return tmp_path


def _config(**overrides: Any) -> ServerConfig:
    """A loopback server on a free port with the test agents and no entry-point plugins."""
    config = ServerConfig(
        host="127.0.0.1", port=free_port(), metrics_port=0, modules=["fake_plugins.basic"], allow=[]
    )
    return dataclasses.replace(config, **overrides)


def _server(config: ServerConfig) -> Server:
    plugins = load(config)
    assert not plugins.failed
    return Server(config, plugins.agents)


async def _until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def _run(scenario: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(scenario(), timeout=60))


def test_serves_both_protocols_and_health_then_drains(markers: Path) -> None:
    async def scenario() -> None:
        server = _server(_config())
        await server.start()
        assert server.port is not None
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for name in ("", *server.service_names):
                reply = await health.Check(health_pb2.HealthCheckRequest(service=name))
                assert reply.status == SERVING, name

            template = make_template("fast_async")
            v1 = agent_pb2_grpc.AsyncAgentServiceStub(channel)
            created = await v1.CreateTask(
                agent_pb2.CreateTaskRequest(template=template, output_prefix="s3://b/v1")
            )
            assert b"job-s3://b/v1" in created.resource_meta

            v2 = svc2.AsyncConnectorServiceStub(channel)
            template2 = tasks2.TaskTemplate.FromString(template.SerializeToString())
            created2 = await v2.CreateTask(
                c2.CreateTaskRequest(template=template2, output_prefix="s3://b/v2")
            )
            assert b"job-s3://b/v2" in created2.resource_meta
            got = await v2.GetTask(
                c2.GetTaskRequest(
                    task_category=c2.TaskCategory(name="fast_async"),
                    resource_meta=created.resource_meta,
                )
            )
            assert got.resource.message == "done job-s3://b/v1"

            watch = health.Watch(health_pb2.HealthCheckRequest(service=""))
            assert (await watch.read()).status == SERVING
            stopping = asyncio.create_task(server.stop(grace=5))
            assert (await watch.read()).status == NOT_SERVING
            watch.cancel()
            await stopping
        assert (markers / "closed-FastAgent").exists()

    _run(scenario)


async def _stop_with_a_call_in_flight(
    seconds: float, grace: float, markers: Path
) -> tuple[float, agent_pb2.CreateTaskResponse | grpc.aio.AioRpcError]:
    """Start a server and a ``slow_async`` call of ``seconds`` (tag ``inflight``), stop the
    server with ``grace`` once the call has started; how long ``stop`` took, and the call's
    reply or error."""
    server = _server(_config())
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        v1 = agent_pb2_grpc.AsyncAgentServiceStub(channel)
        template = make_template("slow_async", custom={"seconds": seconds, "tag": "inflight"})
        call = v1.CreateTask(agent_pb2.CreateTaskRequest(template=template), timeout=30)
        await _until((markers / "started-inflight").exists)
        began = time.monotonic()
        await server.stop(grace=grace)
        took = time.monotonic() - began
        try:
            return took, await call
        except grpc.aio.AioRpcError as exc:
            return took, exc


def test_every_method_is_served_without_grpc_registered_methods(
    markers: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """grpc.aio waits on one pending request per registered method for every call it accepts
    (``agenthost.server.handlers``): the server registers none, and health, both protocols and
    an unknown method still answer as they should, on both ports. Health ``List``, which the
    servicer does not implement, is an unknown method too, not a logged traceback."""
    registered: list[str] = []
    real_server = grpc.aio.server

    def recording_server(*args: Any, **kwargs: Any) -> Any:
        server = real_server(*args, **kwargs)
        server.add_registered_method_handlers = lambda service, _: registered.append(service)
        return server

    monkeypatch.setattr(grpc.aio, "server", recording_server)
    caplog.set_level(logging.DEBUG)

    async def scenario() -> None:
        health_port = free_port()
        server = _server(_config(health_port=health_port))
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                health = health_pb2_grpc.HealthStub(channel)
                for name in ("", *server.service_names):
                    reply = await health.Check(health_pb2.HealthCheckRequest(service=name))
                    assert reply.status == SERVING, name
                await _list_is_unimplemented(health)
                watch = health.Watch(health_pb2.HealthCheckRequest(service=""))
                assert (await watch.read()).status == SERVING
                watch.cancel()
                template = make_template("fast_async")
                created = await agent_pb2_grpc.AsyncAgentServiceStub(channel).CreateTask(
                    agent_pb2.CreateTaskRequest(template=template)
                )
                assert created.resource_meta
                connectors = await svc2.ConnectorMetadataServiceStub(channel).ListConnectors(
                    c2.ListConnectorsRequest()
                )
                assert connectors.connectors
                unknown = channel.unary_unary("/agenthost.Nope/Nothing")
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await unknown(b"")
                assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
            async with grpc.aio.insecure_channel(f"127.0.0.1:{health_port}") as side:
                reply = await health_pb2_grpc.HealthStub(side).Check(
                    health_pb2.HealthCheckRequest(service="")
                )
                assert reply.status == SERVING
                await _list_is_unimplemented(health_pb2_grpc.HealthStub(side))
        finally:
            await server.stop(grace=1)
        assert registered == []
        assert not [r for r in caplog.records if r.exc_info or "NotImplemented" in r.getMessage()]

    _run(scenario)


async def _list_is_unimplemented(health: Any) -> None:
    """Health ``List``, which grpcio's asyncio servicer leaves as the generated stub, is
    answered as an unknown method: no servicer code runs, nothing is logged."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await health.List(health_pb2.HealthListRequest())
    assert info.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert info.value.details() == "Method not found!"


def test_a_call_in_flight_finishes_within_the_grace(markers: Path) -> None:
    took, reply = _run(lambda: _stop_with_a_call_in_flight(1.0, grace=20, markers=markers))
    assert isinstance(reply, agent_pb2.CreateTaskResponse), reply
    assert b'"inflight"' in reply.resource_meta
    assert (markers / "finished-inflight").exists()
    assert not (markers / "cancelled-inflight").exists()
    assert took < 20, "stop waited for the whole grace instead of the call"


def test_a_call_past_the_grace_is_cancelled(markers: Path) -> None:
    took, reply = _run(lambda: _stop_with_a_call_in_flight(60, grace=0.2, markers=markers))
    assert isinstance(reply, grpc.aio.AioRpcError)
    assert reply.code() == grpc.StatusCode.UNAVAILABLE  # gRPC cancels every call at the end
    assert (markers / "cancelled-inflight").exists()
    assert not (markers / "finished-inflight").exists()
    assert took < 10


def test_stop_is_idempotent(markers: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agenthost.server")

    async def scenario() -> None:
        server = _server(_config())
        await server.start()
        first, second = server.stop(grace=1), server.stop(grace=1)
        await asyncio.gather(first, second)
        await server.stop()
        await server.stop(grace=0)
        drains = [r.getMessage() for r in caplog.records if r.name == "agenthost.server"]
        assert drains == ["shutting down: grace period 1.0 s", "stopped"]
        assert (markers / "closed-FastAgent").exists()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await health.Check(health_pb2.HealthCheckRequest(), timeout=2)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE

    _run(scenario)


def test_a_taken_port_is_a_startup_error_naming_it(markers: Path) -> None:
    async def scenario() -> None:
        running = _server(_config())
        await running.start()
        try:
            taken = _server(_config(port=running.port))
            with pytest.raises(StartupError, match=f"port {running.port} is already in use"):
                await taken.start()
            await taken.stop(grace=0)
        finally:
            await running.stop(grace=0)

    _run(scenario)


def test_a_taken_side_port_leaves_nothing_listening(markers: Path) -> None:
    """A ``--health-port`` (or ``--metrics-port``) that cannot be bound fails ``start()``
    after the gRPC port was bound: that port must not stay listening (grpc listens as it
    binds), or an in-process caller that retries keeps the port until garbage collection."""

    async def scenario() -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            for side in ("health_port", "metrics_port"):
                server = _server(_config(**{side: taken.getsockname()[1]}))
                with pytest.raises(StartupError, match=f"--{side.replace('_', '-')}"):
                    await server.start()
                assert server.port is not None
                assert bind_error("127.0.0.1", server.port) is None, side
                await server.stop(grace=0)

    _run(scenario)
