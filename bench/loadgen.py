"""Load generator: a separate ``grpc.aio`` client process driven by JSON lines on stdin.

Each command ``{"address": "127.0.0.1:PORT", "pid": SERVER_PID, "rpc": "GetTask",
"concurrency": 16, "warmup": 0.3, "duration": 2.0}`` runs ``concurrency`` callers in a loop
(``agenthost.testing.load.drive``, with its request builders) for ``warmup`` seconds
(discarded), then for ``duration`` seconds, and answers one JSON line:
``calls``, ``errors``, ``ops``, ``p50_us``, ``p99_us``, ``server_cpu_us`` (utime+stime of the
server's process tree from ``/proc`` over the measured window, divided by calls) and
``client_cpu_us`` (this process, per call).

With ``"get_request"`` (a serialized ``GetTaskRequest``, base64) the ``GetTask`` callers send
that request and check that the task SUCCEEDED (the plugins section polls real plugins). With
``"connections": N`` the callers are spread over N connections (the ``--workers`` phase: the
kernel hands each connection to one worker process).

Also ``python loadgen.py --once ADDRESS RPC`` for a single call (smoke test).
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

import grpc
from flyteidl.admin import agent_pb2
from flyteidl.service import agent_pb2_grpc
from procfs import tree_cpu_seconds

from agenthost.testing import make_inputs
from agenthost.testing.load import (
    create_request,
    drive,
    flytekit_template,
    get_request,
    percentile,
    sync_requests,
    v2_create_request,
    v2_get_request,
)

RPCS = ("GetTask", "CreateTask", "ExecuteTaskSync", "ListAgents")
RPCS_V2 = ("GetTask v2", "CreateTask v2", "ListConnectors")
"""flyteidl2 connector calls, as the Flyte 2 executor makes them (``v2_calls``)."""

ASYNC_TEMPLATE = flytekit_template("bench_async", ["x"], ["result"])
SYNC_TEMPLATE = flytekit_template("bench_sync", ["x"], ["x"])
INPUTS = make_inputs(ASYNC_TEMPLATE, {"x": "hello"})
OUTPUT_PREFIX = "s3://bench/outputs/abc"
GET_REQUEST = get_request("bench_async", b'{"job_id": "job-1"}', OUTPUT_PREFIX)
CREATE_REQUEST = create_request(ASYNC_TEMPLATE, INPUTS, OUTPUT_PREFIX)
SYNC_HEADER, SYNC_INPUTS = sync_requests(SYNC_TEMPLATE, INPUTS, "s3://bench/o")
LIST_REQUEST = agent_pb2.ListAgentsRequest()


def v2_calls(channel: grpc.aio.Channel) -> dict[str, Callable[[], Coroutine[Any, Any, Any]]]:
    """The ``RPCS_V2`` calls: the same tasks as the v1 calls, over flyteidl2 (imported only
    here, so v1 runs need no flyteidl2), with an empty ``connection`` as the OSS executor
    sends."""
    from flyteidl2.connector import connector_pb2, service_pb2_grpc

    create2 = v2_create_request(CREATE_REQUEST)
    get2 = v2_get_request(GET_REQUEST)
    list_request = connector_pb2.ListConnectorsRequest()
    async_stub = service_pb2_grpc.AsyncConnectorServiceStub(channel)
    meta_stub = service_pb2_grpc.ConnectorMetadataServiceStub(channel)

    async def get_task() -> None:
        response = await async_stub.GetTask(get2)
        (output,) = response.resource.outputs.literals
        assert output.value.scalar.primitive.string_value == "done"

    async def create_task() -> None:
        response = await async_stub.CreateTask(create2)
        assert response.resource_meta

    async def list_connectors() -> None:
        response = await meta_stub.ListConnectors(list_request)
        assert response.connectors

    return {"GetTask v2": get_task, "CreateTask v2": create_task, "ListConnectors": list_connectors}


def make_call(channel: grpc.aio.Channel, rpc: str) -> Callable[[], Coroutine[Any, Any, Any]]:
    """A zero-argument coroutine function doing one ``rpc`` call and checking its answer."""
    if rpc in RPCS_V2:
        return v2_calls(channel)[rpc]
    async_stub = agent_pb2_grpc.AsyncAgentServiceStub(channel)
    sync_stub = agent_pb2_grpc.SyncAgentServiceStub(channel)
    meta_stub = agent_pb2_grpc.AgentMetadataServiceStub(channel)

    async def get_task() -> None:
        response = await async_stub.GetTask(GET_REQUEST)
        assert response.resource.outputs.literals["result"].scalar.primitive.string_value == "done"

    async def create_task() -> None:
        response = await async_stub.CreateTask(CREATE_REQUEST)
        assert response.resource_meta

    async def execute_task_sync() -> None:
        call = sync_stub.ExecuteTaskSync(iter((SYNC_HEADER, SYNC_INPUTS)))
        got = 0
        async for response in call:
            assert (
                response.header.resource.outputs.literals["x"].scalar.primitive.string_value
                == "hello"
            )
            got += 1
        assert got == 1

    async def list_agents() -> None:
        response = await meta_stub.ListAgents(LIST_REQUEST)
        assert response.agents

    return {
        "GetTask": get_task,
        "CreateTask": create_task,
        "ExecuteTaskSync": execute_task_sync,
        "ListAgents": list_agents,
    }[rpc]


def polling_call(
    channel: grpc.aio.Channel, request: bytes
) -> Callable[[], Coroutine[Any, Any, Any]]:
    """GetTask with ``request`` (a serialized ``GetTaskRequest``), expecting SUCCEEDED."""
    stub = agent_pb2_grpc.AsyncAgentServiceStub(channel)
    get_request = agent_pb2.GetTaskRequest.FromString(request)

    async def get_task() -> None:
        response = await stub.GetTask(get_request)
        assert response.resource.phase == 3, response.resource.message  # SUCCEEDED

    return get_task


class LoadGenerator:
    """Channels by address, and the measurement of one command (``run``)."""

    def __init__(self) -> None:
        self.channels: dict[str, list[grpc.aio.Channel]] = {}

    def connect(self, address: str, connections: int) -> list[grpc.aio.Channel]:
        """``connections`` channels to ``address``, each its own connection (a local subchannel
        pool), kept until closed."""
        channels = self.channels.setdefault(address, [])
        while len(channels) < connections:
            options = [("grpc.use_local_subchannel_pool", 1)] if channels else []
            channels.append(grpc.aio.insecure_channel(address, options=options))
        return channels[:connections]

    async def run(self, command: dict[str, Any]) -> dict[str, Any]:
        channels = self.connect(command["address"], int(command.get("connections", 1)))
        if command.get("get_request"):
            request = base64.b64decode(command["get_request"])
            calls = [polling_call(channel, request) for channel in channels]
        else:
            calls = [make_call(channel, command["rpc"]) for channel in channels]
        callers = [[calls[i % len(calls)]] for i in range(int(command["concurrency"]))]
        await drive(callers, float(command.get("warmup", 0.3)))
        pid = int(command["pid"])
        cpu0, own0, t0 = tree_cpu_seconds(pid), time.process_time(), time.perf_counter()
        tally = await drive(callers, float(command["duration"]))
        t1, own1, cpu1 = time.perf_counter(), time.process_time(), tree_cpu_seconds(pid)
        latencies = sorted(tally.latency_ns)
        calls_made = tally.calls
        return {
            "calls": calls_made,
            "errors": tally.error_count,
            "seconds": t1 - t0,
            "ops": calls_made / (t1 - t0),
            "p50_us": percentile(latencies, 0.50) / 1000,
            "p99_us": percentile(latencies, 0.99) / 1000,
            "server_cpu_us": (cpu1 - cpu0) * 1e6 / calls_made if calls_made else float("nan"),
            "client_cpu_us": (own1 - own0) * 1e6 / calls_made if calls_made else float("nan"),
        }

    async def close(self, address: str | None = None) -> None:
        """Close the channels to ``address`` (all addresses: ``None``)."""
        addresses = list(self.channels) if address is None else [address]
        for name in addresses:
            for channel in self.channels.pop(name, []):
                await channel.close()


async def serve_stdin() -> None:
    generator = LoadGenerator()
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        command = json.loads(line)
        if command.get("close"):
            await generator.close(command["close"])
            print(json.dumps({"closed": True}), flush=True)
            continue
        try:
            result = await generator.run(command)
        except Exception as exc:
            result = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(result), flush=True)
    await generator.close()


async def once(address: str, rpc: str) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        await make_call(channel, rpc)()
    print(f"{rpc} ok")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--once":
        asyncio.run(once(sys.argv[2], sys.argv[3]))
    else:
        asyncio.run(serve_stdin())
