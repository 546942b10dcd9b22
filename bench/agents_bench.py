"""Trivial agenthost agents for the benchmark (served with ``--modules agents_bench``).

``bench_async``: ``create`` returns a small meta, ``get`` returns SUCCEEDED with one string
output as a Python dict, ``delete`` does nothing. ``bench_sync``: ``do`` echoes its inputs.
The same logic lives in ``connectors_bench.py`` (flytekit) and ``bare_server.py`` (ceiling).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agenthost import AgentRegistry, AsyncAgentBase, Resource, ResourceMeta, SyncAgentBase


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

    async def get(self, resource_meta: BenchMeta, **kwargs: Any) -> Resource:
        return Resource.succeeded({"result": "done"})

    async def delete(self, resource_meta: BenchMeta, **kwargs: Any) -> None:
        return None


class BenchSyncAgent(SyncAgentBase):
    """Sync agent that echoes its inputs as outputs."""

    def __init__(self) -> None:
        super().__init__("bench_sync", name="BenchSyncAgent")

    async def do(self, task_template: Any, inputs: Any = None, **kwargs: Any) -> Resource:
        return Resource.succeeded(inputs)


AgentRegistry.register(BenchAsyncAgent())
AgentRegistry.register(BenchSyncAgent())
