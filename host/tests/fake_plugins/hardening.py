"""Agents for the hardening and burst tests, loaded with ``--modules fake_plugins.hardening``.

* ``hold_async``: create waits ``custom['seconds']`` (default 5) and returns a small meta;
  get reports RUNNING. Keeps agent calls in flight without marker files.
* ``sleep_sync``: do waits ``custom['seconds']`` (default 0) and succeeds.
* ``big_meta``: create returns a meta whose ``pad`` is ``custom['pad']`` characters long.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from agenthost import (
    AgentRegistry,
    AsyncAgentBase,
    Resource,
    ResourceMeta,
    SyncAgentBase,
    custom_of,
)

AGENTHOST_PLUGIN_API = ">=1.0,<2"


@dataclass
class HoldMeta(ResourceMeta):
    """A job handle with optional padding."""

    job_id: str
    pad: str = ""


class HoldAgent(AsyncAgentBase):
    """create waits ``custom['seconds']``."""

    def __init__(self) -> None:
        super().__init__("hold_async", HoldMeta, name="HoldAgent")

    async def create(self, task_template: Any, **kwargs: Any) -> HoldMeta:
        await asyncio.sleep(float(custom_of(task_template).get("seconds", 5)))
        return HoldMeta(job_id="held")

    async def get(self, resource_meta: HoldMeta) -> Resource:
        return Resource.running("held")

    async def delete(self, resource_meta: HoldMeta) -> None:
        return None


class SleepSyncAgent(SyncAgentBase):
    """do waits ``custom['seconds']`` and succeeds."""

    def __init__(self) -> None:
        super().__init__("sleep_sync", name="SleepSyncAgent")

    async def do(self, task_template: Any, **kwargs: Any) -> Resource:
        await asyncio.sleep(float(custom_of(task_template).get("seconds", 0)))
        return Resource.succeeded()


class BigMetaAgent(AsyncAgentBase):
    """create returns a meta padded to ``custom['pad']`` characters."""

    def __init__(self) -> None:
        super().__init__("big_meta", HoldMeta, name="BigMetaAgent")

    async def create(self, task_template: Any, **kwargs: Any) -> HoldMeta:
        return HoldMeta(job_id="big", pad="p" * int(custom_of(task_template).get("pad", 0)))

    async def get(self, resource_meta: HoldMeta) -> Resource:
        return Resource.succeeded()

    async def delete(self, resource_meta: HoldMeta) -> None:
        return None


for _agent in (HoldAgent(), SleepSyncAgent(), BigMetaAgent()):
    AgentRegistry.register(_agent)
