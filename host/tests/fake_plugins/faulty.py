"""Misbehaving agents for the reliability tests, loaded with ``agenthost serve --modules
fake_plugins.faulty``.

Each agent's task type starts with ``fault_``; what it does is chosen by the template's
``custom`` so one loaded module serves every scenario. Marker files (directory in
``AGENTHOST_TEST_MARKERS``) let tests see what agent code did.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import site
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flyteidl.admin import agent_pb2

import agenthost
from agenthost import (
    AgentRegistry,
    AsyncAgentBase,
    BaseSensor,
    Resource,
    ResourceMeta,
    SyncAgentBase,
    custom_of,
)

AGENTHOST_PLUGIN_API = ">=1.0,<2"

_LEAKED: list[bytes] = []


def _marker(name: str) -> None:
    directory = os.environ.get("AGENTHOST_TEST_MARKERS")
    if directory:
        Path(directory, name).write_text("")


def _secrets() -> str:
    """Both planted secrets (environment and file), read the way plugins read them."""
    env_secret = agenthost.get_secret("rel_token", default="")
    file_secret = agenthost.get_secret("file_token", group="rel", default="")
    return f"{env_secret} {file_secret}"


def _leaky_message() -> str:
    """A message that carries every thing that must never reach a client."""
    site_dir = site.getsitepackages()[0]
    return (
        f'Traceback (most recent call last):\n  File "{agenthost.__file__}", line 1\n'
        f"token={_secrets()} prefix={sys.prefix} site={site_dir} home={Path.home()}\n"
        "RuntimeError: the real problem"
    )


@dataclass
class FaultMeta(ResourceMeta):
    """A fake job id."""

    job_id: str


class RaisingAgent(AsyncAgentBase):
    """Every operation raises an exception whose message holds secrets, paths and a
    traceback; ``get`` with job id ``resource`` instead returns a FAILED resource with it."""

    def __init__(self) -> None:
        super().__init__("fault_raise", FaultMeta, name="RaisingAgent")

    def create(self, task_template: Any, **kwargs: Any) -> FaultMeta:
        raise RuntimeError(_leaky_message())

    async def get(self, resource_meta: FaultMeta) -> Resource:
        if resource_meta.job_id == "resource":
            return Resource.failure(_leaky_message())
        raise ValueError(f"get failed for token {_secrets()} at {agenthost.__file__}")

    def delete(self, resource_meta: FaultMeta) -> None:
        raise KeyError(_secrets())

    async def get_logs(self, resource_meta: FaultMeta, **kwargs: Any) -> Any:
        raise OSError(_leaky_message())


class RaisingSyncAgent(SyncAgentBase):
    """``do`` raises with secrets and paths in the message."""

    def __init__(self) -> None:
        super().__init__("fault_raise_sync", name="RaisingSyncAgent")

    async def do(self, task_template: Any, inputs: Any = None) -> Resource:
        raise RuntimeError(_leaky_message())


class HangingAgent(AsyncAgentBase):
    """Blocking ``def create`` that hangs until ``custom['release']`` exists (at most 120 s)."""

    def __init__(self) -> None:
        super().__init__("fault_hang", FaultMeta, name="HangingAgent")

    def create(self, task_template: Any, **kwargs: Any) -> FaultMeta:
        release = Path(str(custom_of(task_template)["release"]))
        _marker(f"hang-{threading.get_ident()}-{time.monotonic_ns()}")
        wait = threading.Event()
        deadline = time.monotonic() + 120
        while not release.exists() and time.monotonic() < deadline:
            wait.wait(0.05)
        return FaultMeta("released")

    def get(self, resource_meta: FaultMeta) -> Resource:
        return Resource.succeeded()

    def delete(self, resource_meta: FaultMeta) -> None:
        return None


class LoopBlockingAgent(AsyncAgentBase):
    """``async def create`` that calls ``time.sleep`` (blocks the event loop)."""

    def __init__(self) -> None:
        super().__init__("fault_loop_block", FaultMeta, name="LoopBlockingAgent")

    async def create(self, task_template: Any, **kwargs: Any) -> FaultMeta:
        time.sleep(float(custom_of(task_template).get("seconds", 1.0)))
        return FaultMeta("blocked-the-loop")

    async def get(self, resource_meta: FaultMeta) -> Resource:
        return Resource.succeeded()

    async def delete(self, resource_meta: FaultMeta) -> None:
        return None


class LeakingAgent(AsyncAgentBase):
    """Keeps ``custom['mib']`` MiB (default 4) alive per ``create``."""

    def __init__(self) -> None:
        super().__init__("fault_leak", FaultMeta, name="LeakingAgent")

    def create(self, task_template: Any, **kwargs: Any) -> FaultMeta:
        size = int(custom_of(task_template).get("mib", 4)) * 1024 * 1024
        _LEAKED.append(os.urandom(size))
        return FaultMeta(f"leaked-{len(_LEAKED)}")

    def get(self, resource_meta: FaultMeta) -> Resource:
        return Resource.succeeded()

    def delete(self, resource_meta: FaultMeta) -> None:
        return None


class SegfaultAgent(AsyncAgentBase):
    """``create`` dereferences a null pointer: the process dies with SIGSEGV."""

    def __init__(self) -> None:
        super().__init__("fault_segv", FaultMeta, name="SegfaultAgent")

    def create(self, task_template: Any, **kwargs: Any) -> FaultMeta:
        _marker(f"segv-{os.getpid()}")
        ctypes.string_at(0)
        return FaultMeta("unreachable")

    def get(self, resource_meta: FaultMeta) -> Resource:
        return Resource.succeeded()

    def delete(self, resource_meta: FaultMeta) -> None:
        return None


class SteadyAgent(AsyncAgentBase):
    """``create`` takes ``custom['seconds']`` (async sleep) and records start and end per
    ``custom['tag']``: a call cut mid-way leaves a start marker without an end marker."""

    def __init__(self) -> None:
        super().__init__("fault_steady", FaultMeta, name="SteadyAgent")

    async def create(self, task_template: Any, **kwargs: Any) -> FaultMeta:
        custom = custom_of(task_template)
        tag = str(custom.get("tag", "steady"))
        _marker(f"start-{tag}")
        await asyncio.sleep(float(custom.get("seconds", 0.5)))
        _marker(f"end-{tag}")
        return FaultMeta(tag)

    async def get(self, resource_meta: FaultMeta) -> Resource:
        return Resource.succeeded()

    async def delete(self, resource_meta: FaultMeta) -> None:
        return None


class AgentMeltdown(BaseException):
    """What no ``except Exception`` catches."""


@dataclass
class ExitingMeta(FaultMeta):
    """A fake job id whose decoding exits for the job id ``exit-on-decode``."""

    def __post_init__(self) -> None:
        if self.job_id == "exit-on-decode":
            sys.exit(5)


class ExitingAgent(AsyncAgentBase):
    """Every operation raises what is not an ``Exception``: ``async def create`` calls
    ``sys.exit`` (or, with ``custom['cancel']``, raises ``CancelledError`` though nothing
    cancelled it), blocking ``get`` raises ``KeyboardInterrupt``, ``delete`` a bare
    ``BaseException`` subclass, ``get_logs`` ``SystemExit`` while streaming, and its metadata
    type ``SystemExit`` while decoding one job id."""

    def __init__(self) -> None:
        super().__init__("fault_exit", ExitingMeta, name="ExitingAgent")

    async def create(self, task_template: Any, **kwargs: Any) -> FaultMeta:
        if custom_of(task_template).get("cancel"):
            raise asyncio.CancelledError
        sys.exit(3)

    def get(self, resource_meta: FaultMeta) -> Resource:
        raise KeyboardInterrupt

    async def delete(self, resource_meta: FaultMeta) -> None:
        raise AgentMeltdown("melted")

    async def get_logs(self, resource_meta: FaultMeta, **kwargs: Any) -> Any:
        yield agent_pb2.GetTaskLogsResponse(
            body=agent_pb2.GetTaskLogsResponseBody(results=["before the exit"])
        )
        raise SystemExit(4)


class ThreadedSyncAgent(SyncAgentBase):
    """A healthy sync agent with a blocking ``def do`` (needs a pool thread)."""

    def __init__(self) -> None:
        super().__init__("fault_healthy_def", name="HealthyDefAgent")

    def do(self, task_template: Any, inputs: Any = None) -> Resource:
        return Resource.succeeded({"ok": True})


class RaisingSensor(BaseSensor):
    """``poke`` raises with the deployment secret ``test_token`` in the message."""

    def __init__(self) -> None:
        super().__init__("fault_raise_sensor", name="RaisingSensor")

    def poke(self) -> bool:
        raise ValueError(f"probe refused: token={agenthost.get_secret('test_token', default='')}")


class LeakyLogsAgent(AsyncAgentBase):
    """``get_logs`` yields a page whose lines print the deployment secret ``test_token`` (as a
    job that echoes a credential it was given would)."""

    def __init__(self) -> None:
        super().__init__("fault_leaky_logs", FaultMeta, name="LeakyLogsAgent")

    def create(self, task_template: Any, **kwargs: Any) -> FaultMeta:
        return FaultMeta(job_id="job")

    def get(self, resource_meta: FaultMeta) -> Resource:
        return Resource.running()

    def delete(self, resource_meta: FaultMeta) -> None:
        return None

    async def get_logs(self, resource_meta: FaultMeta, **kwargs: Any) -> Any:
        line = f"connecting with token={agenthost.get_secret('test_token', default='')}"
        body = agent_pb2.GetTaskLogsResponseBody(
            results=[line], structured_lines=[agent_pb2.LogLine(message=line)]
        )
        yield agent_pb2.GetTaskLogsResponse(body=body)


for _agent in (
    RaisingAgent(),
    RaisingSensor(),
    LeakyLogsAgent(),
    RaisingSyncAgent(),
    HangingAgent(),
    LoopBlockingAgent(),
    LeakingAgent(),
    SegfaultAgent(),
    SteadyAgent(),
    ExitingAgent(),
    ThreadedSyncAgent(),
):
    AgentRegistry.register(_agent)
