"""The flyteidl v1 agent services (``AsyncAgentService``, ``SyncAgentService``,
``AgentMetadataService``) as ``grpc.aio`` generic handlers over a ``Dispatcher``; metrics,
call logging and error mapping come from ``agenthost.protocols.common``.

``ExecuteTaskSync`` follows propeller's stream: the first request carries ``header``, the
second carries ``inputs`` (a second request with no part counts as empty inputs); the single
response is sent as soon as the second request arrives (propeller reads the response before
closing its side), so requests after the second are ignored. A missing or misplaced part is
``INVALID_ARGUMENT``; an asynchronous agent is ``FAILED_PRECONDITION``. The method is declared
bidirectional, but since it answers exactly once it is served as stream-unary: grpc then sends
the response and the status in one batch: the same HTTP/2 frames as a streaming answer, for
about a quarter less server CPU per call.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from typing import Any

import grpc
from flyteidl.admin import agent_pb2

from agenthost.errors import InvalidRequestError
from agenthost.protocols.common import (
    OPERATIONS,
    UNKNOWN_TASK_TYPE,
    ServiceBase,
    category_of,
    parse,
    request_type,
    template_type,
)
from agenthost.protocols.v1.convert import agent_proto
from agenthost.server.handlers import service_methods

ASYNC_SERVICE = "flyteidl.service.AsyncAgentService"
SYNC_SERVICE = "flyteidl.service.SyncAgentService"
METADATA_SERVICE = "flyteidl.service.AgentMetadataService"
SERVICE_NAMES = (ASYNC_SERVICE, SYNC_SERVICE, METADATA_SERVICE)
"""Fully qualified names of the services this module serves."""

__all__ = [
    "ASYNC_SERVICE",
    "METADATA_SERVICE",
    "OPERATIONS",
    "SERVICE_NAMES",
    "SYNC_SERVICE",
    "UNKNOWN_TASK_TYPE",
    "AgentServices",
    "parse",
]


class AgentServices(ServiceBase):
    """Every RPC of the three v1 services."""

    protocol = "v1"

    def methods(self) -> dict[str, grpc.RpcMethodHandler]:
        """Every method of the three services, keyed by method path."""
        return {
            **self.task_methods(ASYNC_SERVICE),
            **service_methods(
                SYNC_SERVICE,
                {"ExecuteTaskSync": grpc.stream_unary_rpc_method_handler(self.execute_task_sync)},
            ),
            **service_methods(
                METADATA_SERVICE,
                {
                    "ListAgents": grpc.unary_unary_rpc_method_handler(self.list_agents),
                    "GetAgent": grpc.unary_unary_rpc_method_handler(self.get_agent),
                },
            ),
        }

    # -- AsyncAgentService ----------------------------------------------------------------

    async def create_task(self, data: bytes | None, context: grpc.aio.ServicerContext) -> bytes:
        """CreateTask: start a task (or run a sync agent) and return its ``resource_meta``."""

        async def work(request: agent_pb2.CreateTaskRequest) -> Any:
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
            context, "create", agent_pb2.CreateTaskRequest, data, template_type, work
        )

    async def get_task(self, data: bytes | None, context: grpc.aio.ServicerContext) -> bytes:
        """GetTask: the task's current ``Resource``."""

        async def work(request: agent_pb2.GetTaskRequest) -> Any:
            response = agent_pb2.GetTaskResponse()
            resource = _present(response.resource)
            await self.dispatcher.get(
                request.task_type,
                category_of(request),
                request.resource_meta,
                output_prefix=request.output_prefix,
                into=resource,
            )
            self._scrub_resource(resource)
            return response

        return await self._unary(context, "get", agent_pb2.GetTaskRequest, data, request_type, work)

    async def delete_task(self, data: bytes | None, context: grpc.aio.ServicerContext) -> bytes:
        """DeleteTask: cancel the task."""

        async def work(request: agent_pb2.DeleteTaskRequest) -> Any:
            await self.dispatcher.delete(
                request.task_type, category_of(request), request.resource_meta
            )
            return agent_pb2.DeleteTaskResponse()

        return await self._unary(
            context, "delete", agent_pb2.DeleteTaskRequest, data, request_type, work
        )

    # -- SyncAgentService -----------------------------------------------------------------

    async def execute_task_sync(
        self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> bytes:
        """ExecuteTaskSync: header, then inputs; exactly one response with the result."""

        async def work(first: agent_pb2.ExecuteTaskSyncRequest) -> Any:
            head = first.header
            if not head.HasField("template"):
                raise InvalidRequestError("ExecuteTaskSync header has no template")
            template = head.template
            second = await self._next_part(context, "inputs", first=False)
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
            self._scrub_resource(resource)
            return response

        return await self._unary(
            context, "do", agent_pb2.ExecuteTaskSyncRequest, None, _header_type, work, self._header
        )

    async def _header(self, context: grpc.aio.ServicerContext) -> agent_pb2.ExecuteTaskSyncRequest:
        # Read with ``context.read()``: grpc's request iterator is an async generator that, left
        # unexhausted, costs the loop a finalizer task per call.
        return await self._next_part(context, "header", first=True)

    async def _next_part(
        self, context: grpc.aio.ServicerContext, expected: str, *, first: bool
    ) -> agent_pb2.ExecuteTaskSyncRequest:
        """The next request of the stream, read within the request-bytes budget; it must carry
        ``expected``."""
        position = "first" if first else "second"
        data = await self.read(context, _PART_READS[first])
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

    # -- AgentMetadataService -------------------------------------------------------------

    @functools.cached_property
    def _agent_list(self) -> agent_pb2.ListAgentsResponse:
        """The agents never change after start, so ListAgents answers from one message."""
        return agent_pb2.ListAgentsResponse(
            agents=[agent_proto(e) for e in self.dispatcher.entries]
        )

    async def list_agents(self, data: bytes, context: grpc.aio.ServicerContext) -> bytes:
        """ListAgents: every served agent."""
        return await self._listing(data, context, self._agent_list)

    async def get_agent(self, data: bytes, context: grpc.aio.ServicerContext) -> bytes:
        """GetAgent: one agent by name (``NOT_FOUND`` if none)."""
        return await self._by_name(data, context, agent_proto)


_PART_READS = {
    True: "the first ExecuteTaskSync request (the header)",
    False: "the second ExecuteTaskSync request (the inputs)",
}
"""What each read of an ExecuteTaskSync stream waits for, as a read timeout names it."""


def _present(resource: agent_pb2.Resource) -> agent_pb2.Resource:
    """``resource``, marked present in its parent even if it stays empty (a client reading
    the response finds a resource, as when it was assigned whole)."""
    resource.SetInParent()
    return resource


def _header_type(request: agent_pb2.ExecuteTaskSyncRequest) -> str:
    return str(request.header.template.type)
