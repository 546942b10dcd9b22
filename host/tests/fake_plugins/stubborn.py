"""An agent whose ``async def create`` swallows its cancellation and carries on waiting (agent
code with a bare ``except`` around an ``await``), loaded with ``--modules
fake_plugins.stubborn``. It writes ``stubborn-started`` and, each time it is cancelled,
``stubborn-cancelled`` into the ``AGENTHOST_TEST_MARKERS`` directory."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agenthost import AgentRegistry, AsyncAgentBase, Resource, ResourceMeta


def _marker(name: str) -> None:
    Path(os.environ["AGENTHOST_TEST_MARKERS"], name).touch()


@dataclass
class StubbornMeta(ResourceMeta):
    """Never produced."""

    job_id: str


class StubbornAgent(AsyncAgentBase):
    """``create`` never returns, whatever cancels it."""

    def __init__(self) -> None:
        super().__init__("stubborn", StubbornMeta, name="StubbornAgent")

    async def create(self, task_template: Any, **kwargs: Any) -> StubbornMeta:
        _marker("stubborn-started")
        never = asyncio.Event()
        while True:
            try:
                await never.wait()
            except asyncio.CancelledError:
                _marker("stubborn-cancelled")

    async def get(self, resource_meta: StubbornMeta) -> Resource:
        return Resource.succeeded()

    async def delete(self, resource_meta: StubbornMeta) -> None:
        return None


AgentRegistry.register(StubbornAgent())
