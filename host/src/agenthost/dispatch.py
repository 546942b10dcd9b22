"""The protocol-independent core of the host: find the agent for a request and call it.

``Dispatcher`` takes the pieces of a request that agents see (template, inputs, output
prefix, task execution metadata) and returns what agents return (``resource_meta`` bytes, a
``Resource`` as flyteidl's ``Resource``). It knows no gRPC service and no request or response
message: the protocol adapters in ``agenthost.protocols`` convert at the edge, and
``agenthost run`` (in-process) and the testing kit call it directly.

Agent resolution: a request that sets ``task_category`` is served by the agent registered for
exactly that (name, version). A request that only sets the deprecated ``task_type`` string is
served by the agent for (name, 0) if there is one, else by the lowest version registered under
that name (older propellers only send the string, and their templates are version 0).

Calls: ``async def`` agent methods are awaited on the running loop (client cancellation and
deadlines cancel them); plain ``def`` methods run in the loop's default executor, which the
server sets to a bounded thread pool. A thread cannot be cancelled, so with ``agent_threads``
each agent may occupy at most that many pool threads at once, counted until its calls really
return: a hanging agent then holds only its share and the other agents keep being served.
Each method gets only the keyword arguments it accepts, worked out once per agent.

Outputs: dict outputs of ``do`` are converted with the template's output interface when it
declares outputs, untyped when it declares none. ``get`` has no template, so dict outputs of
``get`` are converted untyped (each value's literal type is inferred from the Python value);
agents that need exact types return a ``LiteralMap``.

Sync agents through ``create``: ``CreateTask`` on a sync agent runs ``do`` and returns a
self-contained ``resource_meta`` (see ``SyncResultMeta``) holding the final ``Resource``, so
``GetTask`` on any replica answers from the bytes alone and ``DeleteTask`` succeeds.

Errors: ``agenthost.errors`` types raised by agents or by the host pass through unchanged;
any other exception from agent code becomes an ``AgentCallError`` carrying a one-line summary.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextvars
import functools
import inspect
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from flyteidl.admin.agent_pb2 import GetTaskLogsResponse, GetTaskMetricsResponse
from flyteidl.admin.agent_pb2 import Resource as ResourceProto
from google.protobuf import struct_pb2
from google.protobuf.message import DecodeError

from agenthost.agent import AgentBase, AsyncAgentBase, TaskCategory, implements
from agenthost.connection import (
    EMPTY_CONNECTION,
    Connection,
    leaked_secret,
    reset_current_connection,
    set_current_connection,
    using_connection,
)
from agenthost.errors import (
    AgentHostError,
    InvalidRequestError,
    ResourceMetaError,
    UnknownTaskTypeError,
    UnsupportedOperationError,
)
from agenthost.literals import check_literal, to_literal_map
from agenthost.phases import is_terminal_phase, phase_name
from agenthost.resource import Resource
from agenthost.signatures import accepted_keywords, declares
from agenthost.template import check_custom
from agenthost.threads import current_thread_slots, run_in_share

if TYPE_CHECKING:
    from flyteidl.core.literals_pb2 import LiteralMap
    from flyteidl.core.tasks_pb2 import TaskTemplate

SYNC_META_MARKER = "agenthost.sync-result"
"""Value of the ``kind`` field of a sync agent's self-contained ``resource_meta``."""

DEFAULT_MAX_SYNC_META_BYTES = 1024 * 1024
"""Largest serialized ``Resource`` a sync agent's ``resource_meta`` may carry (propeller keeps
``resource_meta`` in the workflow's state, so it must stay small). A larger result is replaced
by a FAILED resource telling the user to call the agent through ExecuteTaskSync."""

PROPELLER_RECEIVE_LIMIT = 4 * 1024 * 1024
"""grpc-go's default receive limit, which FlytePropeller keeps for agent responses."""

DEFAULT_MAX_RESOURCE_BYTES = PROPELLER_RECEIVE_LIMIT - 64 * 1024
"""Largest serialized ``Resource`` (outputs inline) returned to clients; a larger one is
replaced by a FAILED resource, since propeller could not receive it (headroom for framing)."""

DEFAULT_CLOSE_TIMEOUT = 5.0
"""Seconds each agent's ``aclose()`` may take when the server stops."""

SUMMARY_LIMIT = 300
"""Longest exception text kept in an ``AgentCallError`` summary."""

TRACEBACK_HEADER = "Traceback (most recent call last)"

