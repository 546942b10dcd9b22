"""Agents for the ``run``/``propeller-config`` tests, loaded with
``--modules fake_plugins.cli_agents``. No third-party plugin is needed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agenthost import (
    AgentRegistry,
    AsyncAgentBase,
    BaseSensor,
    Resource,
    ResourceMeta,
    SyncAgentBase,
    custom_of,
    input_values,
)

AGENTHOST_PLUGIN_API = ">=1.0,<2"


class WaitFileSensor(BaseSensor):
    """Sensor like agent-file-sensor's: true once ``path`` exists."""

    aliases = (("people.sensors", "WaitFileSensor"),)

    def __init__(self) -> None:
        super().__init__("people_file_sensor", name="WaitFileSensor")

    def poke(self, path: str) -> bool:
        return Path(path).exists()


@dataclass
class ForeverMeta(ResourceMeta):
    """A job that never ends; ``marker`` is written by ``delete``."""

    marker: str


class ForeverJob(AsyncAgentBase):
    """Async agent whose job runs until deleted; delete writes the marker file."""

    def __init__(self) -> None:
        super().__init__("people_forever", ForeverMeta, name="ForeverJob")

    async def create(self, task_template: Any, **kwargs: Any) -> ForeverMeta:
        return ForeverMeta(marker=str(custom_of(task_template)["marker"]))

    async def get(self, resource_meta: ForeverMeta) -> Resource:
        return Resource.running("working on it")

    async def delete(self, resource_meta: ForeverMeta) -> None:
        Path(resource_meta.marker).write_text("deleted")


@dataclass
class SumMeta(ResourceMeta):
    """The numbers to add."""

    a: int
    b: int


class SumJob(AsyncAgentBase):
    """Async agent: succeeds with ``total = a + b`` (or fails when the total is negative)."""

    def __init__(self) -> None:
        super().__init__("people_sum", SumMeta, name="SumJob")

    def create(self, task_template: Any, inputs: Any = None) -> SumMeta:
        values = input_values(task_template, inputs)
        return SumMeta(a=int(values["a"]), b=int(values["b"]))

    def get(self, resource_meta: SumMeta) -> Resource:
        total = resource_meta.a + resource_meta.b
        if total < 0:
            return Resource.failure(f"negative total {total}")
        return Resource.succeeded({"total": total})

    def delete(self, resource_meta: SumMeta) -> None:
        return None


class ShoutSync(SyncAgentBase):
    """Sync agent: ``{"out": text upper-cased + custom suffix}``."""

    def __init__(self) -> None:
        super().__init__("people_shout", name="ShoutSync")

    def do(self, task_template: Any, inputs: Any = None) -> Resource:
        values = input_values(task_template, inputs)
        suffix = str(custom_of(task_template).get("suffix", ""))
        return Resource.succeeded({"out": str(values.get("text", "")).upper() + suffix})


class EchoSql(SyncAgentBase):
    """Sync agent for SQL tasks: returns the template's statement and dialect."""

    def __init__(self) -> None:
        super().__init__("people_sql", 2, name="EchoSql")

    def do(self, task_template: Any, inputs: Any = None) -> Resource:
        sql = task_template.sql
        return Resource.succeeded({"statement": sql.statement, "dialect": int(sql.dialect)})


for _agent in (WaitFileSensor(), ForeverJob(), SumJob(), ShoutSync(), EchoSql()):
    AgentRegistry.register(_agent)
