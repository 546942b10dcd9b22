"""In-process cost of agenthost's per-call Python work (no network, no grpc core): the
``AgentServices`` handlers the server registers, fed the request bytes the load generator
sends, against the same work written directly (parse, build, serialize: the ceiling's Python
share). Prints JSON: microseconds per call (best of 5) per RPC for ``agenthost``,
``agenthost (no metrics)`` and ``direct``; CPU time of the process (``time.process_time``),
steadier than wall time on a shared machine; with ``--agents N`` also ListAgents/GetTask with N
extra generated agents registered. Run with the core venv: ``cd bench && PYTHONPATH=agents
python -m investigations.inproc``. Supports ``RESULTS.md`` § "What changed at `547b025`" and
"Winning back the hardening's per-call Python"; a request-path change is measured with it
before the quiet-machine A/B (``ab.py``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from typing import Any

import grpc
import loadgen
from flyteidl.admin import agent_pb2
from flyteidl.core import execution_pb2


class Context:
    """The parts of ``grpc.aio.ServicerContext`` the handlers use; ``read`` returns
    ``stream``'s items, then ``grpc.aio.EOF``."""

    def __init__(self, stream: tuple[bytes, ...] = ()) -> None:
        self.stream = stream
        self.position = 0

    async def read(self) -> Any:
        if self.position >= len(self.stream):
            return grpc.aio.EOF
        self.position += 1
        return self.stream[self.position - 1]

    async def abort(self, code: Any, details: str) -> None:
        raise RuntimeError(f"{code}: {details}")


def load_agents(module: str) -> list[Any]:
    from agenthost.plugins import load_plugins

    return list(load_plugins(modules=[module]).agents)


def build_services(agents: list[Any], metrics: bool) -> Any:
    from agenthost.dispatch import Dispatcher
    from agenthost.server.metrics import Metrics
    from agenthost.server.services import AgentServices

    return AgentServices(Dispatcher(agents), Metrics() if metrics else None)


def agenthost_calls(services: Any) -> dict[str, Any]:
    ctx = Context()
    get = loadgen.GET_REQUEST.SerializeToString()
    create = loadgen.CREATE_REQUEST.SerializeToString()
    header = loadgen.SYNC_HEADER.SerializeToString()
    inputs = loadgen.SYNC_INPUTS.SerializeToString()
    listing = loadgen.LIST_REQUEST.SerializeToString()

    async def execute() -> None:
        await services.execute_task_sync(None, Context((header, inputs)))

    return {
        "GetTask": lambda: services.get_task(None, Context((get,))),
        "CreateTask": lambda: services.create_task(None, Context((create,))),
        "ExecuteTaskSync": execute,
        "ListAgents": lambda: services.list_agents(listing, ctx),
    }


def direct_calls() -> dict[str, Any]:
    succeeded = execution_pb2.TaskExecution.SUCCEEDED
    get = loadgen.GET_REQUEST.SerializeToString()
    create = loadgen.CREATE_REQUEST.SerializeToString()
    header = loadgen.SYNC_HEADER.SerializeToString()
    inputs = loadgen.SYNC_INPUTS.SerializeToString()
    listing = loadgen.LIST_REQUEST.SerializeToString()
    agents = [
        agent_pb2.Agent(
            name="A",
            supported_task_types=["bench_async"],
            supported_task_categories=[agent_pb2.TaskCategory(name="bench_async")],
        ),
        agent_pb2.Agent(
            name="S",
            is_sync=True,
            supported_task_types=["bench_sync"],
            supported_task_categories=[agent_pb2.TaskCategory(name="bench_sync")],
        ),
    ]

    async def get_task() -> bytes:
        request = agent_pb2.GetTaskRequest.FromString(get)
        json.loads(request.resource_meta)
        resource = agent_pb2.Resource(phase=succeeded)
        resource.outputs.literals["result"].scalar.primitive.string_value = "done"
        return agent_pb2.GetTaskResponse(resource=resource).SerializeToString()

    async def create_task() -> bytes:
        agent_pb2.CreateTaskRequest.FromString(create)
        meta = json.dumps({"job_id": "job-1"}).encode()
        return agent_pb2.CreateTaskResponse(resource_meta=meta).SerializeToString()

    async def execute() -> bytes:
        agent_pb2.ExecuteTaskSyncRequest.FromString(header)
        second = agent_pb2.ExecuteTaskSyncRequest.FromString(inputs)
        resource = agent_pb2.Resource(phase=succeeded, outputs=second.inputs)
        return agent_pb2.ExecuteTaskSyncResponse(
            header=agent_pb2.ExecuteTaskSyncResponseHeader(resource=resource)
        ).SerializeToString()

    async def list_agents() -> bytes:
        agent_pb2.ListAgentsRequest.FromString(listing)
        return agent_pb2.ListAgentsResponse(agents=agents).SerializeToString()

    return {
        "GetTask": get_task,
        "CreateTask": create_task,
        "ExecuteTaskSync": execute,
        "ListAgents": list_agents,
    }


async def per_call_us(fn: Any, seconds: float) -> float:
    best = float("inf")
    for _ in range(5):
        count, began = 0, time.process_time()
        while True:
            for _ in range(50):
                await fn()
            count += 50
            elapsed = time.process_time() - began
            if elapsed >= seconds:
                break
        best = min(best, elapsed / count * 1e6)
    return best


async def measure(suites: dict[str, dict[str, Any]], seconds: float) -> dict[str, Any]:
    """Microseconds per call of every RPC of every suite (``per_call_us``)."""
    return {
        suite: {rpc: round(await per_call_us(fn, seconds), 1) for rpc, fn in calls.items()}
        for suite, calls in suites.items()
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=0.3)
    parser.add_argument("--agents", type=int, default=0)
    args = parser.parse_args()
    base = load_agents("agents_bench")
    suites = {
        "agenthost": agenthost_calls(build_services(base, True)),
        "agenthost (no metrics)": agenthost_calls(build_services(base, False)),
        "direct": direct_calls(),
    }
    if args.agents:
        os.environ["BENCH_MANY_AGENTS"] = str(args.agents)
        many = [a for a in load_agents("many_agents") if a.task_category.name.startswith("many")]
        suites[f"agenthost {args.agents} agents"] = agenthost_calls(
            build_services(base + many, True)
        )
    print(json.dumps(await measure(suites, args.seconds), indent=1))


if __name__ == "__main__":
    asyncio.run(main())
