"""The flyteidl agent services (``AsyncAgentService``, ``SyncAgentService``,
``AgentMetadataService``) as ``grpc.aio`` generic handlers over a ``Dispatcher``.

Handlers work on raw request bytes (no grpcio deserializer) and parse them here, so bytes
that are not the request message give ``INVALID_ARGUMENT`` rather than grpcio's ``INTERNAL``.
Responses are serialized here too. Agent calls are admitted by ``server/admission.py``: counted
against ``--max-concurrent-rpcs`` (health and metadata calls never are), and their requests are
read with ``context.read()`` only after reserving request-bytes budget, which is why the unary
agent RPCs are served as stream-unary handlers (the same frames on the wire). ``ListAgents``
and ``GetAgent`` stay plain unary handlers outside both limits.

``ExecuteTaskSync`` follows propeller's stream: the first request carries ``header``, the
second carries ``inputs`` (a second request with no part counts as empty inputs); the single
response is sent as soon as the second request arrives (propeller reads the response before
closing its side), so requests after the second are ignored. A missing or misplaced part is
``INVALID_ARGUMENT``; an asynchronous agent is ``FAILED_PRECONDITION``. The method is declared
bidirectional, but since it answers exactly once it is served as stream-unary: grpc then sends
the response and the status in one batch: the same HTTP/2 frames as a streaming answer, for
about a quarter less server CPU per call.

Draining (``drain``, on SIGTERM): calls that arrive from then on get ``UNAVAILABLE`` before
anything runs (clients retry those safely, e.g. on another replica), while the calls already
admitted finish; gRPC's own shutdown would answer late calls with an ambiguous ``CANCELLED``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from flyteidl.admin import agent_pb2
from google.protobuf.message import DecodeError, Message

from agenthost.dispatch import Dispatcher
from agenthost.errors import InvalidRequestError
from agenthost.server.admission import Admission, Reservation
from agenthost.server.metrics import Metrics, OperationMetrics
from agenthost.server.scrub import Scrubber
from agenthost.server.status import classify, log_failure

ASYNC_SERVICE = "flyteidl.service.AsyncAgentService"
SYNC_SERVICE = "flyteidl.service.SyncAgentService"
METADATA_SERVICE = "flyteidl.service.AgentMetadataService"
SERVICE_NAMES = (ASYNC_SERVICE, SYNC_SERVICE, METADATA_SERVICE)
"""Fully qualified names of the services this module serves."""

DRAINING_DETAILS = "agenthost is shutting down; retry the call (on another replica)"
"""Details of the ``UNAVAILABLE`` answer to calls that arrive while the server drains."""

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

UNKNOWN_TASK_TYPE = "unknown"
"""Metric label for task types no agent serves (keeps the label set bounded)."""

M = TypeVar("M", bound=Message)
logger = logging.getLogger("agenthost.server")
_perf = time.perf_counter


def parse(message_type: type[M], data: bytes) -> M:
    """Parse ``data`` as ``message_type``; ``InvalidRequestError`` if it does not parse."""
    message: M = message_type()
    try:
        message.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError):
        raise InvalidRequestError(
            f"request is not a valid {message_type.DESCRIPTOR.full_name}"
        ) from None
    return message


class AgentServices:
    """Every RPC of the three services, with metrics, logging and error mapping."""

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
        self._known_types = frozenset(e.category.name for e in dispatcher.entries)
        # Keyed by every operation even without metrics, so a misnamed one fails loudly.
        self._recorders: dict[str, OperationMetrics | None] = {
            name: metrics.operation(name) if metrics is not None else None for name in OPERATIONS
        }
        self._debug = logger.isEnabledFor(logging.DEBUG)
        self.draining = False
        self.active = 0
        self._idle: asyncio.Event | None = None

    # -- draining -------------------------------------------------------------------------

    async def drain(self, timeout: float) -> bool:
        """Refuse new calls with ``UNAVAILABLE`` and wait up to ``timeout`` seconds for the
        admitted ones to finish; True if they all did."""
        self.draining = True
        if self.active == 0:
            return True
        self._idle = asyncio.Event()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def _admit(self, context: grpc.aio.ServicerContext) -> None:
        if self.draining:
            await context.abort(grpc.StatusCode.UNAVAILABLE, DRAINING_DETAILS)
        self.active += 1

    def _release(self) -> None:
        self.active -= 1
        if self.active == 0 and self._idle is not None:
            self._idle.set()

    def generic_handlers(self) -> list[grpc.GenericRpcHandler]:
        """The handlers to pass to ``server.add_generic_rpc_handlers``."""
        return [
            grpc.method_handlers_generic_handler(
                ASYNC_SERVICE,
                {
                    "CreateTask": grpc.stream_unary_rpc_method_handler(self.create_task),
                    "GetTask": grpc.stream_unary_rpc_method_handler(self.get_task),
                    "DeleteTask": grpc.stream_unary_rpc_method_handler(self.delete_task),
                    "GetTaskMetrics": grpc.stream_unary_rpc_method_handler(self.get_task_metrics),
                    "GetTaskLogs": grpc.unary_stream_rpc_method_handler(self.get_task_logs),
                },
            ),
            grpc.method_handlers_generic_handler(
                SYNC_SERVICE,
                {"ExecuteTaskSync": grpc.stream_unary_rpc_method_handler(self.execute_task_sync)},
            ),
            grpc.method_handlers_generic_handler(
                METADATA_SERVICE,
                {
                    "ListAgents": grpc.unary_unary_rpc_method_handler(self.list_agents),
                    "GetAgent": grpc.unary_unary_rpc_method_handler(self.get_agent),
                },
            ),
        ]

    # -- common path ----------------------------------------------------------------------

    def _label(self, task_type: str) -> str:
        return task_type if task_type in self._known_types else UNKNOWN_TASK_TYPE

    async def _unary(
        self,
        context: grpc.aio.ServicerContext,
        operation: str,
        message_type: type[M],
        data: bytes | None,
        task_type_of: Callable[[M], str],
        work: Callable[[M, list[Reservation]], Awaitable[Message]],
    ) -> bytes:
        """One call: admission, the request (``data``; for agent calls, ``None``: read from
        ``context`` within the request-bytes budget), ``work``, metrics, and exceptions mapped
        to a status. ``work`` gets the budget reservations the call holds (a stream adds those
        of the messages it reads); they are all released when the call ends."""
        if self.draining:
            await context.abort(grpc.StatusCode.UNAVAILABLE, DRAINING_DETAILS)
        self.active += 1
        start = _perf()
        recorder = self._recorders[operation]
        if recorder is not None:
            recorder.in_flight += 1
        task_type = UNKNOWN_TASK_TYPE
        held: list[Reservation] = []
        counted = False
        try:
            if data is None:
                self.admission.enter()
                counted = True
                if message_type is agent_pb2.ExecuteTaskSyncRequest:
                    request = await self._next_part(context, "header", True, held)
                else:
                    request = parse(message_type, await self._read_only(context, held))
            else:
                request = parse(message_type, data)
            task_type = task_type_of(request)
            if task_type not in self._known_types:
                task_type = UNKNOWN_TASK_TYPE
            if self._debug:
                logger.debug("call operation=%s task_type=%s", operation, task_type)
            response = await work(request, held)
            payload: bytes = response.SerializeToString()
        except asyncio.CancelledError:
            if recorder is not None:
                recorder.failure(task_type, "CANCELLED", _perf() - start)
            raise
        except Exception as exc:
            await self._abort(context, exc, task_type, operation, start)
            raise  # unreachable: abort raises
        finally:
            for reservation in held:
                reservation.release()
            if counted:
                self.admission.leave()
            if recorder is not None:
                recorder.in_flight -= 1
            self._release()
        if recorder is not None:
            recorder.success(task_type, _perf() - start)
        return payload

    async def _read_only(self, context: grpc.aio.ServicerContext, held: list[Reservation]) -> bytes:
        """The one request message of a unary call, read within the budget."""
        data, reservation = await self.admission.read(context, "the request message")
        held.append(reservation)
        if data is None:
            raise InvalidRequestError("the call ended before its request message")
        return data

    async def _next_part(
        self,
        context: grpc.aio.ServicerContext,
        expected: str,
        first: bool,
        held: list[Reservation],
    ) -> agent_pb2.ExecuteTaskSyncRequest:
        """The next ExecuteTaskSync request, which must carry ``expected``, read within the
        budget. Read with ``context.read()``: grpc's request iterator is an async generator
        that, left unexhausted, costs the loop a finalizer task per call."""
        position = "first" if first else "second"
        what = f"the {position} ExecuteTaskSync request (the {expected})"
        data, reservation = await self.admission.read(context, what)
        held.append(reservation)
        if data is None:
            raise InvalidRequestError(
                f"ExecuteTaskSync stream ended before its {position} request (the {expected})"
            )
        request = parse(agent_pb2.ExecuteTaskSyncRequest, data)
        part = request.WhichOneof("part")
        if part != expected and not (part is None and expected == "inputs"):
            raise InvalidRequestError(
                f"ExecuteTaskSync {position} request must carry {expected}, got "
                f"{part or 'an empty request'}"
            )
        return request

    async def _abort(
        self,
        context: grpc.aio.ServicerContext,
        exc: BaseException,
        task_type: str,
        operation: str,
        start: float,
    ) -> None:
        failure = classify(exc, self.scrub)
        log_failure(exc, failure, task_type, operation)
        recorder = self._recorders[operation]
        if recorder is not None:
            recorder.failure(task_type, failure.code.name, _perf() - start)
        await context.abort(failure.code, failure.details)

    def _count_inputs(self, task_type: str, inputs: Message | None) -> None:
        if self.metrics is not None and inputs is not None:
            self.metrics.input_bytes(self._label(task_type), inputs.ByteSize())

    def _scrub_message(self, resource: agent_pb2.Resource) -> None:
        if resource.message:
            resource.message = self.scrub(resource.message)

    # -- AsyncAgentService ----------------------------------------------------------------

    async def create_task(
        self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> bytes:
        """CreateTask: start a task (or run a sync agent) and return its ``resource_meta``."""

        async def work(request: agent_pb2.CreateTaskRequest, held: list[Reservation]) -> Any:
            if not request.HasField("template"):
                raise InvalidRequestError("CreateTaskRequest has no template")
            template = request.template
            inputs = request.inputs if request.HasField("inputs") else None
            self._count_inputs(template.type, inputs)
            meta = await self.dispatcher.create(
                template,
                inputs,
                output_prefix=request.output_prefix,
                task_execution_metadata=request.task_execution_metadata
                if request.HasField("task_execution_metadata")
                else None,
            )
            return agent_pb2.CreateTaskResponse(resource_meta=meta)

        return await self._unary(
            context, "create", agent_pb2.CreateTaskRequest, None, _template_type, work
        )

    async def get_task(
        self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> bytes:
        """GetTask: the task's current ``Resource``."""

        async def work(request: agent_pb2.GetTaskRequest, held: list[Reservation]) -> Any:
            response = agent_pb2.GetTaskResponse()
            resource = _present(response.resource)
            await self.dispatcher.get(
                request.task_type,
                _category(request),
                request.resource_meta,
                output_prefix=request.output_prefix,
                into=resource,
            )
            self._scrub_message(resource)
            return response

        return await self._unary(
            context, "get", agent_pb2.GetTaskRequest, None, _request_type, work
        )

    async def delete_task(
        self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> bytes:
        """DeleteTask: cancel the task."""

        async def work(request: agent_pb2.DeleteTaskRequest, held: list[Reservation]) -> Any:
            await self.dispatcher.delete(
                request.task_type, _category(request), request.resource_meta
            )
            return agent_pb2.DeleteTaskResponse()

        return await self._unary(
            context, "delete", agent_pb2.DeleteTaskRequest, None, _request_type, work
        )

    async def get_task_metrics(
        self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> bytes:
        """GetTaskMetrics: the agent's ``get_metrics`` result."""

        async def work(request: agent_pb2.GetTaskMetricsRequest, held: list[Reservation]) -> Any:
            return await self.dispatcher.metrics(
                request.task_type,
                _category(request),
                request.resource_meta,
                queries=list(request.queries),
                start_time=request.start_time,
                end_time=request.end_time,
                step=request.step,
            )

        return await self._unary(
            context, "get_metrics", agent_pb2.GetTaskMetricsRequest, None, _request_type, work
        )

    async def get_task_logs(
        self, data: bytes, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        """GetTaskLogs: stream every response the agent's ``get_logs`` produces."""
        async for item in self._admitted(context, self._task_logs(data, context)):
            yield item

    async def _admitted(
        self, context: grpc.aio.ServicerContext, items: AsyncGenerator[bytes, None]
    ) -> AsyncIterator[bytes]:
        """Stream ``items`` as one admitted call (counted for graceful shutdown)."""
        await self._admit(context)
        try:
            async with contextlib.aclosing(items) as stream:
                async for item in stream:
                    yield item
        finally:
            self._release()

    async def _task_logs(
        self, data: bytes, context: grpc.aio.ServicerContext
    ) -> AsyncGenerator[bytes, None]:
        operation = "get_logs"
        start = _perf()
        task_type = UNKNOWN_TASK_TYPE
        recorder = self._recorders[operation]
        if recorder is not None:
            recorder.in_flight += 1
        try:
            request = parse(agent_pb2.GetTaskLogsRequest, data)
            task_type = self._label(_request_type(request))
            async for item in self.dispatcher.logs(
                request.task_type,
                _category(request),
                request.resource_meta,
                lines=request.lines,
                token=request.token,
            ):
                yield item.SerializeToString()
        except asyncio.CancelledError:
            if recorder is not None:
                recorder.failure(task_type, "CANCELLED", _perf() - start)
            raise
        except Exception as exc:
            await self._abort(context, exc, task_type, operation, start)
            return
        finally:
            if recorder is not None:
                recorder.in_flight -= 1
        if recorder is not None:
            recorder.success(task_type, _perf() - start)

    # -- SyncAgentService -----------------------------------------------------------------

    async def execute_task_sync(
        self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> bytes:
        """ExecuteTaskSync: header, then inputs; exactly one response with the result."""

        async def work(first: agent_pb2.ExecuteTaskSyncRequest, held: list[Reservation]) -> Any:
            head = first.header
            if not head.HasField("template"):
                raise InvalidRequestError("ExecuteTaskSync header has no template")
            template = head.template
            second = await self._next_part(context, "inputs", False, held)
            inputs = second.inputs if second.HasField("inputs") else None
            self._count_inputs(template.type, inputs)
            response = agent_pb2.ExecuteTaskSyncResponse()
            resource = _present(response.header.resource)
            await self.dispatcher.do(
                template,
                inputs,
                output_prefix=head.output_prefix,
                task_execution_metadata=head.task_execution_metadata
                if head.HasField("task_execution_metadata")
                else None,
                into=resource,
            )
            self._scrub_message(resource)
            return response

        return await self._unary(
            context, "do", agent_pb2.ExecuteTaskSyncRequest, None, _header_type, work
        )

    # -- AgentMetadataService -------------------------------------------------------------

    @functools.cached_property
    def _agent_list(self) -> agent_pb2.ListAgentsResponse:
        """The agents never change after start, so ListAgents answers from one message."""
        return agent_pb2.ListAgentsResponse(agents=self.dispatcher.list_agents())

    async def list_agents(self, data: bytes, context: grpc.aio.ServicerContext) -> bytes:
        """ListAgents: every served agent."""

        async def work(request: agent_pb2.ListAgentsRequest, held: list[Reservation]) -> Any:
            return self._agent_list

        return await self._unary(
            context, "list_agents", agent_pb2.ListAgentsRequest, data, _no_type, work
        )

    async def get_agent(self, data: bytes, context: grpc.aio.ServicerContext) -> bytes:
        """GetAgent: one agent by name (``NOT_FOUND`` if none)."""

        async def work(request: agent_pb2.GetAgentRequest, held: list[Reservation]) -> Any:
            return agent_pb2.GetAgentResponse(agent=self.dispatcher.get_agent(request.name))

        return await self._unary(
            context, "get_agent", agent_pb2.GetAgentRequest, data, _no_type, work
        )


def _present(resource: agent_pb2.Resource) -> agent_pb2.Resource:
    """``resource``, marked present in its parent even if it stays empty (a client reading
    the response finds a resource, as when it was assigned whole)."""
    resource.SetInParent()
    return resource


def _category(request: Any) -> agent_pb2.TaskCategory | None:
    return request.task_category if request.HasField("task_category") else None


def _header_type(request: agent_pb2.ExecuteTaskSyncRequest) -> str:
    return str(request.header.template.type)


def _template_type(request: agent_pb2.CreateTaskRequest) -> str:
    return str(request.template.type)


def _request_type(request: Any) -> str:
    if request.HasField("task_category") and request.task_category.name:
        return str(request.task_category.name)
    return str(request.task_type)


def _no_type(request: Any) -> str:
    return UNKNOWN_TASK_TYPE