logger = logging.getLogger("agenthost.server")


class CategoryLike(Protocol):
    """A task category as requests carry it (any object with ``name`` and ``version``)."""

    @property
    def name(self) -> str:
        """The task type."""

    @property
    def version(self) -> int:
        """The task type version."""


class AgentCallError(AgentHostError):
    """Agent code raised an exception that is not an ``agenthost.errors`` type.

    ``str()`` is the one-line summary sent to clients (``agent X failed to create: ValueError:
    ...``); ``__cause__`` is the original exception, for the server log only.
    """

    def __init__(self, agent: str, operation: str, error: BaseException) -> None:
        self.agent = agent
        self.operation = operation
        self.error = error
        super().__init__(f"agent {agent} failed to {operation}: {summarize(error)}")


class NotImplementedByAgentError(UnsupportedOperationError):
    """The agent does not implement an optional operation (metrics, logs). Maps to
    ``UNIMPLEMENTED``."""


class WrongAgentKindError(UnsupportedOperationError):
    """A sync-only operation on an async agent (``ExecuteTaskSync``). Maps to
    ``FAILED_PRECONDITION``."""


def summarize(error: BaseException, limit: int = SUMMARY_LIMIT) -> str:
    """``Type: first line of the message``, at most ``limit`` characters of message. A
    message that is a formatted traceback (agents sometimes wrap one) is reduced to its final
    unindented line, so no traceback or source path reaches a client."""
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    if lines and TRACEBACK_HEADER in lines[0]:
        lines = [line for line in lines[1:] if not line[:1].isspace()][-1:]
    line = lines[0].strip() if lines else ""
    if len(line) > limit:
        line = line[: limit - 1] + "…"
    return f"{type(error).__name__}: {line}" if line else type(error).__name__


@dataclass(frozen=True)
class _Method:
    """One agent method, inspected once: how to call it and which keywords it takes."""

    fn: Callable[..., Any]
    is_async: bool
    accepted: frozenset[str] | None
    is_async_generator: bool = False
    takes_connection: bool = False

    @classmethod
    def of(cls, agent: AgentBase, name: str) -> _Method | None:
        if not implements(agent, name):
            return None
        fn = getattr(agent, name)
        return cls(
            fn,
            inspect.iscoroutinefunction(fn),
            accepted_keywords(fn),
            inspect.isasyncgenfunction(fn),
            declares(fn, "connection"),
        )

    def keywords(self, candidates: dict[str, Any]) -> dict[str, Any]:
        if self.accepted is None:
            return candidates
        return {k: v for k, v in candidates.items() if k in self.accepted}

    def call_keywords(
        self, candidates: dict[str, Any], connection: Connection | None
    ) -> dict[str, Any]:
        """The keywords of one call: the accepted ``candidates``, plus ``connection`` if the
        method declares it (``**kwargs`` alone never receives it)."""
        kwargs = candidates if self.accepted is None else self.keywords(candidates)
        if self.takes_connection:
            kwargs = {**kwargs, "connection": connection or EMPTY_CONNECTION}
        return kwargs


class AgentEntry:
    """An agent and its inspected methods, built once when the dispatcher is created."""

    def __init__(
        self, agent: AgentBase, concurrency: int | None = None, threads: int | None = None
    ) -> None:
        self.agent = agent
        self.name = agent.name
        self.category = agent.task_category
        self.is_sync = bool(agent.is_sync)
        self.methods: dict[str, _Method | None] = {
            m: _Method.of(agent, m)
            for m in ("create", "get", "delete", "do", "get_metrics", "get_logs")
        }
        self.decode_meta: Callable[[bytes], Any] | None = (
            agent.metadata_type.decode if isinstance(agent, AsyncAgentBase) else None
        )
        """How this agent's ``resource_meta`` bytes decode (None: a sync agent has none)."""
        # asyncio primitives bind to the running loop on first use, not here.
        self.semaphore = asyncio.Semaphore(concurrency) if concurrency is not None else None
        """The per-agent concurrency limit (None: unlimited)."""
        self.thread_slots = asyncio.Semaphore(threads) if threads is not None else None
        """The limit on pool threads this agent's blocking calls occupy (None: unlimited)."""


