"""The ``bench_async`` agent of ``agents_bench.py`` as a flyte-sdk 2 connector, served by ``c0``
(``c0_serve.py --modules c0_bench``): the v2 peer. Runs only in the flyte-sdk venv."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flyte.connectors import AsyncConnector, ConnectorRegistry, Resource, ResourceMeta
from flyteidl2.core.execution_pb2 import TaskExecution


@dataclass
class BenchMeta(ResourceMeta):
    job_id: str


class BenchAsyncConnector(AsyncConnector):
    name = "BenchAsyncAgent"
    task_type_name = "bench_async"
    metadata_type = BenchMeta

    async def create(self, task_template: Any, inputs: Any = None, **kwargs: Any) -> BenchMeta:
        return BenchMeta(job_id="job-1")

    async def get(self, resource_meta: BenchMeta, **kwargs: Any) -> Resource:
        return Resource(phase=TaskExecution.SUCCEEDED, outputs={"result": "done"})

    async def delete(self, resource_meta: BenchMeta, **kwargs: Any) -> None:
        return None


ConnectorRegistry.register(BenchAsyncConnector())
