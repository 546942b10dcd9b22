"""What every protocol adapter shares: metrics, call logging, parsing request bytes and
mapping exceptions to gRPC status codes.

Handlers work on raw request bytes (no grpcio deserializer) and parse them here, so bytes
that are not the request message give ``INVALID_ARGUMENT`` rather than grpcio's ``INTERNAL``.
Responses are serialized by the adapter too.

Every request is bound as the current call (``agenthost.server.logs.bind_call``) while it is
handled, so every log record about it names the Flyte execution it is for. Shutdown is gRPC's
own (see ``agenthost.server.app``): every call the server has received runs to its end within
the grace period.

Agent calls are admitted by ``agenthost.server.admission``: counted against
``--max-concurrent-rpcs`` (health and metadata calls never are), and their request messages are
read only after reserving request-bytes budget, held until the call ends. So adapters serve
unary agent RPCs as stream-unary handlers (the same frames on the wire) and hand ``_unary``
what grpc passed instead of the request bytes, which it takes as "read the one request from
the context"; metadata RPCs stay unary, outside both limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from flyteidl.admin import agent_pb2
from google.protobuf.message import DecodeError, Message

from agenthost.connection import Connection, reset_current_connection, set_current_connection
from agenthost.core import AgentEntry, Dispatcher
from agenthost.errors import InvalidRequestError
from agenthost.server.admission import Admission, ConcurrencyLimitError
from agenthost.server.handlers import service_methods
from agenthost.server.logs import bind_call, unbind_call
from agenthost.server.metrics import Metrics, OperationMetrics
from agenthost.server.scrub import Scrubber
from agenthost.server.status import classify, log_failure

OPERATIONS = (
    "create",
    "get",
    "delete",
    "get_metrics",
    "get_logs",
    "do",
    "list_agents",
    "get_agent",
)
"""The ``operation`` metric label of every RPC (each handler names its own)."""

METADATA_OPERATIONS = frozenset({"list_agents", "get_agent"})
"""Operations that are never counted against ``--max-concurrent-rpcs`` nor refused by it."""

UNKNOWN_TASK_TYPE = "unknown"
"""Metric label for task types no agent serves (keeps the label set bounded)."""

M = TypeVar("M", bound=Message)
_HELD: contextvars.ContextVar[list[int]] = contextvars.ContextVar("agenthost_held")
"""The request-budget bytes the current agent call holds (each handler runs in its own task,
so its own context): ``read`` adds to it, ``_unary`` gives them back when the call ends."""
logger = logging.getLogger("agenthost.server")
_perf = time.perf_counter


def parse(message_type: type[M], data: bytes) -> M:
    """Parse ``data`` as ``message_type``; ``InvalidRequestError`` if it does not parse."""
    try:
        message: M = message_type.FromString(data)
    except (DecodeError, ValueError, RuntimeError):
        raise InvalidRequestError(
            f"request is not a valid {message_type.DESCRIPTOR.full_name}"
        ) from None
    return message


class ServiceBase:
    """One protocol's RPCs over a ``Dispatcher``: metrics, logging and error mapping.
    Adapters subclass it and add their handlers."""

    protocol = ""
    """The protocol's name, as ``--protocols`` spells it (``v1``, ``v2``): the ``protocol``
    label of its calls' metrics."""

    connection_requests: frozenset[type[Message]] = frozenset()
    """The request messages of this protocol that carry a per-task ``connection`` (see
    ``connection_of``)."""

    def connection_of(self, request: Any) -> Connection | None:
        """The request's per-task ``connection``, made current for the whole call (agent
        call, error mapping and logging) so that its secrets are scrubbed from what the call
        sends and logs. Only consulted for ``connection_requests``."""
        return None

    def __init__(
        self,
        dispatcher: Dispatcher,
        metrics: Metrics | None,
        scrub: Scrubber | None = None,
        admission: Admission | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.admission = admission or Admission()
        self.metrics = metrics
        self.scrub = scrub or Scrubber()
        # The metric label of each task type an agent serves (any other is UNKNOWN_TASK_TYPE,
        # which keeps the label set bounded).
        self._labels = {e.category.name: e.category.name for e in dispatcher.entries}
        # Keyed by every operation even without metrics, so a misnamed one fails loudly.
        self._recorders: dict[str, OperationMetrics | None] = {
            name: metrics.operation(name, self.protocol) if metrics is not None else None
            for name in OPERATIONS
        }
        self._debug = logger.isEnabledFor(logging.DEBUG)

    def methods(self) -> dict[str, grpc.RpcMethodHandler]:
        """Every method this protocol serves, keyed by method path (``/Service/Method``), for
        the server's method table (``agenthost.server.handlers``)."""
        raise NotImplementedError

    def task_methods(self, service: str) -> dict[str, grpc.RpcMethodHandler]:
        """The five task RPCs both protocols name alike, under ``service``. The unary ones are
        served stream-unary (the same frames on the wire): their handlers get grpc's request
        iterator as ``data``, which ``_unary`` takes as "read the request from the context",
        within the request-bytes budget."""
        read_by_handler = grpc.stream_unary_rpc_method_handler
        return service_methods(
            service,
            {
                "CreateTask": read_by_handler(self.create_task),
                "GetTask": read_by_handler(self.get_task),
                "DeleteTask": read_by_handler(self.delete_task),
                "GetTaskMetrics": read_by_handler(self.get_task_metrics),
                "GetTaskLogs": grpc.unary_stream_rpc_method_handler(self.get_task_logs),
            },
        )

    async def create_task(self, data: bytes | None, context: grpc.aio.ServicerContext) -> bytes:
        """CreateTask (each adapter parses its own request)."""
        raise NotImplementedError

    async def get_task(self, data: bytes | None, context: grpc.aio.ServicerContext) -> bytes:
        """GetTask (each adapter parses its own request)."""
        raise NotImplementedError

    async def delete_task(self, data: bytes | None, context: grpc.aio.ServicerContext) -> bytes:
        """DeleteTask (each adapter parses its own request)."""
        raise NotImplementedError

    # -- the RPCs whose requests are the same bytes on both protocols ---------------------
    # v1's GetTaskMetricsRequest and GetTaskLogsRequest read v2's as well: v2 only dropped
    # field 1 (the deprecated ``task_type`` string), which then reads as "".

    async def get_task_metrics(
        self, data: bytes | None, context: grpc.aio.ServicerContext
    ) -> bytes:
        """GetTaskMetrics: the agent's ``get_metrics`` result (the same message on v2)."""

        async def work(request: agent_pb2.GetTaskMetricsRequest) -> Any:
            return await self.dispatcher.metrics(
                request.task_type,
                category_of(request),
                request.resource_meta,
                queries=list(request.queries),
                start_time=request.start_time,
                end_time=request.end_time,
                step=request.step,
            )

        return await self._unary(
            context, "get_metrics", agent_pb2.GetTaskMetricsRequest, data, request_type, work
        )

    async def get_task_logs(
        self, data: bytes, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        """GetTaskLogs: stream every page the agent's ``get_logs`` produces (``lines`` and
        ``token`` reach the agent, which pages), each through ``log_page``."""

        async def produce(request: agent_pb2.GetTaskLogsRequest) -> AsyncGenerator[bytes, None]:
            pages = self.dispatcher.logs(
                request.task_type,
                category_of(request),
                request.resource_meta,
                lines=request.lines,
                token=request.token,
            )
            # Closed as soon as the call ends: the stream holds the agent's concurrency slot.
            async with contextlib.aclosing(pages):
                async for item in pages:
                    yield self.log_page(item)

        stream = self._streamed(
            context, "get_logs", agent_pb2.GetTaskLogsRequest, data, request_type, produce
        )
        async for item in self._admitted(context, "get_logs", stream):
            yield item

    def log_page(self, page: agent_pb2.GetTaskLogsResponse) -> bytes:
        """One log page as this protocol's bytes (v1: as the agent made it)."""
        return bytes(page.SerializeToString())

    async def _listing(
        self, data: bytes, context: grpc.aio.ServicerContext, answer: Message | bytes
    ) -> bytes:
        """ListAgents/ListConnectors (an empty request on both protocols): ``answer``."""

        async def work(request: agent_pb2.ListAgentsRequest) -> Message | bytes:
            return answer

        return await self._metadata_call(
            context, "list_agents", agent_pb2.ListAgentsRequest, data, work
        )

    async def _by_name(
        self,
        data: bytes,
        context: grpc.aio.ServicerContext,
        describe: Callable[[AgentEntry], agent_pb2.Agent],
    ) -> bytes:
        """GetAgent/GetConnector (``{1 name}`` on both protocols): ``describe`` of the agent
        of that name, ``NOT_FOUND`` if none."""

        async def work(request: agent_pb2.GetAgentRequest) -> Any:
            entry = self.dispatcher.agent_named(request.name)
            return agent_pb2.GetAgentResponse(agent=describe(entry))

        return await self._metadata_call(
            context, "get_agent", agent_pb2.GetAgentRequest, data, work
        )

    # -- common path ----------------------------------------------------------------------

    def _label(self, task_type: str) -> str:
        return self._labels.get(task_type, UNKNOWN_TASK_TYPE)

    async def _unary(
        self,
        context: grpc.aio.ServicerContext,
        operation: str,
        message_type: type[M],
        data: bytes | None,
        task_type_of: Callable[[M], str],
        work: Callable[[M], Awaitable[Message | bytes]],
        first: Callable[[grpc.aio.ServicerContext], Awaitable[M]] | None = None,
    ) -> bytes:
        """One agent call: admission, parsing ``data`` as ``message_type``, ``work``, metrics,
        and exceptions mapped to a status. ``work`` returns a message or its serialized bytes.

        Every agent call counts against ``--max-concurrent-rpcs`` (metadata calls, which never
        do, are ``_metadata_call``'s). ``data`` not bytes (None, or the request iterator grpc
        passes a stream-unary handler): the request is read from ``context`` within the
        request-bytes budget, by ``first`` (for a stream) or as the call's one message, and
        the bytes it holds are given back at the end; agent RPCs should be served this way
        (as stream-unary handlers), since bytes grpc already read escape the budget."""
        start = _perf()
        recorder = self._recorders[operation]
        if recorder is not None:
            recorder.in_flight += 1
        task_type = UNKNOWN_TASK_TYPE
        admission = self.admission
        held = 0
        parts: list[int] | None = None
        bound = None
        connection_token = None
        try:
            admission.enter()
            if data.__class__ is bytes:
                request = parse(message_type, data)  # type: ignore[arg-type]
            elif first is not None:
                parts = []
                _HELD.set(parts)
                request = await first(context)
            else:
                raw, held = await admission.read(context, _ONE_REQUEST)
                request = _one_request(message_type, raw)
                del raw  # freed once parsed, not held while the call runs
            bound = bind_call(request)
            if message_type in self.connection_requests:
                connection_token = _enter_connection(self.connection_of(request))
            task_type = self._labels.get(task_type_of(request), UNKNOWN_TASK_TYPE)
            if self._debug:
                logger.debug("call operation=%s task_type=%s", operation, task_type)
            response = await work(request)
            payload = response if isinstance(response, bytes) else response.SerializeToString()
        except BaseException as exc:
            await self._failed(context, exc, task_type, operation, start)
            raise
        finally:
            admission.leave(held, parts)
            if bound is not None:
                unbind_call(bound)
            if connection_token is not None:
                reset_current_connection(connection_token)
        if recorder is not None:
            recorder.in_flight -= 1
            recorder.success(task_type, _perf() - start)
        return payload

    async def _metadata_call(
        self,
        context: grpc.aio.ServicerContext,
        operation: str,
        message_type: type[M],
        data: bytes,
        work: Callable[[M], Awaitable[Message | bytes]],
    ) -> bytes:
        """One metadata call (``METADATA_OPERATIONS``): parse ``data``, ``work``, metrics and
        errors as ``_unary``, outside the call limit and the request-bytes budget (grpc read
        the small request already). It names no task type, nor a Flyte execution to log."""
        start = _perf()
        recorder = self._recorders[operation]
        if recorder is not None:
            recorder.in_flight += 1
        try:
            request = parse(message_type, data)
            if self._debug:
                logger.debug("call operation=%s task_type=%s", operation, UNKNOWN_TASK_TYPE)
            response = await work(request)
            payload = response if isinstance(response, bytes) else response.SerializeToString()
        except BaseException as exc:
            await self._failed(context, exc, UNKNOWN_TASK_TYPE, operation, start)
            raise
        if recorder is not None:
            recorder.in_flight -= 1
            recorder.success(UNKNOWN_TASK_TYPE, _perf() - start)
        return payload

    async def read(self, context: grpc.aio.ServicerContext, what: str) -> bytes | None:
        """The next request message of an agent call (None at the end of the stream), read
        within the request-bytes budget; its bytes stay reserved until the call ends."""
        held = _HELD.get()
        data, size = await self.admission.read(context, what, sum(held))
        if size:
            held.append(size)
        return data

    async def read_request(self, context: grpc.aio.ServicerContext, message_type: type[M]) -> M:
        """The one request message of a unary agent call served stream-unary, parsed."""
        return _one_request(message_type, await self.read(context, _ONE_REQUEST))

    async def _failed(
        self,
        context: grpc.aio.ServicerContext,
        exc: BaseException,
        task_type: str,
        operation: str,
        start: float,
    ) -> None:
        """The end of a call that raised ``exc``: the call leaves ``in_flight``; an exception
        is logged, counted by its status code and aborts the call with that status (raises),
        a cancellation is counted as ``CANCELLED``. The caller re-raises what this does not."""
        recorder = self._recorders[operation]
        if recorder is not None:
            recorder.in_flight -= 1
        if isinstance(exc, Exception):
            failure = classify(exc, self.scrub)
            log_failure(exc, failure, task_type, operation)
            if recorder is not None:
                recorder.failure(task_type, failure.code.name, _perf() - start)
            await context.abort(failure.code, failure.details)
        elif recorder is not None and isinstance(exc, asyncio.CancelledError):
            recorder.failure(task_type, "CANCELLED", _perf() - start)

    def _count_inputs(self, task_type: str, inputs: Message | None) -> None:
        if self.metrics is not None and inputs is not None:
            self.metrics.input_bytes(self._label(task_type), inputs.ByteSize(), self.protocol)

    def _scrub_resource(self, resource: agent_pb2.Resource) -> None:
        """Remove paths and secret values from ``resource.message`` (what GetTask and
        ExecuteTaskSync answer); the core has masked secret values in its other text already
        (``agenthost.core.results.agent_resource``)."""
        if resource.message:
            resource.message = self.scrub(resource.message)

    async def _admitted(
        self,
        context: grpc.aio.ServicerContext,
        operation: str,
        items: AsyncGenerator[bytes, None],
    ) -> AsyncIterator[bytes]:
        """Stream ``items`` as one agent call counted against ``--max-concurrent-rpcs``,
        closing them when the call ends however it ends. A refused call is counted and logged
        as ``_unary`` counts one (``RESOURCE_EXHAUSTED``, task type unknown: refused before
        its request is parsed)."""
        admission = self.admission
        try:
            try:
                admission.enter()
            except ConcurrencyLimitError as exc:
                recorder = self._recorders[operation]
                if recorder is not None:
                    recorder.in_flight += 1  # ``_failed`` takes the call back out
                await self._failed(context, exc, UNKNOWN_TASK_TYPE, operation, _perf())
            async with contextlib.aclosing(items) as stream:
                async for item in stream:
                    yield item
        finally:
            admission.leave()

    async def _streamed(
        self,
        context: grpc.aio.ServicerContext,
        operation: str,
        message_type: type[M],
        data: bytes,
        task_type_of: Callable[[M], str],
        produce: Callable[[M], AsyncGenerator[bytes, None]],
    ) -> AsyncGenerator[bytes, None]:
        """A server stream's body: parse, yield what ``produce`` yields, metrics, errors."""
        start = _perf()
        task_type = UNKNOWN_TASK_TYPE
        recorder = self._recorders[operation]
        if recorder is not None:
            recorder.in_flight += 1
        bound = None
        connection_token = None
        try:
            request = parse(message_type, data)
            bound = bind_call(request)
            if message_type in self.connection_requests:
                connection_token = _enter_connection(self.connection_of(request))
            task_type = self._labels.get(task_type_of(request), UNKNOWN_TASK_TYPE)
            async with contextlib.aclosing(produce(request)) as items:
                async for item in items:
                    yield item
        except BaseException as exc:
            await self._failed(context, exc, task_type, operation, start)
            raise
        finally:
            if bound is not None:
                with contextlib.suppress(ValueError):  # the stream was closed from elsewhere
                    unbind_call(bound)
            if connection_token is not None:
                with contextlib.suppress(ValueError):
                    reset_current_connection(connection_token)
        if recorder is not None:
            recorder.in_flight -= 1
            recorder.success(task_type, _perf() - start)


_ONE_REQUEST = "the request message"
"""What the read of a unary agent call's request waits for, as a read timeout names it."""


def _one_request(message_type: type[M], data: bytes | None) -> M:
    """``data`` (the one request message of a unary agent call; None: the stream ended
    first) parsed as ``message_type``."""
    if data is None:
        raise InvalidRequestError(
            f"the call ended before its request ({message_type.DESCRIPTOR.name})"
        )
    return parse(message_type, data)


def _enter_connection(connection: Connection | None) -> Any:
    """Make ``connection`` current; the token to reset it, or None if there is none."""
    return None if connection is None else set_current_connection(connection)


def category_of(request: Any) -> Any:
    """A request's ``task_category`` if set, else None."""
    return request.task_category if request.HasField("task_category") else None


def template_type(request: Any) -> str:
    """The task type of a CreateTask request (its template's ``type``), on both protocols."""
    return str(request.template.type)


def request_type(request: Any) -> str:
    """The task type a request names: its ``task_category``, else v1's deprecated
    ``task_type`` string."""
    if request.HasField("task_category") and request.task_category.name:
        return str(request.task_category.name)
    return str(request.task_type)
