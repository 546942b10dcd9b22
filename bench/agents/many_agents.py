"""1,000 generated async agents (task types ``many_0000`` .. ``many_0999``) plus the two bench
agents, for ``--modules many_agents``: startup and dispatch cost with a large registry."""

from __future__ import annotations

import os
from typing import Any

import agents_bench

from agenthost import AgentRegistry, AsyncAgentBase, Resource

COUNT = int(os.environ.get("BENCH_MANY_AGENTS", "1000"))


def _make(index: int) -> AsyncAgentBase:
    async def create(self: Any, task_template: Any, inputs: Any = None, **kwargs: Any) -> Any:
        return agents_bench.BenchMeta(job_id=f"job-{index}")

    async def get(self: Any, resource_meta: Any, **kwargs: Any) -> Resource:
        return Resource.succeeded({"result": "done"})

    async def delete(self: Any, resource_meta: Any, **kwargs: Any) -> None:
        return None

    name = f"ManyAgent{index:04d}"
    cls = type(name, (AsyncAgentBase,), {"create": create, "get": get, "delete": delete})
    return cls(f"many_{index:04d}", agents_bench.BenchMeta, name=name)  # type: ignore[no-any-return]


for _i in range(COUNT):
    AgentRegistry.register(_make(_i))