@dataclass
class SyncResultMeta:
    """The self-contained ``resource_meta`` CreateTask returns for a sync agent:
    ``{"kind": SYNC_META_MARKER, "task_type": ..., "version": ..., "resource": <base64 of the
    serialized flyteidl Resource>}`` as UTF-8 JSON."""

    task_type: str
    version: int
    resource: ResourceProto

    def encode(self) -> bytes:
        """The JSON bytes."""
        return json.dumps(
            {
                "kind": SYNC_META_MARKER,
                "task_type": self.task_type,
                "version": self.version,
                "resource": base64.b64encode(self.resource.SerializeToString()).decode("ascii"),
            },
            separators=(",", ":"),
        ).encode("utf-8")

    @classmethod
    def decode(cls, data: bytes, limit: int = DEFAULT_MAX_SYNC_META_BYTES) -> SyncResultMeta:
        """Strictly decode bytes produced by ``encode``; ``ResourceMetaError`` otherwise."""
        max_bytes = limit * 4 // 3 + 1024
        if len(data) > max_bytes:
            raise ResourceMetaError(
                f"resource_meta is {len(data)} bytes, more than the {max_bytes} allowed for a "
                "sync agent's result"
            )
        try:
            obj = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise ResourceMetaError("resource_meta is not a sync agent result (not JSON)") from None
        if not isinstance(obj, dict) or obj.get("kind") != SYNC_META_MARKER:
            raise ResourceMetaError("resource_meta is not a sync agent result")
        task_type, version, encoded = obj.get("task_type"), obj.get("version"), obj.get("resource")
        if (
            set(obj) != {"kind", "task_type", "version", "resource"}
            or not isinstance(task_type, str)
            or not isinstance(version, int)
            or isinstance(version, bool)
            or not isinstance(encoded, str)
        ):
            raise ResourceMetaError("resource_meta is a malformed sync agent result")
        resource = ResourceProto()
        try:
            resource.ParseFromString(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError, DecodeError):
            raise ResourceMetaError(
                "resource_meta holds an undecodable sync agent result"
            ) from None
        return cls(task_type, version, resource)


