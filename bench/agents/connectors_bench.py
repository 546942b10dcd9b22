"""The agents of ``agents_bench.py`` as flytekit 1.16 connectors (``pyflyte serve connector
--modules connectors_bench``). Runs only in the flytekit benchmark venv."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any

from flyteidl.core.execution_pb2 import TaskExecution
from flytekit.extend.backend.base_connector import (
    AsyncConnectorBase,
    ConnectorRegistry,
    Resource,
    ResourceMeta,
    SyncConnectorBase,
)
from flytekit.models.literals import LiteralMap

SYNC_SECONDS = float(os.environ.get("BENCH_SYNC_SECONDS", "0"))
"""Seconds ``do`` waits before answering (the slow agent of the bursts phase)."""


@dataclass
class BenchMeta(ResourceMeta):
    job_id: str


class BenchAsyncConnector(AsyncConnectorBase):
    name = "BenchAsyncAgent"

    def __init__(self) -> None:
        super().__init__(task_type_name="bench_async", metadata_type=BenchMeta)

    async def create(
        self,
        task_template: Any,
        output_prefix: str = "",
        inputs: LiteralMap | None = None,
        task_execution_metadata: Any = None,
        **kwargs: Any,
    ) -> BenchMeta:
        return BenchMeta(job_id="job-1")

    async def get(self, resource_meta: BenchMeta, **kwargs: Any) -> Resource:
        return Resource(phase=TaskExecution.SUCCEEDED, outputs={"result": "done"})

    async def delete(self, resource_meta: BenchMeta, **kwargs: Any) -> None:
        return None


class BenchSyncConnector(SyncConnectorBase):
    name = "BenchSyncAgent"

    def __init__(self) -> None:
        super().__init__(task_type_name="bench_sync")

    async def do(
        self,
        task_template: Any,
        output_prefix: str = "",
        inputs: LiteralMap | None = None,
        **kwargs: Any,
    ) -> Resource:
        if SYNC_SECONDS:
            await asyncio.sleep(SYNC_SECONDS)
        return Resource(phase=TaskExecution.SUCCEEDED, outputs=inputs)


ConnectorRegistry.register(BenchAsyncConnector())
ConnectorRegistry.register(BenchSyncConnector())
