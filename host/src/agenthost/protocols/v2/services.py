"""The Flyte 2 connector services (``flyteidl2.connector.AsyncConnectorService`` and
``ConnectorMetadataService``) as ``grpc.aio`` generic handlers over a ``Dispatcher``.

Like the v1 adapter, handlers take raw request bytes and return raw response bytes; the
request shapes come from ``wire.py`` and the responses are v1 messages made v2-clean by
``convert.py``. The same agents answer both protocols and the core is called identically, so a
``resource_meta`` is the same bytes on both and a task created over one can be polled and
deleted over the other, on any replica.

Flyte 2 has no sync service: a sync agent runs its ``do`` inside ``CreateTask`` and the result
travels in ``resource_meta`` (the core's sync-result record, as for v1 ``CreateTask``), so the
executor's ``CreateTask`` timeout (10 s by default) bounds such agents. ``GetTask`` never
answers phase UNDEFINED (see ``convert.to_v2_resource``).
"""

from __future__ import annotations

import functools
from typing import Any

import grpc
from flyteidl.admin import agent_pb2

from agenthost.connection import Connection, current_connection
from agenthost.core.agents import AgentEntry
from agenthost.errors import InvalidRequestError
from agenthost.protocols.common import ServiceBase, category_of, template_type
from agenthost.protocols.v2 import wire
from agenthost.protocols.v2.convert import (
    category_name,
    connection_of,
    inputs_map,
    output_prefix,
    to_v2_logs,
    to_v2_resource,
)
from agenthost.server.handlers import service_methods

ASYNC_SERVICE = "flyteidl2.connector.AsyncConnectorService"
METADATA_SERVICE = "flyteidl2.connector.ConnectorMetadataService"
SERVICE_NAMES = (ASYNC_SERVICE, METADATA_SERVICE)
"""Fully qualified names of the services this module serves."""


class ConnectorServices(ServiceBase):
    """Every RPC of the two Flyte 2 connector services."""

    protocol = "v2"
    connection_requests = frozenset(
        {wire.CreateTaskRequest, wire.GetTaskRequest, wire.DeleteTaskRequest}
    )

    def connection_of(self, request: Any) -> Connection | None:
        """The task request's ``connection`` (field 5 of Create/Get/DeleteTask)."""
        return connection_of(request)

    def methods(self) -> dict[str, grpc.RpcMethodHandler]:
        """Every method of the two services, keyed by method path."""
        return {
            **self.task_methods(ASYNC_SERVICE),
            **service_methods(
                METADATA_SERVICE,
                {
                    "ListConnectors": grpc.unary_unary_rpc_method_handler(self.list_connectors),
                    "GetConnector": grpc.unary_unary_rpc_method_handler(self.get_connector),
                },
            ),
        }

    # -- AsyncConnectorService ------------------------------------------------------------

    async def create_task(self, data: bytes | None, context: grpc.aio.ServicerContext) -> bytes:
        """CreateTask: start a task (or run a sync agent) and return its ``resource_meta``."""

        async def work(request: Any) -> Any:
            if not request.HasField("template"):
                raise InvalidRequestError("CreateTaskRequest has no template")
            template = request.template
            inputs = None
            if request.HasField("inputs"):
                raw = request.inputs
                request.ClearField("inputs")
                task_type = template.type
                inputs = inputs_map(raw, task_type)
                if self.metrics is not None:
                    self.metrics.input_bytes(self._label(task_type), len(raw), self.protocol)
                del raw  # the agent call may be long: hold the inputs once, not twice
            meta = await self.dispatcher.create(
                template,
                inputs,
                output_prefix=output_prefix(request),
                task_execution_metadata=request.task_execution_metadata
                if request.HasField("task_execution_metadata")
                else None,
                connection=current_connection() or None,
            )
            return agent_pb2.CreateTaskResponse(resource_meta=meta)

        return await self._unary(
            context, "create", wire.CreateTaskRequest, data, template_type, work
        )

    async def get_task(self, data: bytes | None, context: grpc.aio.ServicerContext) -> bytes:
        """GetTask: the task's current ``Resource``, with a phase that is never UNDEFINED."""

        async def work(request: Any) -> Any:
            response = agent_pb2.GetTaskResponse()
            resource = response.resource
            resource.SetInParent()
            await self.dispatcher.get(
                "",
                category_of(request),
                request.resource_meta,
                output_prefix=output_prefix(request),
                into=resource,
                connection=current_connection() or None,
            )
            to_v2_resource(resource)
            self._scrub_resource(resource)
            return response

        return await self._unary(context, "get", wire.GetTaskRequest, data, category_name, work)

    async def delete_task(self, data: bytes | None, context: grpc.aio.ServicerContext) -> bytes:
        """DeleteTask: cancel the task (idempotent, as agents' ``delete`` must be)."""

        async def work(request: Any) -> Any:
            await self.dispatcher.delete(
                "", category_of(request), request.resource_meta, current_connection() or None
            )
            return _EMPTY

        return await self._unary(
            context, "delete", wire.DeleteTaskRequest, data, category_name, work
        )

    def log_page(self, page: agent_pb2.GetTaskLogsResponse) -> bytes:
        """A log page as v2 bytes: structured ``lines`` and plain ``results`` both filled."""
        return bytes(to_v2_logs(page).SerializeToString())

    # -- ConnectorMetadataService ---------------------------------------------------------

    @functools.cached_property
    def _connector_list(self) -> bytes:
        """The agents never change after start, so ListConnectors answers from one message."""
        response = agent_pb2.ListAgentsResponse(
            agents=[connector(e) for e in self.dispatcher.entries]
        )
        return bytes(response.SerializeToString())

    async def list_connectors(self, data: bytes, context: grpc.aio.ServicerContext) -> bytes:
        """ListConnectors: one ``Connector`` per agent, sync agents included (v2 runs them
        through CreateTask)."""
        return await self._listing(data, context, self._connector_list)

    async def get_connector(self, data: bytes, context: grpc.aio.ServicerContext) -> bytes:
        """GetConnector: one connector by name (``NOT_FOUND`` if none)."""
        return await self._by_name(data, context, connector)


_EMPTY = b""
"""The serialized ``DeleteTaskResponse`` (an empty message)."""


def connector(entry: AgentEntry) -> agent_pb2.Agent:
    """A v2 ``Connector`` ({1 name, 4 supported_task_categories}): a v1 ``Agent`` without
    the fields v2 dropped (``supported_task_types``, ``is_sync``)."""
    category = entry.category
    return agent_pb2.Agent(
        name=entry.name,
        supported_task_categories=[
            agent_pb2.TaskCategory(name=category.name, version=category.version)
        ],
    )