class Dispatcher:
    """Resolve agents by task category and call them; see the module docstring.

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
        self.entries: list[AgentEntry] = [
            AgentEntry(a, agent_concurrency, agent_threads) for a in agents
        ]
        self._by_category: dict[TaskCategory, AgentEntry] = {}
        self._by_key: dict[tuple[str, int], AgentEntry] = {}
        self._by_type: dict[str, AgentEntry] = {}
        self._by_name: dict[str, AgentEntry] = {}
        for entry in sorted(self.entries, key=lambda e: e.category.version, reverse=True):
            self._by_category.setdefault(entry.category, entry)
            self._by_key.setdefault((entry.category.name, entry.category.version), entry)
            # Iterating highest version first leaves version 0 (or the lowest) in place.
            self._by_type[entry.category.name] = entry
            self._by_name.setdefault(entry.name, entry)
        self.max_sync_meta_bytes = max_sync_meta_bytes
        self.max_resource_bytes = max_resource_bytes

    # -- resolution -----------------------------------------------------------------------

    def resolve(self, task_type: str = "", category: TaskCategory | None = None) -> AgentEntry:
        """The agent for ``category`` if given, else for the ``task_type`` string."""
        if category is not None and category.name:
            entry = self._by_category.get(category)
            if entry is None:
                raise UnknownTaskTypeError(
                    f"no agent serves task type {category.name!r} version {category.version}"
                    + self._known_versions(category.name)
                )
            return entry
        entry = self._by_type.get(task_type)
        if entry is None:
            if not task_type:
                raise InvalidRequestError("request names no task type (task_category is unset)")
            raise UnknownTaskTypeError(f"no agent serves task type {task_type!r}")
        return entry

    def resolve_request(self, task_type: str, category: CategoryLike | None) -> AgentEntry:
        """Resolve from a request's ``task_type`` and (possibly unset) ``task_category``."""
        if category is not None and category.name:
            entry = self._by_key.get((category.name, category.version))
            if entry is not None:
                return entry
            return self.resolve(task_type, TaskCategory(category.name, category.version))
        entry = self._by_type.get(task_type)
        return entry if entry is not None else self.resolve(task_type)

    def resolve_template(self, template: TaskTemplate) -> AgentEntry:
        """The agent for a template's ``type`` and ``task_type_version``."""
        entry = self._by_key.get((template.type, template.task_type_version))
        if entry is not None:
            return entry
        if not template.type:
            raise InvalidRequestError("task template has no type")
        return self.resolve(template.type, TaskCategory(template.type, template.task_type_version))

    def _known_versions(self, name: str) -> str:
        versions = sorted(c.version for c in self._by_category if c.name == name)
        if not versions:
            return ""
        return f" (served versions: {', '.join(map(str, versions))})"

    # -- agent metadata -------------------------------------------------------------------

    def agent_named(self, name: str) -> AgentEntry:
        """The agent named ``name``; ``UnknownTaskTypeError`` if none."""
        entry = self._by_name.get(name)
        if entry is None:
            raise UnknownTaskTypeError(f"no agent named {name!r}")
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
            return self._sync_meta(entry, resource)
        method = self._require(entry, "create")
        meta = await self._call(
            entry,
            "create",
            method,
            (template,),
            {
                "inputs": inputs,
                "output_prefix": output_prefix,
                "task_execution_metadata": task_execution_metadata,
            },
            connection,
        )
        if isinstance(meta, (bytes, bytearray)):
            data = bytes(meta)
        else:
            encode = getattr(meta, "encode", None)
            if encode is None:
                raise AgentCallError(
                    entry.name,
                    "create",
                    TypeError(f"create returned {type(meta).__name__}, not a ResourceMeta"),
                )
            data = bytes(encode())
        if connection:
            _refuse_leak(entry, connection, data)
        return _within_meta_limit(entry, data)

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
        entry = self.resolve_request(task_type, category)
        if entry.is_sync:
            return _deliver(self._decode_sync_meta(entry, resource_meta).resource, into)
        meta = self._decode_meta(entry, resource_meta)
        method = self._require(entry, "get")
        result = await self._call(
            entry, "get", method, (meta,), {"output_prefix": output_prefix}, connection
        )
        return self.resource_to_proto(entry, "get", result, None, into)

    async def delete(
        self,
        task_type: str,
        category: CategoryLike | None,
        resource_meta: bytes,
        connection: Connection | None = None,
    ) -> None:
        """Cancel a task (a sync agent's result has nothing to cancel)."""
        entry = self.resolve_request(task_type, category)
        if entry.is_sync:
            self._decode_sync_meta(entry, resource_meta)
            return
        meta = self._decode_meta(entry, resource_meta)
        method = self._require(entry, "delete")
        await self._call(entry, "delete", method, (meta,), {}, connection)

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
        **query: Any,
    ) -> GetTaskMetricsResponse:
        """The agent's ``get_metrics`` (keywords: ``queries``, ``start_time``, ``end_time``,
        ``step``)."""
        entry = self.resolve_request(task_type, category)
        method = self._optional(entry, "get_metrics", "metrics")
        meta = self._decode_meta(entry, resource_meta)
        result = await self._call(entry, "get metrics", method, (meta,), query, connection)
        if not isinstance(result, GetTaskMetricsResponse):
            raise AgentCallError(
                entry.name,
                "get metrics",
                TypeError(f"get_metrics returned {type(result).__name__}"),
            )
        return result

    async def logs(
        self,
        task_type: str,
        category: CategoryLike | None,
        resource_meta: bytes,
        connection: Connection | None = None,
        **query: Any,
    ) -> AsyncIterator[GetTaskLogsResponse]:
        """Every ``GetTaskLogsResponse`` the agent's ``get_logs`` produces (keywords:
        ``lines``, ``token``). ``get_logs`` may return one response, an iterable of them or
        an async iterator of them."""
        entry = self.resolve_request(task_type, category)
        method = self._optional(entry, "get_logs", "logs")
        meta = self._decode_meta(entry, resource_meta)
        produced = await self._call(entry, "get logs", method, (meta,), query, connection)
        with using_connection(connection):
            async for item in _log_items(entry, produced):
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
        method = self._require(entry, "do")
        result = await self._call(
            entry,
            "do",
            method,
            (template,),
            {
                "inputs": inputs,
                "output_prefix": output_prefix,
                "task_execution_metadata": task_execution_metadata,
            },
            connection,
        )
        resource = self.resource_to_proto(entry, "do", result, template, into)
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

    @staticmethod
    def _decode_meta(entry: AgentEntry, data: bytes) -> Any:
        decode = entry.decode_meta
        if decode is None:
            raise WrongAgentKindError(f"agent {entry.name} has no resource metadata")
        return decode(data)

    @staticmethod
    def _require(entry: AgentEntry, name: str) -> _Method:
        method = entry.methods.get(name)
        if method is None:
            raise NotImplementedByAgentError(f"agent {entry.name} does not implement {name}")
        return method

    @staticmethod
    def _optional(entry: AgentEntry, name: str, what: str) -> _Method:
        method = entry.methods.get(name)
        if method is None:
            raise NotImplementedByAgentError(
                f"agent {entry.name} for task type {entry.category.name!r} provides no {what}"
            )
        return method

    async def _call(
        self,
        entry: AgentEntry,
        operation: str,
        method: _Method,
        args: Sequence[Any],
        candidates: dict[str, Any],
        connection: Connection | None = None,
    ) -> Any:
        connection_token = None
        if connection is not None or method.takes_connection:
            kwargs = method.call_keywords(candidates, connection)
            if connection is not None:
                connection_token = set_current_connection(connection)
        else:
            kwargs = candidates if method.accepted is None else method.keywords(candidates)
        semaphore = entry.semaphore
        # Blocking work an async method hands to run_blocking counts against this agent.
        token = current_thread_slots.set(entry.thread_slots)
        try:
            if semaphore is None:
                if method.is_async:
                    return await method.fn(*args, **kwargs)
                return await _invoke(method, args, kwargs, entry.thread_slots)
            async with semaphore:
                return await _invoke(method, args, kwargs, entry.thread_slots)
        except AgentHostError:
            raise
        except Exception as exc:
            raise AgentCallError(entry.name, operation, exc) from exc
        finally:
            current_thread_slots.reset(token)
            if connection_token is not None:
                reset_current_connection(connection_token)

    def resource_to_proto(
        self,
        entry: AgentEntry,
        operation: str,
        result: Any,
        template: TaskTemplate | None,
        into: ResourceProto | None = None,
    ) -> ResourceProto:
        """Convert an agent's ``Resource`` (or a flyteidl ``Resource``) to flyteidl, written
        into ``into`` (an empty message) if given."""
        if isinstance(result, ResourceProto):
            return _deliver(result, into)
        if not isinstance(result, Resource):
            raise AgentCallError(
                entry.name,
                operation,
                TypeError(f"{operation} returned {type(result).__name__}, not a Resource"),
            )
        try:
            proto = resource_to_proto(result, template, into)
        except Exception as exc:  # outputs that do not convert are the agent's fault
            raise AgentCallError(entry.name, operation, exc) from exc
        size = proto.ByteSize()
        if size > self.max_resource_bytes:
            proto.Clear()
            return resource_to_proto(
                Resource.failure(
                    f"the outputs of {entry.name} are {size} bytes, more than propeller can "
                    f"receive ({PROPELLER_RECEIVE_LIMIT} bytes, 4 MiB); return large results as "
                    "files or structured datasets",
                    code="OutputsTooLarge",
                ),
                None,
                proto,
            )
        return proto


