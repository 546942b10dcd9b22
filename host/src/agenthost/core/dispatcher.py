"""``Dispatcher``: the operations of the agent API over the served agents, for every protocol.

It takes the pieces of a request that agents see (template, inputs, output prefix, task
execution metadata, connection) and returns what agents return (``resource_meta`` bytes, a
``Resource`` as the flyteidl message agents speak). It knows no gRPC service and no request or
response message: the protocol adapters in ``agenthost.protocols`` convert at the edge, and
``agenthost run`` (in-process) and the testing kit call it directly.

Finding the agent: ``agenthost.core.agents``; calling it: ``agenthost.core.calls``; checking
and converting what it returns: ``agenthost.core.results``; sync agents through ``create``:
``agenthost.core.sync_results``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncGenerator, Callable, Iterable
from typing import TYPE_CHECKING, Any

from flyteidl.admin.agent_pb2 import GetTaskLogsResponse, GetTaskMetricsResponse
from flyteidl.admin.agent_pb2 import Resource as ResourceProto

from agenthost.agent import AgentBase
from agenthost.connection import Connection, using_connection
from agenthost.core.agents import AgentEntry, AgentIndex, CategoryLike
from agenthost.core.calls import (
    AgentCallError,
    Method,
    NotImplementedByAgentError,
    WrongAgentKindError,
    agent_error,
    call,
    log_items,
)
from agenthost.core.inputs import check_inputs
from agenthost.core.results import (
    DEFAULT_MAX_RESOURCE_BYTES,
    agent_resource,
    deliver,
    mask_known_secrets,
    meta_bytes,
    resource_to_proto,
    sync_result,
)
from agenthost.core.sync_results import DEFAULT_MAX_SYNC_META_BYTES, SyncResultMeta
from agenthost.errors import InvalidRequestError, ResourceMetaError, summarize
from agenthost.phases import is_terminal_phase, phase_name
from agenthost.resource import Resource

if TYPE_CHECKING:
    from flyteidl.core.literals_pb2 import LiteralMap
    from flyteidl.core.tasks_pb2 import TaskTemplate

DEFAULT_CLOSE_TIMEOUT = 5.0
"""Seconds each agent's ``aclose()`` may take when the server stops."""

logger = logging.getLogger("agenthost.server")


