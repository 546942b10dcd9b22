"""Agents for the operator tests (``--modules fake_plugins.ops``): blocking work that an
agent's async methods hand to threads, a sync agent naming the process that served it, and a
seed-style plugin that imports another seed-style plugin (``fake_plugins.seed``) before the
loader reaches it."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flyteidl.admin import agent_pb2

from agenthost import (
    AgentRegistry,
    AsyncAgentBase,
    BaseSensor,
    Resource,
    ResourceMeta,
    SyncAgentBase,
)
from fake_plugins import seed  # noqa: F401 - imported before the loader imports it as a plugin

AGENTHOST_PLUGIN_API = ">=1.0,<2"


def _wait_for(release: Path, started: str) -> None:
    directory = os.environ.get("AGENTHOST_TEST_MARKERS")
    if directory:
        Path(directory, started).write_text("")
    event = threading.Event()
    while not release.exists():
        event.wait(0.02)


class BlockingPokeSensor(BaseSensor):
    """Sensor whose blocking ``poke`` waits until the ``release`` file exists."""

    def __init__(self) -> None:
        super().__init__("blocking_poke_sensor", name="BlockingPokeSensor")

    def poke(self, release: str, tag: str) -> bool:
        _wait_for(Path(release), f"poke-{tag}")
        return True


@dataclass
class LogsMeta(ResourceMeta):
    """Where the log iterator waits: the release file and a tag for its start marker."""

    release: str
    tag: str


class BlockingLogsAgent(AsyncAgentBase):
    """Async agent whose ``get_logs`` returns a plain iterator that blocks before its line."""

    def __init__(self) -> None:
        super().__init__("blocking_logs", LogsMeta, name="BlockingLogsAgent")

    async def create(self, task_template: Any, **kwargs: Any) -> LogsMeta:
        raise NotImplementedError

    async def get(self, resource_meta: LogsMeta) -> Resource:
        return Resource.running()

    async def delete(self, resource_meta: LogsMeta) -> None:
        return None

    def get_logs(self, resource_meta: LogsMeta, **kwargs: Any) -> Any:
        def lines() -> Any:
            _wait_for(Path(resource_meta.release), f"logs-{resource_meta.tag}")
            yield agent_pb2.GetTaskLogsResponse(
                body=agent_pb2.GetTaskLogsResponseBody(results=["released"])
            )

        return lines()


class PidAgent(SyncAgentBase):
    """Sync agent that answers with the process id of the server process serving it."""

    def __init__(self) -> None:
        super().__init__("pid_sync", name="PidAgent")

    async def do(self, task_template: Any, **kwargs: Any) -> Resource:
        return Resource.succeeded({"pid": os.getpid()})


for _agent in (BlockingPokeSensor(), BlockingLogsAgent(), PidAgent()):
    AgentRegistry.register(_agent)