async def _close_agent(close: Callable[[], Any], timeout: float) -> None:
    if inspect.iscoroutinefunction(close):
        await asyncio.wait_for(close(), timeout)
    else:
        await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(None, close), timeout)


async def _invoke(
    method: _Method,
    args: Sequence[Any],
    kwargs: dict[str, Any],
    thread_slots: asyncio.Semaphore | None = None,
) -> Any:
    if method.is_async:
        return await method.fn(*args, **kwargs)
    if method.is_async_generator:
        return method.fn(*args, **kwargs)
    # The thread runs in a copy of this task's context: the call's connection
    # (``current_connection``) and its log fields (``agenthost.server.logs``) go with it.
    call = functools.partial(contextvars.copy_context().run, method.fn, *args, **kwargs)
    result = await run_in_share(thread_slots, call)
    if inspect.isawaitable(result):
        return await result
    return result


def _within_meta_limit(entry: AgentEntry, meta: bytes) -> bytes:
    """``meta``, unless it is larger than GetTask would accept for this agent (a task that
    could never be polled): then ``InvalidRequestError`` naming the limit."""
    limit = getattr(getattr(entry.agent, "metadata_type", None), "max_encoded_bytes", None)
    if isinstance(limit, int) and len(meta) > limit:
        raise InvalidRequestError(
            f"agent {entry.name} made a resource_meta of {len(meta)} bytes for this request, "
            f"more than the {limit} bytes GetTask accepts for task type "
            f"{entry.category.name!r}; make the task's inputs or configuration smaller"
        )
    return meta