class Dispatcher:
    """Find the agent for a request and call it; see the module docstring.

    ``agent_concurrency`` limits concurrent calls into each agent (None: unlimited);
    ``agent_threads`` limits the pool threads each agent's blocking calls occupy, until those
    calls return even if they were cancelled (None: unlimited).
    """

    def __init__(
        self,
        agents: Iterable[AgentBase],
        *,
        agent_concurrency: int | None = None,
        agent_threads: int | None = None,
        max_sync_meta_bytes: int = DEFAULT_MAX_SYNC_META_BYTES,
        max_resource_bytes: int = DEFAULT_MAX_RESOURCE_BYTES,
    ) -> None:
        self.agents = AgentIndex(agents, agent_concurrency, agent_threads)
        self.entries: list[AgentEntry] = self.agents.entries
        self._lookup = self.agents.by_key.get
        self.max_sync_meta_bytes = max_sync_meta_bytes
        self.max_resource_bytes = max_resource_bytes

    def resolve_template(self, template: TaskTemplate) -> AgentEntry:
        """The agent for a template's ``type`` and ``task_type_version``."""
        entry = self._lookup((template.type, template.task_type_version))
        if entry is None:
            if not template.type:
                raise InvalidRequestError("task template has no type")
            raise self.agents.unknown(template.type, template.task_type_version)
        return entry

    def agent_named(self, name: str) -> AgentEntry:
        """The agent named ``name``; ``UnknownTaskTypeError`` if none."""
        return self.agents.named(name)

    def _for_request(self, task_type: str, category: CategoryLike | None) -> AgentEntry:
        if category is not None and category.name:
            key: tuple[str, int | None] = (category.name, category.version)
        else:
            key = (task_type, None)
        entry = self._lookup(key)
        if entry is None:
            raise self.agents.unknown(*key)
        return entry

    # -- operations -----------------------------------------------------------------------

    async def create(
        self,
        template: TaskTemplate | None,
        inputs: LiteralMap | None = None,
        *,
        output_prefix: str = "",
        task_execution_metadata: Any = None,
        connection: Connection | None = None,
    ) -> bytes:
        """Start a task; return the ``resource_meta`` bytes (for sync agents, the result).
        ``connection``: the call's per-task credentials (None: a call that carries none)."""
        if template is None:
            raise InvalidRequestError("CreateTaskRequest has no template")
        entry = self.resolve_template(template)
        check_inputs(template, inputs)
        if entry.is_sync:
            resource = await self._do(
                entry, template, inputs, output_prefix, task_execution_metadata, None, connection
            )
            return self._sync_meta(entry, sync_result(entry, resource, connection))
        values = (inputs, output_prefix, task_execution_metadata)
        meta = await call(entry, _require(entry, "create"), (template,), values, connection)
        return meta_bytes(entry, meta, connection)

    async def get(
        self,
        task_type: str,
        category: CategoryLike | None,
        resource_meta: bytes,
        *,
        output_prefix: str = "",
        into: ResourceProto | None = None,
        connection: Connection | None = None,
    ) -> ResourceProto:
        """Report a task's ``Resource``, written into ``into`` (an empty message, such as a
        response's field) if given."""
        entry = self._for_request(task_type, category)
        if entry.is_sync:
            return deliver(self._decode_sync_meta(entry, resource_meta).resource, into)
        meta = _decode_meta(entry, resource_meta)
        method = _require(entry, "get")
        result = await call(entry, method, (meta,), (output_prefix,), connection)
        return agent_resource(entry, "get", result, None, into, self.max_resource_bytes)

    async def delete(
        self,
        task_type: str,
        category: CategoryLike | None,
        resource_meta: bytes,
        connection: Connection | None = None,
    ) -> None:
        """Cancel a task (a sync agent's result has nothing to cancel)."""
        entry = self._for_request(task_type, category)
        if entry.is_sync:
            self._decode_sync_meta(entry, resource_meta)
            return
        meta = _decode_meta(entry, resource_meta)
        await call(entry, _require(entry, "delete"), (meta,), (), connection)

    async def do(
        self,
        template: TaskTemplate | None,
        inputs: LiteralMap | None = None,
        *,
        output_prefix: str = "",
        task_execution_metadata: Any = None,
        into: ResourceProto | None = None,
        connection: Connection | None = None,
    ) -> ResourceProto:
        """Run a sync agent; return its final ``Resource``, written into ``into`` (an empty
        message, such as a response's field) if given."""
        if template is None:
            raise InvalidRequestError("ExecuteTaskSync header has no template")
        entry = self.resolve_template(template)
        if not entry.is_sync:
            raise WrongAgentKindError(
                f"agent {entry.name} for task type {entry.category.name!r} is asynchronous; "
                "use CreateTask/GetTask, not ExecuteTaskSync"
            )
        check_inputs(template, inputs)
        return await self._do(
            entry, template, inputs, output_prefix, task_execution_metadata, into, connection
        )

    async def metrics(
        self,
        task_type: str,
        category: CategoryLike | None,
        resource_meta: bytes,
        connection: Connection | None = None,
        *,
        queries: Any = (),
        start_time: Any = None,
        end_time: Any = None,
        step: Any = None,
    ) -> GetTaskMetricsResponse:
        """The agent's ``get_metrics`` (keywords: ``queries``, ``start_time``, ``end_time``,
        ``step``)."""
        entry = self._for_request(task_type, category)
        method = _optional(entry, "get_metrics", "metrics")
        meta = _decode_meta(entry, resource_meta)
        values = (queries, start_time, end_time, step)
        result = await call(entry, method, (meta,), values, connection)
        if not isinstance(result, GetTaskMetricsResponse):
            raise AgentCallError(
                entry.name,
                method.operation,
                TypeError(f"get_metrics returned {type(result).__name__}"),
            )
        if result.results:  # a metric's name or data may quote a secret
            mask_known_secrets(result, connection)
        return result

    async def logs(
        self,
        task_type: str,
        category: CategoryLike | None,
        resource_meta: bytes,
        connection: Connection | None = None,
        *,
        lines: Any = 0,
        token: Any = "",
    ) -> AsyncGenerator[GetTaskLogsResponse, None]:
        """Every ``GetTaskLogsResponse`` the agent's ``get_logs`` produces (keywords: ``lines``,
        ``token``). ``get_logs`` may return one response, an iterable of them or an async
        iterator of them. The stream holds a slot of the agent's concurrency limit from the
        call until it ends."""
        entry = self._for_request(task_type, category)
        method = _optional(entry, "get_logs", "logs")
        meta = _decode_meta(entry, resource_meta)
        # The whole stream is one call into the agent, within its concurrency limit: the slot
        # is held until the stream ends, however it ends (exhausted, failed, closed, cancelled).
        semaphore = entry.semaphore
        async with semaphore if semaphore is not None else contextlib.nullcontext():
            values = (lines, token)
            produced = await call(entry, method, (meta,), values, connection, holding_slot=True)
            with using_connection(connection):
                async with contextlib.aclosing(log_items(entry, produced)) as items:
                    async for item in items:
                        yield item

    async def aclose(self, timeout: float = DEFAULT_CLOSE_TIMEOUT) -> list[str]:
        """Call the optional ``aclose()`` of every agent (once per agent object, ``async def``
        or ``def``), all at once, each within ``timeout`` seconds. A failure is logged with
        the agent's name, never raised; returns the names of the agents that failed."""
        closers: dict[int, tuple[str, Callable[[], Any]]] = {}
        for entry in self.entries:
            close = getattr(entry.agent, "aclose", None)
            if callable(close):
                closers.setdefault(id(entry.agent), (entry.name, close))
        outcomes = await asyncio.gather(
            *(_close_agent(close, timeout) for _, close in closers.values()),
            return_exceptions=True,
        )
        failed = []
        for (name, _), outcome in zip(closers.values(), outcomes, strict=True):
            if isinstance(outcome, BaseException):
                failed.append(name)
                reason = "timed out" if isinstance(outcome, asyncio.TimeoutError) else "failed"
                logger.warning("agent %s: aclose %s: %s", name, reason, summarize(outcome))
        return failed

    # -- helpers --------------------------------------------------------------------------

    async def _do(
        self,
        entry: AgentEntry,
        template: TaskTemplate,
        inputs: LiteralMap | None,
        output_prefix: str,
        task_execution_metadata: Any,
        into: ResourceProto | None = None,
        connection: Connection | None = None,
    ) -> ResourceProto:
        values = (inputs, output_prefix, task_execution_metadata)
        result = await call(entry, _require(entry, "do"), (template,), values, connection)
        resource = agent_resource(entry, "do", result, template, into, self.max_resource_bytes)
        if not is_terminal_phase(resource.phase):
            raise AgentCallError(
                entry.name,
                "do",
                ValueError(f"do returned non-terminal phase {phase_name(resource.phase)}"),
            )
        return resource

    def _sync_meta(self, entry: AgentEntry, resource: ResourceProto) -> bytes:
        size = resource.ByteSize()
        if size > self.max_sync_meta_bytes:
            resource = resource_to_proto(
                Resource.failure(
                    f"the result of {entry.name} is {size} bytes, more than the "
                    f"{self.max_sync_meta_bytes} a resource_meta may carry; run this task "
                    "through ExecuteTaskSync",
                    code="ResultTooLarge",
                ),
                None,
            )
        return SyncResultMeta(entry.category.name, entry.category.version, resource).encode()

    def _decode_sync_meta(self, entry: AgentEntry, data: bytes) -> SyncResultMeta:
        meta = SyncResultMeta.decode(data, self.max_sync_meta_bytes)
        if meta.task_type != entry.category.name:
            raise ResourceMetaError(
                f"resource_meta is a result of task type {meta.task_type!r}, "
                f"not {entry.category.name!r}"
            )
        return meta


def _decode_meta(entry: AgentEntry, data: bytes) -> Any:
    decode = entry.decode_meta
    if decode is None:
        raise WrongAgentKindError(f"agent {entry.name} has no resource metadata")
    try:
        return decode(data)
    except BaseException as exc:  # the agent's code (its metadata type), as in ``call``
        error = agent_error(entry, "decode its resource_meta", exc)
        if error is None:
            raise
        raise error from exc


def _require(entry: AgentEntry, name: str) -> Method:
    method = entry.methods.get(name)
    if method is None:
        raise NotImplementedByAgentError(f"agent {entry.name} does not implement {name}")
    return method


def _optional(entry: AgentEntry, name: str, what: str) -> Method:
    method = entry.methods.get(name)
    if method is None:
        raise NotImplementedByAgentError(
            f"agent {entry.name} for task type {entry.category.name!r} provides no {what}"
        )
    return method


async def _close_agent(close: Callable[[], Any], timeout: float) -> None:
    if inspect.iscoroutinefunction(close):
        await asyncio.wait_for(close(), timeout)
    else:
        await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(None, close), timeout)
