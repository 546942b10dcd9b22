"""Load generator: a separate ``grpc.aio`` client process driven by JSON lines on stdin.

Each command ``{"address": "127.0.0.1:PORT", "pid": SERVER_PID, "rpc": "GetTask",
"concurrency": 16, "warmup": 0.3, "duration": 2.0}`` runs ``concurrency`` callers in a loop
for ``warmup`` seconds (discarded), then for ``duration`` seconds, and answers one JSON line:
``calls``, ``errors``, ``ops``, ``p50_us``, ``p99_us``, ``server_cpu_us`` (utime+stime of the
server's process tree from ``/proc`` over the measured window, divided by calls) and
``client_cpu_us`` (this process, per call).

With ``"get_request"`` (a serialized ``GetTaskRequest``, base64) the ``GetTask`` callers send
that request and check that the task SUCCEEDED (the plugins section polls real plugins).

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
from flyteidl.core import identifier_pb2, interface_pb2, literals_pb2, tasks_pb2, types_pb2
from flyteidl.service import agent_pb2_grpc
from procfs import tree_cpu_seconds

RPCS = ("GetTask", "CreateTask", "ExecuteTaskSync", "ListAgents")
RPCS_V2 = ("GetTask v2", "CreateTask v2", "ListConnectors")
"""flyteidl2 connector calls, as the Flyte 2 executor makes them (``v2_calls``)."""


def _string_type() -> types_pb2.LiteralType:
    return types_pb2.LiteralType(simple=types_pb2.SimpleType.STRING)


def template(task_type: str, inputs: list[str], outputs: list[str]) -> tasks_pb2.TaskTemplate:
    """A task template like flytekit serializes: id, type, metadata, interface, container."""
    return tasks_pb2.TaskTemplate(
        id=identifier_pb2.Identifier(
            resource_type=identifier_pb2.ResourceType.TASK,
            project="flytesnacks",
            domain="development",
            name=f"bench.{task_type}",
            version="v1",
        ),
        type=task_type,
        metadata=tasks_pb2.TaskMetadata(
            runtime=tasks_pb2.RuntimeMetadata(
                type=tasks_pb2.RuntimeMetadata.RuntimeType.FLYTE_SDK,
                version="1.16.0",
                flavor="python",
            ),
            interruptible=False,
        ),
        interface=interface_pb2.TypedInterface(
            inputs=interface_pb2.VariableMap(
                variables={n: interface_pb2.Variable(type=_string_type()) for n in inputs}
            ),
            outputs=interface_pb2.VariableMap(
                variables={n: interface_pb2.Variable(type=_string_type()) for n in outputs}
            ),
        ),
    )


def string_inputs(**values: str) -> literals_pb2.LiteralMap:
    """A LiteralMap of string primitives."""
    lm = literals_pb2.LiteralMap()
    for name, value in values.items():
        lm.literals[name].scalar.primitive.string_value = value
    return lm


ASYNC_TEMPLATE = template("bench_async", ["x"], ["result"])
SYNC_TEMPLATE = template("bench_sync", ["x"], ["x"])
INPUTS = string_inputs(x="hello")
GET_REQUEST = agent_pb2.GetTaskRequest(
    task_type="bench_async",
    task_category=agent_pb2.TaskCategory(name="bench_async", version=0),
    resource_meta=b'{"job_id": "job-1"}',
    output_prefix="s3://bench/outputs/abc",
)
CREATE_REQUEST = agent_pb2.CreateTaskRequest(
    template=ASYNC_TEMPLATE, inputs=INPUTS, output_prefix="s3://bench/outputs/abc"
)
SYNC_HEADER = agent_pb2.ExecuteTaskSyncRequest(
    header=agent_pb2.CreateRequestHeader(template=SYNC_TEMPLATE, output_prefix="s3://bench/o")
)
SYNC_INPUTS = agent_pb2.ExecuteTaskSyncRequest(inputs=INPUTS)
LIST_REQUEST = agent_pb2.ListAgentsRequest()


def v2_calls(channel: grpc.aio.Channel) -> dict[str, Callable[[], Coroutine[Any, Any, Any]]]:
    """The ``RPCS_V2`` calls: the same tasks as the v1 calls, over flyteidl2 (imported only
    here, so v1 runs need no flyteidl2), with an empty ``connection`` as the OSS executor
    sends."""
    from flyteidl2.connector import connector_pb2, service_pb2_grpc
    from flyteidl2.core import security_pb2
    from flyteidl2.core import tasks_pb2 as tasks2_pb2
    from flyteidl2.task import common_pb2

    template = tasks2_pb2.TaskTemplate()
    template.ParseFromString(ASYNC_TEMPLATE.SerializeToString())  # wire-compatible
    value = INPUTS.literals["x"].SerializeToString()
    named = common_pb2.NamedLiteral(name="x")
    named.value.ParseFromString(value)
    category = connector_pb2.TaskCategory(name="bench_async", version=0)
    connection = security_pb2.Connection()
    create_request = connector_pb2.CreateTaskRequest(
        template=template,
        inputs=common_pb2.Inputs(literals=[named]),
        output_prefix="s3://bench/outputs/abc",
        connection=connection,
    )
    get_request = connector_pb2.GetTaskRequest(
        task_category=category,
        resource_meta=GET_REQUEST.resource_meta,
        output_prefix="s3://bench/outputs/abc",
        connection=connection,
    )
    list_request = connector_pb2.ListConnectorsRequest()
    async_stub = service_pb2_grpc.AsyncConnectorServiceStub(channel)
    meta_stub = service_pb2_grpc.ConnectorMetadataServiceStub(channel)

    async def get_task() -> None:
        response = await async_stub.GetTask(get_request)
        (output,) = response.resource.outputs.literals
        assert output.value.scalar.primitive.string_value == "done"

    async def create_task() -> None:
        response = await async_stub.CreateTask(create_request)
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


def percentile(sorted_values: list[int], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))
    return sorted_values[index] / 1000.0


async def drive(
    call: Callable[[], Coroutine[Any, Any, Any]], concurrency: int, seconds: float
) -> tuple[list[int], int]:
    latencies: list[int] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    clock = time.perf_counter_ns

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            start = clock()
            try:
                await call()
            except Exception:
                errors += 1
                continue
            latencies.append(clock() - start)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


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
    def __init__(self) -> None:
        self.channels: dict[str, grpc.aio.Channel] = {}

    def channel(self, address: str) -> grpc.aio.Channel:
        if address not in self.channels:
            self.channels[address] = grpc.aio.insecure_channel(address)
        return self.channels[address]

    async def run(self, command: dict[str, Any]) -> dict[str, Any]:
        channel = self.channel(command["address"])
        if command.get("get_request"):
            call = polling_call(channel, base64.b64decode(command["get_request"]))
        else:
            call = make_call(channel, command["rpc"])
        concurrency = int(command["concurrency"])
        await drive(call, concurrency, float(command.get("warmup", 0.3)))
        pid = int(command["pid"])
        cpu0, own0, t0 = tree_cpu_seconds(pid), time.process_time(), time.perf_counter()
        latencies, errors = await drive(call, concurrency, float(command["duration"]))
        t1, own1, cpu1 = time.perf_counter(), time.process_time(), tree_cpu_seconds(pid)
        latencies.sort()
        calls = len(latencies)
        return {
            "calls": calls,
            "errors": errors,
            "seconds": t1 - t0,
            "ops": calls / (t1 - t0),
            "p50_us": percentile(latencies, 0.50),
            "p99_us": percentile(latencies, 0.99),
            "server_cpu_us": (cpu1 - cpu0) * 1e6 / calls if calls else float("nan"),
            "client_cpu_us": (own1 - own0) * 1e6 / calls if calls else float("nan"),
        }

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()
        self.channels.clear()


async def serve_stdin() -> None:
    generator = LoadGenerator()
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        command = json.loads(line)
        if command.get("close"):
            channel = generator.channels.pop(command["close"], None)
            if channel is not None:
                await channel.close()
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