def _refuse_leak(entry: AgentEntry, connection: Connection, data: bytes) -> None:
    """``AgentCallError`` if ``data`` (a ``resource_meta``) holds a connection secret: it is
    stored by the executor and sent back on every call, so it must never carry credentials."""
    key = leaked_secret(connection, data)
    if key is not None:
        raise AgentCallError(
            entry.name,
            "create",
            ValueError(f"resource_meta contains the value of connection secret {key!r}"),
        )


def _deliver(resource: ResourceProto, into: ResourceProto | None) -> ResourceProto:
    if into is None:
        return resource
    into.CopyFrom(resource)
    return into


def _check_log_item(entry: AgentEntry, item: Any) -> GetTaskLogsResponse:
    if not isinstance(item, GetTaskLogsResponse):
        raise TypeError(f"get_logs produced {type(item).__name__}, not a GetTaskLogsResponse")
    return item


def resource_to_proto(
    resource: Resource,
    template: TaskTemplate | None,
    into: ResourceProto | None = None,
) -> ResourceProto:
    """An ``agenthost.Resource`` as a flyteidl ``Resource``; dict outputs are converted with
    ``template``'s output interface if it declares outputs, untyped otherwise (no template, no
    interface, or an interface without outputs). With ``into`` (an empty message, such as a
    response's field), the resource is written there and returned."""
    proto = ResourceProto() if into is None else into
    proto.phase = resource.phase
    if resource.message:
        proto.message = resource.message
    if resource.log_links:
        proto.log_links.extend(resource.log_links)
    outputs = resource.outputs
    if outputs is not None:
        if isinstance(outputs, dict):
            variables = None
            if template is not None and template.interface.outputs.variables:
                variables = template.interface.outputs
            to_literal_map(outputs, variables, into=proto.outputs)
        else:
            proto.outputs.CopyFrom(outputs)
    if resource.custom_info:
        info = struct_pb2.Struct()
        info.update(resource.custom_info)
        proto.custom_info.CopyFrom(info)
    if resource.agent_error is not None:
        proto.agent_error.CopyFrom(resource.agent_error)
    return proto


def check_inputs(template: TaskTemplate, inputs: LiteralMap | None) -> None:
    """``InvalidRequestError`` for a request the agent should never see: a NaN or infinite
    number in ``custom`` (naming the field), inputs missing from or not declared in the
    template's interface, or an input whose literal does not match its declared type (naming
    the input and both types). A template without an interface has its input names and types
    unchecked; offloaded literals are not fetched, so their types are not checked."""
    check_custom(template)
    declared = template.interface.inputs.variables
    given = inputs.literals if inputs is not None else {}
    if len(given) == len(declared):
        for name in given:
            if name not in declared:
                break
        else:
            _check_input_types(given, declared)
            return
    if not template.HasField("interface"):
        return
    unexpected = [name for name in given if name not in declared]
    if unexpected:
        raise InvalidRequestError(
            f"input(s) {', '.join(map(repr, sorted(unexpected)))} are not declared in the "
            f"interface of task type {template.type!r}"
        )
    missing = [name for name in declared if name not in given]
    if missing:
        raise InvalidRequestError(
            f"missing input(s) {', '.join(map(repr, sorted(missing)))} declared in the "
            f"interface of task type {template.type!r}"
        )


async def _log_items(entry: AgentEntry, produced: Any) -> AsyncIterator[GetTaskLogsResponse]:
    """Every ``GetTaskLogsResponse`` in what ``get_logs`` returned (one, an iterable, an async
    iterator); a blocking iterable is advanced in the pool with the call's context."""
    try:
        if isinstance(produced, GetTaskLogsResponse):
            yield produced
        elif hasattr(produced, "__aiter__"):
            async for item in produced:
                yield _check_log_item(entry, item)
        elif isinstance(produced, Iterable):
            iterator = iter(produced)
            done = object()
            while True:
                step = functools.partial(contextvars.copy_context().run, next, iterator, done)
                item = await run_in_share(entry.thread_slots, step)
                if item is done:
                    break
                yield _check_log_item(entry, item)
        else:
            raise TypeError(f"get_logs returned {type(produced).__name__}")
    except (AgentHostError, asyncio.CancelledError, GeneratorExit):
        raise
    except Exception as exc:
        raise AgentCallError(entry.name, "get logs", exc) from exc


def _check_input_types(given: Any, declared: Any) -> None:
    for name, literal in given.items():
        if literal.WhichOneof("value") != "offloaded_metadata":
            check_literal(literal, declared[name].type, name=f"input {name!r}")
