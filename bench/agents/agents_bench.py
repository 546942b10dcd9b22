"""Trivial agenthost agents for the benchmark (served with ``--modules agents_bench``).

``bench_async``: ``create`` returns a small meta, ``get`` returns SUCCEEDED with one string
output as a Python dict (``BENCH_OUTPUTS=proto``: as a flyteidl ``Resource``), ``delete`` does
nothing. ``bench_sync``: ``do`` echoes its inputs (after ``BENCH_SYNC_SECONDS`` seconds, if set:
the slow agent of the bursts phase). ``BENCH_WORK_MS``: ``get`` first spends that much CPU on
the event loop, standing in for real per-call work (the ``--workers`` phase: with trivial agents
one process is never the bottleneck, so a second one could not show).
The same logic lives in ``connectors_bench.py`` (flytekit) and ``bare_server.py`` (ceiling).
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from typing import Any

from flyteidl.admin import agent_pb2
from flyteidl.core import execution_pb2

from agenthost import AgentRegistry, AsyncAgentBase, Resource, ResourceMeta, SyncAgentBase

PROTO_OUTPUTS = os.environ.get("BENCH_OUTPUTS") == "proto"
SYNC_SECONDS = float(os.environ.get("BENCH_SYNC_SECONDS", "0"))
WORK_SECONDS = float(os.environ.get("BENCH_WORK_MS", "0")) / 1000
"""``BENCH_OUTPUTS=proto``: ``get`` returns a ready flyteidl ``Resource`` (what the ceiling
builds), to separate the cost of converting Python outputs from the rest of the host."""

DONE = agent_pb2.Resource(phase=execution_pb2.TaskExecution.SUCCEEDED)
DONE.outputs.literals["result"].scalar.primitive.string_value = "done"


@dataclass
class BenchMeta(ResourceMeta):
    """The job handle: one short string."""

    job_id: str


class BenchAsyncAgent(AsyncAgentBase):
    """Async agent whose jobs succeed at once."""

    def __init__(self) -> None:
        super().__init__("bench_async", BenchMeta, name="BenchAsyncAgent")

    async def create(self, task_template: Any, inputs: Any = None, **kwargs: Any) -> BenchMeta:
        return BenchMeta(job_id="job-1")

    async def get(self, resource_meta: BenchMeta, **kwargs: Any) -> Any:
        if WORK_SECONDS:
            _burn(WORK_SECONDS)
        if PROTO_OUTPUTS:
            return DONE
        return Resource.succeeded({"result": "done"})

    async def delete(self, resource_meta: BenchMeta, **kwargs: Any) -> None:
        return None


def _burn(seconds: float) -> None:
    """Spend ``seconds`` of this thread's CPU."""
    deadline = time.thread_time() + seconds
    while time.thread_time() < deadline:
        pass


class BenchSyncAgent(SyncAgentBase):
    """Sync agent that echoes its inputs as outputs."""

    def __init__(self) -> None:
        super().__init__("bench_sync", name="BenchSyncAgent")

    async def do(self, task_template: Any, inputs: Any = None, **kwargs: Any) -> Resource:
        if SYNC_SECONDS:
            await asyncio.sleep(SYNC_SECONDS)
        return Resource.succeeded(inputs)


AgentRegistry.register(BenchAsyncAgent())
AgentRegistry.register(BenchSyncAgent())
