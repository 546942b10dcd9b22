"""The everyday fake agents of the host's tests (async, sync, sensor, failing, slow, paged
logs...), loaded with ``agenthost serve --modules fake_plugins.basic``.

Marker files (``AGENTHOST_TEST_MARKERS`` directory) let tests see what agent code did.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flyteidl.admin import agent_pb2
from flyteidl.core import execution_pb2

import agenthost
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


def _marker(name: str, text: str = "") -> None:
    directory = os.environ.get("AGENTHOST_TEST_MARKERS")
    if directory:
        Path(directory, name).write_text(text)


@dataclass
class JobMeta(ResourceMeta):
    """A fake job: its id and the value it will produce."""

    job_id: str
    x: int = 0


class FastAgent(AsyncAgentBase):
    """Async agent: create returns at once; get succeeds with y = x * 2."""

    def __init__(self) -> None:
        super().__init__("fast_async", JobMeta, name="FastAgent")

    async def create(
        self, task_template: Any, inputs: Any = None, output_prefix: str = ""
    ) -> JobMeta:
        values = input_values(task_template, inputs)
        return JobMeta(job_id=f"job-{output_prefix or 'none'}", x=int(values.get("x", 0)))

    async def get(self, resource_meta: JobMeta) -> Resource:
        return Resource.succeeded(
            {"y": resource_meta.x * 2},
            message=f"done {resource_meta.job_id}",
            custom_info={"job_id": resource_meta.job_id},
            log_links=[execution_pb2.TaskLog(name="console", uri="https://example.com/job")],
        )

    async def delete(self, resource_meta: JobMeta) -> None:
        _marker("deleted-" + resource_meta.job_id.replace("/", "_"))

    async def get_metrics(self, resource_meta: JobMeta, **kwargs: Any) -> Any:
        return agent_pb2.GetTaskMetricsResponse()

    async def get_logs(self, resource_meta: JobMeta, **kwargs: Any) -> Any:
        for i in range(3):
            yield agent_pb2.GetTaskLogsResponse(
                body=agent_pb2.GetTaskLogsResponseBody(results=[f"line {i}"])
            )

    async def aclose(self) -> None:
        _marker("closed-FastAgent")


class SlowAgent(AsyncAgentBase):
    """Async agent whose create waits ``custom['seconds']`` and records cancellation."""

    def __init__(self) -> None:
        super().__init__("slow_async", JobMeta, name="SlowAgent")

    async def create(self, task_template: Any, **kwargs: Any) -> JobMeta:
        seconds = float(custom_of(task_template).get("seconds", 5))
        tag = str(custom_of(task_template).get("tag", "slow"))
        _marker(f"started-{tag}")
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            _marker(f"cancelled-{tag}")
            raise
        _marker(f"finished-{tag}")
        return JobMeta(job_id=tag)

    async def get(self, resource_meta: JobMeta) -> Resource:
        return Resource.running("still going")

    async def delete(self, resource_meta: JobMeta) -> None:
        return None


class BlockingAgent(AsyncAgentBase):
    """Async agent with blocking ``def`` methods: create blocks until a release file appears."""

    def __init__(self) -> None:
        super().__init__("blocking", JobMeta, name="BlockingAgent")

    def create(self, task_template: Any, inputs: Any = None) -> JobMeta:
        release = Path(str(custom_of(task_template)["release"]))
        _marker("blocking-started")
        event = threading.Event()
        while not release.exists():
            event.wait(0.02)
        return JobMeta(job_id="blocked")

    def get(self, resource_meta: JobMeta) -> Resource:
        return Resource.succeeded()

    def delete(self, resource_meta: JobMeta) -> None:
        return None


class FailingAgent(AsyncAgentBase):
    """Async agent whose create logs a warning and raises (with a path and a secret in the
    message)."""

    def __init__(self) -> None:
        super().__init__("failing", JobMeta, name="FailingAgent")

    def create(self, task_template: Any, **kwargs: Any) -> JobMeta:
        logging.getLogger(__name__).warning("FailingAgent fails on purpose")
        secret = agenthost.get_secret("test_token", default="")
        raise ValueError(f"boom at {agenthost.__file__} token={secret}\nsecond line of detail")

    def get(self, resource_meta: JobMeta) -> Resource:
        secret = agenthost.get_secret("test_token", default="")
        return Resource.failure(f"job failed, token {secret} in {agenthost.__file__}")

    def delete(self, resource_meta: JobMeta) -> None:
        return None


class BackendAgent(AsyncAgentBase):
    """Async agent whose create raises the SDK's "backend unavailable" or "misconfigured" error
    (``custom["fault"]``: ``down``, ``misconfigured`` or ``no_secret``), a path and a secret in the message."""

    def __init__(self) -> None:
        super().__init__("backend_fault", JobMeta, name="BackendAgent")

    def create(self, task_template: Any, **kwargs: Any) -> JobMeta:
        secret = agenthost.get_secret("test_token", default="")
        fault = agenthost.custom_of(task_template).get("fault")
        if fault == "no_secret":
            agenthost.get_secret("job_service_token")
        if fault == "down":
            raise agenthost.BackendUnavailableError(
                f"the job service did not answer in time (token={secret})"
            )
        raise agenthost.MisconfiguredError(
            f"no credentials for the job service in {agenthost.__file__} (token={secret})"
        )

    def get(self, resource_meta: JobMeta) -> Resource:
        return Resource.running()

    def delete(self, resource_meta: JobMeta) -> None:
        return None


class EchoSyncAgent(SyncAgentBase):
    """Sync agent: returns {"out": prompt upper-cased}."""

    def __init__(self) -> None:
        super().__init__("echo_sync", name="EchoSyncAgent")

    async def do(self, task_template: Any, inputs: Any = None, **kwargs: Any) -> Resource:
        values = input_values(task_template, inputs)
        return Resource.succeeded({"out": str(values.get("prompt", "")).upper()})


class VersionedSyncAgent(SyncAgentBase):
    """Sync agent for version 2 of task type echo_sync."""

    def __init__(self) -> None:
        super().__init__("echo_sync", 2, name="EchoSyncV2")

    def do(self, task_template: Any, inputs: Any = None) -> Resource:
        return Resource.succeeded({"out": "v2"})


class PathSensor(BaseSensor):
    """Sensor: true once ``path`` exists."""

    aliases = (("tests.sensors", "PathSensor"),)

    def __init__(self) -> None:
        super().__init__("test_path_sensor", name="PathSensor")

    def poke(self, path: str) -> bool:
        return Path(path).exists()

    def aclose(self) -> None:
        _marker("closed-PathSensor")


class ConnectionChatAgent(AsyncAgentBase):
    """Async agent that calls an OpenAI-compatible API (``custom['base_url']``) with the
    bearer ``get_secret('openai_api_key')`` from a blocking ``create`` (the host's thread pool),
    and reports the call's connection configs from ``get`` (with config ``echo`` set: the
    secret in its custom info and log links instead)."""

    def __init__(self) -> None:
        super().__init__("conn_chat", JobMeta, name="ConnectionChatAgent")

    def create(self, task_template: Any, inputs: Any = None) -> JobMeta:
        custom = custom_of(task_template)
        message = {"role": "user", "content": "hello"}
        body = json.dumps({"model": custom.get("model", "gpt-4o"), "messages": [message]}).encode()
        request = urllib.request.Request(
            f"{custom['base_url']}/chat/completions",
            data=body,
            headers={
                "authorization": f"Bearer {agenthost.get_secret('openai_api_key')}",
                "content-type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                answer = json.load(response)
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"API error: {exc.read().decode()}") from None
        return JobMeta(job_id=str(answer.get("id", "")))

    async def get(self, resource_meta: JobMeta, connection: agenthost.Connection) -> Resource:
        secret = connection.secrets.get("openai_api_key", "")
        if connection.configs.get("echo"):  # the secret in every text field of the reply
            return Resource.succeeded(
                custom_info={"request": {"headers": [f"Bearer {secret}"]}, secret: "key"},
                log_links=[
                    execution_pb2.TaskLog(uri=f"https://api.example.com/?key={secret}", name=secret)
                ],
            )
        return Resource.succeeded(
            message=f"done with {secret}",
            custom_info={"configs": dict(connection.configs), "keys": sorted(connection.secrets)},
        )

    async def delete(self, resource_meta: JobMeta, connection: agenthost.Connection) -> None:
        _marker(f"conn-deleted-{sorted(connection.secrets)}")


class ConnectionSyncAgent(SyncAgentBase):
    """Sync agent that puts the secret ``custom['secret']`` (default: the call's ``api_key``
    connection secret) in its result: in the failure message (``custom['leak'] == 'message'``),
    its custom info and log links (``'reply'``) or its output ``key``."""

    def __init__(self) -> None:
        super().__init__("conn_sync", name="ConnectionSyncAgent")

    def do(self, task_template: Any, inputs: Any = None) -> Resource:
        custom = custom_of(task_template)
        key = agenthost.get_secret(custom.get("secret", "api_key"))
        if custom.get("leak") == "message":
            return Resource.failure(f"the API refused key {key}")
        if custom.get("leak") == "reply":
            return Resource.succeeded(
                custom_info={"request": {"key": key}},
                log_links=[execution_pb2.TaskLog(uri=f"https://api.example.com/?key={key}")],
            )
        return Resource.succeeded({"key": key})


class LegacyResourceAgent(AsyncAgentBase):
    """Async agent returning flytekit-style flyteidl Resources: only a v1 ``state``, an
    ``agent_error``, outputs larger than clients receive, a phase number that is no phase, or
    nothing at all (chosen by the job id)."""

    def __init__(self) -> None:
        super().__init__("legacy_resource", JobMeta, name="LegacyResourceAgent")

    async def create(self, task_template: Any, **kwargs: Any) -> JobMeta:
        return JobMeta(job_id=str(custom_of(task_template).get("kind", "")))

    async def get(self, resource_meta: JobMeta) -> Any:
        kind = resource_meta.job_id
        if kind == "state-running":
            return agent_pb2.Resource(state=agent_pb2.RUNNING, message="running")
        if kind == "state-succeeded":
            return agent_pb2.Resource(state=agent_pb2.SUCCEEDED)
        if kind == "unknown-phase":  # a number no TaskExecution phase has
            return agent_pb2.Resource(phase=99, message="mapped wrong")
        if kind == "big-outputs":  # more than clients receive (4 MiB)
            resource = agent_pb2.Resource(phase=execution_pb2.TaskExecution.SUCCEEDED)
            resource.outputs.literals["text"].scalar.primitive.string_value = "x" * (5 << 20)
            return resource
        if kind in ("error-recoverable", "error-fatal"):
            recoverable = kind == "error-recoverable"
            error = agent_pb2.AgentError(
                code="Throttled" if recoverable else "BadQuery",
                kind=agent_pb2.AgentError.RECOVERABLE
                if recoverable
                else agent_pb2.AgentError.NON_RECOVERABLE,
            )
            return agent_pb2.Resource(agent_error=error, message="try later" if recoverable else "")
        return agent_pb2.Resource()

    async def delete(self, resource_meta: JobMeta) -> None:
        return None


class PagedLogsAgent(AsyncAgentBase):
    """Async agent with 5 log lines, paged by ``lines`` from the offset in ``token``."""

    def __init__(self) -> None:
        super().__init__("paged_logs", JobMeta, name="PagedLogsAgent")

    async def create(self, task_template: Any, **kwargs: Any) -> JobMeta:
        return JobMeta(job_id="logs")

    async def get(self, resource_meta: JobMeta) -> Resource:
        return Resource.succeeded()

    async def delete(self, resource_meta: JobMeta) -> None:
        return None

    async def get_logs(self, resource_meta: JobMeta, lines: int = 0, token: str = "") -> Any:
        start = int(token or 0)
        end = min(5, start + (lines or 5))
        yield agent_pb2.GetTaskLogsResponse(
            body=agent_pb2.GetTaskLogsResponseBody(results=[f"line {i}" for i in range(start, end)])
        )
        yield agent_pb2.GetTaskLogsResponse(
            header=agent_pb2.GetTaskLogsResponseHeader(token=str(end) if end < 5 else "")
        )


class BinarySizeAgent(SyncAgentBase):
    """Sync agent: the size of its BINARY input ``blob``, read as opaque bytes."""

    def __init__(self) -> None:
        super().__init__("binary_size", name="BinarySizeAgent")

    def do(self, task_template: Any, inputs: Any = None) -> Resource:
        blob = inputs.literals["blob"].scalar.binary
        return Resource.succeeded({"size": len(blob.value), "tag": blob.tag})


for _agent in (
    FastAgent(),
    ConnectionChatAgent(),
    ConnectionSyncAgent(),
    LegacyResourceAgent(),
    PagedLogsAgent(),
    BinarySizeAgent(),
    SlowAgent(),
    BlockingAgent(),
    FailingAgent(),
    BackendAgent(),
    EchoSyncAgent(),
    VersionedSyncAgent(),
    PathSensor(),
):
    AgentRegistry.register(_agent)
